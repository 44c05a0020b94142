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
