//! Options every file source shares.

use netanom_records::Duration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The default `out_of_order`: 1 s.
pub fn default_out_of_order() -> Duration {
    Duration::from_secs(1)
}

/// When files are split over workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Files of [`SPLIT_BYTES`] and more.
    #[default]
    Auto,
    /// Every file (the workers of a process read it in turns, a chunk of
    /// records each; in a cluster, each process decodes its own chunks).
    Always,
    /// No file: one worker reads each file.
    Never,
}

/// The size from which `split: auto` splits a file.
pub const SPLIT_BYTES: u64 = 32 << 20;

impl Split {
    /// Whether to split these files.
    pub fn decide(self, files: &[PathBuf]) -> bool {
        match self {
            Split::Always => true,
            Split::Never => false,
            Split::Auto => files
                .iter()
                .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() >= SPLIT_BYTES)),
        }
    }
}
