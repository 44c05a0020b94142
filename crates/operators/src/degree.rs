//! `degree`: in- and out-degrees of the traffic graph, per window or since
//! the start, on differential dataflow.
//!
//! Every input record is an edge `src -> dst` of weight 1 (a packet) or
//! `count` (a window record). The dataflow, on every worker:
//!
//! 1. **Edges** (a Timely operator, no exchange): each record is assigned
//!    to its windows (the window start is part of the data, so windows never
//!    mix), records are summed per (tick, window, src, dst) until the input
//!    frontier passes the tick, and every edge goes out twice, as `((window, src), (out, dst))`
//!    and `((window, dst), (in, src))`, with the difference
//!    `(records, packets)`. For tumbling and sliding windows the operator
//!    also sends the negation at the window's emission time, so that the
//!    window leaves the collection (and its arrangements) once it is done.
//! 2. **Degrees** (differential `reduce`, which arranges by (window,
//!    address)): per address, the distinct neighbours whose edge weight
//!    reaches `min_count`, and the records and packets of those edges; a
//!    fused `distinct` + `count`.
//! 3. **Top k** (optional, a second `reduce` keyed by window).
//! 4. **Emit** (a Timely operator, no exchange): consolidates the changes of
//!    each window and emits its rows once the frontier passes the window's
//!    emission time; with `window: all`, the rows that changed at each time.
//!
//! Capabilities are only held for windows with pending rows, so the
//! operator never holds the pipeline's progress (and flow control) back.

use differential_dataflow::collection::AsCollection;
use netanom_records::doc::ConfigProblem;
use netanom_records::hash::FxHashMap;
use netanom_records::stats::ComponentStats;
use netanom_records::{
    Addr, DegreeRecord, Duration, Field, Packet, Record, Time, Ts, WindowRecord,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

/// Which graph the degrees are computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DegreeWindow {
    /// The running graph since the start (`all`).
    All,
    /// Event-time windows of this length.
    Size(Duration),
}

impl fmt::Display for DegreeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DegreeWindow::All => f.write_str("all"),
            DegreeWindow::Size(d) => d.fmt(f),
        }
    }
}

impl Serialize for DegreeWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DegreeWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DegreeWindow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all` or a duration like `10ms`, `1s` or `5m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DegreeWindow, E> {
                if v.trim() == "all" {
                    return Ok(DegreeWindow::All);
                }
                v.parse()
                    .map(DegreeWindow::Size)
                    .map_err(|e| E::custom(format!("`all` or a duration: {e}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DegreeWindow, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write `{v}s` or `{v}ms`, not `{v}` (or `all`)"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DegreeWindow, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write `{v}s` or `{v}ms`, not `{v}` (or `all`)"
                )))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// In- and out-degrees of the traffic graph (edges src -> dst: a packet,
/// or a window record weighted by its `count`) per address: distinct
/// neighbours (`in_degree`, `out_degree`), input records (`in_edges`,
/// `out_edges`, the GraphFrames meaning of degree) and packets. Per
/// tumbling `window`, per hopping `window` + `slide`, or with `window: all`
/// over the running graph since the start: then an address's row is
/// emitted again at each tick its figures change, so its last row is its
/// current degree. Windows are `[k*slide, k*slide + window)` by the
/// packet's `ts` (a window record's `window_start`) and are emitted at the
/// first tick at or after their end (one tick later for window records).
/// Records without a source or destination address are not edges. Built
/// on differential dataflow: output does not depend on the number of
/// workers.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct DegreeConfig {
    /// `all` (the graph since the start) or a window length like `1s`.
    #[serde(default = "default_window")]
    #[describe(ty = "all | duration")]
    pub window: DegreeWindow,
    /// Distance between window starts, at most `window`; leave out for
    /// tumbling windows. Not with `window: all`.
    #[serde(default)]
    pub slide: Option<Duration>,
    /// Keep only edges whose weight (packets from src to dst within the
    /// window) is at least this; the notebook's `count > 10` is 11.
    #[serde(default = "default_min_count")]
    pub min_count: u64,
    /// Keep only the k addresses with the highest in_degree + out_degree
    /// per window (ties: the lower address); leave out for all. With
    /// `window: all`, an address that drops out of the top gets no new row.
    #[serde(default)]
    pub top_k: Option<usize>,
}

fn default_window() -> DegreeWindow {
    DegreeWindow::All
}

fn default_min_count() -> u64 {
    1
}

impl DegreeConfig {
    /// Window sizes and slides, which set the pipeline's tick.
    pub fn durations(&self) -> Vec<Duration> {
        match self.window {
            DegreeWindow::All => Vec::new(),
            DegreeWindow::Size(size) => vec![size, self.slide.unwrap_or(size)],
        }
    }

    /// Checks the window, slide and top_k.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match self.window {
            DegreeWindow::Size(size) => {
                if size.nanos() == 0 {
                    problems.push(ConfigProblem::at(
                        "window",
                        "window: must be greater than 0 (or `all`)",
                    ));
                }
                if let Some(slide) = self.slide {
                    if slide.nanos() == 0 || slide > size {
                        problems.push(ConfigProblem::at(
                            "slide",
                            format!("slide: must be greater than 0 and at most window ({size})"),
                        ));
                    } else if let Some(m) =
                        crate::windowing::overlap_problem("window", size.nanos(), slide.nanos())
                    {
                        problems.push(ConfigProblem::at("slide", m));
                    }
                }
            }
            DegreeWindow::All => {
                if self.slide.is_some() {
                    problems.push(ConfigProblem::at(
                        "slide",
                        "slide: only with a window length, not with `window: all`",
                    ));
                }
            }
        }
        if self.top_k == Some(0) {
            problems.push(ConfigProblem::at("top_k", "top_k: must be at least 1"));
        }
        problems
    }

    /// Checks the input's columns `input`: window records must be grouped
    /// by both `src` and `dst` to be edges.
    pub fn check_fields(&self, input: &[Field]) -> Vec<ConfigProblem> {
        if input.is_empty() || (input.contains(&Field::Src) && input.contains(&Field::Dst)) {
            return Vec::new();
        }
        vec![ConfigProblem::at(
            "inputs",
            "inputs: degree needs records with both `src` and `dst` (a window grouped by src and dst)",
        )]
    }

    /// Builds the operator on `input` (packets or window records).
    /// `tick` is the pipeline's Timely tick.
    pub fn build<'s, R: EdgeRecord>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        tick: u64,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<DegreeRecord>> {
        let spec = Spec::new(self, tick, R::LAG_TICKS);
        let edges = edges(name, input, spec, stats.clone()).as_collection();
        let min_count = i64::try_from(self.min_count).unwrap_or(i64::MAX);
        let degrees = edges.reduce_named(
            &format!("{name}-degrees"),
            move |_key: &(Ts, Addr), neighbours: &[(&Neighbour, Weight)], out| {
                if let Some(row) = Row::of(neighbours, min_count) {
                    out.push((row, 1isize));
                }
            },
        );
        let rows = match self.top_k {
            None => degrees,
            Some(k) => degrees
                .map(|((w, ip), row)| (w, (ip, row)))
                .reduce_named(
                    &format!("{name}-top-k"),
                    move |_w: &Ts, rows: &[(&(Addr, Row), isize)], out| {
                        let mut ranked: Vec<&(Addr, Row)> = rows
                            .iter()
                            .filter(|(_, n)| *n > 0)
                            .map(|(r, _)| *r)
                            .collect();
                        ranked.sort_by(|a, b| {
                            b.1.degree().cmp(&a.1.degree()).then_with(|| a.0.cmp(&b.0))
                        });
                        for r in ranked.into_iter().take(k) {
                            out.push((*r, 1isize));
                        }
                    },
                )
                .map(|(w, (ip, row))| ((w, ip), row)),
        };
        emit(name, rows.inner, spec, stats)
    }
}

/// Input records that are edges of the traffic graph.
pub trait EdgeRecord: Record + timely::ExchangeData {
    /// Ticks after a window's end at which the last of its records may
    /// still arrive: 0 for packets (sent at the tick of their `ts`), 1 for
    /// window records (sent at the first tick at or after their end).
    const LAG_TICKS: u64;

    /// `(time, src, dst, weight)`: the event time that places the record
    /// in windows, the endpoints, and the packets it stands for.
    fn edge(&self) -> (Ts, Addr, Addr, u64);
}

impl EdgeRecord for Packet {
    const LAG_TICKS: u64 = 0;

    #[inline]
    fn edge(&self) -> (Ts, Addr, Addr, u64) {
        (self.ts, self.src, self.dst, 1)
    }
}

impl EdgeRecord for WindowRecord {
    const LAG_TICKS: u64 = 1;

    #[inline]
    fn edge(&self) -> (Ts, Addr, Addr, u64) {
        (self.window_start, self.key.src, self.key.dst, self.count)
    }
}

/// A neighbour of an address: `(out?, address)` (true: an edge to it).
type Neighbour = (bool, Addr);

/// An edge's accumulated `(records, packets)`.
type Weight = (i64, i64);

/// Per tick, its capability and the sums of its edges `(window, src, dst)`.
type TickSums = BTreeMap<Time, (Capability<Time>, FxHashMap<(Ts, Addr, Addr), Weight>)>;

/// One address's figures in one window.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Row {
    /// Distinct in-neighbours.
    pub in_degree: u64,
    /// Distinct out-neighbours.
    pub out_degree: u64,
    /// Records in.
    pub in_edges: u64,
    /// Records out.
    pub out_edges: u64,
    /// Packets in.
    pub in_packets: u64,
    /// Packets out.
    pub out_packets: u64,
}

impl Row {
    /// The figures of one address from its neighbours `(out?, address)`
    /// with their accumulated `(records, packets)`; `None` when no edge
    /// reaches `min_count`.
    fn of(neighbours: &[(&Neighbour, Weight)], min_count: i64) -> Option<Row> {
        let mut row = Row::default();
        let mut any = false;
        for ((out, _), (records, packets)) in neighbours {
            if *packets < min_count || *packets <= 0 {
                continue;
            }
            any = true;
            let records = u64::try_from(*records).unwrap_or(0);
            let packets = u64::try_from(*packets).unwrap_or(0);
            if *out {
                row.out_degree += 1;
                row.out_edges = row.out_edges.saturating_add(records);
                row.out_packets = row.out_packets.saturating_add(packets);
            } else {
                row.in_degree += 1;
                row.in_edges = row.in_edges.saturating_add(records);
                row.in_packets = row.in_packets.saturating_add(packets);
            }
        }
        any.then_some(row)
    }

    /// `in_degree + out_degree`.
    fn degree(&self) -> u64 {
        self.in_degree.saturating_add(self.out_degree)
    }
}

/// What the operators need of the config, cheap to copy into closures.
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Window length and slide in ns; `None` for `all`.
    window: Option<(i64, i64)>,
    tick: u64,
    lag_ticks: u64,
}

impl Spec {
    fn new(config: &DegreeConfig, tick: u64, lag_ticks: u64) -> Spec {
        let clamp = |d: Duration| i64::try_from(d.nanos()).unwrap_or(i64::MAX).max(1);
        Spec {
            window: match config.window {
                DegreeWindow::All => None,
                DegreeWindow::Size(size) => {
                    Some((clamp(size), clamp(config.slide.unwrap_or(size))))
                }
            },
            tick: tick.max(1),
            lag_ticks,
        }
    }

    /// The Timely time at which window `[start, start + size)` is emitted
    /// (and leaves the collection): the first tick at or after its end,
    /// plus the input's lag. Records of the window must arrive before it.
    fn emit_at(&self, start: Ts, size: i64) -> Time {
        crate::windowing::emit_time(Ts(start.0.saturating_add(size)), self.tick)
            .saturating_add(self.lag_ticks.saturating_mul(self.tick))
    }

    /// Calls `f(start)` for each window `[k*slide, k*slide + size)` that
    /// contains `ts`, earliest first.
    fn for_each_window(size: i64, slide: i64, ts: Ts, f: impl FnMut(Ts)) {
        crate::windowing::for_each_window_start(size, slide, ts, f);
    }
}

/// An update of the edge collection: `((window, address), (out?,
/// neighbour))` with `(records, packets)`.
type EdgeUpdate = (((Ts, Addr), (bool, Addr)), Time, (i64, i64));

/// Step 1: windows, sums per tick, both directions, retractions.
fn edges<'s, R: EdgeRecord>(
    name: &str,
    input: Stream<'s, Time, Vec<R>>,
    spec: Spec,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<EdgeUpdate>> {
    input.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<EdgeUpdate>>, _, _, _>(
        Pipeline,
        &format!("{name}-edges"),
        move |_cap, _info| {
            // Sums per Timely time, sent once the input frontier passes it
            // (one update per edge and tick instead of one per batch).
            let mut sums: TickSums = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, batch| {
                    let now = cap.least().copied().unwrap_or_default();
                    let (_, map) = sums
                        .entry(now)
                        .or_insert_with(|| (cap.delayed(&now, 0), FxHashMap::default()));
                    let mut late = 0u64;
                    for record in batch.iter() {
                        let (ts, src, dst, weight) = record.edge();
                        if src.is_none() || dst.is_none() {
                            continue;
                        }
                        let weight = i64::try_from(weight).unwrap_or(i64::MAX);
                        let mut add = |start: Ts| {
                            let e = map.entry((start, src, dst)).or_insert((0, 0));
                            e.0 = e.0.saturating_add(1);
                            e.1 = e.1.saturating_add(weight);
                        };
                        match spec.window {
                            None => add(Ts(0)),
                            Some((size, slide)) => {
                                Spec::for_each_window(size, slide, ts, |start| {
                                    if spec.emit_at(start, size) <= now {
                                        late += 1;
                                    } else {
                                        add(start);
                                    }
                                })
                            }
                        }
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
                    let mut session = output.session(&cap);
                    for (&(start, src, dst), &diff) in &map {
                        session.give((((start, src), (true, dst)), now, diff));
                        session.give((((start, dst), (false, src)), now, diff));
                    }
                    drop(session);
                    // The window leaves the collection when it is emitted.
                    if let Some((size, _)) = spec.window {
                        let mut by_time: BTreeMap<Time, Vec<EdgeUpdate>> = BTreeMap::new();
                        for (&(start, src, dst), &(records, packets)) in &map {
                            let at = spec.emit_at(start, size);
                            let neg = (records.saturating_neg(), packets.saturating_neg());
                            let updates = by_time.entry(at).or_default();
                            updates.push((((start, src), (true, dst)), at, neg));
                            updates.push((((start, dst), (false, src)), at, neg));
                        }
                        for (at, updates) in by_time {
                            let later = cap.delayed(&at);
                            output.session(&later).give_iterator(updates.into_iter());
                        }
                    }
                }
            }
        },
    )
}

/// A change of the degree collection.
type RowUpdate = (((Ts, Addr), Row), Time, isize);

/// The rows pending for one emission time.
struct Pending {
    cap: Capability<Time>,
    rows: FxHashMap<((Ts, Addr), Row), isize>,
}

/// Step 4: consolidated rows per window (or per time with `all`), once the
/// frontier has passed them.
fn emit<'s>(
    name: &str,
    input: Stream<'s, Time, Vec<RowUpdate>>,
    spec: Spec,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<DegreeRecord>> {
    input.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<DegreeRecord>>, _, _, _>(
        Pipeline,
        &format!("{name}-emit"),
        move |_cap, _info| {
            let mut pending: BTreeMap<Time, Pending> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, batch| {
                    for (((start, ip), row), time, diff) in batch.drain(..) {
                        let at = match spec.window {
                            // The row as of `time`, emitted at `time`.
                            None => time,
                            Some((size, _)) => {
                                let at = spec.emit_at(start, size);
                                // The window's own retraction.
                                if time >= at {
                                    continue;
                                }
                                at
                            }
                        };
                        let p = pending.entry(at).or_insert_with(|| Pending {
                            cap: cap.delayed(&at, 0),
                            rows: FxHashMap::default(),
                        });
                        *p.rows.entry(((start, ip), row)).or_insert(0) += diff;
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    let at = *entry.key();
                    // `all`: complete once no change at `at` can come;
                    // windows: once no change before `at` can come.
                    let done = match spec.window {
                        None => !frontier.less_equal(&at),
                        Some(_) => !frontier.less_than(&at),
                    };
                    if !done {
                        break;
                    }
                    let p = entry.remove();
                    let mut session = output.session(&p.cap);
                    let mut emitted = 0u64;
                    for (((start, ip), row), n) in p.rows {
                        if n <= 0 {
                            continue;
                        }
                        let window_end = match spec.window {
                            None => {
                                Ts(i64::try_from(at.saturating_add(spec.tick)).unwrap_or(i64::MAX))
                            }
                            Some((size, _)) => Ts(start.0.saturating_add(size)),
                        };
                        session.give(DegreeRecord {
                            window_start: start,
                            window_end,
                            ip,
                            in_degree: row.in_degree,
                            out_degree: row.out_degree,
                            in_edges: row.in_edges,
                            out_edges: row.out_edges,
                            in_packets: row.in_packets,
                            out_packets: row.out_packets,
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

    fn config(text: &str) -> DegreeConfig {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_all_and_durations() {
        assert_eq!(config("{}").window, DegreeWindow::All);
        assert_eq!(config("window: all").window, DegreeWindow::All);
        assert_eq!(
            config("window: 1s").window,
            DegreeWindow::Size(Duration(1_000_000_000))
        );
        assert!(serde_yaml::from_str::<DegreeConfig>("window: 5").is_err());
        assert!(serde_yaml::from_str::<DegreeConfig>("window: sometimes").is_err());
        assert!(serde_yaml::from_str::<DegreeConfig>("windw: 1s").is_err());
        assert_eq!(config("{}").min_count, 1);
    }

    #[test]
    fn validation() {
        assert!(config("window: 1s\nslide: 500ms\ntop_k: 3")
            .validate()
            .is_empty());
        assert_eq!(config("window: all\nslide: 1s").validate().len(), 1);
        assert_eq!(config("window: 1s\nslide: 2s").validate().len(), 1);
        assert_eq!(config("window: 0s\ntop_k: 0").validate().len(), 2);
    }

    #[test]
    fn emission_times() {
        let s = Spec::new(&config("window: 10ms"), 1_000_000_000, 0);
        // A window ending inside a tick is emitted at the tick's end.
        assert_eq!(s.emit_at(Ts(0), 10_000_000), 1_000_000_000);
        assert_eq!(s.emit_at(Ts(990_000_000), 10_000_000), 1_000_000_000);
        assert_eq!(s.emit_at(Ts(1_000_000_000), 10_000_000), 2_000_000_000);
        let s = Spec::new(&config("window: 1s"), 1_000_000_000, 1);
        assert_eq!(s.emit_at(Ts(0), 1_000_000_000), 2_000_000_000);
    }

    #[test]
    fn window_assignment() {
        let mut got = Vec::new();
        Spec::for_each_window(10, 5, Ts(7), |s| got.push(s.0));
        assert_eq!(got, vec![0, 5]);
        got.clear();
        Spec::for_each_window(10, 10, Ts(-1), |s| got.push(s.0));
        assert_eq!(got, vec![-10]);
    }

    #[test]
    fn rows_count_distinct_neighbours_over_min_count() {
        let a: Addr = "10.0.0.1".parse().unwrap_or_default();
        let b: Addr = "10.0.0.2".parse().unwrap_or_default();
        let (oa, ib, ob) = ((true, a), (false, b), (true, b));
        let n = [(&oa, (2, 20)), (&ib, (1, 5)), (&ob, (3, 3))];
        let row = Row::of(&n, 1).unwrap_or_default();
        assert_eq!(
            row,
            Row {
                in_degree: 1,
                out_degree: 2,
                in_edges: 1,
                out_edges: 5,
                in_packets: 5,
                out_packets: 23
            }
        );
        let row = Row::of(&n, 5).unwrap_or_default();
        assert_eq!((row.in_degree, row.out_degree, row.out_packets), (1, 1, 20));
        assert_eq!(Row::of(&n, 21), None);
    }
}
