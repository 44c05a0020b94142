//! What `benches/operators.rs` uses besides criterion: its inputs,
//! generated in memory with `netanom-generate`, and the harness that feeds
//! packets into an operator or a sink the way the pcap source would.

use netanom_capture::{CaptureReader, Next};
use netanom_operators::{DegreeConfig, WindowConfig};
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::time::to_time;
use netanom_records::{DegreeRecord, Packet, Time, Ts, WindowRecord};
use netanom_sinks::prometheus::{Exporter, PrometheusConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timely::dataflow::operators::vec::Input;
use timely::dataflow::operators::{Concat, Inspect, Probe};
use timely::dataflow::Stream;

/// The pcap source's Timely tick: 1 s.
pub const TICK: u64 = 1_000_000_000;

/// A generated capture and its CSV export, in memory.
pub struct Inputs {
    /// The capture (pcap, Ethernet).
    pub pcap: Vec<u8>,
    /// Its export in Wireshark's CSV layout, times in seconds since the
    /// epoch.
    pub csv: Vec<u8>,
    /// Packets in each (rows in the CSV).
    pub packets: u64,
}

/// `packets` packets of `netanom generate --seed 1` (normal traffic and
/// the four default attacks) and their CSV export.
pub fn generate(packets: u64) -> Inputs {
    let (mut pcap, mut csv) = (Vec::new(), Vec::new());
    let options = netanom_generate::Options {
        packets,
        seed: 1,
        csv_time: netanom_generate::CsvTime::Epoch,
        ..Default::default()
    };
    let summary = netanom_generate::generate(&options, &mut pcap, Some(&mut csv), None)
        .expect("generate the inputs");
    assert_eq!(summary.packets, packets);
    Inputs { pcap, csv, packets }
}

/// Every frame of a capture held in memory, dissected into packets (kept,
/// so that a benchmark measures its operator, not the reader).
pub fn packets(pcap: &[u8]) -> Vec<Packet> {
    let mut reader = CaptureReader::new(pcap, "generated.pcap").expect("read the capture");
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Next::Frame(f) => {
                let mut packet = Packet {
                    ts: Ts(f.ts),
                    length: f.orig_len,
                    ..Packet::default()
                };
                netanom_dissect::dissect(f.linktype, f.data, &mut packet);
                out.push(packet);
            }
            Next::Skipped(_) => {}
            Next::End { .. } | Next::Fatal(_) => break,
        }
    }
    out
}

/// What the harness feeds: a packet, or a flow record (a 10 ms window's
/// output, for the sinks).
#[derive(Clone)]
pub enum Item {
    /// A packet, into the packet input.
    Packet(Packet),
    /// A window record, into the flow input.
    Flow(WindowRecord),
}

/// Each worker's items with the Timely time they are sent at.
pub type Shares = Vec<Vec<(Time, Item)>>;

/// Each of `workers` workers' packets (every `workers`-th) with the Timely
/// time the pcap source sends them at: file order, watermark = newest ts
/// minus 1 s, floored to a 1 s tick.
pub fn split(packets: &[Packet], workers: usize) -> Shares {
    let mut shares = vec![Vec::new(); workers];
    let mut newest = i64::MIN;
    for (i, packet) in packets.iter().enumerate() {
        newest = newest.max(packet.ts.0);
        let watermark = Ts(newest.saturating_sub(TICK as i64));
        let time = to_time(packet.ts.max(watermark), TICK);
        shares[i % workers].push((time, Item::Packet(packet.clone())));
    }
    shares
}

/// `shares` with `flows` (time, record) dealt round-robin over the workers,
/// each record before the first packet sent at a later time.
pub fn with_flows(shares: Shares, flows: &[(Time, WindowRecord)]) -> Shares {
    let workers = shares.len();
    let mut dealt = vec![Vec::new(); workers];
    for (i, flow) in flows.iter().enumerate() {
        dealt[i % workers].push(flow.clone());
    }
    shares
        .into_iter()
        .zip(dealt)
        .map(|(items, flows)| {
            let mut out = Vec::with_capacity(items.len() + flows.len());
            let mut flows = flows.into_iter().peekable();
            let mut now = 0;
            for (time, item) in items {
                now = time.max(now);
                while let Some((t, flow)) = flows.next_if(|(t, _)| *t <= now) {
                    out.push((t, Item::Flow(flow)));
                }
                out.push((time, item));
            }
            out.extend(flows.map(|(t, flow)| (t, Item::Flow(flow))));
            out
        })
        .collect()
}

/// What the harness measures: an operator or a sink, built on a worker's
/// packet and flow inputs.
pub trait Measured: Clone + Send + Sync + 'static {
    /// Its output records.
    type Out: timely::ExchangeData;
    /// Builds it on the inputs, counting into `stats`.
    fn attach<'s>(
        &self,
        packets: Stream<'s, Time, Vec<Packet>>,
        flows: Stream<'s, Time, Vec<WindowRecord>>,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<Self::Out>>;
}

impl Measured for WindowConfig {
    type Out = WindowRecord;
    fn attach<'s>(
        &self,
        packets: Stream<'s, Time, Vec<Packet>>,
        _: Stream<'s, Time, Vec<WindowRecord>>,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<WindowRecord>> {
        self.build("op", packets, TICK, stats)
    }
}

impl Measured for DegreeConfig {
    type Out = DegreeRecord;
    fn attach<'s>(
        &self,
        packets: Stream<'s, Time, Vec<Packet>>,
        _: Stream<'s, Time, Vec<WindowRecord>>,
        stats: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<DegreeRecord>> {
        self.build("op", packets, TICK, stats)
    }
}

/// The `prometheus` sink, as the engine attaches it: packets into
/// `build_packets` (input `capture`) and, with `flows`, the flow input
/// into `build_windows` (input `flows`).
#[derive(Clone)]
pub struct Prometheus {
    /// The sink's settings.
    pub config: PrometheusConfig,
    /// Its registry and endpoint, started once for every run.
    pub exporter: Arc<Exporter>,
    /// Whether to attach the flow input too.
    pub flows: bool,
}

impl Measured for Prometheus {
    type Out = ();
    fn attach<'s>(
        &self,
        packets: Stream<'s, Time, Vec<Packet>>,
        flows: Stream<'s, Time, Vec<WindowRecord>>,
        _: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<()>> {
        let consumed = self
            .config
            .build_packets("metrics", "capture", packets, &self.exporter);
        if self.flows {
            let windows = self
                .config
                .build_windows("metrics", "flows", flows, &self.exporter);
            consumed.concat(windows)
        } else {
            consumed
        }
    }
}

/// Nothing on the inputs: the packet input is probed and counted as it
/// is, which measures the harness itself.
#[derive(Clone)]
pub struct Harness;

impl Measured for Harness {
    type Out = Packet;
    fn attach<'s>(
        &self,
        packets: Stream<'s, Time, Vec<Packet>>,
        _: Stream<'s, Time, Vec<WindowRecord>>,
        _: Arc<ComponentStats>,
    ) -> Stream<'s, Time, Vec<Packet>> {
        packets
    }
}

/// What one run of [`feed`] gives.
pub struct Run {
    /// From the dataflow's start to its end.
    pub elapsed: Duration,
    /// Records out of the measured operator.
    pub rows: u64,
    /// Packets the operator counted late (0 unless the feeding is wrong).
    pub late: u64,
}

/// One run of `op` on `shares.len()` workers: each worker feeds its
/// share, at most four 1 s ticks ahead of the output (like the engine's
/// flow control). The items are copied before the clock starts and sent
/// without a copy, as a source sends what it reads.
pub fn feed<O: Measured>(shares: &Shares, op: &O) -> Run {
    let workers = shares.len();
    let owned: Arc<Vec<Mutex<_>>> = Arc::new(shares.iter().cloned().map(Mutex::new).collect());
    let rows = Arc::new(AtomicU64::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let (op, r, l) = (op.clone(), rows.clone(), late.clone());
    let started = Instant::now();
    timely::execute(timely::Config::process(workers), move |worker| {
        let items = std::mem::take(&mut *owned[worker.index()].lock().expect("share"));
        let stats = Stats::new();
        let r = r.clone();
        let (mut packets, mut flows, probe) = worker.dataflow::<Time, _, _>(|scope| {
            let (packets, packet_stream) = scope.new_input::<Packet>();
            let (flows, flow_stream) = scope.new_input::<WindowRecord>();
            let probe = op
                .attach(packet_stream, flow_stream, stats.component("op"))
                .inspect_core(move |event| {
                    // Per batch: one shared counter per record would
                    // make the workers contend for it.
                    if let Ok((_, batch)) = event {
                        r.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                })
                .probe()
                .0;
            (packets, flows, probe)
        });
        for (time, item) in items {
            let time = time.max(*packets.time());
            if time > *packets.time() {
                packets.advance_to(time);
                flows.advance_to(time);
                worker.step_while(|| probe.less_than(&time.saturating_sub(4 * TICK)));
            }
            match item {
                Item::Packet(p) => packets.send(p),
                Item::Flow(f) => flows.send(f),
            }
        }
        drop((packets, flows));
        while worker.step_or_park(None) {}
        l.fetch_add(
            stats.component("op").late.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
    })
    .expect("timely runs");
    Run {
        elapsed: started.elapsed(),
        rows: rows.load(Ordering::Relaxed),
        late: late.load(Ordering::Relaxed),
    }
}

/// The records of `config` on `packets` (one worker), with the Timely time
/// each left the operator at, in that order: a sink benchmark's flows.
pub fn flows(packets: &[Packet], config: &WindowConfig) -> Vec<(Time, WindowRecord)> {
    #[derive(Clone)]
    struct Collect(WindowConfig, Arc<Mutex<Vec<(Time, WindowRecord)>>>);
    impl Measured for Collect {
        type Out = WindowRecord;
        fn attach<'s>(
            &self,
            packets: Stream<'s, Time, Vec<Packet>>,
            flows: Stream<'s, Time, Vec<WindowRecord>>,
            stats: Arc<ComponentStats>,
        ) -> Stream<'s, Time, Vec<WindowRecord>> {
            let out = self.1.clone();
            self.0
                .attach(packets, flows, stats)
                .inspect_core(move |event| {
                    if let Ok((stamp, batch)) = event {
                        let time = stamp.least().copied().unwrap_or_default();
                        let mut out = out.lock().expect("flows");
                        out.extend(batch.iter().map(|r| (time, r.clone())));
                    }
                })
        }
    }
    let out = Arc::new(Mutex::new(Vec::new()));
    let run = feed(&split(packets, 1), &Collect(config.clone(), out.clone()));
    assert_eq!(run.late, 0, "late packets: the harness feeds them wrong");
    let flows = std::mem::take(&mut *out.lock().expect("flows"));
    flows
}
