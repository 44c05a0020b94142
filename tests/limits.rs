//! Resource limits: hostile sizes give a clear error within bounded memory
//! and time. Every run here is under a 512 MiB address-space limit
//! (`ulimit -v`) and a time limit; the bounds themselves are
//! `netanom_capture::MAX_RECORD` (16 MiB per record or block),
//! `netanom_sources::csv::MAX_LINE` (1 MiB per CSV line),
//! `netanom_config::MAX_FILE_BYTES` (4 MiB of pipeline file),
//! `netanom_config::budget::MAX_EXPANDED` (1 Mi nodes and scalar bytes
//! after YAML alias expansion) and `netanom_config::MAX_COMPONENTS` (1000).

use crate::util::{read_csv, root, text, TempDir};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Address space a run may use, in KiB (the debug binary needs about
/// 150 MiB for a small pipeline).
const MEMORY_KIB: u64 = 512 * 1024;

/// Runs `netanom ARGS` in `cwd` under [`MEMORY_KIB`], killed after `secs`:
/// `None` when it had to be killed.
fn limited(cwd: &Path, args: &[&str], secs: u64) -> Option<Output> {
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_netanom"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    crate::util::output_within(child, Duration::from_secs(secs))
}

/// Runs a one-source pipeline (`source` is its YAML flow mapping) that
/// writes its packets to `packets.csv`; returns (exit code, stderr, rows).
fn run_source(dir: &TempDir, source: &str, secs: u64) -> (Option<i32>, String, usize) {
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  src: {source}\nsinks:\n  out: {{type: file, inputs: [src], path: packets.csv}}\n"
        ),
    );
    let out = limited(dir.path(), &["run", &p.display().to_string()], secs)
        .unwrap_or_else(|| panic!("{source}: not done within {secs} s"));
    let (_, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rows = if dir.join("packets.csv").exists() {
        read_csv(&dir.join("packets.csv")).1.len()
    } else {
        0
    };
    (out.status.code(), stderr, rows)
}

/// The first frame of tests/data/tiny.pcap (Ethernet, microsecond pcap).
fn frame() -> Vec<u8> {
    let tiny = std::fs::read(root().join("tests/data/tiny.pcap")).expect("tiny.pcap");
    let incl = u32::from_le_bytes([tiny[32], tiny[33], tiny[34], tiny[35]]) as usize;
    tiny[40..40 + incl].to_vec()
}

fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out
}

fn pcap_record(out: &mut Vec<u8>, sec: u32, incl: u32, data: &[u8]) {
    for v in [sec, 0, incl, data.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(data);
}

#[test]
fn pcap_record_claiming_4_gib_is_refused() {
    let dir = TempDir::new("huge-record");
    let mut bytes = pcap_header(65535);
    pcap_record(&mut bytes, 1, frame().len() as u32, &frame());
    pcap_record(&mut bytes, 2, u32::MAX, &frame());
    std::fs::write(dir.join("c.pcap"), &bytes).expect("write");
    let (code, stderr, rows) = run_source(&dir, "{type: pcap, path: c.pcap}", 60);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("c.pcap: offset ")
            && stderr.contains("record claims 4294967295 captured bytes (limit 16777216)"),
        "{stderr}"
    );
    assert_eq!(rows, 1, "the record before it is kept");
}

#[test]
fn pcapng_block_claiming_4_gib_is_refused() {
    let dir = TempDir::new("huge-block");
    let mut bytes = Vec::new();
    let put = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
    // Section header (28 bytes), interface (Ethernet), then an enhanced
    // packet block claiming 0xFFFFFFF0 bytes.
    for v in [0x0A0D_0D0A, 28, 0x1A2B_3C4D, 1, u32::MAX, u32::MAX, 28] {
        put(&mut bytes, v);
    }
    for v in [1, 20, 1, 0, 20] {
        put(&mut bytes, v);
    }
    for v in [6, 0xFFFF_FFF0, 0, 0, 0, 60, 60] {
        put(&mut bytes, v);
    }
    bytes.extend_from_slice(&[0; 64]);
    std::fs::write(dir.join("c.pcapng"), &bytes).expect("write");
    let (code, stderr, _) = run_source(&dir, "{type: pcap, path: c.pcapng}", 60);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("c.pcapng: offset 48: block of type 0x00000006 claims 4294967280 bytes (limit 16777216)"),
        "{stderr}"
    );
}

#[test]
fn snaplen_of_4_gib_allocates_nothing_for_it() {
    let dir = TempDir::new("snaplen");
    let mut bytes = pcap_header(u32::MAX);
    for sec in 1..=3 {
        pcap_record(&mut bytes, sec, frame().len() as u32, &frame());
    }
    // Within the snaplen, over the record limit.
    pcap_record(&mut bytes, 4, 3 << 30, &frame());
    std::fs::write(dir.join("c.pcap"), &bytes).expect("write");
    let (code, stderr, rows) = run_source(&dir, "{type: pcap, path: c.pcap}", 60);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(rows, 3, "{stderr}");
    assert!(
        stderr.contains("record claims 3221225472 captured bytes (limit 16777216)"),
        "{stderr}"
    );
}

#[test]
fn csv_line_of_100_mb_is_skipped_and_reported() {
    use std::io::Write;
    let dir = TempDir::new("longline");
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("x.csv")).expect("create"));
    let row = |n: u32| format!("{n},0.{n},10.0.0.1,10.0.0.2,TCP,60,ok\n");
    let _ = f.write_all(b"No.,Time,Source,Destination,Protocol,Length,Info\n");
    let _ = f.write_all(row(1).as_bytes());
    let _ = f.write_all(b"2,0.2,10.0.0.1,10.0.0.2,TCP,60,");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        let _ = f.write_all(&chunk);
    }
    let _ = f.write_all(b"\n");
    let _ = f.write_all(row(3).as_bytes());
    f.flush().expect("write 100 MB");
    drop(f);
    let (code, stderr, rows) = run_source(&dir, "{type: csv, path: x.csv}", 120);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("x.csv:3: line longer than 1048576 bytes"),
        "{stderr}"
    );
    assert_eq!(rows, 2, "the rows around it are kept");
}

/// `netanom validate FILE` under the limits: (exit code, stderr).
fn validate(dir: &TempDir, name: &str, yaml: &str) -> (Option<i32>, String) {
    dir.write(name, yaml);
    let out = limited(dir.path(), &["validate", name], 30)
        .unwrap_or_else(|| panic!("{name}: not done within 30 s"));
    let (_, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code(), stderr)
}

#[test]
fn yaml_bombs_are_refused() {
    let dir = TempDir::new("bomb");
    // Billion laughs: nine levels of nine aliases each.
    let mut laughs = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        laughs.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    laughs.push_str("sources:\n  s: {type: csv, path: x.csv, columns: *i}\n");
    let (code, stderr) = validate(&dir, "laughs.yaml", &laughs);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("laughs.yaml:1:1: pipeline: "), "{stderr}");
    assert!(
        stderr.contains("repetition limit exceeded") || stderr.contains("expands to more than"),
        "{stderr}"
    );
    // Wide: one anchor of 300,000 items used 300,000 times (1.5 MB of
    // text, 9e10 nodes expanded).
    let items = vec!["0"; 300_000].join(",");
    let uses = vec!["*a"; 300_000].join(",");
    let (code, stderr) = validate(
        &dir,
        "wide.yaml",
        &format!("x: &a [{items}]\ny: [{uses}]\nsources: {{}}\n"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "wide.yaml:1:1: pipeline: the file expands to more than 1048576 nodes and scalar bytes"
        ),
        "{stderr}"
    );
}

#[test]
fn ten_thousand_operators_are_refused() {
    let dir = TempDir::new("many-ops");
    let mut yaml = String::from("sources:\n  src: {type: csv, path: x.csv}\noperators:\n");
    let mut prev = "src".to_owned();
    for i in 0..10_000 {
        yaml.push_str(&format!(
            "  w{i}: {{type: anonymize, inputs: [{prev}], key_env: KEY}}\n"
        ));
        prev = format!("w{i}");
    }
    yaml.push_str(&format!(
        "sinks:\n  out: {{type: file, inputs: [{prev}], path: o.csv}}\n"
    ));
    let (code, stderr) = validate(&dir, "many.yaml", &yaml);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("many.yaml:1:1: pipeline: 10002 components; at most 1000 are supported"),
        "{stderr}"
    );
}

#[test]
fn a_pipeline_file_without_end_is_read_only_up_to_the_limit() {
    let dir = TempDir::new("zero");
    let out = limited(dir.path(), &["validate", "/dev/zero"], 30).expect("done within 30 s");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/zero:1:1: pipeline: the pipeline file is over 4194304 bytes"),
        "{stderr}"
    );
}
