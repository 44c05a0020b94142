//! `motif`: GraphFrames-style patterns over each window's traffic graph
//! (edges src -> dst of packets), on differential dataflow.
//!
//! The dataflow, on every worker:
//!
//! 1. **Edges** (a Timely operator, no exchange): each packet is placed in
//!    its tumbling window (the window start is part of the data, so windows
//!    never mix) and summed per (tick, window, src, dst, dport) until the
//!    input frontier passes the tick; the operator also sends the negation
//!    at the window's emission time, so the window leaves the collection
//!    (and its arrangements) once it is done.
//! 2. **Match** (differential): reciprocal pairs are a `count` of packets
//!    per directed edge `join`ed with its reverse, each unordered pair kept
//!    once (a < b); fan-out and fan-in are a `reduce` keyed by (window,
//!    vertex) counting distinct peers or destination ports.
//! 3. **Emit** (a Timely operator, no exchange): consolidates the changes of
//!    each window and emits its matches once the frontier passes the
//!    window's emission time.
//!
//! Capabilities are only held for ticks or windows with pending data, so
//! the operator never holds the pipeline's progress back.

use differential_dataflow::collection::AsCollection;
use netanom_records::doc::ConfigProblem;
use netanom_records::hash::FxHashMap;
use netanom_records::stats::ComponentStats;
use netanom_records::{Addr, Duration, MotifPattern, MotifRecord, Packet, Time, Ts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

/// The patterns `motif` supports, as written in `pattern`.
pub const PATTERNS: &[(&str, MotifPattern)] = &[
    ("(a)-[]->(b); (b)-[]->(a)", MotifPattern::Reciprocal),
    ("(a)-[]->(b)", MotifPattern::FanOut),
    ("(a)<-[]-(b)", MotifPattern::FanIn),
    ("(b)<-[]-(a)", MotifPattern::FanIn),
];

/// What fan-out and fan-in count per vertex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotifCount {
    /// Distinct peers (destinations for fan-out, sources for fan-in).
    B,
    /// Distinct destination ports.
    Dport,
}

/// Graph patterns (motifs) over the traffic graph of each tumbling
/// `window` (edges src -> dst, one per packet), in GraphFrames' `find`
/// syntax. `(a)-[]->(b); (b)-[]->(a)`: reciprocal pairs, one row per
/// unordered pair (a < b) with the packets both ways as `count`.
/// `(a)-[]->(b)`: fan-out, one row per sender `a` with `count` distinct
/// destinations (`count: b`) or destination ports (`count: dport`, a
/// vertical scan); `(a)<-[]-(b)` (or `(b)<-[]-(a)`): fan-in, one row per
/// receiver (written in column `a`) with its distinct sources or
/// destination ports. Only matches with `count` at least `min` are
/// written. Windows are `[k*window, (k+1)*window)` by the packet's `ts`
/// and are emitted at the first tick at or after their end. Packets
/// without a source or destination address are not edges. Built on
/// differential dataflow: output does not depend on the number of workers.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct MotifConfig {
    /// The pattern: `(a)-[]->(b); (b)-[]->(a)` (reciprocal),
    /// `(a)-[]->(b)` (fan-out) or `(a)<-[]-(b)` (fan-in).
    pub pattern: String,
    /// Fan-out / fan-in only: what to count per vertex, `b` (distinct
    /// peers) or `dport` (distinct destination ports).
    #[serde(default)]
    #[describe(ty = "b | dport")]
    pub count: Option<MotifCount>,
    /// Keep only matches whose `count` is at least this.
    #[serde(default = "default_min")]
    pub min: u64,
    /// Tumbling window length, like `1s`.
    #[serde(default = "default_window")]
    pub window: Duration,
}

fn default_min() -> u64 {
    1
}

fn default_window() -> Duration {
    Duration(1_000_000_000)
}

/// The pattern written in `text`, if it is one of [`PATTERNS`] (spaces do
/// not matter).
pub fn parse_pattern(text: &str) -> Option<MotifPattern> {
    let squeeze = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let text = squeeze(text);
    let text = text.trim_end_matches(';');
    PATTERNS
        .iter()
        .find(|(p, _)| squeeze(p) == text)
        .map(|(_, m)| *m)
}

impl MotifConfig {
    /// The window length, which sets the pipeline's tick.
    pub fn durations(&self) -> Vec<Duration> {
        vec![self.window]
    }

    /// The parsed pattern (reciprocal when it does not parse, which
    /// [`MotifConfig::validate`] reports).
    pub fn shape(&self) -> MotifPattern {
        parse_pattern(&self.pattern).unwrap_or_default()
    }

    /// Checks the pattern, count and window.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match parse_pattern(&self.pattern) {
            None => {
                let known: Vec<String> = PATTERNS.iter().map(|(p, _)| format!("`{p}`")).collect();
                problems.push(ConfigProblem::at(
                    "pattern",
                    format!(
                        "pattern: unsupported pattern `{}`; supported: {}",
                        self.pattern,
                        known.join(", ")
                    ),
                ));
            }
            Some(MotifPattern::Reciprocal) if self.count.is_some() => {
                problems.push(ConfigProblem::at(
                    "count",
                    "count: only with a fan-out or fan-in pattern, not with reciprocal pairs",
                ));
            }
            Some(_) => {}
        }
        if self.window.nanos() == 0 {
            problems.push(ConfigProblem::at(
                "window",
                "window: must be greater than 0",
            ));
        }
        problems
    }

    /// Builds the operator on packets. `tick` is the pipeline's Timely tick.
    pub fn build<'s>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<Packet>>,
        tick: u64,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<MotifRecord>> {
        let spec = Spec::new(self, tick);
        let edges = edges(name, input, spec, stats.clone()).as_collection();
        let min = self.min;
        let matches = match spec.pattern {
            MotifPattern::Reciprocal => {
                let counted = edges.map(|(w, src, dst, _)| (w, src, dst)).count();
                let forward = counted.clone().map(|((w, s, d), n)| ((w, s, d), n));
                let reverse = counted.map(|((w, s, d), n)| ((w, d, s), n));
                forward
                    .join(reverse)
                    .filter(|((_, a, b), _)| a < b)
                    .map(|((w, a, b), (ab, ba))| {
                        let n = u64::try_from(ab.saturating_add(ba)).unwrap_or(0);
                        ((w, a), (b, n))
                    })
                    .filter(move |(_, (_, n))| *n >= min)
            }
            fan => {
                let by_dport = self.count == Some(MotifCount::Dport);
                let keyed = edges.map(move |(w, src, dst, dport)| {
                    let (center, peer) = if fan == MotifPattern::FanIn {
                        (dst, src)
                    } else {
                        (src, dst)
                    };
                    let peer = if by_dport {
                        (Addr::None, dport)
                    } else {
                        (peer, 0)
                    };
                    ((w, center), peer)
                });
                keyed.reduce_named(
                    &format!("{name}-fan"),
                    move |_key: &(Ts, Addr), peers: &[(&(Addr, u16), isize)], out| {
                        let n = peers.iter().filter(|(_, d)| *d > 0).count() as u64;
                        if n >= min {
                            out.push(((Addr::None, n), 1isize));
                        }
                    },
                )
            }
        };
        emit(name, matches.inner, spec, stats)
    }
}

/// What the operators need of the config, cheap to copy into closures.
#[derive(Clone, Copy, Debug)]
struct Spec {
    pattern: MotifPattern,
    /// Window length in ns.
    size: i64,
    tick: u64,
}

impl Spec {
    fn new(config: &MotifConfig, tick: u64) -> Spec {
        Spec {
            pattern: config.shape(),
            size: i64::try_from(config.window.nanos())
                .unwrap_or(i64::MAX)
                .max(1),
            tick: tick.max(1),
        }
    }

    /// The Timely time at which window `[start, start + size)` is emitted
    /// (and leaves the collection): the first tick at or after its end.
    fn emit_at(&self, start: Ts) -> Time {
        crate::windowing::emit_time(Ts(start.0.saturating_add(self.size)), self.tick)
    }

    /// The start of the window that contains `ts`.
    fn window_of(&self, ts: Ts) -> Ts {
        Ts(ts.0.div_euclid(self.size).saturating_mul(self.size))
    }
}

/// An edge of one window: `(window, src, dst, dport)` (0 without a port).
type Edge = (Ts, Addr, Addr, u16);

/// An update of the edge collection, with its packets.
type EdgeUpdate = (Edge, Time, isize);

/// Per tick, its capability and the packets of its edges.
type TickSums = BTreeMap<Time, (Capability<Time>, FxHashMap<Edge, isize>)>;

/// Step 1: windows, sums per tick, retractions.
fn edges<'s>(
    name: &str,
    input: Stream<'s, Time, Vec<Packet>>,
    spec: Spec,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<EdgeUpdate>> {
    input.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<EdgeUpdate>>, _, _, _>(
        Pipeline,
        &format!("{name}-edges"),
        move |_cap, _info| {
            let mut sums: TickSums = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, batch| {
                    let now = cap.least().copied().unwrap_or_default();
                    let (_, map) = sums
                        .entry(now)
                        .or_insert_with(|| (cap.delayed(&now, 0), FxHashMap::default()));
                    let mut late = 0u64;
                    for p in batch.iter() {
                        if p.src.is_none() || p.dst.is_none() {
                            continue;
                        }
                        let start = spec.window_of(p.ts);
                        if spec.emit_at(start) <= now {
                            late += 1;
                            continue;
                        }
                        let e = map
                            .entry((start, p.src, p.dst, p.dport.unwrap_or(0)))
                            .or_insert(0);
                        *e = e.saturating_add(1);
                    }
                    if late > 0 {
                        ComponentStats::add(&stats.late, late);
                    }
                });
                while let Some(entry) = sums.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (now, (cap, map)) = entry.remove_entry();
                    output
                        .session(&cap)
                        .give_iterator(map.iter().map(|(&e, &n)| (e, now, n)));
                    // The window leaves the collection when it is emitted.
                    let mut by_time: BTreeMap<Time, Vec<EdgeUpdate>> = BTreeMap::new();
                    for (&e, &n) in &map {
                        let at = spec.emit_at(e.0);
                        by_time
                            .entry(at)
                            .or_default()
                            .push((e, at, n.saturating_neg()));
                    }
                    for (at, updates) in by_time {
                        let later = cap.delayed(&at);
                        output.session(&later).give_iterator(updates.into_iter());
                    }
                }
            }
        },
    )
}

/// A match: `((window, a), (b, count))`.
type Match = ((Ts, Addr), (Addr, u64));

/// A change of the match collection.
type MatchUpdate = (Match, Time, isize);

/// The matches pending for one emission time.
struct Pending {
    cap: Capability<Time>,
    rows: FxHashMap<Match, isize>,
}

/// Step 3: consolidated matches per window, once the frontier has passed
/// the window's emission time.
fn emit<'s>(
    name: &str,
    input: Stream<'s, Time, Vec<MatchUpdate>>,
    spec: Spec,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<MotifRecord>> {
    input.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<MotifRecord>>, _, _, _>(
        Pipeline,
        &format!("{name}-emit"),
        move |_cap, _info| {
            let mut pending: BTreeMap<Time, Pending> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, batch| {
                    for (row, time, diff) in batch.drain(..) {
                        let at = spec.emit_at(row.0 .0);
                        // The window's own retraction.
                        if time >= at {
                            continue;
                        }
                        let p = pending.entry(at).or_insert_with(|| Pending {
                            cap: cap.delayed(&at, 0),
                            rows: FxHashMap::default(),
                        });
                        *p.rows.entry(row).or_insert(0) += diff;
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_than(entry.key()) {
                        break;
                    }
                    let p = entry.remove();
                    let mut session = output.session(&p.cap);
                    let mut emitted = 0u64;
                    for (((start, a), (b, count)), n) in p.rows {
                        if n <= 0 {
                            continue;
                        }
                        session.give(MotifRecord {
                            window_start: start,
                            window_end: Ts(start.0.saturating_add(spec.size)),
                            pattern: spec.pattern,
                            a,
                            b,
                            count,
                        });
                        emitted += 1;
                    }
                    ComponentStats::add(&stats.records_out, emitted);
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> MotifConfig {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_the_supported_patterns() {
        assert_eq!(
            parse_pattern("(a)-[]->(b); (b)-[]->(a)"),
            Some(MotifPattern::Reciprocal)
        );
        assert_eq!(parse_pattern(" (a) -[]-> (b) "), Some(MotifPattern::FanOut));
        assert_eq!(parse_pattern("(b)<-[]-(a)"), Some(MotifPattern::FanIn));
        assert_eq!(parse_pattern("(a)<-[]-(b)"), Some(MotifPattern::FanIn));
        assert_eq!(parse_pattern("(a)-[e]->(b); (b)-[]->(c)"), None);
        assert_eq!(parse_pattern(""), None);
    }

    #[test]
    fn validation() {
        assert!(config("pattern: (a)-[]->(b)\ncount: dport\nmin: 100")
            .validate()
            .is_empty());
        assert!(config("pattern: '(a)-[]->(b); (b)-[]->(a)'")
            .validate()
            .is_empty());
        assert_eq!(
            config("pattern: '(a)-[]->(b); (b)-[]->(a)'\ncount: b")
                .validate()
                .len(),
            1
        );
        assert_eq!(config("pattern: (x)\nwindow: 0s").validate().len(), 2);
        assert!(serde_yaml::from_str::<MotifConfig>("pattern: (a)-[]->(b)\ncount: c").is_err());
        assert!(serde_yaml::from_str::<MotifConfig>("{}").is_err());
    }

    #[test]
    fn emission_times() {
        let s = Spec::new(&config("pattern: (a)-[]->(b)\nwindow: 10ms"), 1_000_000_000);
        assert_eq!(s.emit_at(Ts(0)), 1_000_000_000);
        assert_eq!(s.emit_at(Ts(1_000_000_000)), 2_000_000_000);
        assert_eq!(s.window_of(Ts(-1)), Ts(-10_000_000));
    }
}
