//! `console`: a readable summary on standard output at the end of a run.

use netanom_records::field::Value;
use netanom_records::hash::FxHashMap;
use netanom_records::{Addr, Field, Protocol, Record, RecordKind, Time, Ts};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::Write as _;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// Prints a summary table of its input when the run ends: for packets, the
/// totals, the protocols and the top talkers; for windows, the number of
/// windows and groups and the busiest windows.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Rows per table.
    #[serde(default = "default_top")]
    pub top: usize,
}

fn default_top() -> usize {
    10
}

/// Busiest windows kept per worker (the global top is among them).
const KEEP_BUSIEST: usize = 64;

impl ConsoleConfig {
    fn top(&self) -> usize {
        self.top.clamp(1, KEEP_BUSIEST)
    }

    /// Builds the sink on `input`: every worker summarizes its share, and
    /// worker 0 merges the summaries and prints.
    pub fn build<'s, R: Record + ExchangeData>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
    ) -> crate::Consumed<'s> {
        let is_writer = input.scope().index() == 0;
        let partials = input
            .unary_frontier::<timely::container::CapacityContainerBuilder<Vec<Summary>>, _, _, _>(
                Pipeline,
                &format!("{name}-summarize"),
                move |cap, _info| {
                    let mut cap = Some(cap);
                    let mut summary = Summary::default();
                    move |(handle, frontier), output| {
                        handle.for_each(|_, batch| {
                            for r in batch.iter() {
                                summary.add(r);
                            }
                            summary.trim();
                        });
                        // Follow the input frontier: a capability held back
                        // at the start would stall the sinks' probe, and with
                        // it every source (flow control).
                        match frontier.frontier().iter().min() {
                            Some(&least) => {
                                if let Some(cap) = cap.as_mut() {
                                    if least > *cap.time() {
                                        cap.downgrade(&least);
                                    }
                                }
                            }
                            None => {
                                if let Some(cap) = cap.take() {
                                    summary.settle();
                                    output.session(&cap).give(std::mem::take(&mut summary));
                                }
                            }
                        }
                    }
                },
            );
        let mut total = Summary::default();
        let mut printed = false;
        let top = self.top();
        let title = name.to_owned();
        crate::terminal(
            partials,
            Exchange::new(|_: &Summary| 0),
            name,
            move |(handle, frontier)| {
                handle.for_each(|_, batch| {
                    for s in batch.drain(..) {
                        total.merge(s);
                    }
                });
                if frontier.is_empty() && !printed && is_writer {
                    printed = true;
                    let text = total.render(&title, R::KIND, top);
                    let mut stdout = std::io::stdout().lock();
                    // A closed pipe (`| head`) is not an error.
                    let _ = stdout.write_all(text.as_bytes());
                    let _ = stdout.flush();
                }
            },
        )
    }
}

/// One worker's (or, merged, every worker's) summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Summary {
    records: u64,
    bytes: u64,
    first: Option<Ts>,
    last: Option<Ts>,
    by_protocol: FxHashMap<Protocol, (u64, u64)>,
    by_src: FxHashMap<Addr, (u64, u64)>,
    windows: std::collections::BTreeSet<Ts>,
    busiest: Vec<(u64, String)>,
    /// Scored records flagged as anomalies.
    #[serde(default)]
    anomalies: u64,
    /// The lowest rank kept at the last trim (once `busiest` was full): a
    /// record ranked below it can never be among the kept rows, so its
    /// label is not even built.
    #[serde(skip)]
    floor: u64,
    /// Packets and bytes per protocol, direct-mapped by the protocol's
    /// symbol: most packets count here instead of in `by_protocol`'s hash
    /// table; [`Summary::settle`] moves them there.
    #[serde(skip)]
    recent: Vec<Option<(Protocol, u64, u64)>>,
    /// Packets and bytes per source address, direct-mapped by a fold of
    /// the address: a packet counts in its slot, and a source that takes
    /// a slot moves the previous one's counts to `by_src` (as
    /// [`Summary::settle`] does with all of them). A hash-table entry per
    /// change of source cost about 150 instructions.
    #[serde(skip)]
    sources: Vec<Option<(Addr, u64, u64)>>,
}

/// Slots of [`Summary::recent`].
const RECENT: usize = 64;

/// Slots of [`Summary::sources`].
const SOURCES: usize = 256;

/// The slot of `a` in [`Summary::sources`].
#[inline]
fn source_slot(a: Addr) -> usize {
    // The top bits of a multiplicative hash (SOURCES is 2^8).
    (a.bits().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SOURCES
}

fn text(v: Value<'_>) -> String {
    match v {
        Value::Null => String::new(),
        Value::Str(s) => s.to_owned(),
        Value::Addr(a) => a.to_string(),
        Value::Protocol(p) => p.to_string(),
        Value::Ts(t) => t.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F64(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Flags(f) => format!("0x{f:04x}"),
    }
}

fn number(v: Value<'_>) -> u64 {
    match v {
        Value::U64(n) => n,
        _ => 0,
    }
}

impl Summary {
    fn add<R: Record>(&mut self, r: &R) {
        self.records += 1;
        match R::KIND {
            RecordKind::Packet => {
                let len = number(r.get(Field::Length));
                self.bytes += len;
                if let Value::Ts(ts) = r.get(Field::Ts) {
                    self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
                    self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
                }
                let protocol = match r.get(Field::Protocol) {
                    Value::Protocol(p) => p,
                    _ => Protocol::default(),
                };
                if self.recent.is_empty() {
                    self.recent = vec![None; RECENT];
                }
                let slot = &mut self.recent[protocol.symbol() as usize % RECENT];
                match slot {
                    Some((p, n, b)) if *p == protocol => {
                        *n += 1;
                        *b += len;
                    }
                    Some(_) => {
                        let p = self.by_protocol.entry(protocol).or_default();
                        p.0 += 1;
                        p.1 += len;
                    }
                    None => *slot = Some((protocol, 1, len)),
                }
                let src = match r.get(Field::Src) {
                    Value::Addr(a) => a,
                    _ => Addr::None,
                };
                if self.sources.is_empty() {
                    self.sources = vec![None; SOURCES];
                }
                let slot = &mut self.sources[source_slot(src)];
                match slot {
                    Some((a, n, b)) if *a == src => {
                        *n += 1;
                        *b += len;
                    }
                    _ => {
                        if let Some((a, n, b)) = slot.replace((src, 1, len)) {
                            let s = self.by_src.entry(a).or_default();
                            s.0 += n;
                            s.1 += b;
                        }
                    }
                }
            }
            RecordKind::Window => {
                let count = number(r.get(Field::Count));
                self.bytes += number(r.get(Field::Bytes));
                if let Value::Ts(start) = r.get(Field::WindowStart) {
                    self.windows.insert(start);
                }
                if count < self.floor {
                    return;
                }
                let label = format!(
                    "{} {} {} {}",
                    text(r.get(Field::WindowStart)),
                    text(r.get(Field::Src)),
                    text(r.get(Field::Dst)),
                    text(r.get(Field::Protocol))
                );
                self.busiest.push((count, label));
            }
            RecordKind::Degree => {
                if let Value::Ts(start) = r.get(Field::WindowStart) {
                    self.windows.insert(start);
                }
                let (i, o) = (
                    number(r.get(Field::InDegree)),
                    number(r.get(Field::OutDegree)),
                );
                if i.saturating_add(o) < self.floor {
                    return;
                }
                let label = format!(
                    "{i:>8} {o:>8}  {} {}",
                    text(r.get(Field::WindowStart)),
                    text(r.get(Field::Ip))
                );
                self.busiest.push((i.saturating_add(o), label));
            }
            RecordKind::Motif => {
                if let Value::Ts(start) = r.get(Field::WindowStart) {
                    self.windows.insert(start);
                }
                let count = number(r.get(Field::Count));
                if count < self.floor {
                    return;
                }
                let label = format!(
                    "{count:>8}  {} {} {} {}",
                    text(r.get(Field::WindowStart)),
                    text(r.get(Field::Pattern)),
                    text(r.get(Field::A)),
                    text(r.get(Field::B))
                );
                self.busiest.push((count, label));
            }
            RecordKind::Scored => {
                if r.get(Field::Anomaly) == Value::Bool(true) {
                    self.anomalies += 1;
                }
                let score = match r.get(Field::Score) {
                    Value::F64(s) if s.is_finite() && s > 0.0 => s,
                    _ => 0.0,
                };
                if ((score * 1e6) as u64) < self.floor {
                    return;
                }
                let label = format!(
                    "{score:.3}  {} {} {} {}",
                    text(r.get(Field::WindowStart)),
                    text(r.get(Field::Src)),
                    text(r.get(Field::Dst)),
                    text(r.get(Field::Protocol))
                );
                // Ranked by score in millionths (scores are small numbers).
                self.busiest.push(((score * 1e6) as u64, label));
            }
        }
    }

    /// The kept rows, highest first (ties by label).
    fn ranked(&self) -> Vec<(u64, String)> {
        let mut rows = self.busiest.clone();
        rows.sort_by(by_rank);
        rows
    }

    fn trim(&mut self) {
        if self.busiest.len() > 4 * KEEP_BUSIEST {
            self.busiest.sort_by(by_rank);
            self.busiest.truncate(KEEP_BUSIEST);
            if let Some(&(lowest, _)) = self.busiest.last() {
                self.floor = self.floor.max(lowest);
            }
        }
    }

    fn merge(&mut self, mut other: Summary) {
        self.records += other.records;
        self.anomalies += other.anomalies;
        self.bytes += other.bytes;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.settle();
        other.settle();
        for (k, (n, b)) in other.by_protocol {
            let e = self.by_protocol.entry(k).or_default();
            e.0 += n;
            e.1 += b;
        }
        for (k, (n, b)) in other.by_src {
            let e = self.by_src.entry(k).or_default();
            e.0 += n;
            e.1 += b;
        }
        self.windows.extend(other.windows);
        self.busiest.extend(other.busiest);
        self.trim();
    }

    /// Moves the counts of `recent` into `by_protocol` and the current
    /// run into `by_src`.
    fn settle(&mut self) {
        for (a, n, b) in self.sources.iter_mut().filter_map(Option::take) {
            let s = self.by_src.entry(a).or_default();
            s.0 += n;
            s.1 += b;
        }
        for (p, n, b) in self.recent.iter_mut().filter_map(Option::take) {
            let e = self.by_protocol.entry(p).or_default();
            e.0 += n;
            e.1 += b;
        }
    }

    fn render(&self, title: &str, kind: RecordKind, top: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {title} ==");
        match kind {
            RecordKind::Packet => {
                let _ = writeln!(out, "packets: {}  bytes: {}", self.records, self.bytes);
                if let (Some(first), Some(last)) = (&self.first, &self.last) {
                    let _ = writeln!(out, "time: {first} .. {last}");
                }
                let protocols: Vec<(String, (u64, u64))> = self
                    .by_protocol
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect();
                table(&mut out, "protocol", protocols, top);
                let srcs: Vec<(String, (u64, u64))> = self
                    .by_src
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect();
                table(&mut out, "top talkers (src)", srcs, top);
            }
            RecordKind::Window => {
                let _ = writeln!(
                    out,
                    "window records: {}  windows: {}  bytes: {}",
                    self.records,
                    self.windows.len(),
                    self.bytes
                );
                let busiest = self.ranked();
                let _ = writeln!(
                    out,
                    "{:>10}  busiest windows (start src dst protocol)",
                    "packets"
                );
                for (count, label) in busiest.iter().take(top) {
                    let _ = writeln!(out, "{count:>10}  {label}");
                }
            }
            RecordKind::Degree => {
                let _ = writeln!(
                    out,
                    "degree rows: {}  windows: {}",
                    self.records,
                    self.windows.len()
                );
                let highest = self.ranked();
                let _ = writeln!(
                    out,
                    "{:>8} {:>8} {:>8}  highest degrees (window_start ip)",
                    "degree", "in", "out"
                );
                // With `window: all` an address has a row per change:
                // show its highest (= latest) one only.
                let mut seen = std::collections::HashSet::new();
                let rows = highest.iter().filter(|(_, label)| {
                    seen.insert(label.split_once("  ").map_or(label.as_str(), |(_, k)| k))
                });
                for (degree, label) in rows.take(top) {
                    let _ = writeln!(out, "{degree:>8} {label}");
                }
            }
            RecordKind::Motif => {
                let _ = writeln!(
                    out,
                    "motif matches: {}  windows: {}",
                    self.records,
                    self.windows.len()
                );
                let highest = self.ranked();
                let _ = writeln!(
                    out,
                    "{:>8}  largest matches (window_start pattern a b)",
                    "count"
                );
                for (_, label) in highest.iter().take(top) {
                    let _ = writeln!(out, "{label}");
                }
            }
            RecordKind::Scored => {
                let _ = writeln!(
                    out,
                    "scored records: {}  anomalies: {}",
                    self.records, self.anomalies
                );
                let top_scores = self.ranked();
                let _ = writeln!(out, "top scores (score  start src dst protocol)");
                for (_, label) in top_scores.iter().take(top) {
                    let _ = writeln!(out, "  {label}");
                }
            }
        }
        out
    }
}

/// Highest value first, ties by label: a deterministic ranking.
fn by_rank(a: &(u64, String), b: &(u64, String)) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

fn table(out: &mut String, title: &str, mut rows: Vec<(String, (u64, u64))>, top: usize) {
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    let _ = writeln!(out, "{:>10} {:>12}  {title}", "packets", "bytes");
    for (name, (packets, bytes)) in rows.iter().take(top) {
        let name = if name.is_empty() {
            "(none)"
        } else {
            name.as_str()
        };
        let _ = writeln!(out, "{packets:>10} {bytes:>12}  {name}");
    }
    if rows.len() > top {
        let (p, b) = rows[top..]
            .iter()
            .fold((0, 0), |acc, (_, (p, b))| (acc.0 + p, acc.1 + b));
        let _ = writeln!(out, "{p:>10} {b:>12}  ({} others)", rows.len() - top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netanom_records::{GroupKey, WindowRecord};

    #[test]
    fn skipped_labels_do_not_change_the_busiest() {
        // Counts go up and down, with ties, well past the trim threshold.
        let records: Vec<WindowRecord> = (0..5000u64)
            .map(|i| WindowRecord {
                window_start: Ts(i as i64 * 10),
                window_end: Ts(i as i64 * 10 + 10),
                key: GroupKey {
                    src: Addr::V4(std::net::Ipv4Addr::from(i as u32 * 7919)),
                    ..GroupKey::default()
                },
                count: (i * 7919) % 97 + (i / 50),
                ..WindowRecord::default()
            })
            .collect();
        let mut fast = Summary::default();
        for r in &records {
            fast.add(r);
            fast.trim();
        }
        // Every label built, one sort at the end.
        let mut all = Summary::default();
        for r in &records {
            all.add(r);
        }
        assert!(fast.floor > 0);
        assert_eq!(all.floor, 0);
        let top = |s: &Summary| {
            s.ranked()
                .into_iter()
                .take(KEEP_BUSIEST)
                .collect::<Vec<_>>()
        };
        assert_eq!(top(&fast), top(&all));
    }

    #[test]
    fn protocol_and_source_counts_survive_slots_and_merges() {
        // More protocols than slots, so that some share one.
        let protocols: Vec<Protocol> = (0..150)
            .map(|i| Protocol::new(&format!("P{i}")))
            .chain([Protocol::new("TCP"), Protocol::default()])
            .collect();
        let mut parts = [Summary::default(), Summary::default()];
        let mut want: std::collections::HashMap<Protocol, (u64, u64)> = Default::default();
        let mut want_src: std::collections::HashMap<Addr, (u64, u64)> = Default::default();
        for i in 0..20_000u64 {
            let protocol = protocols[(i * i % 151) as usize];
            let p = netanom_records::Packet {
                protocol,
                length: (i % 1500) as u32,
                ..Default::default()
            };
            // Runs of one source, and more sources than slots.
            let src = match i % 4 {
                0 => Addr::V4(std::net::Ipv4Addr::from((i / 7 % 13) as u32)),
                1 => Addr::V4(std::net::Ipv4Addr::from((i * 7919 % 1000) as u32)),
                2 => Addr::V6(std::net::Ipv6Addr::from(u128::from(i % 700) << 64)),
                _ => Addr::Mac([0, 0, 0, 0, (i % 3) as u8, 1]),
            };
            let p = netanom_records::Packet { src, ..p };
            parts[(i % 3 == 0) as usize].add(&p);
            let e = want_src.entry(p.src).or_default();
            e.0 += 1;
            e.1 += i % 1500;
            let e = want.entry(protocol).or_default();
            e.0 += 1;
            e.1 += i % 1500;
        }
        let [mut a, mut b] = parts;
        b.settle();
        a.merge(b);
        let got: std::collections::HashMap<Protocol, (u64, u64)> =
            a.by_protocol.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        let got: std::collections::HashMap<Addr, (u64, u64)> =
            a.by_src.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want_src);
        assert_eq!(a.records, 20_000);
    }
}
