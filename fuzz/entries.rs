//! The fuzz targets' entry points, shared by the cargo-fuzz binaries
//! (fuzz/fuzz_targets/*.rs) and the default test suite, which replays every
//! saved crash input through them (tests/fuzz_regressions.rs). Each one
//! returns normally on any input; a panic is a finding.

use netanom_capture::{CaptureReader, Next};
use netanom_records::{Duration, Packet};

/// A target's entry point.
pub type Entry = fn(&[u8]);

/// The targets, by name (the directory names under
/// tests/data/fuzz-regressions and fuzz/corpus).
pub const TARGETS: &[(&str, Entry)] = &[
    ("capture", capture),
    ("dissect", dissect),
    ("csv", csv),
    ("config", config),
    ("duration_set", duration_set),
];

/// pcap/pcapng reader and packet decoder: every frame the file yields is
/// dissected, as the pcap source does.
pub fn capture(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(std::io::Cursor::new(data), "fuzz") else {
        return;
    };
    let mut packet = Packet::default();
    // Each call consumes input or ends, so a correct reader never reaches
    // this bound.
    for _ in 0..=data.len() {
        match reader.next() {
            Next::Frame(frame) => {
                netanom_dissect::dissect(frame.linktype, frame.data, &mut packet);
            }
            Next::Skipped(_) => {}
            Next::End { .. } | Next::Fatal(_) => return,
        }
    }
    panic!("the reader did not finish {} bytes", data.len());
}

/// The packet decoder alone: the first two bytes (little-endian) are the
/// link type, the rest is the frame.
pub fn dissect(data: &[u8]) {
    let [a, b, frame @ ..] = data else {
        return;
    };
    let linktype = u32::from(u16::from_le_bytes([*a, *b]));
    let mut packet = Packet::default();
    netanom_dissect::dissect(linktype, frame, &mut packet);
}

/// The CSV source's parser: header, quoting, times, lengths, ports.
pub fn csv(data: &[u8]) {
    let _ = netanom_sources::csv::read_bytes(data);
}

/// The pipeline parser and validator (`netanom validate`'s entry point).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(problems) = netanom_config::parse(text, "fuzz.yaml", &[]) {
        // Every problem renders as FILE:LINE:COL: ID: message.
        let _ = problems.to_string();
    }
}

/// A small valid pipeline for `--set` to change (its files need not exist:
/// validation reports that and goes on).
const PIPELINE: &str = "sources:
  src: {type: csv, path: tests/data/tiny.csv}
operators:
  win: {type: window, inputs: [src], size: 10ms, group_by: [src, dst]}
sinks:
  out: {type: file, inputs: [win], path: out/flows.csv}
";

/// Durations and `--set`: the first line is parsed as a duration (which
/// must print as text that parses back to it), each further line is a
/// `--set ID.KEY=VALUE` argument applied to [`PIPELINE`].
pub fn duration_set(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    if let Ok(d) = first.parse::<Duration>() {
        let again: Result<Duration, _> = d.to_string().parse();
        assert_eq!(again.ok(), Some(d), "`{first}` does not print back");
    }
    let sets: Vec<String> = lines.map(str::to_owned).collect();
    if let Err(problems) = netanom_config::parse(PIPELINE, "fuzz.yaml", &sets) {
        let _ = problems.to_string();
    }
}
