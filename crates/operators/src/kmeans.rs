//! `kmeans`: streaming k-means scoring, the notebook's clustering made
//! incremental, trained across workers.
//!
//! Design. Two operators and a feedback loop:
//! - *scorers* (every worker): records stay on the worker the upstream
//!   operator put them on. Once every record of epoch `t` (one Timely
//!   time) is there and every model message of the times before it, the
//!   worker scores them with the model after the previous epoch and sends
//!   worker 0 its [`Partial`] of `t`: per centroid the count and the sum of
//!   the standardized points, per dimension the sum of squares, in fixed
//!   point, and for a quantile threshold its largest distances.
//! - *trainer* (worker 0): merges the partials of `t` (integer sums, so
//!   the merge is exact whatever the grouping or order), discounts the old
//!   weights (`decay`, `half_life`) and updates the centroids and the
//!   running standardization (Chan's merge of moments), updates the
//!   threshold, and broadcasts the model to every worker through a loop
//!   (summary +1 tick: the model made at `t` arrives at `t + 1`). The loop
//!   input is not connected to the scorers' output, so it only gates when
//!   an epoch may be scored and never holds the output frontier.
//!
//! Warmup: before the model exists, scorers send their records to worker
//! 0, which gathers whole epochs in sort-key order until it has `warmup`
//! records, trains (k-means++ and Lloyd, PCA if asked), scores them and
//! broadcasts the first model. Until then it holds a capability that
//! follows its input frontier, so flow control never waits for it.
//!
//! Determinism: every worker scores with the same model bits, the merged
//! sums do not depend on how records were spread, and thresholds are
//! computed once, on worker 0, from the merged values: the model, every
//! score and every `anomaly` flag are the same on any number of workers
//! and processes. The quantile threshold keeps, per epoch, the record
//! count and the exact top [`kept`] distances (merged from each worker's
//! top), enough for the nearest-rank quantile of the recent records.
//!
//! Checkpoints: the model is the same everywhere, so worker 0 snapshots
//! the trainer (warmup records, model, threshold state, time of the last
//! update) after each epoch. On restart it restores it and its first
//! message gives every worker the restored model and the checkpoint's
//! time, before which epochs are a replay and are skipped.
//!
//! `mode: score` needs none of this: every worker loads the model file and
//! scores its own records.

use crate::kmeans_model::{Model, Partial};
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
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Capability, Concat, ConnectLoop, Feedback, OkErr};
use timely::dataflow::Stream;
use timely::progress::Antichain;
use timely::ExchangeData;

/// Clusters records with incremental k-means and scores each by its
/// distance to the nearest centroid (on standardized features); `anomaly`
/// is true above `threshold`. The model starts with k-means++ on the first
/// `warmup` records (whole epochs; the same `seed` gives the same model)
/// and is then updated once per event-time tick with that tick's records
/// (mini-batch, with `decay` or `half_life` forgetting); a record is
/// scored with the model of the tick before its own (warmup records with
/// the initial model). Outputs the input's fields plus `cluster`,
/// `distance`, `score` (= distance / threshold) and `anomaly`. Each
/// worker scores its own records and sends per-centroid sums to worker 0,
/// which merges them exactly, updates the model and sends it back to every
/// worker (warmup training runs on worker 0): results do not depend on the
/// number of workers. With `model_path`, `mode: train` saves the model at
/// the end of the run and `mode: score` scores every record with a saved
/// model, unchanged.
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
    /// `{quantile: 0.999}` (nearest rank of the recent distances: the
    /// newest ticks holding at least `max(1000, 20 / (1 - q))` records,
    /// updated every tick), or `{farthest: 100}` (the 100th largest
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
    /// and its saved threshold, or `threshold: {value: X}` if given. The
    /// features (and `pca`, if given) must be the model's; training
    /// options (k, warmup, seed, n_init, max_iter, decay, half_life, a
    /// quantile or farthest threshold) have no effect and a run warns
    /// about those set.
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
        given: false,
    }
}

fn given() -> bool {
    true
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
    /// Whether the pipeline gave it (false for the default): in score
    /// mode, a given `value` replaces the model's threshold.
    #[serde(skip, default = "given")]
    pub given: bool,
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
                (Some(path), Ok(features)) => match kmeans_store::load(path, &features) {
                    Err(e) => problems.push(ConfigProblem::at(
                        "model_path",
                        format!("model_path: `{}`: {e}", path.display()),
                    )),
                    Ok(loaded) => {
                        if let Err(e) = self.check_loaded(&loaded) {
                            problems.push(ConfigProblem::at("pca", e));
                        }
                    }
                },
                (Some(_), Err(_)) => {}
            }
        }
        problems
    }

    /// The threshold rule (the default's when none is given).
    pub fn threshold_rule(&self) -> Option<Threshold> {
        self.threshold.rule()
    }

    /// The threshold rule the pipeline gave, if it gave one.
    fn given_threshold(&self) -> Option<Threshold> {
        self.threshold.rule().filter(|_| self.threshold.given)
    }

    /// `mode: score` ignores the training options: what the pipeline set
    /// to no effect, one message per option (empty in train mode). An
    /// option counts as set when it differs from its default.
    pub fn score_mode_warnings(&self) -> Vec<String> {
        if self.mode != Mode::Score {
            return Vec::new();
        }
        let mut unused = Vec::new();
        let mut note = |set: bool, name: &str| {
            if set {
                unused.push(name.to_owned());
            }
        };
        note(self.k != default_k(), "k");
        note(self.warmup != default_warmup(), "warmup");
        note(self.seed != 0, "seed");
        note(self.n_init != default_n_init(), "n_init");
        note(self.max_iter != default_max_iter(), "max_iter");
        note(self.decay.is_some(), "decay");
        note(self.half_life.is_some(), "half_life");
        let mut out = Vec::new();
        if !unused.is_empty() {
            out.push(format!(
                "mode: score does not train: {} {} no effect (the model file's clusters are used)",
                unused.join(", "),
                if unused.len() == 1 { "has" } else { "have" }
            ));
        }
        match self.given_threshold() {
            Some(Threshold::Quantile(_)) | Some(Threshold::Farthest(_)) => out.push(
                "threshold: in mode: score only {value: X} replaces the model's saved threshold; quantile and farthest need training, so the saved threshold is used"
                    .to_owned(),
            ),
            _ => {}
        }
        out
    }

    /// Score mode: a `pca` option must be the saved model's.
    fn check_loaded(&self, loaded: &Loaded) -> Result<(), String> {
        let saved = loaded.pca.as_ref().map(|p| p.n);
        match self.pca {
            Some(n) if saved != Some(n) => Err(format!(
                "pca: {n}, but the model in model_path {}",
                match saved {
                    Some(m) => format!("has {m} components"),
                    None => "has no pca".to_owned(),
                }
            )),
            _ => Ok(()),
        }
    }

    /// The threshold rule as written in a model file (`farthest 1`).
    fn threshold_text(&self) -> String {
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
        if self.mode == Mode::Score {
            return self.build_score_mode(name, input, features, stats, checkpoints);
        }
        let scope = input.scope();
        let (handle, models) = scope.feedback::<Vec<ToScorers>>(1);
        let quantile = match self.threshold_rule() {
            Some(Threshold::Quantile(q)) => Some(q),
            _ => None,
        };
        let (scored, to_trainer) = scorers(
            name,
            input,
            models,
            features.clone(),
            quantile,
            stats.component(name),
        )
        .ok_err::<Vec<Scored<R>>, _, Vec<ToTrainer<R>>, _, _>(|x| x);
        let (warm_scored, to_scorers) = trainer(
            name,
            to_trainer,
            self.clone(),
            features,
            tick.max(1),
            stats,
            checkpoints,
        )
        .ok_err::<Vec<Scored<R>>, _, Vec<ToScorers>, _, _>(|x| x);
        to_scorers.broadcast().connect_loop(handle);
        scored.concat(warm_scored)
    }

    /// `mode: score`: every worker loads the model and scores its own
    /// records with it; nothing crosses workers and nothing changes.
    fn build_score_mode<'s, R: Record + ExchangeData>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        features: Vec<Feature>,
        stats: Arc<Stats>,
        checkpoints: Option<Arc<Checkpoints>>,
    ) -> Stream<'s, Time, Vec<Scored<R>>> {
        let id = name.to_owned();
        if input.scope().index() == 0 {
            for w in self.score_mode_warnings() {
                eprintln!("netanom: warning: {id}: {w}");
            }
        }
        let loaded: Result<Scorer, String> = match &self.model_path {
            Some(path) => kmeans_store::load(path, &features)
                .map_err(|e| format!("model_path `{}`: {e}", path.display()))
                .and_then(|l| self.check_loaded(&l).map(|()| l))
                .map(|l| Scorer {
                    model: l.model,
                    pca: l.pca,
                    vocab: l.vocab,
                    threshold: match self.given_threshold() {
                        Some(Threshold::Value(v)) => v,
                        _ => l.threshold,
                    },
                }),
            None => Err("mode: score needs model_path".into()),
        };
        // Replayed times before a checkpoint were scored by the last run.
        let resume_before = checkpoints.as_ref().map_or(0, |c| c.resume_before());
        let component = stats.component(name);
        input.unary::<CapacityContainerBuilder<Vec<Scored<R>>>, _, _, _>(
            Pipeline,
            name,
            move |_cap, _info| {
                let scorer = match loaded {
                    Ok(s) => Some(s),
                    Err(e) => {
                        stats.fail(format!("{id}: {e}"));
                        None
                    }
                };
                let mut buffers = Buffers::default();
                move |input, output| {
                    input.for_each(|cap, batch| {
                        let (Some(&t), Some(s)) = (cap.least(), scorer.as_ref()) else {
                            return;
                        };
                        if t < resume_before {
                            return;
                        }
                        let records = std::mem::take(batch);
                        let scored = s.score(&features, records, None, None, &mut buffers);
                        ComponentStats::add(&component.records_out, scored.len() as u64);
                        output.session(&cap).give_iterator(scored.into_iter());
                    });
                }
            },
        )
    }
}

/// What the scorers emit: scored records, and what goes to the trainer.
type ScorerOutput<R> = Vec<Result<Scored<R>, ToTrainer<R>>>;

/// What the trainer emits: scored warmup records, and models.
type TrainerOutput<R> = Vec<Result<Scored<R>, ToScorers>>;

/// The scoring half, on every worker: each epoch's records are scored
/// where they are, with the model the trainer broadcast after the epochs
/// before; each worker then sends the trainer its statistics of the epoch
/// (or, before the model exists, the records themselves, for warmup).
fn scorers<'s, R: Record + ExchangeData>(
    name: &str,
    input: Stream<'s, Time, Vec<R>>,
    models: Stream<'s, Time, Vec<ToScorers>>,
    features: Vec<Feature>,
    quantile: Option<f64>,
    component: Arc<ComponentStats>,
) -> Stream<'s, Time, ScorerOutput<R>> {
    let mut builder = OperatorBuilder::new(format!("{name}-score"), input.scope());
    let mut records = builder.new_input(input, Pipeline);
    let mut models_in = builder.new_input(models, Pipeline);
    // Model messages only say when an epoch may be scored: the input is not
    // connected to the output, or the cycle through the trainer would hold
    // the output frontier one tick at a time.
    let (output, stream) = builder.new_output_connection([(0usize, Antichain::from_elem(0u64))]);
    let mut output = OutputBuilder::<
        Time,
        CapacityContainerBuilder<Vec<Result<Scored<R>, ToTrainer<R>>>>,
    >::from(output);
    builder.build(move |_initial| {
        let mut stash: BTreeMap<Time, (Capability<Time>, Vec<R>)> = BTreeMap::new();
        let mut messages: BTreeMap<Time, Vec<ToScorers>> = BTreeMap::new();
        let mut scorer: Option<Scorer> = None;
        // Set by the trainer's first message.
        let mut resume_before: Option<Time> = None;
        let mut buffers = Buffers::default();
        move |frontiers| {
            records.for_each(|cap, batch| {
                if let Some(&t) = cap.least() {
                    let entry = stash
                        .entry(t)
                        .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                    entry.1.append(batch);
                }
            });
            models_in.for_each(|cap, batch| {
                for m in batch.drain(..) {
                    match m {
                        ToScorers::Init {
                            resume_before: r,
                            scorer: s,
                        } => {
                            if resume_before.is_none() {
                                resume_before = Some(r);
                                scorer = s.map(|b| *b);
                            }
                        }
                        ToScorers::Model(s) => {
                            if let Some(&t) = cap.least() {
                                messages.entry(t).or_default().push(ToScorers::Model(s));
                            }
                        }
                    }
                }
            });
            let (records_frontier, models_frontier) = (&frontiers[0], &frontiers[1]);
            let mut out = output.activate();
            while let Some(entry) = stash.first_entry() {
                let t = *entry.key();
                // Every record of `t` is here, and every model of a time
                // before it (a model made at epoch `e` arrives at `e + 1`).
                if records_frontier.less_equal(&t) || models_frontier.less_equal(&t) {
                    break;
                }
                let Some(resume) = resume_before else {
                    break;
                };
                while let Some(m) = messages.first_entry() {
                    if *m.key() > t {
                        break;
                    }
                    for msg in m.remove() {
                        if let ToScorers::Model(s) = msg {
                            scorer = Some(*s);
                        }
                    }
                }
                let (cap, records) = entry.remove();
                if t < resume || records.is_empty() {
                    continue;
                }
                let mut session = out.session(&cap);
                match &scorer {
                    None => {
                        session.give_iterator(records.into_iter().map(|r| Err(ToTrainer::Warm(r))))
                    }
                    Some(s) => {
                        let mut partial = Partial::new(&s.model);
                        let mut distances = quantile.map(|_| Vec::with_capacity(records.len()));
                        let scored = s.score(
                            &features,
                            records,
                            Some(&mut partial),
                            distances.as_mut(),
                            &mut buffers,
                        );
                        ComponentStats::add(&component.records_out, scored.len() as u64);
                        session.give_iterator(scored.into_iter().map(Ok));
                        let top = match (quantile, distances) {
                            (Some(q), Some(d)) => largest(d, kept(q)),
                            _ => Vec::new(),
                        };
                        session.give(Err(ToTrainer::Partial(Box::new(EpochPartial {
                            stats: partial,
                            top,
                        }))));
                    }
                }
            }
            // Models that no epoch still to come predates are applied now,
            // so that messages do not pile up between epochs.
            if resume_before.is_some() {
                let next = stash
                    .keys()
                    .next()
                    .copied()
                    .into_iter()
                    .chain(records_frontier.frontier().iter().copied())
                    .min();
                while let Some(m) = messages.first_entry() {
                    // Not before every model older than it is in, either.
                    if next.is_some_and(|n| *m.key() > n) || models_frontier.less_than(m.key()) {
                        break;
                    }
                    for msg in m.remove() {
                        if let ToScorers::Model(s) = msg {
                            scorer = Some(*s);
                        }
                    }
                }
            }
        }
    });
    stream
}

/// The training half, on worker 0: warmup (k-means++ on the first records,
/// which it also scores), then per epoch the merge of every worker's
/// statistics into the model, which goes back to every worker. Worker 0
/// also keeps the checkpoint state and writes `model_path`.
fn trainer<'s, R: Record + ExchangeData>(
    name: &str,
    input: Stream<'s, Time, Vec<ToTrainer<R>>>,
    config: KmeansConfig,
    features: Vec<Feature>,
    tick: u64,
    stats: Arc<Stats>,
    checkpoints: Option<Arc<Checkpoints>>,
) -> Stream<'s, Time, TrainerOutput<R>> {
    let leader = input.scope().index() == 0;
    // Checkpoints: the state is kept on worker 0.
    let checkpoints = checkpoints.filter(|_| leader);
    let resume_before = checkpoints.as_ref().map_or(0, |c| c.resume_before());
    let resumed: Option<Result<Snapshot<R>, String>> = checkpoints
        .as_ref()
        .and_then(|c| c.operator_resume(name))
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                format!("its state in the checkpoint is damaged ({e}); move state_dir away to start over")
            })
        });
    let component = stats.component(name);
    let id = name.to_owned();
    input.unary_frontier::<CapacityContainerBuilder<Vec<Result<Scored<R>, ToScorers>>>, _, _, _>(
        Exchange::new(|_: &ToTrainer<R>| 0u64),
        &format!("{name}-train"),
        move |cap, _info| {
            let mut state = Trainer::new(config, features, tick);
            let mut failed = false;
            match resumed {
                Some(Ok(snapshot)) => state.restore(snapshot),
                Some(Err(e)) => {
                    stats.fail(format!("{id}: {e}"));
                    failed = true;
                }
                None => {}
            }
            // Worker 0 sends the first message at once; other workers'
            // trainers never receive anything.
            let mut hold: Option<Capability<Time>> = leader.then_some(cap);
            let mut init_sent = false;
            let mut saved_at_commit = 0u64;
            let mut ended = false;
            let mut stash: BTreeMap<Time, (Capability<Time>, Vec<ToTrainer<R>>)> = BTreeMap::new();
            move |(input, frontier), output| {
                if let (Some(h), false) = (hold.as_ref(), init_sent) {
                    init_sent = true;
                    output.session(h).give(Err(ToScorers::Init {
                        resume_before,
                        scorer: state.scorer().map(Box::new),
                    }));
                }
                input.for_each(|cap, batch| {
                    if let Some(&t) = cap.least() {
                        let entry = stash
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                        entry.1.append(batch);
                    }
                });
                while let Some(entry) = stash.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let t = *entry.key();
                    let (cap, messages) = entry.remove();
                    // Epochs before the checkpoint are in the restored
                    // state already (their records are a replay).
                    if failed || t < resume_before {
                        continue;
                    }
                    let mut warm = Vec::new();
                    let mut partials = Vec::new();
                    for m in messages {
                        match m {
                            ToTrainer::Warm(r) => warm.push(r),
                            ToTrainer::Partial(p) => partials.push(*p),
                        }
                    }
                    let result = state.epoch(t, warm, partials);
                    match result {
                        Ok((scored, changed)) => {
                            ComponentStats::add(&component.records_out, scored.len() as u64);
                            let mut session = output.session(&cap);
                            session.give_iterator(scored.into_iter().map(Ok));
                            if changed {
                                if let Some(s) = state.scorer() {
                                    session.give(Err(ToScorers::Model(Box::new(s))));
                                }
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
                }
                if let Some(c) = &checkpoints {
                    let before = frontier.frontier().iter().min().copied();
                    c.operator_progress(&id, before.unwrap_or(Time::MAX));
                    // A checkpoint was written since the model file was:
                    // write the model too, so a long follow run keeps a
                    // current model_path.
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
                        // While warming, a capability follows the input
                        // frontier (the warmup's records are emitted when
                        // the model starts, or at the end), so flow
                        // control never waits for this operator.
                        if let Some(h) = hold.as_mut() {
                            if least > *h.time() {
                                h.downgrade(&least);
                            }
                        }
                        if !state.warming() {
                            hold = None;
                        }
                    }
                    None if !ended && leader => {
                        // Input done: train on what warmup has, if
                        // anything, then save the model, once.
                        ended = true;
                        if let (Some(h), false) = (hold.take(), failed) {
                            match state.finish() {
                                Ok(scored) => {
                                    ComponentStats::add(
                                        &component.records_out,
                                        scored.len() as u64,
                                    );
                                    output.session(&h).give_iterator(scored.into_iter().map(Ok));
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
                    None => hold = None,
                }
            }
        },
    )
}

/// What the scorers send the trainer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R: Serialize",
    deserialize = "R: serde::de::DeserializeOwned"
))]
enum ToTrainer<R> {
    /// A record of an epoch before the model exists (warmup).
    Warm(R),
    /// One worker's statistics of an epoch it scored.
    Partial(Box<EpochPartial>),
}

/// One worker's contribution to an epoch: the k-means statistics, and
/// for a quantile threshold its largest distances.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct EpochPartial {
    stats: Partial,
    /// Descending, at most [`kept`] of them.
    top: Vec<f64>,
}

/// What the trainer broadcasts to every worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum ToScorers {
    /// The first message: epochs before `resume_before` are a replay
    /// (skipped), and the model restored from the checkpoint, if any.
    Init {
        resume_before: Time,
        scorer: Option<Box<Scorer>>,
    },
    /// The model after an epoch, for the records of the epochs after it.
    Model(Box<Scorer>),
}

/// Everything scoring needs; the same on every worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Scorer {
    model: Model,
    /// `pca: N`: the projection from feature slots to the model's space.
    pca: Option<Pca>,
    /// Per one-hot feature (in feature order), its categories.
    vocab: Vec<Vec<String>>,
    threshold: f64,
}

/// Scratch space for scoring.
#[derive(Default)]
struct Buffers {
    raw: Vec<f64>,
    x: Vec<f64>,
    scratch: Vec<f64>,
}

impl Scorer {
    /// Scores `records`; with `partial`, adds them to it, and with
    /// `distances`, collects their distances.
    fn score<R: Record>(
        &self,
        features: &[Feature],
        records: Vec<R>,
        mut partial: Option<&mut Partial>,
        mut distances: Option<&mut Vec<f64>>,
        b: &mut Buffers,
    ) -> Vec<Scored<R>> {
        let d = self.model.dims();
        b.raw.resize(dims(features, &self.vocab), 0.0);
        b.x.resize(d, 0.0);
        b.scratch.resize(d, 0.0);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            extract(features, &self.vocab, &r, &mut b.raw);
            match &self.pca {
                Some(p) => p.project(&b.raw, &mut b.x),
                None => b.x.copy_from_slice(&b.raw),
            }
            let (cluster, distance) = match partial.as_deref_mut() {
                Some(p) => self.model.score_and_add(&b.x, &mut b.scratch, p),
                None => {
                    self.model.standardize(&b.x, &mut b.scratch);
                    self.model.nearest(&b.scratch)
                }
            };
            if let Some(v) = distances.as_deref_mut() {
                v.push(distance);
            }
            out.push(scored(r, cluster, distance, self.threshold));
        }
        out
    }
}

/// The trainer's state on worker 0.
struct Trainer<R> {
    config: KmeansConfig,
    features: Vec<Feature>,
    tick: u64,
    /// Records waiting for the model (warmup), in epoch then sort-key order.
    warm: Vec<R>,
    run: Option<Running>,
}

/// What a checkpoint keeps of the trainer: everything that changes.
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
    scorer: Scorer,
    /// The quantile threshold's recent distances.
    recent: Recent,
    /// The epoch of the last update (forgetting counts from there).
    last: Time,
}

/// The recent distances of a quantile threshold, per epoch: (records,
/// their largest distances, descending), newest last. Epochs are kept
/// while the newer ones hold fewer than [`recent_cap`] records.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Recent {
    epochs: VecDeque<(u64, Vec<f64>)>,
}

impl Recent {
    fn push(&mut self, records: u64, top: Vec<f64>, q: f64) {
        if records == 0 {
            return;
        }
        self.epochs.push_back((records, top));
        let cap = recent_cap(q) as u64;
        let mut total: u64 = self.epochs.iter().map(|e| e.0).sum();
        while let Some(&(oldest, _)) = self.epochs.front() {
            if self.epochs.len() > 1 && total - oldest >= cap {
                total -= oldest;
                self.epochs.pop_front();
            } else {
                break;
            }
        }
    }

    /// The `q` quantile (nearest rank) of the recent distances: exact
    /// while no epoch holds more than twice [`recent_cap`] records (each
    /// keeps its [`kept`] largest), the smallest kept distance otherwise.
    fn quantile(&self, q: f64) -> f64 {
        let n: u64 = self.epochs.iter().map(|e| e.0).sum();
        if n == 0 {
            return 0.0;
        }
        // Rank from the top: the m-th largest.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let m = (n - rank + 1) as usize;
        let mut all: Vec<f64> = self
            .epochs
            .iter()
            .flat_map(|e| e.1.iter().copied())
            .collect();
        all.sort_by(|a, b| b.total_cmp(a));
        all.get(m.min(all.len()).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    }
}

impl<R: Record> Trainer<R> {
    fn new(config: KmeansConfig, features: Vec<Feature>, tick: u64) -> Self {
        Trainer {
            config,
            features,
            tick,
            warm: Vec::new(),
            run: None,
        }
    }

    /// The state to checkpoint.
    fn snapshot(&self) -> SnapshotRef<'_, R> {
        SnapshotRef {
            warm: &self.warm,
            model: self.run.as_ref(),
        }
    }

    /// The state of a checkpoint.
    fn restore(&mut self, snapshot: Snapshot<R>) {
        self.warm = snapshot.warm;
        self.run = snapshot.model;
    }

    /// The model to score with, once there is one.
    fn scorer(&self) -> Option<Scorer> {
        self.run.as_ref().map(|r| r.scorer.clone())
    }

    /// With `model_path`: writes the current model (nothing when there
    /// is none, an empty input).
    fn save(&self) -> Result<(), String> {
        let (Some(path), Some(run)) = (&self.config.model_path, &self.run) else {
            return Ok(());
        };
        let s = &run.scorer;
        let saved = SavedModel::new(
            &self.features,
            &s.vocab,
            &s.model,
            s.pca.as_ref(),
            s.threshold,
            self.config.threshold_text(),
            self.config.seed,
        );
        kmeans_store::save(path, &saved).map_err(|e| format!("model_path: {e}"))
    }

    fn warming(&self) -> bool {
        self.run.is_none()
    }

    /// Epoch `t`: its warmup records (while there is no model) or the
    /// workers' statistics of it. Returns the warmup records once scored
    /// (when the model starts), and whether the model changed.
    fn epoch(
        &mut self,
        t: Time,
        mut warm: Vec<R>,
        partials: Vec<EpochPartial>,
    ) -> Result<(Vec<Scored<R>>, bool), String> {
        if self.run.is_none() {
            if warm.is_empty() {
                return Ok((Vec::new(), false));
            }
            // Sort-key order: the same whichever workers sent them.
            let mut key = Vec::new();
            let mut keyed: Vec<(Vec<u8>, R)> = warm
                .drain(..)
                .map(|r| {
                    key.clear();
                    r.sort_key(&mut key);
                    (key.clone(), r)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            self.warm.extend(keyed.into_iter().map(|(_, r)| r));
            if self.warm.len() < self.config.warmup {
                return Ok((Vec::new(), false));
            }
            return self.start(t).map(|s| (s, true));
        }
        if partials.is_empty() {
            return Ok((Vec::new(), false));
        }
        let config = &self.config;
        let tick = self.tick;
        let Some(run) = self.run.as_mut() else {
            return Ok((Vec::new(), false));
        };
        let model = &mut run.scorer.model;
        let mut merged = Partial::new(model);
        let mut top = Vec::new();
        for p in &partials {
            merged.merge(&p.stats)?;
            top.extend_from_slice(&p.top);
        }
        // Forgetting since the last update.
        let elapsed = t.saturating_sub(run.last) as f64;
        let discount = match (config.decay, config.half_life) {
            (Some(decay), _) => decay.powf(elapsed / tick as f64),
            (None, Some(h)) => 0.5f64.powf(elapsed / h.nanos().max(1) as f64),
            (None, None) => 1.0,
        };
        model.update(&merged, discount);
        run.last = t;
        if let Some(Threshold::Quantile(q)) = config.threshold_rule() {
            run.recent.push(merged.records(), largest(top, kept(q)), q);
            run.scorer.threshold = run.recent.quantile(q);
        }
        Ok((Vec::new(), true))
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
        let mut recent = Recent::default();
        let threshold = match c.threshold_rule() {
            None => 0.0,
            Some(Threshold::Value(v)) => v,
            Some(Threshold::Farthest(n)) => {
                let sorted = largest(distances.iter().map(|p| p.1).collect(), n);
                sorted.last().copied().unwrap_or(0.0)
            }
            Some(Threshold::Quantile(q)) => {
                let all: Vec<f64> = distances.iter().map(|p| p.1).collect();
                recent.push(all.len() as u64, largest(all, kept(q)), q);
                recent.quantile(q)
            }
        };
        let out = warm
            .into_iter()
            .zip(distances)
            .map(|(r, (cluster, distance))| scored(r, cluster, distance, threshold))
            .collect();
        self.run = Some(Running {
            scorer: Scorer {
                model,
                pca,
                vocab,
                threshold,
            },
            recent,
            last: t,
        });
        Ok(out)
    }

    /// The input ended: train on a short warmup, if there is one.
    fn finish(&mut self) -> Result<Vec<Scored<R>>, String> {
        if self.run.is_some() || self.warm.is_empty() {
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

/// The recent records a quantile threshold looks at: `max(1000, 20 / (1 - q))`.
fn recent_cap(q: f64) -> usize {
    let n = 20.0 / (1.0 - q).max(1e-6);
    (n.ceil() as usize).clamp(1000, 1_000_000)
}

/// The largest distances kept per epoch (and sent per worker) for a
/// quantile threshold: enough for the exact quantile of up to three times
/// [`recent_cap`] records.
fn kept(q: f64) -> usize {
    ((1.0 - q).max(0.0) * 3.0 * recent_cap(q) as f64).ceil() as usize + 1
}

/// The `n` largest of `values`, descending.
fn largest(mut values: Vec<f64>, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if values.len() > n {
        values.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
        values.truncate(n);
    }
    values.sort_by(|a, b| b.total_cmp(a));
    values
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

    /// A scored record as the test saw it: (worker, time, record).
    type Emitted = (usize, Time, Scored<WindowRecord>);

    /// Runs the operator on `workers` workers of one process with tick 1:
    /// epoch `t`'s records enter at Timely time `t`, record `i` of an
    /// epoch on worker `i % workers`. Returns (worker that emitted it,
    /// time, scored record), sorted by time and sort key, and the
    /// failures.
    fn run_dataflow(
        config: &KmeansConfig,
        workers: usize,
        epochs: &[(Time, Vec<WindowRecord>)],
    ) -> (Vec<Emitted>, Vec<String>) {
        use timely::dataflow::operators::vec::Input;
        use timely::dataflow::operators::Inspect;
        let epochs = Arc::new(epochs.to_vec());
        let config = config.clone();
        let stats = Stats::new();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (worker_stats, worker_out) = (stats.clone(), out.clone());
        let guards = timely::execute(timely::Config::process(workers), move |worker| {
            let index = worker.index();
            let peers = worker.peers();
            let sink = worker_out.clone();
            let config = config.clone();
            let stats = worker_stats.clone();
            let mut input = worker.dataflow::<Time, _, _>(move |scope| {
                let (input, stream) = scope.new_input::<WindowRecord>();
                config
                    .build("km", stream, 1, stats, None)
                    .inspect_core(move |event| {
                        if let Ok((stamp, data)) = event {
                            let t = stamp.least().copied().unwrap_or_default();
                            let mut v = sink.lock().unwrap_or_else(|e| e.into_inner());
                            v.extend(data.iter().map(|r| (index, t, r.clone())));
                        }
                    });
                input
            });
            for (t, records) in epochs.iter() {
                input.advance_to(*t);
                for (i, r) in records.iter().enumerate() {
                    if i % peers == index {
                        input.send(r.clone());
                    }
                }
                worker.step();
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for r in guards.join() {
            r.unwrap_or_else(|e| panic!("{e}"));
        }
        let mut v = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
        let key = |r: &Scored<WindowRecord>| {
            let mut k = Vec::new();
            r.sort_key(&mut k);
            k
        };
        v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| key(&a.2).cmp(&key(&b.2))));
        (v, stats.failures())
    }

    /// `n` records of epoch `t` in three groups, with a few outliers.
    fn traffic(t: Time, n: u64, rng: &mut crate::kmeans_model::SplitMix64) -> Vec<WindowRecord> {
        (0..n)
            .map(|i| {
                let group = rng.next_u64() % 3;
                let outlier = rng.next_u64().is_multiple_of(97);
                let mut r = record(t * 10_000 + i, 0);
                r.count = 10 + group * 40 + rng.next_u64() % 7 + if outlier { 900 } else { 0 };
                r.bytes = r.count * (60 + group * 400) + rng.next_u64() % 100;
                r.distinct_dports = (1 + group * 3 + rng.next_u64() % 2) as u32;
                r
            })
            .collect()
    }

    fn rel_close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn models_scores_and_flags_agree_on_1_2_and_4_workers() {
        let dir =
            std::env::temp_dir().join(format!("netanom-kmeans-workers-{}", std::process::id()));
        let mut rng = crate::kmeans_model::SplitMix64::new(5);
        let epochs: Vec<(Time, Vec<WindowRecord>)> = (1..=25)
            .map(|t| (t, traffic(t, 150 + t * 3, &mut rng)))
            .collect();
        let total: usize = epochs.iter().map(|e| e.1.len()).sum();
        for threshold in ["{quantile: 0.95}", "{farthest: 5}"] {
            let mut runs = Vec::new();
            for workers in [1, 2, 4] {
                let model = dir.join(format!("w{workers}.json"));
                let c = config(&format!(
                    "{{k: 3, warmup: 300, seed: 3, n_init: 2, decay: 0.8, threshold: {threshold}, features: [count, len_avg, {{log1p: distinct_dports}}], model_path: {}}}",
                    model.display()
                ));
                let (out, failures) = run_dataflow(&c, workers, &epochs);
                assert!(failures.is_empty(), "{failures:?}");
                assert_eq!(out.len(), total, "{workers} workers");
                // The records really were scored on every worker (warmup
                // records by worker 0, the others where they are).
                let mut emitted = vec![0usize; workers];
                for (w, _, _) in &out {
                    emitted[*w] += 1;
                }
                assert!(emitted.iter().all(|&n| n > 500), "{workers}: {emitted:?}");
                let saved: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&model).unwrap_or_default())
                        .unwrap_or_else(|e| panic!("{e}"));
                runs.push((workers, out, saved));
            }
            let (_, one, model_one) = &runs[0];
            assert!(
                one.iter().any(|r| r.2.anomaly),
                "{threshold}: nothing flagged"
            );
            assert!(one.iter().any(|r| !r.2.anomaly));
            for (workers, out, model) in &runs[1..] {
                for (a, b) in one.iter().zip(out) {
                    assert_eq!(a.1, b.1);
                    assert_eq!(a.2.record, b.2.record);
                    assert_eq!(a.2.cluster, b.2.cluster, "{workers}: {a:?} {b:?}");
                    assert!(
                        rel_close(a.2.distance, b.2.distance),
                        "{workers}: {a:?} {b:?}"
                    );
                    assert!(rel_close(a.2.score, b.2.score), "{workers}: {a:?} {b:?}");
                    assert_eq!(a.2.anomaly, b.2.anomaly, "{workers}: {a:?} {b:?}");
                }
                for key in ["mean", "variance", "weights", "threshold", "centroids"] {
                    let flat = |v: &serde_json::Value| -> Vec<f64> {
                        match v {
                            serde_json::Value::Array(a) => {
                                a.iter().flat_map(flat_numbers).collect()
                            }
                            other => other.as_f64().into_iter().collect(),
                        }
                    };
                    let (x, y) = (flat(&model_one[key]), flat(&model[key]));
                    assert_eq!(x.len(), y.len(), "{key}");
                    assert!(!x.is_empty(), "{key}");
                    for (p, q) in x.iter().zip(&y) {
                        assert!(
                            rel_close(*p, *q),
                            "{threshold}, {workers} workers, {key}: {p} vs {q}"
                        );
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn flat_numbers(v: &serde_json::Value) -> Vec<f64> {
        match v {
            serde_json::Value::Array(a) => a.iter().flat_map(flat_numbers).collect(),
            other => other.as_f64().into_iter().collect(),
        }
    }

    #[test]
    fn a_record_is_scored_with_the_model_of_the_epoch_before_its_own() {
        // k = 1 on `count`; warmup: counts 1..=20 around 10.5. Epoch 2:
        // ten records at 100, scored with the warmup model: far. The
        // update forgets nearly everything (decay 1e-9), so the model
        // after epoch 2 sits at 100: a record at 100 in epoch 3 is at
        // distance about 0. Scored with its own epoch's model, epoch 2's records
        // would be near 0 too; with the warmup model, epoch 3's far.
        let c = config(
            "{k: 1, warmup: 20, n_init: 1, decay: 1e-9, threshold: {value: 3}, features: [count]}",
        );
        let warm: Vec<WindowRecord> = (0..20).map(|i| record(i, i + 1)).collect();
        let second: Vec<WindowRecord> = (100..110).map(|i| record(i, 100)).collect();
        let third = vec![record(200, 100)];
        for workers in [1, 2] {
            let (out, failures) = run_dataflow(
                &c,
                workers,
                &[(1, warm.clone()), (2, second.clone()), (3, third.clone())],
            );
            assert!(failures.is_empty(), "{failures:?}");
            assert_eq!(out.len(), 31);
            for (_, t, r) in &out {
                match t {
                    1 => assert!(r.distance < 2.0 && !r.anomaly, "{r:?}"),
                    2 => assert!(r.distance > 10.0 && r.anomaly, "{r:?}"),
                    // Not quite 0: the 1e-9 of the warmup kept.
                    _ => assert!(r.distance < 1e-3 && !r.anomaly, "{r:?}"),
                }
            }
        }
    }

    #[test]
    fn a_quantile_threshold_is_the_nearest_rank_of_the_recent_epochs() {
        let q = 0.9;
        let mut recent = Recent::default();
        // 1000 records with distances 1..=1000, over 4 epochs.
        for e in 0..4u64 {
            let d: Vec<f64> = (1..=250).map(|i| (e * 250 + i) as f64).collect();
            recent.push(250, largest(d, kept(q)), q);
        }
        // Nearest rank: the 900th smallest of 1..=1000.
        assert_eq!(recent.quantile(q), 900.0);
        // 1000 more, smaller: the old epochs drop out once the newer ones
        // hold recent_cap (1000) records.
        for _ in 0..4u64 {
            let d: Vec<f64> = (1..=250).map(|i| i as f64 / 1000.0).collect();
            recent.push(250, largest(d, kept(q)), q);
        }
        assert_eq!(recent.epochs.len(), 4);
        assert_eq!(recent.quantile(q), 0.225);
    }

    #[test]
    fn score_mode_warns_about_training_options_and_checks_pca() {
        let c = config("{mode: score, model_path: m.json, k: 4, seed: 2, features: [count], threshold: {farthest: 3}}");
        let w = c.score_mode_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("k, seed have no effect"), "{w:?}");
        assert!(w[1].contains("saved threshold is used"), "{w:?}");
        let c =
            config("{mode: score, model_path: m.json, features: [count], threshold: {value: 2}}");
        assert!(c.score_mode_warnings().is_empty());
        assert_eq!(c.given_threshold(), Some(Threshold::Value(2.0)));
        let c = config("{features: [count]}");
        assert!(c.score_mode_warnings().is_empty());
        assert_eq!(c.given_threshold(), None);
        assert_eq!(c.threshold_rule(), Some(Threshold::Farthest(100)));
    }

    #[test]
    fn warmup_then_incremental_scoring_flags_outliers() {
        let c = config(
            "{k: 2, warmup: 20, features: [count, {onehot: src}], threshold: {farthest: 1}}",
        );
        let first: Vec<_> = (0..20).map(|i| record(i, 10 + i % 3)).collect();
        let (out, failures) = run_dataflow(
            &c,
            2,
            &[(1, first), (2, vec![record(1, 11), record(300, 5000)])],
        );
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(out.len(), 22);
        assert!(out[..20]
            .iter()
            .all(|r| !r.2.anomaly && r.2.distance.is_finite()));
        let normal = out.iter().find(|r| r.1 == 2 && r.2.record.count == 11);
        let outlier = out.iter().find(|r| r.1 == 2 && r.2.record.count == 5000);
        assert!(normal.is_some_and(|r| !r.2.anomaly), "{normal:?}");
        assert!(
            outlier.is_some_and(|r| r.2.anomaly && r.2.score > 1.0),
            "{outlier:?}"
        );
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let c = config("{k: 3, warmup: 20, features: [count]}");
        let features = c.resolve().unwrap_or_default();
        let mut s = Trainer::new(c.clone(), features, 1);
        assert!(s
            .epoch(1, vec![record(0, 1), record(1, 2)], Vec::new())
            .is_ok());
        assert!(s.finish().is_err());
        let mut s: Trainer<WindowRecord> =
            Trainer::new(c.clone(), vec![Feature::Num(Field::Count)], 1);
        assert!(s.finish().map(|v| v.is_empty()).unwrap_or(false));
        // Through the dataflow: a failure, no panic, nothing scored.
        let (out, failures) = run_dataflow(&c, 2, &[(1, vec![record(0, 1), record(1, 2)])]);
        assert!(out.is_empty());
        assert!(
            failures.iter().any(|f| f.contains("fewer than k = 3")),
            "{failures:?}"
        );
    }
}
