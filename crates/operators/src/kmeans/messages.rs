//! What the scorers and the trainer send each other: records and
//! per-epoch statistics to worker 0, models back to every worker.

use super::score::Scorer;
use crate::kmeans_model::Partial;
use netanom_records::Time;
use serde::{Deserialize, Serialize};

/// What the scorers send the trainer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R: Serialize",
    deserialize = "R: serde::de::DeserializeOwned"
))]
pub(super) enum ToTrainer<R> {
    /// A record of an epoch before the model exists (warmup).
    Warm(R),
    /// One worker's statistics of an epoch it scored.
    Partial(Box<EpochPartial>),
}

/// One worker's contribution to an epoch: the k-means statistics, and
/// for a quantile threshold its largest distances.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct EpochPartial {
    pub(super) stats: Partial,
    /// Descending, at most [`kept`](super::threshold::kept) of them.
    pub(super) top: Vec<f64>,
}

/// What the trainer broadcasts to every worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum ToScorers {
    /// The first message: epochs before `resume_before` are a replay
    /// (skipped), and the model restored from the checkpoint, if any.
    Init {
        resume_before: Time,
        scorer: Option<Box<Scorer>>,
    },
    /// The model after an epoch, for the records of the epochs after it.
    Model(Box<Scorer>),
}
