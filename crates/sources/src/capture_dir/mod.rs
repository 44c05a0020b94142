//! `capture_dir`: a directory of rotating capture files (tcpdump `-G`/`-C`/
//! `-W`, dumpcap ring buffers), read in rotation order as one stream and
//! followed while the capture runs, with exactly-once restart from
//! checkpoints in `state_dir`.
//!
//! [`listing`] decides the order, [`tail`] is the Timely operator.

mod closed;
pub mod listing;
mod position;
mod tail;

use crate::options::default_out_of_order;
use crate::SourceContext;
use listing::Order;
use netanom_records::doc::ConfigProblem;
use netanom_records::{Duration, Packet, Time};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use timely::dataflow::{Scope, Stream};

/// Follows a directory of rotating capture files (pcap or pcapng), as
/// tcpdump `-G`/`-C`/`-W` or dumpcap's ring buffer write them: files are
/// read in rotation order as one stream (one event-time clock, so
/// `out_of_order` spans file boundaries), the newest is tailed while it
/// grows (a record cut at its end is waited for), and new files are picked
/// up as they appear. A file deleted before it was read is reported as
/// lost. With `state_dir`, progress is checkpointed and a restart (after a
/// crash too) resumes so that the outputs equal those of one uninterrupted
/// run. Files are read on worker 0 and decoded there; operators spread the
/// work.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct CaptureDirConfig {
    /// The directory the capture process writes to.
    pub path: PathBuf,
    /// File names to read (a glob on the name, not the path).
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// File order: `auto` (first packet's time, then name with numbers
    /// compared as numbers: handles tcpdump -C/-G/-W and dumpcap names),
    /// `name` (natural name order only), `mtime` (modification time).
    #[serde(default)]
    #[describe(ty = "auto | name | mtime")]
    pub order: Order,
    /// Keep following the directory until stopped (SIGINT/SIGTERM);
    /// `false`: read what is there (resuming from the checkpoint) and exit.
    #[serde(default = "yes")]
    pub follow: bool,
    /// How often to look for new data when there is none.
    #[serde(default = "default_poll")]
    pub poll: Duration,
    /// The newest file counts as finished (and a record cut at its end as
    /// truncated) after it has not grown for this long; a newer file
    /// finishes it at once.
    #[serde(default = "default_idle_close")]
    pub idle_close: Duration,
    /// When no packet arrives for this long, event time advances with the
    /// wall clock so that windows of an idle capture close (`0s`: never).
    /// It assumes packet times follow the clock (a live capture).
    #[serde(default = "default_idle_advance")]
    pub idle_advance: Duration,
    /// How far a packet's time may fall behind the newest time before it
    /// and still count in its window.
    #[serde(default = "default_out_of_order")]
    pub out_of_order: Duration,
    /// Where to keep checkpoints (created if missing). Without it, a
    /// restart reads the directory from the beginning. With it, a run that
    /// stops (SIGINT, or the end of the files with `follow: false`) does
    /// not write the rows of windows still open; the next run does, after
    /// replaying the records they need. A pipeline with a `state_dir` takes
    /// only `capture_dir` sources, and no `graph` sink or `degree` with
    /// `window: all` (their state is not saved yet); `kmeans` models are
    /// saved in the checkpoint.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// How often a checkpoint is written at most (wall clock); each one
    /// syncs the output files.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: Duration,
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_pattern() -> String {
    "*".into()
}

fn yes() -> bool {
    true
}

fn default_poll() -> Duration {
    Duration::from_millis(100)
}

fn default_idle_close() -> Duration {
    Duration::from_secs(300)
}

fn default_idle_advance() -> Duration {
    Duration::from_secs(10)
}

impl CaptureDirConfig {
    /// Checks the directory and the pattern.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => problems.push(ConfigProblem::at(
                "path",
                format!("path: `{}` is not a directory", self.path.display()),
            )),
            Err(e) => problems.push(ConfigProblem::at(
                "path",
                format!("path: cannot read `{}`: {e}", self.path.display()),
            )),
        }
        if let Err(e) = glob::Pattern::new(&self.pattern) {
            problems.push(ConfigProblem::at(
                "pattern",
                format!("pattern: bad glob `{}`: {e}", self.pattern),
            ));
        }
        if self.poll.nanos() == 0 {
            problems.push(ConfigProblem::at("poll", "poll: must be more than 0"));
        }
        if let Some(dir) = &self.state_dir {
            if dir.exists() && !dir.is_dir() {
                problems.push(ConfigProblem::at(
                    "state_dir",
                    format!("state_dir: `{}` is not a directory", dir.display()),
                ));
            }
        }
        problems
    }

    /// Builds the source.
    pub fn build<'s>(
        &self,
        scope: Scope<'s, Time>,
        ctx: &SourceContext,
    ) -> Stream<'s, Time, Vec<Packet>> {
        tail::build(scope, self.clone(), ctx)
    }
}
