//! The floor loop: the pcap source's inner loop on one thread, on a
//! capture file (benches/run-all.sh runs it on its big captures).
//!
//! `cargo bench --bench floor [-- FILE]`. Without FILE it generates (once)
//! a 1M-packet capture with `netanom-generate` into target/bench-data/. Prints frames/s for reading alone (the floor) and
//! for reading plus dissection, best of 5 passes. Per-operator figures:
//! `cargo bench --bench operators`.

use netanom_capture::{CaptureReader, Next};
use netanom_records::Packet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The capture named on the command line, or the 1M-packet capture of
/// `netanom generate -n 1000000 --seed 1`, written once into
/// target/bench-data/ (the file benches/run-all.sh uses for 1M).
fn capture() -> PathBuf {
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(arg);
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = data.join("ng-1000000.pcap");
    if !path.exists() {
        std::fs::create_dir_all(&data).expect("create target/bench-data");
        let tmp = data.join("ng-1000000.pcap.tmp");
        let file = std::fs::File::create(&tmp).expect("create the capture");
        let options = netanom_generate::Options {
            packets: 1_000_000,
            seed: 1,
            ..Default::default()
        };
        netanom_generate::generate(&options, std::io::BufWriter::new(file), None, None)
            .expect("generate the capture");
        std::fs::rename(&tmp, &path).expect("rename the capture");
    }
    path
}

fn pass(path: &Path, decode: bool) -> (u64, f64) {
    let start = Instant::now();
    let mut reader = CaptureReader::open(path).expect("open capture");
    let mut packet = Packet::default();
    let mut frames = 0u64;
    let mut checksum = 0u64;
    loop {
        match reader.next() {
            Next::Frame(f) => {
                frames += 1;
                if decode {
                    packet.length = f.orig_len;
                    netanom_dissect::dissect(f.linktype, f.data, &mut packet);
                    checksum = checksum.wrapping_add(u64::from(packet.sport.unwrap_or(0)));
                } else {
                    checksum = checksum.wrapping_add(f.data.len() as u64);
                }
            }
            Next::Skipped(_) => {}
            Next::End { .. } | Next::Fatal(_) => break,
        }
    }
    std::hint::black_box(checksum);
    (frames, start.elapsed().as_secs_f64())
}

fn main() {
    let path = capture();
    println!("capture: {}", path.display());
    for (name, decode) in [
        ("read only (floor)", false),
        ("read + dissect + classify", true),
    ] {
        let (frames, best) = (0..5)
            .map(|_| pass(&path, decode))
            .fold((0, f64::MAX), |(_, b), (n, t)| (n, b.min(t)));
        println!(
            "{name:<28} {frames} frames in {best:.3} s: {:.2} M frames/s",
            frames as f64 / best / 1e6
        );
    }
}
