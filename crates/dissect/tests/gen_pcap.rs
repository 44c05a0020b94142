//! Generated traffic whose Wireshark-style CSV matches tshark packet for
//! packet (`../shared/tools/gen_pcap.py`): every packet's Protocol, Source
//! and Destination must come out the same, and TCP ports and flags as the
//! Info column shows them.

use crate::support::{frames, split_quoted_csv};
use netanom_records::packet::tcp_flags;
use netanom_records::Packet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn generator() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/gen_pcap.py");
    script.is_file().then_some(script)
}

/// Writes `packets` packets with `seed` into a fresh temporary directory;
/// returns the pcap and CSV paths, or `None` (with a message) if python3 or
/// the script is missing.
fn generate(packets: u32, seed: u32) -> Option<(PathBuf, PathBuf)> {
    let Some(script) = generator() else {
        eprintln!("skipped: ../shared/tools/gen_pcap.py is not there");
        return None;
    };
    let dir =
        std::env::temp_dir().join(format!("netanom-dissect-gen-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let (pcap, csv) = (dir.join("g.pcap"), dir.join("g.csv"));
    let status = Command::new("python3")
        .arg(&script)
        .args([
            "-n",
            &packets.to_string(),
            "-s",
            &seed.to_string(),
            "-q",
            "--no-labels",
        ])
        .arg("-o")
        .arg(&pcap)
        .arg("--csv")
        .arg(&csv)
        .status();
    match status {
        Ok(s) if s.success() => Some((pcap, csv)),
        other => {
            eprintln!("skipped: python3 {} failed: {other:?}", script.display());
            None
        }
    }
}

/// The TCP ports and flags in an Info column like
/// `[TCP Retransmission] 51234 → 443 [SYN, ACK] Seq=0 ...`.
fn tcp_info(info: &str) -> Option<(u16, u16, u16)> {
    let (before, after) = info.split_once(" \u{2192} ")?;
    let sport = before.rsplit(' ').next()?.parse().ok()?;
    let (dport, rest) = after.split_once(' ')?;
    let flags_text = rest.strip_prefix('[')?.split_once(']')?.0;
    let mut flags = 0;
    for name in flags_text.split(", ") {
        flags |= match name {
            "FIN" => tcp_flags::FIN,
            "SYN" => tcp_flags::SYN,
            "RST" => tcp_flags::RST,
            "PSH" => tcp_flags::PSH,
            "ACK" => tcp_flags::ACK,
            "URG" => tcp_flags::URG,
            _ => return None,
        };
    }
    Some((sport, dport.parse().ok()?, flags))
}

#[test]
fn info_parsing() {
    assert_eq!(
        tcp_info("[TCP Retransmission] 51234 \u{2192} 443 [SYN, ACK] Seq=0"),
        Some((51234, 443, 0x012))
    );
    assert_eq!(tcp_info("Client Hello"), None);
}

fn check(packets: u32, seed: u32) {
    let Some((pcap, csv)) = generate(packets, seed) else {
        return;
    };
    let frames = frames::load(&pcap).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Vec<String>> = text.lines().skip(1).map(split_quoted_csv).collect();
    assert_eq!(
        frames.len(),
        rows.len(),
        "pcap and CSV disagree on the packet count"
    );
    let mut pkt = Packet::default();
    let mut mismatches = Vec::new();
    let mut tcp_checked = 0;
    for (i, (frame, row)) in frames.iter().zip(&rows).enumerate() {
        netanom_dissect::dissect(frame.linktype, &frame.data, &mut pkt);
        let (src, dst, proto, info) = (&row[2], &row[3], &row[4], &row[6]);
        let ours = (
            pkt.protocol.to_string(),
            pkt.src.to_string(),
            pkt.dst.to_string(),
        );
        if (&ours.0, &ours.1, &ours.2) != (proto, src, dst) {
            mismatches.push(format!(
                "#{}: csv {proto} {src} -> {dst}, ours {} {} -> {}",
                i + 1,
                ours.0,
                ours.1,
                ours.2
            ));
        }
        if proto == "TCP" {
            if let Some((sport, dport, flags)) = tcp_info(info) {
                tcp_checked += 1;
                if (pkt.sport, pkt.dport, pkt.tcp_flags) != (Some(sport), Some(dport), Some(flags))
                {
                    mismatches.push(format!(
                        "#{}: csv ports {sport}->{dport} flags {flags:#05x}, ours {:?}->{:?} {:?}",
                        i + 1,
                        pkt.sport,
                        pkt.dport,
                        pkt.tcp_flags
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(pcap.parent().unwrap_or(Path::new("/nonexistent")));
    for line in mismatches.iter().take(30) {
        eprintln!("  {line}");
    }
    eprintln!(
        "gen_pcap -n {packets} -s {seed}: {}/{} packets agree with the CSV (protocol, source, destination); {tcp_checked} TCP ports/flags checked",
        rows.len() - mismatches.len().min(rows.len()),
        rows.len()
    );
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
    assert!(tcp_checked > 0);
}

#[test]
fn generated_traffic_matches_csv() {
    check(20_000, 7);
}

#[test]
fn generated_traffic_matches_csv_other_seed() {
    check(5_000, 11);
}
