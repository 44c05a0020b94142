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
    eprintln!("{}: {n} frames, {} MB", path.display(), bytes.len() / 1_000_000);

    let mut pkt = Packet::default();
    let mut names = BTreeMap::new();
    for &(linktype, start, end) in &index {
        netanom_dissect::dissect(linktype, &bytes[start..end], &mut pkt);
        *names.entry(pkt.protocol.to_string()).or_insert(0u64) += 1;
    }
    let mut rates = Vec::new();
    for _ in 0..std::env::var("COLD_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7) {
        let started = Instant::now();
        let mut sum = 0u64;
        for &(linktype, start, end) in &index {
            netanom_dissect::dissect(linktype, black_box(&bytes[start..end]), &mut pkt);
            sum = sum.wrapping_add(u64::from(pkt.sport.unwrap_or(0)));
            black_box(&pkt);
        }
        black_box(sum);
        rates.push(n as f64 / started.elapsed().as_secs_f64());
    }
    // Warm: batches small enough to stay in cache, each read once before
    // it is timed, as frames are right after a reader copied them.
    let mut warm = Vec::new();
    for _ in 0..std::env::var("WARM_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3) {
        let mut elapsed = 0.0;
        for batch in index.chunks(512) {
            let mut touch = 0u8;
            for &(_, start, end) in batch {
                for line in bytes[start..end].iter().step_by(64) {
                    touch ^= *line;
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
    warm.sort_by(f64::total_cmp);
    println!("warm: {:?}", warm.iter().map(|r| format!("{:.1}", r / 1e6)).collect::<Vec<_>>());
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    println!(
        "dissect: {:.1} M frames/s median, {:.1} M best ({:.1} ns/frame median), {n} frames x {} rounds",
        median / 1e6,
        best / 1e6,
        1e9 / median,
        rates.len()
    );
    let top: Vec<String> = {
        let mut v: Vec<_> = names.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1));
        v.into_iter().map(|(k, c)| format!("{k} {c}")).collect()
    };
    println!("protocols: {}", top.join(", "));
    Ok(())
}
