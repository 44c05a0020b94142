//! Exactly-once restart: what sources and file sinks tell the
//! checkpointer, and the checkpoint file in `state_dir`.
//!
//! A checkpoint says: every output row of a Timely time before
//! [`Saved::before`] is in the sink files, up to each sink's `offset`, and
//! nothing else is. To rebuild the state of windows still open at that
//! time, sources replay from a position read before it: for each source,
//! the first record whose timestamp is at or after `before - lookback`
//! (`lookback` = one tick + the longest window of the pipeline), with the
//! event-time clock as it was there. On restart, sinks cut their files to
//! the committed offsets and drop rows of times before `before`, so the
//! replayed part is not written twice; the outputs then equal those of one
//! uninterrupted run, row for row, because every operator is a
//! deterministic function of the records and their Timely times.
//!
//! Sources and sinks of one process share one [`Checkpoints`]; everything
//! that is checkpointed runs on worker 0 (sources that checkpoint are read
//! there, file sinks gather there), so no coordination crosses workers.
//! Positions are opaque JSON to this module: each source plugin defines its
//! own.

use crate::Time;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The checkpoint format version.
pub const VERSION: u32 = 1;

/// The checkpoint file's name in `state_dir`.
pub const FILE_NAME: &str = "checkpoint.json";

/// A checkpoint as written to disk.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// [`VERSION`].
    pub version: u32,
    /// Fingerprint of the pipeline that wrote it: a checkpoint is never
    /// applied to a different pipeline.
    pub pipeline: String,
    /// Every output row of a Timely time before this is committed.
    pub before: Time,
    /// Per source id: where to replay from.
    pub sources: BTreeMap<String, SavedSource>,
    /// Per file sink id: its committed state.
    pub sinks: BTreeMap<String, SavedSink>,
    /// Per operator id whose state a replay cannot rebuild (k-means): its
    /// state after every time before `before` (the operator's own format).
    #[serde(default)]
    pub operators: BTreeMap<String, serde_json::Value>,
}

/// A source's replay point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SavedSource {
    /// The position to read from (the source plugin's own format).
    pub replay: serde_json::Value,
    /// Events the source recorded after that position (for example
    /// event-time advances of an idle capture), in order.
    pub marks: Vec<serde_json::Value>,
}

/// A file sink's committed state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SavedSink {
    /// The output file.
    pub path: PathBuf,
    /// Its committed length in bytes.
    pub offset: u64,
}

/// Why a checkpoint cannot be used.
#[derive(Debug)]
pub struct CheckpointError(pub String);

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckpointError {}

/// Reads the checkpoint in `dir`, if there is one. A damaged or foreign
/// checkpoint is an error that names the file and says what to do.
pub fn load(dir: &Path, pipeline: &str) -> Result<Option<Saved>, CheckpointError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CheckpointError(format!(
                "cannot read checkpoint `{}`: {e}",
                path.display()
            )))
        }
    };
    let saved: Saved = serde_json::from_slice(&text).map_err(|e| {
        CheckpointError(format!(
            "checkpoint `{}` is damaged ({e}); move it away to start over \
             (the outputs will then be written again from the beginning)",
            path.display()
        ))
    })?;
    if saved.version != VERSION {
        return Err(CheckpointError(format!(
            "checkpoint `{}` has version {}; this netanom reads version {VERSION}",
            path.display(),
            saved.version
        )));
    }
    if saved.pipeline != pipeline {
        return Err(CheckpointError(format!(
            "checkpoint `{}` was written by a different pipeline (its sources, \
             operators or sinks changed); move it away to start over",
            path.display()
        )));
    }
    Ok(Some(saved))
}

#[derive(Default)]
struct SourceLog {
    /// Replay points in read order: (largest timestamp once the record at
    /// that point is read, the point before it), and marks.
    events: VecDeque<SourceEvent>,
    /// Where the source is now (all it has read is before this).
    current: Option<serde_json::Value>,
}

enum SourceEvent {
    Point(i64, serde_json::Value),
    Mark(serde_json::Value),
}

struct SinkLog {
    path: PathBuf,
    file: Option<File>,
    /// Length before any row written in this run's log.
    base: u64,
    /// (time, length after the rows of that time), in time order.
    written: VecDeque<(Time, u64)>,
    /// Every row of a time before this is written.
    done_before: Time,
}

/// Snapshots of an operator's state, newest last.
#[derive(Default)]
struct OperatorLog {
    /// (time, state once every time up to and including it was processed).
    snapshots: VecDeque<(Time, serde_json::Value)>,
    /// Every time before this was processed.
    done_before: Time,
}

#[derive(Default)]
struct Inner {
    sources: BTreeMap<String, SourceLog>,
    sinks: BTreeMap<String, SinkLog>,
    operators: BTreeMap<String, OperatorLog>,
    cut: Option<Time>,
    committed: Option<Time>,
    last_write: Option<std::time::Instant>,
    commits: u64,
}

/// The shared bookkeeping of one process (see the module doc).
pub struct Checkpoints {
    dir: PathBuf,
    pipeline: String,
    tick: u64,
    lookback: u64,
    resume: Option<Saved>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints")
            .field("dir", &self.dir)
            .field("before", &self.resume.as_ref().map(|s| s.before))
            .finish_non_exhaustive()
    }
}

impl Checkpoints {
    /// Bookkeeping for `dir`, resuming from `resume` if given. `lookback`
    /// is one tick plus the longest window, in nanoseconds.
    pub fn new(
        dir: PathBuf,
        pipeline: String,
        tick: u64,
        lookback: u64,
        resume: Option<Saved>,
    ) -> Checkpoints {
        let committed = resume.as_ref().map(|s| s.before);
        Checkpoints {
            dir,
            pipeline,
            tick: tick.max(1),
            lookback,
            resume,
            inner: Mutex::new(Inner {
                committed,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rows of times before this were committed by an earlier run: sinks
    /// drop them (0 on a fresh start).
    pub fn resume_before(&self) -> Time {
        self.resume.as_ref().map_or(0, |s| s.before)
    }

    /// The checkpoint this run resumes from, if any.
    pub fn resumed(&self) -> Option<&Saved> {
        self.resume.as_ref()
    }

    /// Source `id`'s saved replay point and marks, if resuming.
    pub fn source_resume(&self, id: &str) -> Option<&SavedSource> {
        self.resume.as_ref().and_then(|s| s.sources.get(id))
    }

    /// Sink `id`'s committed state, if resuming.
    pub fn sink_resume(&self, id: &str) -> Option<&SavedSink> {
        self.resume.as_ref().and_then(|s| s.sinks.get(id))
    }

    /// A source read the record at `point` and its largest timestamp
    /// became `max_after`; call when that crossed a tick boundary.
    pub fn source_point(&self, id: &str, max_after: i64, point: serde_json::Value) {
        let mut inner = self.lock();
        let log = inner.sources.entry(id.to_owned()).or_default();
        log.events.push_back(SourceEvent::Point(max_after, point));
    }

    /// A source event to replay after the points before it (see
    /// [`SavedSource::marks`]); with `replace`, it replaces a mark that
    /// came last (a later state of the same event).
    pub fn source_mark(&self, id: &str, mark: serde_json::Value, replace: bool) {
        let mut inner = self.lock();
        let log = inner.sources.entry(id.to_owned()).or_default();
        if replace && matches!(log.events.back(), Some(SourceEvent::Mark(_))) {
            log.events.pop_back();
        }
        log.events.push_back(SourceEvent::Mark(mark));
    }

    /// Where source `id` is now.
    pub fn source_current(&self, id: &str, point: serde_json::Value) {
        let mut inner = self.lock();
        inner.sources.entry(id.to_owned()).or_default().current = Some(point);
    }

    /// A source stopped (end of its input in a batch run, or a stop
    /// request) with `floor` the least time it could still have sent:
    /// rows of later times are incomplete, not written, and not committed.
    pub fn source_stopped(&self, floor: Time) {
        let mut inner = self.lock();
        inner.cut = Some(inner.cut.map_or(floor, |c| c.min(floor)));
    }

    /// Rows of this time and later must not be written (see
    /// [`Checkpoints::source_stopped`]).
    pub fn cut(&self) -> Option<Time> {
        self.lock().cut
    }

    /// A file sink writes `path` (currently `base` bytes long); `file` is
    /// used to sync it before each checkpoint.
    pub fn sink_open(&self, id: &str, path: PathBuf, file: Option<File>, base: u64) {
        self.lock().sinks.insert(
            id.to_owned(),
            SinkLog {
                path,
                file,
                base,
                written: VecDeque::new(),
                done_before: self.resume_before(),
            },
        );
    }

    /// Sink `id` wrote (and flushed) all rows of `time`; the file is now
    /// `len` bytes long.
    pub fn sink_wrote(&self, id: &str, time: Time, len: u64) {
        if let Some(log) = self.lock().sinks.get_mut(id) {
            log.written.push_back((time, len));
        }
    }

    /// Sink `id` has written every row of a time before `before`.
    pub fn sink_progress(&self, id: &str, before: Time) {
        if let Some(log) = self.lock().sinks.get_mut(id) {
            log.done_before = log.done_before.max(before);
        }
    }

    /// Operator `id`'s saved state, if resuming.
    pub fn operator_resume(&self, id: &str) -> Option<&serde_json::Value> {
        self.resume.as_ref().and_then(|s| s.operators.get(id))
    }

    /// Operator `id` processed every time up to and including `time`; its
    /// state is now `state`.
    pub fn operator_snapshot(&self, id: &str, time: Time, state: serde_json::Value) {
        let mut inner = self.lock();
        let log = inner.operators.entry(id.to_owned()).or_default();
        log.snapshots.push_back((time, state));
    }

    /// Operator `id` processed every time before `before`.
    pub fn operator_progress(&self, id: &str, before: Time) {
        let resume = self.resume_before();
        let mut inner = self.lock();
        let log = inner.operators.entry(id.to_owned()).or_default();
        log.done_before = log.done_before.max(before).max(resume);
    }

    /// How many checkpoints this run wrote.
    pub fn commits(&self) -> u64 {
        self.lock().commits
    }

    /// Writes a checkpoint if the sinks have moved on since the last one
    /// and at least `interval` has passed (or `force`). `settled` bounds
    /// the commit point from above: every sink has consumed every time
    /// before it.
    pub fn commit(
        &self,
        settled: Option<Time>,
        interval: std::time::Duration,
        force: bool,
    ) -> Result<bool, CheckpointError> {
        let mut inner = self.lock();
        if !force && inner.last_write.is_some_and(|at| at.elapsed() < interval) {
            return Ok(false);
        }
        let mut before = settled.unwrap_or(Time::MAX);
        for log in inner.sinks.values() {
            before = before.min(log.done_before);
        }
        for log in inner.operators.values() {
            before = before.min(log.done_before);
        }
        if let Some(cut) = inner.cut {
            before = before.min(cut);
        }
        if before == Time::MAX || inner.committed.is_some_and(|c| before <= c) {
            return Ok(false);
        }
        let before = before - before % self.tick;
        if inner.committed.is_some_and(|c| before <= c) {
            return Ok(false);
        }
        // The first record that can matter to an output row at `before` or
        // later has a timestamp at or after `from`.
        let from = before.saturating_sub(self.lookback);
        let from = (from - from % self.tick) as i64;
        let mut sources = BTreeMap::new();
        for (id, log) in inner.sources.iter_mut() {
            let first = log
                .events
                .iter()
                .position(|e| matches!(e, SourceEvent::Point(max, _) if *max >= from));
            let (replay, marks_from) = match first {
                Some(i) => match &log.events[i] {
                    SourceEvent::Point(_, p) => (p.clone(), i + 1),
                    // position() matched a point.
                    SourceEvent::Mark(m) => (m.clone(), i + 1),
                },
                None => match &log.current {
                    Some(c) => (c.clone(), log.events.len()),
                    // Nothing read yet: replay from wherever we resumed.
                    None => match self.source_resume(id) {
                        Some(s) => {
                            sources.insert(id.clone(), s.clone());
                            continue;
                        }
                        None => continue,
                    },
                },
            };
            let marks = log
                .events
                .iter()
                .skip(marks_from)
                .filter_map(|e| match e {
                    SourceEvent::Mark(m) => Some(m.clone()),
                    SourceEvent::Point(..) => None,
                })
                .collect();
            // Points before the replay point are never needed again (the
            // commit point only grows).
            if let Some(i) = first {
                log.events.drain(..i);
            }
            sources.insert(id.clone(), SavedSource { replay, marks });
        }
        let mut sinks = BTreeMap::new();
        for (id, log) in inner.sinks.iter_mut() {
            while log.written.len() > 1 && log.written[1].0 < before {
                log.written.pop_front();
            }
            let offset = match log.written.front() {
                Some(&(t, len)) if t < before => len,
                _ => log.base,
            };
            if let Some(&(t, len)) = log.written.front() {
                if t < before {
                    log.base = len;
                    log.written.pop_front();
                }
            }
            if let Some(file) = &log.file {
                file.sync_data().map_err(|e| {
                    CheckpointError(format!("cannot sync `{}`: {e}", log.path.display()))
                })?;
            }
            sinks.insert(
                id.clone(),
                SavedSink {
                    path: log.path.clone(),
                    offset,
                },
            );
        }
        let mut operators = BTreeMap::new();
        for (id, log) in inner.operators.iter_mut() {
            while log.snapshots.len() > 1 && log.snapshots[1].0 < before {
                log.snapshots.pop_front();
            }
            let state = match log.snapshots.front() {
                Some((t, state)) if *t < before => Some(state.clone()),
                // Nothing processed since the run started: the state it
                // resumed with, if any.
                _ => self.operator_resume(id).cloned(),
            };
            if let Some(state) = state {
                operators.insert(id.clone(), state);
            }
        }
        let saved = Saved {
            version: VERSION,
            pipeline: self.pipeline.clone(),
            before,
            sources,
            sinks,
            operators,
        };
        write_atomically(&self.dir, &saved)?;
        inner.committed = Some(before);
        inner.last_write = Some(std::time::Instant::now());
        inner.commits += 1;
        Ok(true)
    }
}

/// Writes `saved` to `dir/checkpoint.json`: a temporary file, synced,
/// renamed over the old one, and the directory synced.
fn write_atomically(dir: &Path, saved: &Saved) -> Result<(), CheckpointError> {
    let err = |what: &str, e: std::io::Error| {
        CheckpointError(format!("cannot {what} in `{}`: {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| err("create the state directory", e))?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let bytes = serde_json::to_vec_pretty(saved)
        .map_err(|e| CheckpointError(format!("cannot encode the checkpoint: {e}")))?;
    let mut file = File::create(&tmp).map_err(|e| err("write the checkpoint", e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| err("write the checkpoint", e))?;
    drop(file);
    std::fs::rename(&tmp, dir.join(FILE_NAME)).map_err(|e| err("replace the checkpoint", e))?;
    if let Ok(d) = File::open(dir) {
        // Best effort: not every file system syncs directories.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replay_point_is_the_first_record_reaching_the_lookback() {
        let dir = std::env::temp_dir().join(format!("netanom-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Checkpoints::new(dir.clone(), "p".into(), 10, 20, None);
        c.source_point("s", 5, json!(1));
        c.source_point("s", 15, json!(2));
        c.source_mark("s", json!("m"), false);
        c.source_point("s", 27, json!(3));
        c.source_current("s", json!(4));
        c.sink_open("k", dir.join("out"), None, 7);
        c.sink_wrote("k", 0, 10);
        c.sink_wrote("k", 20, 30);
        c.sink_wrote("k", 40, 50);
        c.sink_progress("k", 40);
        assert!(c
            .commit(None, std::time::Duration::ZERO, true)
            .expect("commit"));
        let saved = load(&dir, "p").expect("load").expect("a checkpoint");
        assert_eq!(saved.before, 40);
        // 40 - 20 = 20: the first point whose max reached 20 is 3
        assert_eq!(saved.sources["s"].replay, json!(3));
        assert!(saved.sources["s"].marks.is_empty());
        assert_eq!(saved.sinks["k"].offset, 30);
        // nothing new: no commit
        assert!(!c
            .commit(None, std::time::Duration::ZERO, true)
            .expect("commit"));
        assert!(load(&dir, "other").is_err());
        std::fs::write(dir.join(FILE_NAME), "{").expect("write");
        let e = load(&dir, "p").expect_err("damaged");
        assert!(e.0.contains("damaged"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
