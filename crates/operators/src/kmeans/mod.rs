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
//! count and the exact top `threshold::kept` distances (merged from each worker's
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
//!
//! Files: this one holds the options ([`KmeansConfig`]), their checks
//! and the wiring of the two operators; `features` turns records into
//! feature slots, `score` the scorers (and `mode: score`), `train` the
//! trainer, `threshold` the anomaly rules, `messages` what the two send
//! each other, `state` what the trainer keeps and checkpoints. The numeric
//! core is in [`crate::kmeans_model`], PCA in [`crate::kmeans_pca`], the
//! model file in [`crate::kmeans_store`].
//!
//! [`Partial`]: crate::kmeans_model::Partial

mod features;
mod messages;
mod score;
mod state;
#[cfg(test)]
mod tests;
mod threshold;
mod train;

pub(crate) use features::dims;
pub use features::{Feature, FeatureSpec};
pub use threshold::{Threshold, ThresholdSpec};

use crate::kmeans_store::{self, Loaded};
use messages::{ToScorers, ToTrainer};
use netanom_records::checkpoint::Checkpoints;
use netanom_records::doc::ConfigProblem;
use netanom_records::field::Field;
use netanom_records::stats::Stats;
use netanom_records::{Duration, Record, Scored, Time};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Concat, ConnectLoop, Feedback, OkErr};
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

impl KmeansConfig {
    /// The features, resolved; problems for unknown names or transforms.
    pub fn resolve(&self) -> Result<Vec<Feature>, Vec<ConfigProblem>> {
        features::resolve(&self.features)
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
        features::check_fields(&features, input)
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
            return score::score_mode(self, name, input, features, stats, checkpoints);
        }
        let scope = input.scope();
        let (handle, models) = scope.feedback::<Vec<ToScorers>>(1);
        let quantile = match self.threshold_rule() {
            Some(Threshold::Quantile(q)) => Some(q),
            _ => None,
        };
        let (scored, to_trainer) = score::scorers(
            name,
            input,
            models,
            features.clone(),
            quantile,
            stats.component(name),
        )
        .ok_err::<Vec<Scored<R>>, _, Vec<ToTrainer<R>>, _, _>(|x| x);
        let (warm_scored, to_scorers) = train::trainer(
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
}
