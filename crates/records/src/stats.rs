//! Counters and bad-input reports shared by all workers of a process.
//!
//! Sources count what they read and what they could not; operators count
//! what they emit and what arrived too late. The end-of-run summary (and,
//! later, the Prometheus sink) reads them. Everything here is a sum or a
//! bounded, sorted sample, so the summary does not depend on how work was
//! spread over workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many bad-input reports are kept per component (the lowest
/// positions); the rest are counted only.
pub const MAX_REPORTS: usize = 20;

/// One piece of input that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadInput {
    /// The file.
    pub file: String,
    /// Byte offset in the file.
    pub offset: u64,
    /// Line number (CSV), when known.
    pub line: Option<u64>,
    /// Error class (`truncated`, `corrupt`, `bad_row`, ...).
    pub kind: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: offset {}: {}", self.file, self.offset, self.message),
        }
    }
}

/// Counters for one component (source, operator or sink).
#[derive(Default, Debug)]
pub struct ComponentStats {
    /// Records produced.
    pub records_out: AtomicU64,
    /// Bytes read (sources: frame lengths on the wire).
    pub bytes: AtomicU64,
    /// Records that arrived after their window had closed.
    pub late: AtomicU64,
    /// Files finished.
    pub files_done: AtomicU64,
    /// Files that could not be read (or not to the end).
    pub files_error: AtomicU64,
    /// Files deleted (by a capture ring) before they were read.
    pub files_lost: AtomicU64,
    /// Sources: the newest packet time sent so far (ns; 0 before any).
    pub newest_ts: std::sync::atomic::AtomicI64,
    bad: Mutex<BadState>,
}

#[derive(Default, Debug)]
struct BadState {
    by_kind: BTreeMap<String, u64>,
    samples: BTreeSet<BadInput>,
}

impl ComponentStats {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Raises `newest_ts` to `ts` (sources, per batch).
    pub fn saw(&self, ts: i64) {
        self.newest_ts.fetch_max(ts, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Records a piece of bad input.
    pub fn bad_input(&self, bad: BadInput) {
        let mut state = self.bad.lock().unwrap_or_else(|e| e.into_inner());
        *state.by_kind.entry(bad.kind.clone()).or_default() += 1;
        state.samples.insert(bad);
        if state.samples.len() > MAX_REPORTS {
            state.samples.pop_last();
        }
    }

    /// Bad input counts by kind.
    pub fn bad_by_kind(&self) -> BTreeMap<String, u64> {
        self.bad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_kind
            .clone()
    }

    /// The first [`MAX_REPORTS`] bad inputs, by file and position.
    pub fn bad_samples(&self) -> Vec<BadInput> {
        let state = self.bad.lock().unwrap_or_else(|e| e.into_inner());
        state.samples.iter().cloned().collect()
    }

    /// Total bad inputs.
    pub fn bad_total(&self) -> u64 {
        self.bad_by_kind().values().sum()
    }
}

/// All components' counters, by component id.
#[derive(Default, Debug)]
pub struct Stats {
    components: Mutex<BTreeMap<String, Arc<ComponentStats>>>,
    failures: Mutex<Vec<String>>,
}

impl Stats {
    /// A new, shareable registry.
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats::default())
    }

    /// The counters of component `id` (created on first use).
    pub fn component(&self, id: &str) -> Arc<ComponentStats> {
        let mut map = self.components.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.to_owned()).or_default().clone()
    }

    /// Every component's counters, sorted by id.
    pub fn components(&self) -> Vec<(String, Arc<ComponentStats>)> {
        let map = self.components.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Records a runtime failure (a sink that could not write): the run
    /// ends with exit code 1.
    pub fn fail(&self, message: String) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    /// Whether anything failed (cheaper than [`Stats::failures`]).
    pub fn failed(&self) -> bool {
        !self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The failures recorded so far.
    pub fn failures(&self) -> Vec<String> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
