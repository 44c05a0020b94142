//! Dissection throughput on generated traffic: loads every frame of a pcap
//! into memory, then times `netanom_dissect::dissect` over them (one core,
//! one reused record, no I/O).
//!
//! ```text
//! cargo run --release -p netanom-dissect --example dissect_speed [-- FILE.pcap]
//! ```
//!
//! Without FILE it writes a 1M-packet capture with
//! `../shared/tools/gen_pcap.py -n 1000000 -s 1` into the temporary
//! directory (kept there for later runs).

#[path = "../tests/support/frames.rs"]
#[allow(dead_code)]
mod frames;

use netanom_records::Packet;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn default_capture() -> Result<PathBuf, String> {
    let path = std::env::temp_dir().join("netanom-dissect-speed-1M-s1.pcap");
    if path.is_file() {
        return Ok(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/gen_pcap.py");
    let partial = path.with_extension("pcap.part");
    eprintln!("generating {} (about 10 s)", path.display());
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["-n", "1000000", "-s", "1", "-q", "--no-labels", "-o"])
        .arg(&partial)
        .status()
        .map_err(|e| format!("python3 {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()));
    }
    std::fs::rename(&partial, &path).map_err(|e| e.to_string())?;
    Ok(path)
}

fn main() -> Result<(), String> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => default_capture()?,
    };
    let loaded = frames::load(&path)?;
    // One contiguous buffer, as a reader's block would hold them.
    let mut bytes = Vec::new();
    let mut index = Vec::with_capacity(loaded.len());
    for f in &loaded {
        index.push((f.linktype, bytes.len(), bytes.len() + f.data.len()));
        bytes.extend_from_slice(&f.data);
    }
    drop(loaded);
    let n = index.len();
    eprintln!(
        "{}: {n} frames, {} MB",
        path.display(),
        bytes.len() / 1_000_000
    );

    let mut pkt = Packet::default();
    let mut names = BTreeMap::new();
    for &(linktype, start, end) in &index {
        netanom_dissect::dissect(linktype, &bytes[start..end], &mut pkt);
        *names.entry(pkt.protocol.to_string()).or_insert(0u64) += 1;
    }

    // In cache: batches of 512 frames (about 320 KB) are read once, then
    // timed, as frames are when dissected right after a reader copied them.
    let mut warm = Vec::new();
    for _ in 0..5 {
        let mut elapsed = 0.0;
        for batch in index.chunks(512) {
            let mut touch = 0u8;
            for &(_, start, end) in batch {
                for byte in bytes[start..end].iter().step_by(64) {
                    touch ^= *byte;
                }
            }
            black_box(touch);
            let started = Instant::now();
            for &(linktype, start, end) in batch {
                netanom_dissect::dissect(linktype, black_box(&bytes[start..end]), &mut pkt);
                black_box(&pkt);
            }
            elapsed += started.elapsed().as_secs_f64();
        }
        warm.push(n as f64 / elapsed);
    }

    // From memory: one pass over all frames, so each one is a cache miss
    // (the working set is the whole capture).
    let mut cold = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for &(linktype, start, end) in &index {
            netanom_dissect::dissect(linktype, black_box(&bytes[start..end]), &mut pkt);
            black_box(&pkt);
        }
        cold.push(n as f64 / started.elapsed().as_secs_f64());
    }

    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (warm, cold) = (median(&mut warm), median(&mut cold));
    println!(
        "in cache (as after the reader): {:.1} M frames/s ({:.1} ns/frame)",
        warm / 1e6,
        1e9 / warm
    );
    println!(
        "from memory ({} MB, cold caches): {:.1} M frames/s ({:.1} ns/frame)",
        bytes.len() / 1_000_000,
        cold / 1e6,
        1e9 / cold
    );
    let mut top: Vec<_> = names.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    let top: Vec<String> = top.into_iter().map(|(k, c)| format!("{k} {c}")).collect();
    println!(
        "protocols ({n} frames, median of 5 rounds): {}",
        top.join(", ")
    );
    Ok(())
}
