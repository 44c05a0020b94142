//! The reader against the shared capture corpus and tshark's expectations
//! (`/work/shared/corpus/manifest.tsv`), plus following growing files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use netanom_capture::{CaptureReader, ErrorKind, Format, Next};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if dir.join("manifest.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "corpus not found at {} (skipping corpus tests)",
            dir.display()
        );
        None
    }
}

fn manifest(dir: &Path) -> Vec<HashMap<String, String>> {
    let text = fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), header.len(), "manifest row: {l}");
            header
                .iter()
                .cloned()
                .zip(fields.iter().map(|f| f.to_string()))
                .collect()
        })
        .collect()
}

/// tshark's `frame.time_epoch` (e.g. `1591780794.740079000`) in nanoseconds,
/// saturated like the reader. `None` for a value with more than 9 decimals
/// (tshark prints unnormalised sub-second fields that way).
fn parse_epoch(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 {
        return None;
    }
    let mut ns: i128 = int.parse::<i128>().ok()? * 1_000_000_000;
    let frac_val: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().ok()? * 10i128.pow(9 - frac.len() as u32)
    };
    ns += frac_val;
    if neg {
        ns = -ns;
    }
    Some(ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

#[derive(Debug, Default)]
struct Outcome {
    open_error: Option<(ErrorKind, u64)>,
    format: Option<Format>,
    /// (ts, linktype, section, interface, orig_len, data)
    frames: Vec<(i64, u32, u32, u32, u32, Vec<u8>)>,
    skipped: Vec<String>,
    partial: Option<u64>,
    /// `offset()` at the end.
    end_offset: u64,
    fatal: Option<String>,
}

fn read_file(path: &Path) -> Outcome {
    let mut out = Outcome::default();
    let mut r = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            out.open_error = Some((e.kind, e.offset));
            return out;
        }
    };
    out.format = Some(r.format());
    loop {
        let f = match r.next() {
            Next::Frame(f) => (f.ts, f.linktype, f.interface, f.orig_len, f.data.to_vec()),
            Next::Skipped(e) => {
                out.skipped.push(e.to_string());
                continue;
            }
            Next::End { partial } => {
                out.partial = Some(partial);
                out.end_offset = r.offset();
                break;
            }
            Next::Fatal(e) => {
                out.fatal = Some(e.to_string());
                break;
            }
        };
        out.frames.push((f.0, f.1, r.section(), f.2, f.3, f.4));
        assert!(out.frames.len() < 10_000_000);
    }
    out
}

/// Packet blocks according to pcap-parser (an independent parser):
/// (orig_len, captured bytes). `None` if pcap-parser cannot read the file.
#[allow(clippy::type_complexity)]
fn oracle(bytes: &[u8]) -> Option<Vec<(u32, Option<Vec<u8>>)>> {
    use pcap_parser::pcapng::Block;
    if let Ok(cap) = pcap_parser::PcapNGCapture::from_file(bytes) {
        let mut v = Vec::new();
        for s in &cap.sections {
            for b in &s.blocks {
                match b {
                    Block::EnhancedPacket(e) => {
                        v.push((e.origlen, Some(e.data.get(..e.caplen as usize)?.to_vec())))
                    }
                    Block::SimplePacket(s) => v.push((s.origlen, None)),
                    _ => {}
                }
            }
        }
        return Some(v);
    }
    // pcap: `PcapCapture::from_file` only knows little-endian records, so
    // pick the record parser from the header.
    let (mut rest, header) = pcap_parser::parse_pcap_header(bytes).ok()?;
    let parse = if header.is_modified_format() {
        pcap_parser::parse_pcap_frame_modified
    } else if header.is_bigendian() {
        pcap_parser::parse_pcap_frame_be
    } else {
        pcap_parser::parse_pcap_frame
    };
    let mut v = Vec::new();
    while !rest.is_empty() {
        let (r, b) = parse(rest).ok()?;
        v.push((b.origlen, Some(b.data.to_vec())));
        rest = r;
    }
    Some(v)
}

/// Link types per section from the manifest (`1,0;1;1,0`).
fn linktypes(s: &str) -> Vec<Vec<u32>> {
    if s == "-" {
        return Vec::new();
    }
    s.split(';')
        .map(|sec| sec.split(',').map(|x| x.parse().unwrap()).collect())
        .collect()
}

#[test]
fn corpus_matches_manifest() {
    let Some(dir) = corpus_dir() else { return };
    let rows = manifest(&dir);
    assert!(!rows.is_empty());
    // Files whose timestamps have sub-second fields out of range: tshark
    // prints artefacts (README, "Invalid timestamps"), the reader carries the
    // raw values. tshark computes `ts_usec * 1000` in 32 bits: for
    // atm-oam-loopback (ts_usec 1159821166) it prints .179996080, which is
    // 1159821166000 mod 2^32, where the reader gives +1159.821166 s.
    let raw_ts_files = [
        "tcpdump__timestamp_invalid_micro.pcap",
        "tcpdump__timestamp_invalid_nano.pcap",
        "tcpdump__atm-oam-loopback-print-overrun.pcap",
    ];
    let mut failures = Vec::new();
    let (mut ok_files, mut ok_matched, mut ts_checked, mut oracle_checked) = (0, 0, 0, 0);
    for row in &rows {
        let name = &row["file"];
        let path = dir.join(name);
        let out = read_file(&path);
        let records: usize = row["records_in_file"].parse().unwrap();
        let note = row["structure_note"].as_str();
        let mut fail = |msg: String| failures.push(format!("{name}: {msg}"));
        let summary = format!(
            "{} frames, {} skipped, end {:?}, fatal {:?}, open {:?}",
            out.frames.len(),
            out.skipped.len(),
            out.partial,
            out.fatal,
            out.open_error
        );
        eprintln!("{name:55} {summary}");

        // Format by magic number.
        match (row["format"].as_str(), out.format) {
            ("pcap", Some(Format::Pcap)) | ("pcapng", Some(Format::PcapNg)) => {}
            ("unknown", None) => {}
            (_, None) if note != "ok" => {}
            (want, got) => fail(format!("format {want} but read {got:?}")),
        }

        if note == "ok" {
            ok_files += 1;
            let good = out.open_error.is_none()
                && out.fatal.is_none()
                && out.skipped.is_empty()
                && out.partial == Some(0)
                && out.frames.len() == records;
            if good {
                ok_matched += 1;
            } else {
                fail(format!(
                    "expected {records} frames and a clean end: {summary}"
                ));
            }
        } else if name.starts_with("derived__") {
            // Cut-short files: the complete records, then End{partial > 0},
            // or Incomplete from `new` when the file header is cut.
            match out.open_error {
                Some((ErrorKind::Incomplete, 0)) if records == 0 => {}
                Some(e) => fail(format!("open error {e:?}")),
                None => {
                    if out.frames.len() != records || !matches!(out.partial, Some(p) if p > 0) {
                        fail(format!(
                            "expected {records} frames then End{{partial>0}}: {summary}"
                        ));
                    }
                }
            }
        } else if out.open_error.is_none()
            && out.fatal.is_none()
            && out.skipped.is_empty()
            && out.partial == Some(0)
            && out.frames.len() != records
        {
            // Unusual but well-framed files (snaplen, versions...): the
            // records must all come out.
            fail(format!("expected {records} frames: {summary}"));
        }

        // At the end, the reader has consumed the file but the partial record.
        if let Some(partial) = out.partial {
            let size = fs::metadata(&path).unwrap().len();
            if out.end_offset + partial != size {
                fail(format!(
                    "ended at offset {} with {partial} partial bytes, file has {size}",
                    out.end_offset
                ));
            }
        }

        // Timestamps: first and last frame, where tshark has them.
        if !out.frames.is_empty() && !raw_ts_files.contains(&name.as_str()) {
            for (col, frame) in [
                ("first_ts", out.frames.first()),
                ("last_ts", out.frames.last()),
            ] {
                let want = row[col].as_str();
                if want == "-" {
                    continue;
                }
                let Some(want_ns) = parse_epoch(want) else {
                    continue;
                };
                ts_checked += 1;
                let got = frame.map(|f| f.0);
                if got != Some(want_ns) {
                    fail(format!("{col} {want} = {want_ns} ns, read {got:?}"));
                }
            }
        }

        // Link types: each frame's link type is its interface's.
        let lts = linktypes(&row["linktypes"]);
        for f in &out.frames {
            let want = lts.get(f.2 as usize).and_then(|s| s.get(f.3 as usize));
            if want != Some(&f.1) {
                fail(format!(
                    "frame in section {} interface {} has link type {}, manifest says {:?}",
                    f.2, f.3, f.1, want
                ));
                break;
            }
        }

        // Packet bytes and lengths against pcap-parser, where it reads the file.
        if note == "ok" && !out.frames.is_empty() {
            let bytes = fs::read(&path).unwrap();
            let want = oracle(&bytes);
            if want.is_none() {
                eprintln!("{name}: pcap-parser cannot read it, not compared");
            }
            if let Some(want) = want {
                oracle_checked += 1;
                if want.len() != out.frames.len() {
                    fail(format!(
                        "pcap-parser finds {} packets, the reader {}",
                        want.len(),
                        out.frames.len()
                    ));
                } else {
                    for (i, (w, f)) in want.iter().zip(&out.frames).enumerate() {
                        let same = w.0 == f.4 && w.1.as_ref().is_none_or(|d| *d == f.5);
                        if !same {
                            fail(format!("packet {i} differs from pcap-parser's"));
                            break;
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{} files; {ok_matched}/{ok_files} 'ok' files matched records_in_file; \
         {ts_checked} timestamps compared; {oracle_checked} files compared with pcap-parser",
        rows.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(ok_matched, ok_files);
}

/// Frames read from `path` as (offset, ts, data).
fn all_frames(path: &Path) -> Vec<(u64, i64, Vec<u8>)> {
    let mut r = CaptureReader::open(path).unwrap();
    let mut v = Vec::new();
    loop {
        match r.next() {
            Next::Frame(f) => v.push((f.offset, f.ts, f.data.to_vec())),
            Next::End { partial: 0 } => return v,
            other => panic!("{other:?}"),
        }
    }
}

/// Writes the first `cut` bytes of `src` to a new file, reads it to the end,
/// appends the rest in `steps` pieces and reads on after each: every frame
/// must come out exactly once, in order.
fn follow(src: &Path, cut: usize, steps: usize) {
    let bytes = fs::read(src).unwrap();
    let want = all_frames(src);
    let tmp = std::env::temp_dir().join(format!(
        "netanom-capture-follow-{}-{}-{cut}",
        std::process::id(),
        src.file_name().unwrap().to_string_lossy()
    ));
    let mut w = fs::File::create(&tmp).unwrap();
    w.write_all(&bytes[..cut]).unwrap();
    w.flush().unwrap();
    let mut written = cut;
    let mut r = loop {
        match CaptureReader::open(&tmp) {
            Ok(r) => break r,
            Err(e) if e.kind == ErrorKind::Incomplete && written < bytes.len() => {
                // Header not complete yet (being written): add a few bytes.
                let next = (written + 5).min(bytes.len());
                w.write_all(&bytes[written..next]).unwrap();
                w.flush().unwrap();
                written = next;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut got = Vec::new();
    let step = (bytes.len() - cut).div_ceil(steps).max(1);
    loop {
        let partial = loop {
            match r.next() {
                Next::Frame(f) => got.push((f.offset, f.ts, f.data.to_vec())),
                Next::End { partial } => break partial,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(r.offset() + partial, written as u64);
        if written == bytes.len() {
            assert_eq!(partial, 0);
            break;
        }
        let next = (written + step).min(bytes.len());
        w.write_all(&bytes[written..next]).unwrap();
        w.flush().unwrap();
        written = next;
    }
    let _ = fs::remove_file(&tmp);
    assert_eq!(got, want, "{} cut at {cut}", src.display());
}

#[test]
fn follow_growing_pcap() {
    let Some(dir) = corpus_dir() else { return };
    let src = dir.join("tcpdump__ssh.pcap");
    let len = fs::metadata(&src).unwrap().len() as usize;
    // Half-way (inside a record), inside a record header, and in many steps.
    follow(&src, len / 2, 1);
    follow(&src, 2690, 1);
    follow(&src, 24, 37);
    follow(&src, 0, 3); // empty at first, header written in pieces
}

#[test]
fn follow_growing_pcapng() {
    let Some(dir) = corpus_dir() else { return };
    for name in [
        "PcapPlusPlus__many_interfaces-1.pcapng",
        "pcapng-test-generator__test202-le.pcapng",
    ] {
        let src = dir.join(name);
        let len = fs::metadata(&src).unwrap().len() as usize;
        follow(&src, len / 2, 1);
        follow(&src, len / 3, 17);
    }
    let src = dir.join("PcapPlusPlus__many_interfaces-1.pcapng");
    follow(&src, 700, 3); // inside an IDB
    follow(&src, 6318, 1); // inside a block header
    follow(&src, 10, 2); // inside the section header block
}

/// Every prefix of a few corpus files: no panic, and the frames are a prefix
/// of the whole file's.
#[test]
fn every_prefix_of_small_files() {
    let Some(dir) = corpus_dir() else { return };
    for name in [
        "tcpdump__dns_udp.pcap",
        "pcapng-test-generator__test202-le.pcapng",
        "pcap-parser__modified-format.pcap",
        "PcapPlusPlus__nanosecs_big_endian.pcap",
    ] {
        let bytes = fs::read(dir.join(name)).unwrap();
        let full = {
            let mut r = CaptureReader::new(&bytes[..], name).unwrap();
            let mut v = Vec::new();
            while let Next::Frame(f) = r.next() {
                v.push((f.offset, f.data.to_vec()));
            }
            v
        };
        for cut in 0..bytes.len() {
            let Ok(mut r) = CaptureReader::new(&bytes[..cut], name) else {
                continue;
            };
            let mut v = Vec::new();
            let partial = loop {
                match r.next() {
                    Next::Frame(f) => v.push((f.offset, f.data.to_vec())),
                    Next::End { partial } => break partial,
                    other => panic!("{name} cut {cut}: {other:?}"),
                }
            };
            assert_eq!(v[..], full[..v.len()], "{name} cut {cut}");
            assert_eq!(r.offset() + partial, cut as u64);
        }
    }
}
