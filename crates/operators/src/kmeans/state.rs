//! What the trainer keeps once the model exists, and what a checkpoint
//! keeps of the trainer.

use super::score::Scorer;
use super::threshold::Recent;
use netanom_records::Time;
use serde::{Deserialize, Serialize};

/// A trained model and what goes with it.
#[derive(Serialize, Deserialize)]
pub(super) struct Running {
    pub(super) scorer: Scorer,
    /// The quantile threshold's recent distances.
    pub(super) recent: Recent,
    /// The epoch of the last update (forgetting counts from there).
    pub(super) last: Time,
}

/// What a checkpoint keeps of the trainer: everything that changes.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "R: Serialize",
    deserialize = "R: serde::de::DeserializeOwned"
))]
pub(super) struct Snapshot<R> {
    pub(super) warm: Vec<R>,
    pub(super) model: Option<Running>,
}

/// [`Snapshot`], borrowed for writing.
#[derive(Serialize)]
#[serde(bound(serialize = "R: Serialize"))]
pub(super) struct SnapshotRef<'a, R> {
    pub(super) warm: &'a [R],
    pub(super) model: Option<&'a Running>,
}
