//! Window aggregates against outside oracles: tshark's fields of the
//! sample capture (samples/quickstart.fields.tsv, made by
//! scripts/make-sample-oracles.sh), and the Wireshark CSV export of it.

use crate::util::{netanom, read_csv, root, text, TempDir};
use std::collections::{BTreeMap, BTreeSet};

fn parse_ns(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_owned();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    whole.parse::<i64>().expect("seconds") * 1_000_000_000 + frac.parse::<i64>().expect("fraction")
}

#[derive(Debug, Default, PartialEq, Clone)]
struct Agg {
    count: u64,
    bytes: u64,
    len_max: u64,
    dsts: BTreeSet<String>,
    sports: BTreeSet<String>,
    dports: BTreeSet<String>,
    syn: u64,
}

/// One frame as tshark dissected it.
struct Frame {
    ts: i64,
    src: String,
    dst: String,
    sport: Option<String>,
    dport: Option<String>,
    len: u64,
    syn: bool,
}

fn tshark_frames() -> Vec<Frame> {
    let text =
        std::fs::read_to_string(root().join("samples/quickstart.fields.tsv")).expect("fields.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (ts, ip_src, ip6_src, ip_dst, ip6_dst, eth_src, eth_dst) = (
        col("frame.time_epoch"),
        col("ip.src"),
        col("ipv6.src"),
        col("ip.dst"),
        col("ipv6.dst"),
        col("eth.src"),
        col("eth.dst"),
    );
    let (proto, nxt, tsp, usp, tdp, udp, len, flags) = (
        col("ip.proto"),
        col("ipv6.nxt"),
        col("tcp.srcport"),
        col("udp.srcport"),
        col("tcp.dstport"),
        col("udp.dstport"),
        col("frame.len"),
        col("tcp.flags"),
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let first = |a: usize, b: usize, c: usize| {
                [get(a), get(b), get(c)]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .unwrap_or("")
                    .to_owned()
            };
            // The outer transport header only: ICMP errors quote UDP ports.
            let l4 = if get(proto).is_empty() {
                get(nxt)
            } else {
                get(proto)
            };
            let (sport, dport) = match l4 {
                "6" => (get(tsp), get(tdp)),
                "17" => (get(usp), get(udp)),
                _ => ("", ""),
            };
            let flags = u16::from_str_radix(get(flags).trim_start_matches("0x"), 16).unwrap_or(0);
            Frame {
                ts: parse_ns(get(ts)),
                src: first(ip_src, ip6_src, eth_src),
                dst: first(ip_dst, ip6_dst, eth_dst),
                sport: (!sport.is_empty()).then(|| sport.to_owned()),
                dport: (!dport.is_empty()).then(|| dport.to_owned()),
                len: get(len).parse().expect("frame.len"),
                syn: l4 == "6" && flags & 0x12 == 0x02,
            }
        })
        .collect()
}

fn run_window(source: &str, size: &str, group_by: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let dir = TempDir::new("oracle");
    let out_path = dir.join("w.csv");
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  cap: {source}\noperators:\n  w: {{type: window, inputs: [cap], size: {size}, group_by: {group_by}}}\nsinks:\n  out: {{type: file, inputs: [w], path: {}}}\n",
            out_path.display()
        ),
    );
    let out = netanom(&["run", &p.display().to_string(), "-q", "-w", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    read_csv(&out_path)
}

/// 1 s windows per source address: counts, bytes, distinct destinations
/// and ports, SYNs, all as computed from tshark's own dissection.
#[test]
fn windows_by_src_equal_tshark_fields() {
    let size = 1_000_000_000i64;
    let mut want: BTreeMap<(i64, String), Agg> = BTreeMap::new();
    for f in tshark_frames() {
        let a = want
            .entry((f.ts.div_euclid(size) * size, f.src.clone()))
            .or_default();
        a.count += 1;
        a.bytes += f.len;
        a.len_max = a.len_max.max(f.len);
        a.dsts.insert(f.dst.clone());
        if let Some(p) = f.sport {
            a.sports.insert(p);
        }
        if let Some(p) = f.dport {
            a.dports.insert(p);
        }
        a.syn += u64::from(f.syn);
    }
    let (header, rows) = run_window("{type: pcap, path: samples/quickstart.pcap}", "1s", "[src]");
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    assert_eq!(rows.len(), want.len(), "number of (window, src) groups");
    for row in &rows {
        let key = (parse_ns(&row[col("window_start")]), row[col("src")].clone());
        let w = want
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected group {key:?}"));
        let got = |c: &str| row[col(c)].parse::<u64>().expect("number");
        assert_eq!(got("count"), w.count, "{key:?} count");
        assert_eq!(got("bytes"), w.bytes, "{key:?} bytes");
        assert_eq!(got("len_max"), w.len_max, "{key:?} len_max");
        assert_eq!(
            got("distinct_dsts"),
            w.dsts.len() as u64,
            "{key:?} distinct_dsts"
        );
        assert_eq!(
            got("distinct_sports"),
            w.sports.len() as u64,
            "{key:?} distinct_sports"
        );
        assert_eq!(
            got("distinct_dports"),
            w.dports.len() as u64,
            "{key:?} distinct_dports"
        );
        assert_eq!(got("syn_count"), w.syn, "{key:?} syn_count");
    }
    // The vertical scan is there: one source, 2000 ports, in one second.
    assert!(want
        .values()
        .any(|a| a.dports.len() >= 2000 && a.syn >= 2000));
}

/// The notebook's 10 ms windows per (src, dst).
#[test]
fn ten_ms_windows_by_pair_equal_tshark_fields() {
    let size = 10_000_000i64;
    let mut want: BTreeMap<(i64, String, String), (u64, u64, u64)> = BTreeMap::new();
    for f in tshark_frames() {
        let e = want
            .entry((f.ts.div_euclid(size) * size, f.src, f.dst))
            .or_default();
        e.0 += 1;
        e.1 += f.len;
        e.2 = e.2.max(f.len);
    }
    let (header, rows) = run_window(
        "{type: pcap, path: samples/quickstart.pcap}",
        "10ms",
        "[src, dst]",
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    let got: BTreeMap<(i64, String, String), (u64, u64, u64)> = rows
        .iter()
        .map(|r| {
            let n = |c: &str| r[col(c)].parse::<u64>().expect("number");
            (
                (
                    parse_ns(&r[col("window_start")]),
                    r[col("src")].clone(),
                    r[col("dst")].clone(),
                ),
                (n("count"), n("bytes"), n("len_max")),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "10 ms windows differ from tshark's fields");
}

/// The same capture through the CSV source (Wireshark's export, with its
/// relative Time shifted to epoch) and the pcap source gives the same
/// windows, except the fields a CSV export lacks (ports, flags).
#[test]
fn csv_export_and_pcap_give_the_same_windows() {
    let first_epoch = tshark_frames()[0].ts;
    let dir = TempDir::new("csvpcap");
    let text_in = std::fs::read_to_string(root().join("samples/quickstart.csv")).expect("csv");
    let mut shifted = String::new();
    for (i, line) in text_in.lines().enumerate() {
        if i == 0 {
            shifted.push_str(line);
        } else {
            // "No.","Time",...: the Time field is the second, quoted.
            let mut parts = line.splitn(3, "\",\"");
            let no = parts.next().expect("no");
            let t = parts.next().expect("time");
            let rest = parts.next().expect("rest");
            let ns = first_epoch + parse_ns(t);
            shifted.push_str(&format!(
                "{no}\",\"{}.{:09}\",\"{rest}",
                ns / 1_000_000_000,
                ns % 1_000_000_000
            ));
        }
        shifted.push('\n');
    }
    let csv = dir.write("epoch.csv", &shifted);
    let from_csv = run_window(
        &format!("{{type: csv, path: {}}}", csv.display()),
        "10ms",
        "[src, dst]",
    );
    let from_pcap = run_window(
        "{type: pcap, path: samples/quickstart.pcap}",
        "10ms",
        "[src, dst]",
    );
    assert_eq!(from_csv.0, from_pcap.0);
    let keep: Vec<usize> = from_csv
        .0
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            !matches!(
                h.as_str(),
                "distinct_sports" | "distinct_dports" | "syn_count"
            )
        })
        .map(|(i, _)| i)
        .collect();
    let project = |rows: &Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
            .collect()
    };
    assert!(from_csv.1.len() > 1000);
    assert!(
        project(&from_csv.1) == project(&from_pcap.1),
        "CSV and pcap windows differ"
    );
}
