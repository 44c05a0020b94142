//! The generator against the dissector: every frame is the protocol the
//! generator meant, the CSV export describes the same packets, labels cover
//! the attacks, and a seed always gives the same bytes.

use netanom_capture::{CaptureReader, Next};
use netanom_generate::{generate, At, AttackKind, CsvTime, Format, Label, Options, Proto};
use netanom_records::Packet;
use std::path::PathBuf;

fn run(opts: &Options) -> (Vec<u8>, String, String) {
    let (mut pcap, mut csv, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let summary = generate(opts, &mut pcap, Some(&mut csv), Some(&mut labels)).expect("generate");
    assert_eq!(summary.packets, opts.packets);
    (
        pcap,
        String::from_utf8(csv).expect("CSV is UTF-8"),
        String::from_utf8(labels).expect("labels are ASCII"),
    )
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("netanom-gen-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).expect("write temp capture");
    p
}

/// Splits one CSV row of quoted fields (quotes doubled inside).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn dissected(path: &std::path::Path) -> Vec<(Packet, u64)> {
    let mut reader = CaptureReader::open(path).expect("open generated capture");
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Next::Frame(f) => {
                let mut p = Packet {
                    length: f.orig_len,
                    ..Packet::default()
                };
                netanom_dissect::dissect(f.linktype, f.data, &mut p);
                out.push((p, f.ts as u64));
            }
            Next::Skipped(s) => panic!("generated capture has a bad record: {s:?}"),
            Next::End { .. } => break,
            Next::Fatal(e) => panic!("generated capture unreadable: {e:?}"),
        }
    }
    out
}

#[test]
fn every_frame_dissects_to_the_intended_protocol_and_matches_its_csv_row() {
    for format in [Format::Pcap, Format::Pcapng] {
        let opts = Options {
            packets: 60_000,
            seed: 3,
            format,
            csv_time: CsvTime::Epoch,
            ..Options::default()
        };
        let (pcap, csv, _) = run(&opts);
        let path = temp(&format!("{format:?}.cap"), &pcap);
        let packets = dissected(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(packets.len(), 60_000, "{format:?}: every record readable");
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), packets.len());
        let mut seen = std::collections::BTreeSet::new();
        for (i, ((p, ts), row)) in packets.iter().zip(&rows).enumerate() {
            let f = fields(row);
            assert_eq!(f.len(), 7, "row {}: {row}", i + 1);
            assert_eq!(f[0], (i + 1).to_string());
            assert_eq!(p.protocol.to_string(), f[4], "packet {}: {row}", i + 1);
            assert_eq!(p.length.to_string(), f[5], "packet {}", i + 1);
            // The CSV's epoch time is the frame's, to the microsecond.
            let us: u64 = f[1].replace('.', "").parse().expect("time");
            assert_eq!(us * 1000, *ts, "packet {}", i + 1);
            if f[4] != "ARP" {
                assert_eq!(p.src.to_string(), f[2], "packet {}", i + 1);
                assert_eq!(p.dst.to_string(), f[3], "packet {}", i + 1);
            }
            seen.insert(f[4].clone());
        }
        for proto in Proto::ALL {
            assert!(
                seen.contains(proto.name()),
                "{format:?}: no {} packet",
                proto.name()
            );
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let opts = Options {
        packets: 20_000,
        seed: 9,
        ..Options::default()
    };
    let a = run(&opts);
    let b = run(&opts);
    assert!(
        a == b,
        "same options must give identical capture, CSV and labels"
    );
    let c = run(&Options { seed: 10, ..opts });
    assert_ne!(a.0, c.0);
}

#[test]
fn labels_cover_every_attack_packet_and_only_them() {
    let opts = Options {
        packets: 200_000,
        seed: 5,
        csv_time: CsvTime::Epoch,
        attacks: vec![
            (AttackKind::VerticalScan, At::Seconds(1.0)),
            (AttackKind::HorizontalScan, At::Seconds(3.0)),
            (AttackKind::IcmpFlood, At::Fraction(0.6)),
            (AttackKind::DnsExfiltration, At::Fraction(0.8)),
        ],
        ..Options::default()
    };
    let (_, csv, labels) = run(&opts);
    let labels: Vec<&str> = labels.lines().skip(1).collect();
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(fields).collect();
    assert_eq!(labels.len(), rows.len());
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for (i, (l, row)) in labels.iter().zip(&rows).enumerate() {
        let (no, label) = l.split_once(',').expect("No.,label");
        assert_eq!(no, (i + 1).to_string());
        *counts.entry(label).or_default() += 1;
        let (src, dst, info) = (&row[2], &row[3], &row[6]);
        let involves = |ip: &str| src == ip || dst == ip;
        // What each attacker does is labelled, and nothing else is.
        let expected = if involves("192.168.1.77") && row[4] == "TCP" && involves("192.168.1.5") {
            Some("vscan")
        } else if involves("192.168.1.66")
            && (info.contains("\u{2192} 445 [") || info.starts_with("445 "))
        {
            Some("hscan")
        } else if involves("198.51.100.250") {
            Some("icmp_flood")
        } else if info.contains("tunnel.example.net") {
            Some("dns_exfil")
        } else {
            None
        };
        if let Some(e) = expected {
            assert_eq!(label, e, "packet {}: {:?}", i + 1, row);
        } else if label != "normal" {
            panic!(
                "packet {} labelled {label} but looks normal: {row:?}",
                i + 1
            );
        }
    }
    for l in Label::ALL {
        assert!(
            counts.get(l.name()).copied().unwrap_or(0) >= 10,
            "{} packets: {counts:?}",
            l.name()
        );
    }
    // The vertical scan starts at 1 s: its first packet is about then.
    let first = labels
        .iter()
        .position(|l| l.ends_with(",vscan"))
        .expect("vscan present");
    let t0: f64 = rows[0][1].parse().expect("time");
    let t: f64 = rows[first][1].parse().expect("time");
    assert!((t - t0 - 1.0).abs() < 0.1, "vscan starts at {} s", t - t0);
}

#[test]
fn bad_rate_is_an_error_not_a_panic() {
    let opts = Options {
        rate: 0.0,
        ..Options::default()
    };
    assert!(generate(&opts, Vec::new(), None, None).is_err());
    let opts = Options {
        attacks: vec![(AttackKind::IcmpFlood, At::Fraction(2.0))],
        ..Options::default()
    };
    assert!(generate(&opts, Vec::new(), None, None).is_err());
    for (start, rate) in [
        (u64::MAX, 20_000.0),
        (4_294_966_000, 20_000.0),
        (0, 0.5),
        (0, f64::NAN),
    ] {
        let opts = Options {
            start,
            rate,
            ..Options::default()
        };
        assert!(
            generate(&opts, Vec::new(), None, None).is_err(),
            "start {start}, rate {rate}"
        );
    }
}
