//! What a `capture_dir` source saves in a checkpoint: where to replay from
//! and the event-time state there.

use super::listing::Key;
use netanom_records::Time;
use serde::{Deserialize, Serialize};

/// A point in the stream of files: before the record at `offset` of the
/// file `key` (or at the end of that file once it is finished).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// The file's place in the sequence (its name and order key).
    pub key: Key,
    /// Hash of its first `fingerprint_len` bytes: a file replaced in
    /// place under the same name is not taken for this one.
    pub fingerprint: u64,
    /// Bytes the fingerprint covers.
    pub fingerprint_len: usize,
    /// Byte offset of the next record to read.
    pub offset: u64,
    /// The largest packet timestamp read before this point (ns).
    pub max_ts: Option<i64>,
    /// The idle floor in force here (see [`Mark`]).
    pub idle_floor: Time,
}

/// Event time was advanced because the capture was idle: from this point
/// on, records are sent no earlier than `floor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// The file it happened in.
    pub key: Key,
    /// The read offset at that moment.
    pub offset: u64,
    /// The new floor.
    pub floor: Time,
}

impl Mark {
    /// Whether a reader at `offset` of file `key` has reached the mark.
    pub fn reached(&self, key: &Key, offset: u64) -> bool {
        match key.cmp(&self.key) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => offset >= self.offset,
            std::cmp::Ordering::Less => false,
        }
    }
}
