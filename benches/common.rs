//! What the benchmarks share: the generated capture they read.

use netanom_capture::{CaptureReader, Next};
use netanom_records::time::to_time;
use netanom_records::{Packet, Time, Ts};
use std::path::{Path, PathBuf};

/// The capture named on the command line, or a 1M-packet capture generated
/// once with ../shared/tools/gen_pcap.py into target/bench-data/.
pub fn capture() -> PathBuf {
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(arg);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("target/bench-data/g1m.pcap");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let status = std::process::Command::new("python3")
            .arg(root.join("../shared/tools/gen_pcap.py"))
            .args(["-n", "1000000", "-s", "1", "--no-labels", "-q", "-o"])
            .arg(&path)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "gen_pcap.py failed");
    }
    path
}

/// Every frame of a capture, dissected into packets (kept in memory, so a
/// benchmark measures its operator, not the reader).
#[allow(dead_code)] // not every bench needs it
pub fn packets(path: &Path) -> Vec<Packet> {
    let mut reader = CaptureReader::open(path).expect("open capture");
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

/// Each of `workers` workers' packets (every `workers`-th) with the Timely
/// time the pcap source sends them at: file order, watermark = newest ts
/// minus 1 s, floored to a 1 s tick.
#[allow(dead_code)] // not every bench needs it
pub fn split(packets: &[Packet], workers: usize) -> Vec<Vec<(Time, Packet)>> {
    const TICK: u64 = 1_000_000_000;
    let mut parts = vec![Vec::new(); workers];
    let mut newest = i64::MIN;
    for (i, packet) in packets.iter().enumerate() {
        newest = newest.max(packet.ts.0);
        let watermark = Ts(newest.saturating_sub(TICK as i64));
        let time = to_time(packet.ts.max(watermark), TICK);
        parts[i % workers].push((time, packet.clone()));
    }
    parts
}

/// An operator a benchmark feeds packets into ([`feed`]).
#[allow(dead_code)] // not every bench needs it
pub trait PacketOperator: Clone + Send + Sync + 'static {
    /// Its output records.
    type Out: timely::ExchangeData;
    /// Builds it on `input`, counting into `stats`.
    fn attach<'s>(
        &self,
        input: timely::dataflow::Stream<'s, Time, Vec<Packet>>,
        tick: u64,
        stats: std::sync::Arc<netanom_records::stats::ComponentStats>,
    ) -> timely::dataflow::Stream<'s, Time, Vec<Self::Out>>;
}

impl PacketOperator for netanom_operators::WindowConfig {
    type Out = netanom_records::WindowRecord;
    fn attach<'s>(
        &self,
        input: timely::dataflow::Stream<'s, Time, Vec<Packet>>,
        tick: u64,
        stats: std::sync::Arc<netanom_records::stats::ComponentStats>,
    ) -> timely::dataflow::Stream<'s, Time, Vec<Self::Out>> {
        self.build("op", input, tick, stats)
    }
}

impl PacketOperator for netanom_operators::DegreeConfig {
    type Out = netanom_records::DegreeRecord;
    fn attach<'s>(
        &self,
        input: timely::dataflow::Stream<'s, Time, Vec<Packet>>,
        tick: u64,
        stats: std::sync::Arc<netanom_records::stats::ComponentStats>,
    ) -> timely::dataflow::Stream<'s, Time, Vec<Self::Out>> {
        self.build("op", input, tick, stats)
    }
}

/// One run of `op` on `workers` workers: each feeds its share of
/// `packets` ([`split`]) at most four 1 s ticks ahead of the output.
/// Returns the seconds taken, the rows produced and the late packets.
#[allow(dead_code)] // not every bench needs it
pub fn feed<O: PacketOperator>(packets: &[Packet], op: &O, workers: usize) -> (f64, u64, u64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use timely::dataflow::operators::vec::Input;
    use timely::dataflow::operators::{Inspect, Probe};
    const TICK: u64 = 1_000_000_000;
    let rows = Arc::new(AtomicU64::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let parts = Arc::new(split(packets, workers));
    let started = std::time::Instant::now();
    let (p, c, r, l) = (parts, op.clone(), rows.clone(), late.clone());
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let stats = netanom_records::stats::Stats::new();
        let r = r.clone();
        let (mut input, probe) = worker.dataflow::<Time, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Packet>();
            let out = c.attach(stream, TICK, stats.component("op"));
            let probe = out
                .inspect(move |_: &O::Out| {
                    r.fetch_add(1, Ordering::Relaxed);
                })
                .probe()
                .0;
            (input, probe)
        });
        for (time, packet) in &p[index % peers] {
            let time = (*time).max(*input.time());
            if time > *input.time() {
                input.advance_to(time);
                worker.step_while(|| probe.less_than(&time.saturating_sub(4 * TICK)));
            }
            input.send(packet.clone());
        }
        drop(input);
        while worker.step_or_park(None) {}
        l.fetch_add(
            stats.component("op").late.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
    })
    .expect("timely runs");
    (
        started.elapsed().as_secs_f64(),
        rows.load(Ordering::Relaxed),
        late.load(Ordering::Relaxed),
    )
}
