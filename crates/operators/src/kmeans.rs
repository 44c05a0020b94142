//! `kmeans`: streaming k-means scoring, the notebook's clustering made
//! incremental.
//!
//! Design (documented in the README): every record is exchanged to worker
//! 0, which trains, updates and scores; records of one event-time epoch
//! (one Timely time) are processed in sort-key order, so the model and
//! every score are the same whatever the number of workers. Training is
//! cheap next to windowing (the input is already aggregated), and scoring
//! runs at several million records per second on one core.
//!
//! Per epoch: records are scored with the model as it was after the
//! previous epoch, then the epoch's records update it (mini-batch, Spark
//! StreamingKMeans rule). The model starts once `warmup` records have
//! arrived (whole epochs): greedy k-means++ and Lloyd on them, which also
//! scores them. Until then a capability follows the input frontier, so
//! flow control never waits for the operator.

use crate::kmeans_model::{Batch, Model};
use crate::kmeans_pca::Pca;
use crate::kmeans_store::{self, Loaded, SavedModel};
use netanom_records::checkpoint::Checkpoints;
use netanom_records::doc::ConfigProblem;
use netanom_records::field::{Field, Value};
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::{Duration, Record, Scored, Time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// Clusters records with incremental k-means and scores each by its
/// distance to the nearest centroid (on standardized features); `anomaly`
/// is true above `threshold`. The model starts with k-means++ on the first
/// `warmup` records (whole epochs; the same `seed` gives the same model)
/// and is then updated once per event-time tick with that tick's records
/// (mini-batch, with `decay` or `half_life` forgetting); a record is
/// scored with the model of the tick before its own (warmup records with
/// the initial model). Outputs the input's fields plus `cluster`,
/// `distance`, `score` (= distance / threshold) and `anomaly`. Results do
/// not depend on the number of workers: training and scoring run on
/// worker 0. With `model_path`, `mode: train` saves the model at the end
/// of the run and `mode: score` scores every record with a saved model,
/// unchanged.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct KmeansConfig {
    /// Number of clusters.
    #[serde(default = "default_k")]
    pub k: usize,
    /// The features: numeric fields of the input (`count`), `{log1p:
    /// field}` for ln(1 + x), and `{onehot: field}` for one slot per value
    /// seen in warmup plus an `other` slot.
    #[describe(ty = "[field | {log1p: field} | {onehot: field}]")]
    pub features: Vec<FeatureSpec>,
    /// Records to train the initial model on (at least `k`).
    #[serde(default = "default_warmup")]
    pub warmup: usize,
    /// Seed of k-means++.
    #[serde(default)]
    pub seed: u64,
    /// Weight kept by the model per tick, in (0, 1]; 1 forgets nothing.
    /// Give at most one of `decay` and `half_life`.
    #[serde(default)]
    pub decay: Option<f64>,
    /// Event time after which old records weigh half, like `30s`.
    #[serde(default)]
    pub half_life: Option<Duration>,
    /// When a record is an anomaly: `{value: 3.5}` (a fixed distance),
    /// `{quantile: 0.999}` (of recent distances, the last `max(1000,
    /// 20 / (1 - q))` records), or `{farthest: 100}` (the 100th largest
    /// distance in warmup, the book's rule).
    #[serde(default = "default_threshold")]
    #[describe(ty = "{value: X} | {quantile: Q} | {farthest: N}")]
    pub threshold: ThresholdSpec,
    /// k-means++ runs on the warmup sample; the best is kept.
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    /// Lloyd iterations at most, per run.
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    /// A JSON model file: `train` writes it at the end of the run (the
    /// model after the last update; `PATH.partial`, then a rename), and
    /// with checkpoints (a `capture_dir` `state_dir`) after each
    /// checkpoint too; `score` reads it at the start.
    #[serde(default)]
    pub model_path: Option<PathBuf>,
    /// `train`: warmup, then updates every tick. `score`: no warmup and
    /// no updates; every record is scored with the model of `model_path`
    /// and its saved threshold (k, seed and threshold options are not
    /// used; the features must be the model's).
    #[serde(default)]
    #[describe(ty = "train | score")]
    pub mode: Mode,
    /// Cluster in the first N principal components of the (standardized)
    /// feature slots instead of all of them, fitted on the warmup sample
    /// (the notebook's "fewer dimensions"); leave out for none.
    #[serde(default)]
    pub pca: Option<usize>,
}

/// The `mode` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Train (and save to `model_path`, if given).
    #[default]
    Train,
    /// Score with the model of `model_path`.
    Score,
}

fn default_k() -> usize {
    8
}
fn default_warmup() -> usize {
    1000
}
fn default_n_init() -> usize {
    10
}
fn default_max_iter() -> usize {
    300
}
fn default_threshold() -> ThresholdSpec {
    ThresholdSpec {
        value: None,
        quantile: None,
        farthest: Some(100),
    }
}

/// The `threshold` option: exactly one of its keys.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    /// A fixed distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// A quantile of recent distances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    /// The n-th largest distance in warmup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farthest: Option<usize>,
}

impl ThresholdSpec {
    /// The rule, when exactly one key is given.
    pub fn rule(&self) -> Option<Threshold> {
        match (self.value, self.quantile, self.farthest) {
            (Some(v), None, None) => Some(Threshold::Value(v)),
            (None, Some(q), None) => Some(Threshold::Quantile(q)),
            (None, None, Some(n)) => Some(Threshold::Farthest(n)),
            _ => None,
        }
    }
}

/// One feature as written in the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureSpec {
    /// A numeric field, as is.
    Name(String),
    /// `{log1p: field}` or `{onehot: field}`.
    Transform(BTreeMap<String, String>),
}

/// The anomaly threshold rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// A fixed distance.
    Value(f64),
    /// A quantile of recent distances.
    Quantile(f64),
    /// The n-th largest distance in warmup.
    Farthest(usize),
}

/// A resolved feature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Feature {
    /// The field's value.
    Num(Field),
    /// ln(1 + value).
    Log1p(Field),
    /// One-hot over the values seen in warmup, plus `other`.
    OneHot(Field),
}

impl Feature {
    /// The field it reads.
    pub fn field(self) -> Field {
        match self {
            Feature::Num(f) | Feature::Log1p(f) | Feature::OneHot(f) => f,
        }
    }
}

/// Fields that hold text or addresses: only usable with `onehot`.
const NON_NUMERIC: &[Field] = &[Field::Src, Field::Dst, Field::Protocol, Field::Info];

/// Categories kept per one-hot feature (the most frequent in warmup).
const MAX_CATEGORIES: usize = 64;

impl KmeansConfig {
    /// The features, resolved; problems for unknown names or transforms.
    pub fn resolve(&self) -> Result<Vec<Feature>, Vec<ConfigProblem>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let field = |name: &str, problems: &mut Vec<ConfigProblem>| match Field::from_name(name) {
            Some(f) => Some(f),
            None => {
                problems.push(ConfigProblem::at(
                    "features",
                    format!("features: unknown field `{name}`"),
                ));
                None
            }
        };
        for spec in &self.features {
            match spec {
                FeatureSpec::Name(name) => {
                    if let Some(f) = field(name, &mut problems) {
                        out.push(Feature::Num(f));
                    }
                }
                FeatureSpec::Transform(map) => {
                    if map.len() != 1 {
                        problems.push(ConfigProblem::at(
                            "features",
                            "features: a transform is one key, `{log1p: field}` or `{onehot: field}`",
                        ));
                        continue;
                    }
                    for (t, name) in map {
                        let Some(f) = field(name, &mut problems) else {
                            continue;
                        };
                        match t.as_str() {
                            "log1p" => out.push(Feature::Log1p(f)),
                            "onehot" => out.push(Feature::OneHot(f)),
                            other => problems.push(ConfigProblem::at(
                                "features",
                                format!(
                                    "features: unknown transform `{other}`; expected log1p or onehot"
                                ),
                            )),
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// Checks k, warmup, forgetting, threshold and the feature names.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = match self.resolve() {
            Ok(f) if f.is_empty() => vec![ConfigProblem::at(
                "features",
                "features: give at least one feature",
            )],
            Ok(_) => Vec::new(),
            Err(p) => p,
        };
        if self.k == 0 || self.k > 10_000 {
            problems.push(ConfigProblem::at("k", "k: must be between 1 and 10000"));
        }
        if self.warmup > 10_000_000 {
            problems.push(ConfigProblem::at("warmup", "warmup: at most 10000000"));
        }
        if self.k > self.warmup {
            problems.push(ConfigProblem::at(
                "k",
                format!(
                    "k ({}) is larger than warmup ({}): k-means++ needs at least k records to start",
                    self.k, self.warmup
                ),
            ));
        }
        if let Some(decay) = self.decay {
            if !(decay > 0.0 && decay <= 1.0) {
                problems.push(ConfigProblem::at("decay", "decay: must be in (0, 1]"));
            }
            if self.half_life.is_some() {
                problems.push(ConfigProblem::at(
                    "half_life",
                    "half_life: give only one of decay and half_life",
                ));
            }
        }
        if self.half_life.is_some_and(|h| h.nanos() == 0) {
            problems.push(ConfigProblem::at(
                "half_life",
                "half_life: must be greater than 0",
            ));
        }
        match self.threshold.rule() {
            None => problems.push(ConfigProblem::at(
                "threshold",
                "threshold: give exactly one of value, quantile and farthest",
            )),
            Some(Threshold::Value(v)) if !(v.is_finite() && v >= 0.0) => problems.push(
                ConfigProblem::at("threshold", "threshold: value must be a number >= 0"),
            ),
            Some(Threshold::Quantile(q)) if !(q > 0.0 && q < 1.0) => problems.push(
                ConfigProblem::at("threshold", "threshold: quantile must be in (0, 1)"),
            ),
            Some(Threshold::Farthest(n)) if n == 0 || n > self.warmup => {
                problems.push(ConfigProblem::at(
                    "threshold",
                    format!(
                        "threshold: farthest must be between 1 and warmup ({})",
                        self.warmup
                    ),
                ))
            }
            _ => {}
        }
        if let Some(n) = self.pca {
            // One-hot features have as many slots as warmup shows values:
            // then only the upper bound of numeric slots is known here.
            let numeric = self
                .resolve()
                .map(|f| {
                    f.iter()
                        .all(|f| !matches!(f, Feature::OneHot(_)))
                        .then_some(f.len())
                })
                .unwrap_or(None);
            if n == 0 {
                problems.push(ConfigProblem::at("pca", "pca: must be at least 1"));
            } else if let Some(d) = numeric.filter(|&d| n > d) {
                problems.push(ConfigProblem::at(
                    "pca",
                    format!("pca: {n} components from {d} features; give 1 to {d}"),
                ));
            }
        }
        if self.n_init == 0 || self.n_init > 1000 {
            problems.push(ConfigProblem::at(
                "n_init",
                "n_init: must be between 1 and 1000",
            ));
        }
        if self.max_iter == 0 {
            problems.push(ConfigProblem::at(
                "max_iter",
                "max_iter: must be at least 1",
            ));
        }
        if self.mode == Mode::Score {
            match (&self.model_path, self.resolve()) {
                (None, _) => problems.push(ConfigProblem::at(
                    "mode",
                    "mode: score needs model_path, a model saved by mode: train",
                )),
                (Some(path), Ok(features)) => {
                    if let Err(e) = kmeans_store::load(path, &features) {
                        problems.push(ConfigProblem::at(
                            "model_path",
                            format!("model_path: `{}`: {e}", path.display()),
                        ));
                    }
                }
                (Some(_), Err(_)) => {}
            }
        }
        problems
    }

    /// The threshold rule as written in a model file (`farthest 1`).
    fn threshold_rule(&self) -> String {
        match self.threshold.rule() {
            Some(Threshold::Value(v)) => format!("value {v}"),
            Some(Threshold::Quantile(q)) => format!("quantile {q}"),
            Some(Threshold::Farthest(n)) => format!("farthest {n}"),
            None => String::new(),
        }
    }

    /// Checks the features against the input's columns: each must exist,
    /// and plain or `log1p` features must be numeric.
    pub fn check_fields(&self, input: &[Field]) -> Vec<ConfigProblem> {
        let Ok(features) = self.resolve() else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for f in features {
            let field = f.field();
            if !input.contains(&field) {
                problems.push(ConfigProblem::at(
                    "features",
                    format!(
                        "features: the input has no field `{field}`; its fields: {}",
                        input
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            } else if NON_NUMERIC.contains(&field) && !matches!(f, Feature::OneHot(_)) {
                problems.push(ConfigProblem::at(
                    "features",
                    format!("features: `{field}` is not numeric; use {{onehot: {field}}}"),
                ));
            }
        }
        problems
    }

    /// Builds the operator. `tick` is the pipeline's Timely tick (ns).
    pub fn build<'s, R: Record + ExchangeData>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        tick: u64,
        stats: Arc<Stats>,
        checkpoints: Option<Arc<Checkpoints>>,
    ) -> Stream<'s, Time, Vec<Scored<R>>> {
        let features = self.resolve().unwrap_or_default();
        // Checkpoints: the state is kept on worker 0, which has every record.
        let checkpoints = checkpoints.filter(|_| input.scope().index() == 0);
        let resume_before = checkpoints.as_ref().map_or(0, |c| c.resume_before());
        let resumed: Option<Result<Snapshot<R>, String>> = checkpoints
            .as_ref()
            .and_then(|c| c.operator_resume(name))
            .map(|v| {
                serde_json::from_value(v.clone())
                    .map_err(|e| format!("its state in the checkpoint is damaged ({e}); move state_dir away to start over"))
            });
        let config = self.clone();
        let component = stats.component(name);
        let id = name.to_owned();
        let tick = tick.max(1);
        // Score mode: worker 0 (the only one with records) loads the model.
        let loaded: Option<Result<Loaded, String>> = match (&self.mode, &self.model_path) {
            (Mode::Score, Some(path)) if input.scope().index() == 0 => Some(
                kmeans_store::load(path, &features)
                    .map_err(|e| format!("model_path `{}`: {e}", path.display())),
            ),
            (Mode::Score, None) => Some(Err("mode: score needs model_path".into())),
            _ => None,
        };
        input
            .unary_frontier::<timely::container::CapacityContainerBuilder<Vec<Scored<R>>>, _, _, _>(
                Exchange::new(|_: &R| 0u64),
                name,
                move |cap, _info| {
                    let mut state = State::new(config, features, tick);
                    let mut failed = false;
                    match loaded {
                        Some(Ok(l)) => state.load(l),
                        Some(Err(e)) => {
                            stats.fail(format!("{id}: {e}"));
                            failed = true;
                        }
                        None => {}
                    }
                    match resumed {
                        Some(Ok(snapshot)) => state.restore(snapshot),
                        Some(Err(e)) => {
                            stats.fail(format!("{id}: {e}"));
                            failed = true;
                        }
                        None => {}
                    }
                    let mut hold: Option<Capability<Time>> = Some(cap);
                    let mut saved_at_commit = 0u64;
                    let mut ended = false;
                    let mut stash: BTreeMap<Time, (Capability<Time>, Vec<R>)> = BTreeMap::new();
                    let mut key = Vec::new();
                    move |(input, frontier), output| {
                        input.for_each(|cap, batch| {
                            let t = cap.least().copied().unwrap_or_default();
                            let entry = stash
                                .entry(t)
                                .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                            entry.1.append(batch);
                        });
                        while let Some(entry) = stash.first_entry() {
                            if frontier.less_equal(entry.key()) {
                                break;
                            }
                            let t = *entry.key();
                            let (cap, mut records) = entry.remove();
                            // Epochs before the checkpoint are in the restored
                            // state already (their records are a replay).
                            if failed || t < resume_before {
                                continue;
                            }
                            // Sort-key order: the same on any number of workers.
                            let mut keyed: Vec<(Vec<u8>, R)> = records
                                .drain(..)
                                .map(|r| {
                                    key.clear();
                                    r.sort_key(&mut key);
                                    (key.clone(), r)
                                })
                                .collect();
                            keyed.sort_by(|a, b| a.0.cmp(&b.0));
                            let records: Vec<R> = keyed.into_iter().map(|(_, r)| r).collect();
                            match state.epoch(t, records) {
                                Ok(scored) => {
                                    ComponentStats::add(
                                        &component.records_out,
                                        scored.len() as u64,
                                    );
                                    if !scored.is_empty() {
                                        output.session(&cap).give_iterator(scored.into_iter());
                                    }
                                }
                                Err(e) => {
                                    stats.fail(format!("{id}: {e}"));
                                    failed = true;
                                }
                            }
                            if let Some(c) = &checkpoints {
                                match serde_json::to_value(state.snapshot()) {
                                    Ok(v) => c.operator_snapshot(&id, t, v),
                                    Err(e) => {
                                        stats.fail(format!("{id}: cannot save its state: {e}"));
                                        failed = true;
                                    }
                                }
                            }
                            if state.warming() && hold.as_ref().is_none_or(|h| *h.time() < t) {
                                hold = Some(cap);
                            }
                        }
                        if let Some(c) = &checkpoints {
                            let before = frontier.frontier().iter().min().copied();
                            c.operator_progress(&id, before.unwrap_or(Time::MAX));
                            // A checkpoint was written since the model file
                            // was: write the model too, so a long follow run
                            // keeps a current model_path.
                            let commits = c.commits();
                            if commits > saved_at_commit && !failed {
                                saved_at_commit = commits;
                                if let Err(e) = state.save() {
                                    stats.fail(format!("{id}: {e}"));
                                    failed = true;
                                }
                            }
                        }
                        match frontier.frontier().iter().min() {
                            Some(&least) => {
                                if let Some(h) = hold.as_mut() {
                                    if least > *h.time() {
                                        h.downgrade(&least);
                                    }
                                }
                                if !state.warming() {
                                    hold = None;
                                }
                            }
                            None if !ended => {
                                // Input done: train on what warmup has, if
                                // anything (its records wait under `hold`),
                                // then save the model, once.
                                ended = true;
                                if let (Some(h), false) = (hold.take(), failed) {
                                    match state.finish() {
                                        Ok(scored) => {
                                            ComponentStats::add(
                                                &component.records_out,
                                                scored.len() as u64,
                                            );
                                            if !scored.is_empty() {
                                                output
                                                    .session(&h)
                                                    .give_iterator(scored.into_iter());
                                            }
                                        }
                                        Err(e) => {
                                            stats.fail(format!("{id}: {e}"));
                                            failed = true;
                                        }
                                    }
                                }
                                if !failed {
                                    if let Err(e) = state.save() {
                                        stats.fail(format!("{id}: {e}"));
                                    }
                                }
                            }
                            None => {}
                        }
                    }
                },
            )
    }
}

/// The operator's state on worker 0.
struct State<R> {
    config: KmeansConfig,
    features: Vec<Feature>,
    tick: u64,
    /// Records waiting for the model (warmup).
    warm: Vec<R>,
    model: Option<Running>,
    /// Score mode: the model was loaded and never changes.
    frozen: bool,
}

/// What a checkpoint keeps of the state: everything that changes.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "R: Serialize",
    deserialize = "R: serde::de::DeserializeOwned"
))]
struct Snapshot<R> {
    warm: Vec<R>,
    model: Option<Running>,
}

/// [`Snapshot`], borrowed for writing.
#[derive(Serialize)]
#[serde(bound(serialize = "R: Serialize"))]
struct SnapshotRef<'a, R> {
    warm: &'a [R],
    model: Option<&'a Running>,
}

/// A trained model and what goes with it.
#[derive(Serialize, Deserialize)]
struct Running {
    model: Model,
    /// `pca: N`: the projection from feature slots to the model's space.
    pca: Option<Pca>,
    /// Per one-hot feature (in feature order), its categories.
    vocab: Vec<Vec<String>>,
    batch: Batch,
    threshold: f64,
    recent: VecDeque<f64>,
    last: Time,
}

impl<R: Record> State<R> {
    fn new(config: KmeansConfig, features: Vec<Feature>, tick: u64) -> Self {
        State {
            config,
            features,
            tick,
            warm: Vec::new(),
            model: None,
            frozen: false,
        }
    }

    /// The state to checkpoint.
    fn snapshot(&self) -> SnapshotRef<'_, R> {
        SnapshotRef {
            warm: &self.warm,
            model: self.model.as_ref(),
        }
    }

    /// The state of a checkpoint (a score-mode model stays loaded).
    fn restore(&mut self, snapshot: Snapshot<R>) {
        self.warm = snapshot.warm;
        if !self.frozen {
            self.model = snapshot.model;
        } else if let (Some(run), Some(saved)) = (self.model.as_mut(), snapshot.model) {
            // Score mode changes nothing but what the threshold keeps.
            run.recent = saved.recent;
            run.threshold = saved.threshold;
        }
    }

    /// Score mode: scores every record with `loaded`, without updates.
    fn load(&mut self, loaded: Loaded) {
        let batch = Batch::new(&loaded.model);
        self.model = Some(Running {
            model: loaded.model,
            pca: loaded.pca,
            vocab: loaded.vocab,
            batch,
            threshold: loaded.threshold,
            recent: VecDeque::new(),
            last: 0,
        });
        self.frozen = true;
    }

    /// Train mode with `model_path`: writes the current model (nothing
    /// when there is none, an empty input).
    fn save(&self) -> Result<(), String> {
        let (Some(path), Some(run)) = (&self.config.model_path, &self.model) else {
            return Ok(());
        };
        if self.frozen {
            return Ok(());
        }
        let saved = SavedModel::new(
            &self.features,
            &run.vocab,
            &run.model,
            run.pca.as_ref(),
            run.threshold,
            self.config.threshold_rule(),
            self.config.seed,
        );
        kmeans_store::save(path, &saved).map_err(|e| format!("model_path: {e}"))
    }

    fn warming(&self) -> bool {
        self.model.is_none()
    }

    /// Processes the records of epoch `t`.
    fn epoch(&mut self, t: Time, records: Vec<R>) -> Result<Vec<Scored<R>>, String> {
        if self.model.is_none() {
            self.warm.extend(records);
            if self.warm.len() < self.config.warmup {
                return Ok(Vec::new());
            }
            return self.start(t);
        }
        let features = &self.features;
        let config = &self.config;
        let tick = self.tick;
        let Some(run) = self.model.as_mut() else {
            return Ok(Vec::new());
        };
        let d = run.model.dims();
        let mut raw = vec![0.0; dims(features, &run.vocab)];
        let mut x = vec![0.0; d];
        let mut scratch = vec![0.0; d];
        let mut out = Vec::with_capacity(records.len());
        let threshold = run.threshold;
        // The record's point in the model's space.
        let point = |r: &R, raw: &mut [f64], x: &mut [f64], run: &Running| {
            extract(features, &run.vocab, r, raw);
            match &run.pca {
                Some(p) => p.project(raw, x),
                None => x.copy_from_slice(raw),
            }
        };
        if self.frozen {
            for r in records {
                point(&r, &mut raw, &mut x, run);
                run.model.standardize(&x, &mut scratch);
                let (cluster, distance) = run.model.nearest(&scratch);
                out.push(scored(r, cluster, distance, threshold));
            }
            return Ok(out);
        }
        for r in records {
            point(&r, &mut raw, &mut x, run);
            let (cluster, distance) = run.model.score_and_add(&x, &mut scratch, &mut run.batch);
            out.push(scored(r, cluster, distance, threshold));
        }
        // Forgetting since the last update.
        let elapsed = t.saturating_sub(run.last) as f64;
        let discount = match (config.decay, config.half_life) {
            (Some(decay), _) => decay.powf(elapsed / tick as f64),
            (None, Some(h)) => 0.5f64.powf(elapsed / h.nanos().max(1) as f64),
            (None, None) => 1.0,
        };
        run.model.update(&mut run.batch, discount);
        run.last = t;
        if let Some(Threshold::Quantile(q)) = config.threshold.rule() {
            for s in &out {
                push_recent(&mut run.recent, s.distance, q);
            }
            run.threshold = quantile(&run.recent, q);
        }
        Ok(out)
    }

    /// Trains on the warmup records at epoch `t` and scores them.
    fn start(&mut self, t: Time) -> Result<Vec<Scored<R>>, String> {
        let warm = std::mem::take(&mut self.warm);
        let vocab = vocabulary(&self.features, &warm);
        let d = dims(&self.features, &vocab);
        let mut data = vec![0.0; warm.len() * d];
        for (r, row) in warm.iter().zip(data.chunks_exact_mut(d)) {
            extract(&self.features, &vocab, r, row);
        }
        let c = &self.config;
        let (pca, data, d) = match c.pca {
            Some(n) => {
                let p = Pca::fit(&data, d, n)?;
                let mut projected = vec![0.0; warm.len() * n];
                for (row, out) in data.chunks_exact(d).zip(projected.chunks_exact_mut(n)) {
                    p.project(row, out);
                }
                (Some(p), projected, n)
            }
            None => (None, data, d),
        };
        let model = Model::train(&data, d, c.k, c.seed, c.n_init, c.max_iter)?;
        let mut scratch = vec![0.0; d];
        let distances: Vec<(usize, f64)> = data
            .chunks_exact(d)
            .map(|x| {
                model.standardize(x, &mut scratch);
                model.nearest(&scratch)
            })
            .collect();
        let mut recent = VecDeque::new();
        let threshold = match c.threshold.rule() {
            None => 0.0,
            Some(Threshold::Value(v)) => v,
            Some(Threshold::Farthest(n)) => {
                let mut sorted: Vec<f64> = distances.iter().map(|p| p.1).collect();
                sorted.sort_by(|a, b| b.total_cmp(a));
                sorted
                    .get(n.saturating_sub(1).min(sorted.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0.0)
            }
            Some(Threshold::Quantile(q)) => {
                for p in &distances {
                    push_recent(&mut recent, p.1, q);
                }
                quantile(&recent, q)
            }
        };
        let batch = Batch::new(&model);
        let out = warm
            .into_iter()
            .zip(distances)
            .map(|(r, (cluster, distance))| scored(r, cluster, distance, threshold))
            .collect();
        self.model = Some(Running {
            model,
            pca,
            vocab,
            batch,
            threshold,
            recent,
            last: t,
        });
        Ok(out)
    }

    /// The input ended: train on a short warmup, if there is one.
    fn finish(&mut self) -> Result<Vec<Scored<R>>, String> {
        if self.model.is_some() || self.warm.is_empty() {
            return Ok(Vec::new());
        }
        let n = self.warm.len();
        if n < self.config.k {
            return Err(format!(
                "the input ended after {n} records, fewer than k = {}: no model, nothing scored",
                self.config.k
            ));
        }
        self.start(0)
    }
}

fn scored<R>(record: R, cluster: usize, distance: f64, threshold: f64) -> Scored<R> {
    let distance = if distance.is_finite() { distance } else { 0.0 };
    let threshold = if threshold.is_finite() {
        threshold.max(1e-12)
    } else {
        1e-12
    };
    Scored {
        record,
        cluster: u32::try_from(cluster).unwrap_or(u32::MAX),
        distance,
        score: distance / threshold,
        anomaly: distance > threshold,
    }
}

fn recent_cap(q: f64) -> usize {
    let n = 20.0 / (1.0 - q).max(1e-6);
    (n.ceil() as usize).clamp(1000, 1_000_000)
}

fn push_recent(recent: &mut VecDeque<f64>, v: f64, q: f64) {
    if recent.len() >= recent_cap(q) {
        recent.pop_front();
    }
    recent.push_back(v);
}

/// The `q` quantile (nearest rank) of `values`.
fn quantile(values: &VecDeque<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = values.iter().copied().collect();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    let (_, x, _) = v.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
    *x
}

/// Writes a value as a one-hot category name.
fn category(v: Value<'_>, out: &mut String) {
    out.clear();
    let _ = match v {
        Value::Null => Ok(()),
        Value::Str(s) => out.write_str(s),
        Value::Addr(a) => write!(out, "{a}"),
        Value::Protocol(p) => out.write_str(p.name()),
        Value::U64(n) => write!(out, "{n}"),
        Value::F64(f) => write!(out, "{f}"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Ts(t) => write!(out, "{}", t.0),
        Value::Flags(f) => write!(out, "{f}"),
    };
}

/// The categories of each one-hot feature: the most frequent in `records`
/// (at most [`MAX_CATEGORIES`]), in name order.
fn vocabulary<R: Record>(features: &[Feature], records: &[R]) -> Vec<Vec<String>> {
    let mut buf = String::new();
    features
        .iter()
        .filter_map(|f| match f {
            Feature::OneHot(field) => Some(*field),
            _ => None,
        })
        .map(|field| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for r in records {
                category(r.get(field), &mut buf);
                *counts.entry(buf.clone()).or_default() += 1;
            }
            let mut all: Vec<(String, u64)> = counts.into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(MAX_CATEGORIES);
            let mut names: Vec<String> = all.into_iter().map(|(n, _)| n).collect();
            names.sort();
            names
        })
        .collect()
}

/// Feature slots: one per plain or `log1p` feature, categories + 1 per
/// one-hot feature.
pub(crate) fn dims(features: &[Feature], vocab: &[Vec<String>]) -> usize {
    let mut v = vocab.iter();
    features
        .iter()
        .map(|f| match f {
            Feature::OneHot(_) => v.next().map_or(0, Vec::len) + 1,
            _ => 1,
        })
        .sum()
}

/// Fills `out` with the features of `r` (non-finite values become 0).
fn extract<R: Record>(features: &[Feature], vocab: &[Vec<String>], r: &R, out: &mut [f64]) {
    let mut slot = 0;
    let mut v = vocab.iter();
    let mut buf = String::new();
    for f in features {
        match *f {
            Feature::Num(field) => {
                out[slot] = finite(r.get(field).as_f64().unwrap_or(0.0));
                slot += 1;
            }
            Feature::Log1p(field) => {
                let x = r.get(field).as_f64().unwrap_or(0.0);
                out[slot] = finite(x.max(0.0).ln_1p());
                slot += 1;
            }
            Feature::OneHot(field) => {
                let names = v.next().map_or(&[][..], Vec::as_slice);
                category(r.get(field), &mut buf);
                let hit = names.iter().position(|n| *n == buf).unwrap_or(names.len());
                for (i, o) in out[slot..slot + names.len() + 1].iter_mut().enumerate() {
                    *o = if i == hit { 1.0 } else { 0.0 };
                }
                slot += names.len() + 1;
            }
        }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netanom_records::{Addr, GroupKey, Ts, WindowRecord};

    fn config(yaml: &str) -> KmeansConfig {
        netanom_records::doc::parse_options(serde_yaml::from_str(yaml).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn parses_features_and_threshold() {
        let c = config(
            "{k: 2, warmup: 4, features: [count, {log1p: bytes}, {onehot: protocol}], threshold: {quantile: 0.99}}",
        );
        assert_eq!(
            c.resolve().ok(),
            Some(vec![
                Feature::Num(Field::Count),
                Feature::Log1p(Field::Bytes),
                Feature::OneHot(Field::Protocol)
            ])
        );
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.threshold.rule(), Some(Threshold::Quantile(0.99)));
    }

    #[test]
    fn bad_configs() {
        let c = config("{k: 5, warmup: 4, features: [nope, {sqrt: count}]}");
        // Unknown field, unknown transform, k > warmup, farthest > warmup.
        assert_eq!(c.validate().len(), 4, "{:?}", c.validate());
        let c = config("{k: 2, features: [src, count]}");
        let p = c.check_fields(&WindowRecord::fields(&[Field::Src]));
        assert_eq!(p.len(), 1, "{p:?}");
        let p = c.check_fields(&WindowRecord::fields(&[]));
        assert_eq!(p.len(), 1, "{p:?}");
    }

    fn record(i: u64, count: u64) -> WindowRecord {
        WindowRecord {
            window_start: Ts(i as i64),
            window_end: Ts(i as i64 + 1),
            key: GroupKey {
                src: Addr::V4([10, 0, 0, (i % 200) as u8].into()),
                ..Default::default()
            },
            count,
            ..Default::default()
        }
    }

    #[test]
    fn warmup_then_incremental_scoring_flags_outliers() {
        let c = config(
            "{k: 2, warmup: 20, features: [count, {onehot: src}], threshold: {farthest: 1}}",
        );
        let features = c.resolve().unwrap_or_default();
        let mut s = State::new(c, features, 1);
        let first: Vec<_> = (0..20).map(|i| record(i, 10 + i % 3)).collect();
        let out = s.epoch(1, first).unwrap_or_default();
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|r| !r.anomaly && r.distance.is_finite()));
        let out = s
            .epoch(2, vec![record(1, 11), record(300, 5000)])
            .unwrap_or_default();
        assert!(!out[0].anomaly);
        assert!(out[1].anomaly && out[1].score > 1.0);
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let c = config("{k: 3, warmup: 20, features: [count]}");
        let features = c.resolve().unwrap_or_default();
        let mut s = State::new(c, features, 1);
        assert!(s.epoch(1, vec![record(0, 1), record(1, 2)]).is_ok());
        assert!(s.finish().is_err());
        let c = config("{k: 3, warmup: 20, features: [count]}");
        let mut s: State<WindowRecord> = State::new(c, vec![Feature::Num(Field::Count)], 1);
        assert!(s.finish().map(|v| v.is_empty()).unwrap_or(false));
    }
}
