//! `window`: event-time windows per group, the notebook's core table.
//!
//! Packets are routed to workers by their group key (a deterministic
//! hash), aggregated per window, and each window is emitted exactly once,
//! at Timely time `window_end`, when the input frontier passes its end.

use netanom_records::batch::Batches;
use netanom_records::doc::ConfigProblem;
use netanom_records::field::Field;
use netanom_records::hash::{FxHashMap, FxHasher};
use netanom_records::stats::ComponentStats;
use netanom_records::time::to_time;
use netanom_records::window::GROUPABLE;
use netanom_records::{Addr, Duration, GroupKey, Packet, Time, Ts, WindowRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use timely::dataflow::channels::pact::ExchangeCore;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

/// Cuts event-time windows and aggregates the packets of each window per
/// group: count, bytes, mean and max length, distinct addresses and ports,
/// SYNs. Tumbling with `size` alone (`[k*size, (k+1)*size)`), hopping with
/// `slide` (a packet then counts in every window that covers it).
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Window length, like `10ms` or `1s`.
    pub size: Duration,
    /// Distance between window starts, at most `size`; leave out for
    /// tumbling windows (slide = size).
    #[serde(default)]
    pub slide: Option<Duration>,
    /// Fields that make a group: any of src, dst, protocol, sport, dport.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<Field>,
}

fn default_group_by() -> Vec<Field> {
    vec![Field::Src, Field::Dst, Field::Protocol]
}

impl WindowConfig {
    /// The hop between windows (= `size` when tumbling).
    pub fn slide(&self) -> Duration {
        self.slide.unwrap_or(self.size)
    }

    /// The output columns.
    pub fn fields(&self) -> Vec<Field> {
        WindowRecord::fields(&self.group_by)
    }

    /// Checks sizes and grouping fields.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.size.nanos() == 0 {
            problems.push(ConfigProblem::at("size", "size: must be greater than 0"));
        }
        if let Some(slide) = self.slide {
            if slide.nanos() == 0 || slide > self.size {
                problems.push(ConfigProblem::at(
                    "slide",
                    format!(
                        "slide: must be greater than 0 and at most size ({})",
                        self.size
                    ),
                ));
            } else if let Some(m) =
                crate::windowing::overlap_problem("size", self.size.nanos(), slide.nanos())
            {
                problems.push(ConfigProblem::at("slide", m));
            }
        }
        for (i, field) in self.group_by.iter().enumerate() {
            if !GROUPABLE.contains(field) {
                problems.push(ConfigProblem::at(
                    "group_by",
                    format!(
                        "group_by: cannot group by `{field}`; expected any of {}",
                        GROUPABLE
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            } else if self.group_by[..i].contains(field) {
                problems.push(ConfigProblem::at(
                    "group_by",
                    format!("group_by: `{field}` is listed twice"),
                ));
            }
        }
        problems
    }

    /// Builds the operator on `input`. Windows are emitted at the first
    /// multiple of `tick` (the pipeline's Timely tick) at or after their end.
    pub fn build<'s>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<Packet>>,
        tick: u64,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<WindowRecord>> {
        let tick = tick.max(1);
        let spec = Spec::new(self);
        let route = spec.clone();
        let exchange = ExchangeCore::<Batches<Packet>, _>::new_core(move |p: &Packet| {
            route_hash(&route.key(p))
        });
        input.unary_frontier::<Batches<WindowRecord>, _, _, _>(
            exchange,
            name,
            move |_cap, _info| {
                let mut tables = Tables::default();
                move |(input, frontier), output| {
                    input.for_each(|cap, batch| {
                        tables.add_packets(&spec, tick, &cap, batch, &stats);
                        tables.seal_passed(&spec);
                    });
                    // Emit every window whose emission time the frontier has
                    // reached (later packets are late for it).
                    while tables
                        .open
                        .first()
                        .is_some_and(|e| !frontier.less_than(&e.at))
                    {
                        let emission = tables.open.remove(0);
                        tables.emit(emission, &spec, output, &stats);
                    }
                }
            },
        )
    }
}

/// A window operator's open windows.
#[derive(Default)]
struct Tables {
    /// By the Timely time they are emitted at, earliest first (a handful:
    /// packets arrive about in order).
    open: Vec<Emission>,
    /// Groups per window of the last emission: the next tables are sized
    /// for as many, instead of growing step by step.
    expected: usize,
    /// The last tumbling window a packet fell in.
    recent: Option<(Ts, Ts, Time)>,
    /// The newest packet time seen.
    newest: Option<Ts>,
    /// How far a packet has come behind the newest before it, at most
    /// (nanoseconds, capped at a tick): windows that end further back than
    /// this are sealed.
    lateness: i64,
}

impl Tables {
    /// Adds a batch of packets, received with `cap`, to their windows;
    /// counts those that come too late for a window.
    fn add_packets(
        &mut self,
        spec: &Spec,
        tick: u64,
        cap: &timely::dataflow::operators::InputCapability<Time>,
        batch: &mut Vec<Packet>,
        stats: &ComponentStats,
    ) {
        let now = cap.least().copied().unwrap_or_default();
        let mut late = 0;
        // The emission of the previous packet: most packets go to the same one.
        let mut last: Option<(Time, usize)> = None;
        let expected = self.expected;
        let max_lateness = i64::try_from(tick).unwrap_or(i64::MAX);
        for packet in batch.drain(..) {
            match self.newest {
                // At most a tick: one packet far behind (even one counted
                // late) delays sealing to about emission, as without it.
                Some(newest) if packet.ts < newest => {
                    let behind = newest.0.saturating_sub(packet.ts.0);
                    self.lateness = self.lateness.max(behind.min(max_lateness));
                }
                _ => self.newest = Some(packet.ts),
            }
            let key = spec.key(&packet);
            let (open, recent) = (&mut self.open, &mut self.recent);
            spec.for_each_window_cached(tick, recent, packet.ts, |start, end, emit_at| {
                // Late: sent at or after the window's end.
                if to_time(end, 1) <= now {
                    late += 1;
                    return;
                }
                let index = match last {
                    Some((at, i)) if at == emit_at => i,
                    _ => {
                        let i = match open.binary_search_by_key(&emit_at, |e| e.at) {
                            Ok(i) => i,
                            Err(i) => {
                                open.insert(
                                    i,
                                    Emission {
                                        at: emit_at,
                                        cap: cap.delayed(&emit_at, 0),
                                        windows: Vec::new(),
                                        last: 0,
                                    },
                                );
                                i
                            }
                        };
                        last = Some((emit_at, i));
                        i
                    }
                };
                open[index]
                    .window(start, expected)
                    .entry(Group(key))
                    .or_default()
                    .add(&packet, spec);
            });
        }
        if late > 0 {
            ComponentStats::add(&stats.late, late);
        }
    }

    /// Seals the windows that end before the newest packet by more than
    /// the input's lateness so far: the packets have moved past them, so
    /// their tables are put in key order now, while in cache, and freed for
    /// the next windows' (emission, up to a tick later, then reads them in
    /// order instead of missing the cache on every group).
    fn seal_passed(&mut self, spec: &Spec) {
        let Some(newest) = self.newest else { return };
        let horizon = newest.0.saturating_sub(self.lateness);
        for emission in &mut self.open {
            for window in &mut emission.windows {
                if window.start.0.saturating_add(spec.size) > horizon {
                    break;
                }
                window.seal();
            }
        }
    }

    /// Sends an emission's windows, window by window and in group order
    /// within one: the sinks' sort then finds its input already sorted.
    fn emit(
        &mut self,
        mut emission: Emission,
        spec: &Spec,
        output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            Time,
            Batches<WindowRecord>,
        >,
        stats: &ComponentStats,
    ) {
        let mut session = output.session_with_builder(&emission.cap);
        let mut rows = 0;
        for window in &mut emission.windows {
            window.seal();
            rows += window.sealed.len();
            let end = Ts(window.start.0.saturating_add(spec.size));
            for (key, acc) in &window.sealed {
                session.give(acc.finish(window.start, end, *key, spec));
            }
        }
        self.expected = rows / emission.windows.len().max(1);
        ComponentStats::add(&stats.records_out, rows as u64);
    }
}

/// The windows emitted at one Timely time, each with its own table: packets
/// come about in time order, so the table being filled is small and stays
/// in cache (one table for all the windows of a tick was megabytes, and
/// every packet missed the cache).
struct Emission {
    at: Time,
    cap: Capability<Time>,
    /// By start, earliest first.
    windows: Vec<Window>,
    /// The window used last: most packets go to the same one.
    last: usize,
}

/// One window's groups: in a hash table while its packets come, then
/// (sealed) in key order. At most one of the two holds groups.
struct Window {
    start: Ts,
    groups: FxHashMap<Group, Acc>,
    sealed: Vec<(GroupKey, Acc)>,
}

impl Window {
    /// Moves the table's groups into key order (nothing if the table is
    /// empty: already sealed, or no packets).
    fn seal(&mut self) {
        if !self.groups.is_empty() {
            self.sealed = into_key_order(std::mem::take(&mut self.groups));
        }
    }

    /// The table, with the sealed groups back in it if a packet comes
    /// after the window was sealed.
    #[inline]
    fn table(&mut self) -> &mut FxHashMap<Group, Acc> {
        if !self.sealed.is_empty() {
            self.unseal();
        }
        &mut self.groups
    }

    #[cold]
    fn unseal(&mut self) {
        self.groups.reserve(self.sealed.len());
        for (key, acc) in self.sealed.drain(..) {
            self.groups.insert(Group(key), acc);
        }
    }
}

impl Emission {
    /// The table of the window starting at `start` (created, sized for
    /// `expected` groups, if new).
    #[inline]
    fn window(&mut self, start: Ts, expected: usize) -> &mut FxHashMap<Group, Acc> {
        let i = match self.windows.get(self.last) {
            Some(w) if w.start == start => self.last,
            _ => {
                let i = match self.windows.binary_search_by_key(&start, |w| w.start) {
                    Ok(i) => i,
                    Err(i) => {
                        self.windows.insert(
                            i,
                            Window {
                                start,
                                groups: FxHashMap::with_capacity_and_hasher(
                                    expected,
                                    Default::default(),
                                ),
                                sealed: Vec::new(),
                            },
                        );
                        i
                    }
                };
                self.last = i;
                i
            }
        };
        self.windows[i].table()
    }
}

/// A group: the aggregation table's key.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Group(GroupKey);

// A few multiply-rotate rounds over the fields' bits: the table is local
// to this process, so interned symbols can be hashed as they are (routing
// uses the stable hash instead).
impl std::hash::Hash for Group {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let k = &self.0;
        state.write_u64(k.src.bits());
        state.write_u64(k.dst.bits());
        let port = |p: Option<u16>| p.map_or(0, |p| 0x1_0000 | u64::from(p));
        state.write_u64(
            u64::from(k.protocol.symbol()) ^ (port(k.sport) << 24) ^ (port(k.dport) << 44),
        );
    }
}

/// A window's groups in sort-key order: by the 16-byte key prefix as an
/// integer, ties by the whole key. Indices are sorted, not the entries
/// (over 100 bytes each), which then move once.
fn into_key_order(groups: FxHashMap<Group, Acc>) -> Vec<(GroupKey, Acc)> {
    let mut entries: Vec<(GroupKey, Acc)> = groups.into_iter().map(|(g, a)| (g.0, a)).collect();
    // A window's groups stay far below 4 Gi (one table in memory).
    let mut order: Vec<(u128, u32)> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, _))| (key_prefix(key), i as u32))
        .collect();
    order.sort_unstable_by_key(|e| e.0);
    for tied in order.chunk_by_mut(|a, b| a.0 == b.0) {
        if tied.len() > 1 {
            tied.sort_unstable_by(|a, b| entries[a.1 as usize].0.cmp(&entries[b.1 as usize].0));
        }
    }
    order
        .iter()
        .map(|&(_, i)| {
            let entry = &mut entries[i as usize];
            (entry.0, std::mem::take(&mut entry.1))
        })
        .collect()
}

/// The first 16 bytes of a group's sort key (`records::sortkey`: address
/// kind and bytes, protocol name, ports), as a big-endian integer: a
/// smaller prefix means a smaller group, equal prefixes decide nothing.
fn key_prefix(k: &GroupKey) -> u128 {
    /// The key's bytes from the start, packed into an integer as they
    /// come (shifts, not a byte loop: this runs once per output row);
    /// what does not fit is cut off.
    struct Prefix {
        bits: u128,
        /// Bytes used, at most 16.
        n: u32,
    }
    impl Prefix {
        /// Appends the low `len` bytes (1 to 16) of `value`, big-endian.
        #[inline]
        fn push(&mut self, value: u128, len: u32) {
            if self.n >= 16 {
                return;
            }
            let room = 16 - self.n;
            if len <= room {
                self.bits |= value << (8 * (room - len));
                self.n += len;
            } else {
                self.bits |= value >> (8 * (len - room));
                self.n = 16;
            }
        }
        #[inline]
        fn addr(&mut self, a: Addr) {
            match a {
                Addr::None => self.push(0, 1),
                Addr::V4(ip) => self.push((1 << 32) | u128::from(u32::from(ip)), 5),
                Addr::V6(ip) => {
                    self.push(2, 1);
                    self.push(u128::from(ip), 16);
                }
                Addr::Mac(m) => {
                    let mut b = [0u8; 8];
                    b[1] = 3;
                    b[2..].copy_from_slice(&m);
                    self.push(u128::from(u64::from_be_bytes(b)), 7);
                }
                Addr::Name(id) => {
                    self.push(4, 1);
                    self.text(id.text());
                }
            }
        }
        /// Text and its terminating 0 byte: as many bytes as fit, in one
        /// piece.
        #[inline]
        fn text(&mut self, s: &str) {
            let bytes = s.as_bytes();
            let room = 16usize.saturating_sub(self.n as usize);
            let take = bytes.len().min(room);
            if take > 0 {
                let mut chunk = [0u8; 16];
                chunk[..take].copy_from_slice(&bytes[..take]);
                self.bits |= u128::from_be_bytes(chunk) >> (8 * self.n);
                self.n += take as u32;
            }
            if take == bytes.len() {
                self.push(0, 1);
            }
        }
    }
    let mut p = Prefix { bits: 0, n: 0 };
    p.addr(k.src);
    p.addr(k.dst);
    if p.n < 16 {
        p.text(k.protocol.name());
        for port in [k.sport, k.dport] {
            match port {
                None => p.push(0, 1),
                Some(port) => p.push((1 << 16) | u128::from(port), 3),
            }
        }
    }
    p.bits
}

/// The worker a group goes to, as a hash: the same in every process
/// (addresses by their bits, names and interned protocols by their text),
/// and about half the rounds of the derived `Hash` of a [`GroupKey`].
fn route_hash(k: &GroupKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = FxHasher::default();
    for a in [k.src, k.dst] {
        match a {
            Addr::Name(_) => a.hash(&mut h),
            _ => h.write_u64(a.bits()),
        }
    }
    k.protocol.hash(&mut h);
    let port = |p: Option<u16>| p.map_or(0, |p| 0x1_0000 | u64::from(p));
    h.write_u64(port(k.sport) | (port(k.dport) << 32));
    h.finish()
}

/// What the operator needs of the config, cheap to clone into closures.
#[derive(Clone)]
struct Spec {
    size: i64,
    slide: i64,
    by_src: bool,
    by_dst: bool,
    by_protocol: bool,
    by_sport: bool,
    by_dport: bool,
}

impl Spec {
    fn new(config: &WindowConfig) -> Spec {
        let has = |f| config.group_by.contains(&f);
        let clamp = |d: Duration| i64::try_from(d.nanos()).unwrap_or(i64::MAX).max(1);
        Spec {
            size: clamp(config.size),
            slide: clamp(config.slide()),
            by_src: has(Field::Src),
            by_dst: has(Field::Dst),
            by_protocol: has(Field::Protocol),
            by_sport: has(Field::Sport),
            by_dport: has(Field::Dport),
        }
    }

    fn key(&self, p: &Packet) -> GroupKey {
        GroupKey {
            src: if self.by_src { p.src } else { Addr::None },
            dst: if self.by_dst { p.dst } else { Addr::None },
            protocol: if self.by_protocol {
                p.protocol
            } else {
                Default::default()
            },
            sport: if self.by_sport { p.sport } else { None },
            dport: if self.by_dport { p.dport } else { None },
        }
    }

    /// Calls `f(start, end, emit_at)` for each window that contains `ts`,
    /// as [`Spec::for_each_window`], with the Timely time it is emitted at
    /// (ticks of `tick`). Tumbling windows go through `recent`, the last
    /// window used: most packets fall in the same one as the packet
    /// before, and skip two 64-bit divisions.
    #[inline]
    fn for_each_window_cached(
        &self,
        tick: u64,
        recent: &mut Option<(Ts, Ts, Time)>,
        ts: Ts,
        mut f: impl FnMut(Ts, Ts, Time),
    ) {
        if self.size != self.slide {
            self.for_each_window(ts, |start, end| {
                f(start, end, crate::windowing::emit_time(end, tick))
            });
            return;
        }
        if let Some((start, end, at)) = *recent {
            if start <= ts && ts < end {
                f(start, end, at);
                return;
            }
        }
        self.for_each_window(ts, |start, end| {
            let at = crate::windowing::emit_time(end, tick);
            *recent = Some((start, end, at));
            f(start, end, at);
        });
    }

    /// Calls `f(start, end)` for each window `[k*slide, k*slide + size)`
    /// that contains `ts`, earliest first.
    fn for_each_window(&self, ts: Ts, mut f: impl FnMut(Ts, Ts)) {
        crate::windowing::for_each_window_start(self.size, self.slide, ts, |start| {
            f(start, Ts(start.0.saturating_add(self.size)))
        });
    }
}

/// A set that holds one value inline (most groups see one peer or port)
/// and moves to a boxed hash set when it grows, so that an [`Acc`] stays
/// small: the window's hash table moves its entries on every resize.
#[derive(Default)]
enum Distinct<T: std::hash::Hash + Eq + Copy> {
    #[default]
    Empty,
    One(T),
    /// The set, and the value inserted last: a host's packets come in
    /// bursts to one peer and port, and a repeat skips the hash set.
    // Boxed on purpose: an unboxed set would triple the size of every entry.
    Many(
        Box<(
            std::collections::HashSet<T, netanom_records::hash::FxBuildHasher>,
            T,
        )>,
    ),
}

impl<T: std::hash::Hash + Eq + Copy> Distinct<T> {
    fn insert(&mut self, value: T) {
        match self {
            Distinct::Empty => *self = Distinct::One(value),
            Distinct::One(v) if *v == value => {}
            Distinct::One(v) => {
                let mut set =
                    std::collections::HashSet::with_capacity_and_hasher(4, Default::default());
                set.insert(*v);
                set.insert(value);
                *self = Distinct::Many(Box::new((set, value)));
            }
            Distinct::Many(many) => {
                if many.1 != value {
                    many.0.insert(value);
                    many.1 = value;
                }
            }
        }
    }

    fn len(&self) -> u32 {
        match self {
            Distinct::Empty => 0,
            Distinct::One(_) => 1,
            Distinct::Many(many) => u32::try_from(many.0.len()).unwrap_or(u32::MAX),
        }
    }
}

/// One window and group's aggregates. Kept small (the window's table
/// holds thousands per tick and is read out of cache): address sets live
/// apart, and only windows not grouped by an address have them.
#[derive(Default)]
struct Acc {
    count: u64,
    bytes: u64,
    syn_count: u64,
    len_max: u32,
    sports: Distinct<u16>,
    dports: Distinct<u16>,
    addrs: Option<Box<Addrs>>,
}

/// Distinct source and destination addresses of a group.
#[derive(Default)]
struct Addrs {
    srcs: Distinct<Addr>,
    dsts: Distinct<Addr>,
}

impl Acc {
    fn add(&mut self, p: &Packet, spec: &Spec) {
        self.count += 1;
        self.bytes += u64::from(p.length);
        self.len_max = self.len_max.max(p.length);
        if p.is_syn() {
            self.syn_count += 1;
        }
        // A grouped field has one value per group: no set needed.
        let src = !spec.by_src && !p.src.is_none();
        let dst = !spec.by_dst && !p.dst.is_none();
        if src || dst {
            let addrs = self.addrs.get_or_insert_with(Default::default);
            if src {
                addrs.srcs.insert(p.src);
            }
            if dst {
                addrs.dsts.insert(p.dst);
            }
        }
        if !spec.by_sport {
            if let Some(port) = p.sport {
                self.sports.insert(port);
            }
        }
        if !spec.by_dport {
            if let Some(port) = p.dport {
                self.dports.insert(port);
            }
        }
    }

    fn finish(&self, start: Ts, end: Ts, key: GroupKey, spec: &Spec) -> WindowRecord {
        let (srcs, dsts) = self
            .addrs
            .as_ref()
            .map_or((0, 0), |a| (a.srcs.len(), a.dsts.len()));
        let one_if = |grouped: bool, present: bool, set: u32| {
            if grouped {
                u32::from(present)
            } else {
                set
            }
        };
        WindowRecord {
            window_start: start,
            window_end: end,
            key,
            count: self.count,
            bytes: self.bytes,
            len_max: self.len_max,
            distinct_srcs: one_if(spec.by_src, !key.src.is_none(), srcs),
            distinct_dsts: one_if(spec.by_dst, !key.dst.is_none(), dsts),
            distinct_sports: one_if(spec.by_sport, key.sport.is_some(), self.sports.len()),
            distinct_dports: one_if(spec.by_dport, key.dport.is_some(), self.dports.len()),
            syn_count: self.syn_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: u64, slide: u64) -> Spec {
        Spec::new(&WindowConfig {
            size: Duration(size),
            slide: Some(Duration(slide)),
            group_by: default_group_by(),
        })
    }

    fn windows(s: &Spec, t: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        s.for_each_window(Ts(t), |a, b| out.push((a.0, b.0)));
        out
    }

    #[test]
    fn groups_come_out_in_sort_key_order() {
        use netanom_records::Record as _;
        // Protocol names that share their first bytes with the addresses
        // make equal prefixes, which the whole key then orders.
        let mut groups: FxHashMap<Group, Acc> = FxHashMap::default();
        let mut n = 5u64;
        for _ in 0..3000 {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
            let v4 = |x: u64| Addr::V4(std::net::Ipv4Addr::from((x % 7) as u32));
            let key = GroupKey {
                src: v4(n >> 20),
                dst: v4(n >> 30),
                protocol: netanom_records::Protocol::new(
                    ["TLSv1.2", "TLSv1.3", "TCP", "TLSv1"][(n >> 40) as usize % 4],
                ),
                sport: Some((n >> 44) as u16 % 5),
                dport: None,
            };
            groups.entry(Group(key)).or_default().count += 1;
        }
        let n = groups.len();
        let counts: u64 = groups.values().map(|a| a.count).sum();
        let sorted = into_key_order(groups);
        assert_eq!(sorted.iter().map(|(_, a)| a.count).sum::<u64>(), counts);
        let keys: Vec<Vec<u8>> = sorted
            .iter()
            .map(|(k, _)| {
                let mut bytes = Vec::new();
                WindowRecord {
                    key: *k,
                    ..WindowRecord::default()
                }
                .sort_key(&mut bytes);
                bytes
            })
            .collect();
        assert_eq!(keys.len(), n);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn key_prefix_is_the_sort_key_after_the_bounds() {
        use netanom_records::Record as _;
        let addrs = [
            Addr::None,
            Addr::V4("10.1.2.3".parse().expect("v4")),
            Addr::V6("fe80::1:2".parse().expect("v6")),
            Addr::Mac([1, 2, 3, 4, 5, 6]),
            Addr::Name(netanom_records::NameId::intern("host-a")),
            Addr::Name(netanom_records::NameId::intern(
                "a-host-name-past-sixteen-bytes",
            )),
        ];
        for src in addrs {
            for dst in addrs {
                for (protocol, port) in [
                    ("TCP", Some(443)),
                    ("TLSv1.3", None),
                    ("", Some(1)),
                    ("A-PROTOCOL-NAME-OF-20", Some(7)),
                ] {
                    let key = GroupKey {
                        src,
                        dst,
                        protocol: netanom_records::Protocol::new(protocol),
                        sport: port,
                        dport: port.map(|p| p + 1),
                    };
                    let record = WindowRecord {
                        key,
                        ..WindowRecord::default()
                    };
                    let mut bytes = Vec::new();
                    record.sort_key(&mut bytes);
                    let mut want = [0u8; 16];
                    let tail = &bytes[16..];
                    let n = tail.len().min(16);
                    want[..n].copy_from_slice(&tail[..n]);
                    assert_eq!(key_prefix(&key), u128::from_be_bytes(want), "{key:?}");
                }
            }
        }
    }

    #[test]
    fn aggregates_stay_small() {
        // The table is read out of cache: an entry should span two lines.
        assert!(std::mem::size_of::<(Group, Acc)>() <= 128);
    }

    #[test]
    fn cached_windows_are_the_computed_ones() {
        let mut n = 17u64;
        for (size, slide) in [(10, 10), (10, 5), (1_000_000_000, 1_000_000_000)] {
            let s = spec(size, slide);
            let mut recent = None;
            for _ in 0..5000 {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
                // Runs of close timestamps, jumps back and forth, negatives.
                let t = (n >> 40) as i64 % (4 * size as i64) - size as i64;
                let mut got = Vec::new();
                s.for_each_window_cached(7, &mut recent, Ts(t), |a, b, at| got.push((a, b, at)));
                let mut want = Vec::new();
                s.for_each_window(Ts(t), |a, b| {
                    want.push((a, b, crate::windowing::emit_time(b, 7)))
                });
                assert_eq!(got, want, "t = {t}");
            }
        }
    }

    #[test]
    fn tumbling_assignment() {
        let s = spec(10, 10);
        assert_eq!(windows(&s, 0), vec![(0, 10)]);
        assert_eq!(windows(&s, 9), vec![(0, 10)]);
        assert_eq!(windows(&s, 10), vec![(10, 20)]);
        assert_eq!(windows(&s, -1), vec![(-10, 0)]);
    }

    #[test]
    fn hopping_assignment() {
        let s = spec(10, 5);
        assert_eq!(windows(&s, 7), vec![(0, 10), (5, 15)]);
        assert_eq!(windows(&s, 5), vec![(0, 10), (5, 15)]);
        assert_eq!(windows(&s, 4), vec![(-5, 5), (0, 10)]);
        let s = spec(10, 3);
        // windows starting at 0,3,6,9 cover 9
        assert_eq!(windows(&s, 9), vec![(0, 10), (3, 13), (6, 16), (9, 19)]);
    }

    #[test]
    fn validation() {
        let c = WindowConfig {
            size: Duration(0),
            slide: Some(Duration(5)),
            group_by: vec![Field::Src, Field::Count, Field::Src],
        };
        let problems = c.validate();
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
