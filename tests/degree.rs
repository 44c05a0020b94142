//! `degree`: equal to a plain hash-map computation over the packets, for
//! tumbling windows, min_count, top_k and `window: all`, with 1, 2 and 4
//! workers.

use crate::util::{netanom, root, text, TempDir};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// One output row: the degree columns after window_start, window_end, ip.
type Figures = [u64; 6];

/// Nanoseconds from the decimal seconds the sinks write.
fn nanos(text: &str) -> i64 {
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().expect("seconds") * 1_000_000_000 + frac[..9].parse::<i64>().expect("ns")
}

/// Decimal seconds as the sinks write them.
fn seconds(ns: i64) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

/// The order of `Addr`: IPv4, IPv6, MAC, then names.
fn addr_order(a: &str) -> (u8, Vec<u8>) {
    if let Ok(v4) = a.parse::<std::net::Ipv4Addr>() {
        return (1, v4.octets().to_vec());
    }
    if let Ok(v6) = a.parse::<std::net::Ipv6Addr>() {
        return (2, v6.octets().to_vec());
    }
    let hex: Vec<u8> = a
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    if hex.len() == 6 && a.len() == 17 {
        return (3, hex);
    }
    (4, a.as_bytes().to_vec())
}

/// (ts, src, dst) of every packet of a packet CSV written by netanom.
fn packets(csv: &Path) -> Vec<(i64, String, String)> {
    let text = std::fs::read_to_string(csv).expect("packets written");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    assert_eq!(&header[..3], ["ts", "src", "dst"]);
    lines
        .map(|l| {
            let mut cols = l.splitn(4, ',');
            let ts = nanos(cols.next().unwrap_or(""));
            let src = cols.next().unwrap_or("").to_owned();
            let dst = cols.next().unwrap_or("").to_owned();
            (ts, src, dst)
        })
        .collect()
}

/// The oracle: per window start, per address, the figures.
fn oracle(
    packets: &[(i64, String, String)],
    size: Option<i64>,
    min_count: u64,
    top_k: Option<usize>,
) -> BTreeMap<i64, HashMap<String, Figures>> {
    // window -> (src, dst) -> packets (= records: one per packet)
    let mut edges: BTreeMap<i64, HashMap<(String, String), u64>> = BTreeMap::new();
    for (ts, src, dst) in packets {
        if src.is_empty() || dst.is_empty() {
            continue;
        }
        let w = size.map_or(0, |s| ts.div_euclid(s) * s);
        *edges
            .entry(w)
            .or_default()
            .entry((src.clone(), dst.clone()))
            .or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for (w, es) in edges {
        let mut rows: HashMap<String, Figures> = HashMap::new();
        for ((src, dst), n) in es {
            if n < min_count {
                continue;
            }
            let s = rows.entry(src).or_default();
            s[1] += 1;
            s[3] += n;
            s[5] += n;
            let d = rows.entry(dst).or_default();
            d[0] += 1;
            d[2] += n;
            d[4] += n;
        }
        if let Some(k) = top_k {
            let mut ranked: Vec<(String, Figures)> = rows.into_iter().collect();
            ranked.sort_by(|a, b| {
                (b.1[0] + b.1[1])
                    .cmp(&(a.1[0] + a.1[1]))
                    .then_with(|| addr_order(&a.0).cmp(&addr_order(&b.0)))
            });
            ranked.truncate(k);
            rows = ranked.into_iter().collect();
        }
        out.insert(w, rows);
    }
    out
}

/// Output rows: (window_start, window_end, ip, figures).
fn rows(csv: &Path) -> Vec<(i64, i64, String, Figures)> {
    let (header, rows) = crate::util::read_csv(csv);
    assert_eq!(
        header,
        [
            "window_start",
            "window_end",
            "ip",
            "in_degree",
            "out_degree",
            "in_edges",
            "out_edges",
            "in_packets",
            "out_packets"
        ]
    );
    rows.into_iter()
        .map(|r| {
            let mut f = [0u64; 6];
            for (i, v) in r[3..9].iter().enumerate() {
                f[i] = v.parse().expect("number");
            }
            (nanos(&r[0]), nanos(&r[1]), r[2].clone(), f)
        })
        .collect()
}

/// Runs a capture through `degree` (options `degree`) with `workers`;
/// returns the packet CSV and the degree CSV bytes.
fn run(dir: &TempDir, capture: &Path, degree: &str, workers: &str) -> (Vec<u8>, Vec<u8>) {
    let pipeline = dir.write(
        "degree.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: {}}}\noperators:\n  graph: {{type: degree, inputs: [capture], {degree}}}\nsinks:\n  packets: {{type: file, inputs: [capture], path: {}}}\n  degrees: {{type: file, inputs: [graph], path: {}}}\n",
            capture.display(),
            dir.join("packets.csv").display(),
            dir.join("degrees.csv").display()
        ),
    );
    let out = netanom(&["run", &pipeline.display().to_string(), "-w", workers]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("late"),
        "late records make the oracle wrong: {stderr}"
    );
    (
        std::fs::read(dir.join("packets.csv")).expect("packets"),
        std::fs::read(dir.join("degrees.csv")).expect("degrees"),
    )
}

/// Checks tumbling windows (`size` ns) against the oracle.
fn check_windows(capture: &Path, size: i64, degree: &str, min_count: u64, top_k: Option<usize>) {
    let mut first: Option<Vec<u8>> = None;
    for workers in ["1", "2", "4"] {
        let dir = TempDir::new("degree");
        let (_, bytes) = run(&dir, capture, degree, workers);
        match &first {
            None => {
                let want = oracle(
                    &packets(&dir.join("packets.csv")),
                    Some(size),
                    min_count,
                    top_k,
                );
                let mut got: BTreeMap<i64, HashMap<String, Figures>> = BTreeMap::new();
                let all = rows(&dir.join("degrees.csv"));
                assert!(!all.is_empty(), "{degree}: no rows");
                for (start, end, ip, f) in all {
                    assert_eq!(end - start, size, "{degree}: window end");
                    let dup = got.entry(start).or_default().insert(ip.clone(), f);
                    assert!(
                        dup.is_none(),
                        "{degree}: two rows for {ip} in {}",
                        seconds(start)
                    );
                }
                let want: BTreeMap<i64, HashMap<String, Figures>> =
                    want.into_iter().filter(|(_, r)| !r.is_empty()).collect();
                for (w, rows) in &want {
                    assert_eq!(got.get(w), Some(rows), "{degree}: window {}", seconds(*w));
                }
                assert_eq!(got.len(), want.len(), "{degree}: windows");
                first = Some(bytes);
            }
            Some(one) => assert!(
                *one == bytes,
                "{degree}: output differs between 1 and {workers} workers"
            ),
        }
    }
}

/// Checks `window: all`: the last row per address is its degree over the
/// whole capture, and an address's consecutive rows differ.
fn check_all(capture: &Path, degree: &str, min_count: u64) {
    let mut first: Option<Vec<u8>> = None;
    for workers in ["1", "2", "4"] {
        let dir = TempDir::new("degree-all");
        let (_, bytes) = run(&dir, capture, degree, workers);
        match &first {
            None => {
                let want = oracle(&packets(&dir.join("packets.csv")), None, min_count, None)
                    .remove(&0)
                    .unwrap_or_default();
                let mut last: HashMap<String, (i64, Figures)> = HashMap::new();
                let mut ends = HashSet::new();
                for (start, end, ip, f) in rows(&dir.join("degrees.csv")) {
                    assert_eq!(start, 0);
                    ends.insert(end);
                    if let Some((prev_end, prev)) = last.get(&ip) {
                        assert!(*prev_end < end, "{ip}: rows out of order");
                        assert_ne!(*prev, f, "{ip}: a row that did not change");
                    }
                    last.insert(ip, (end, f));
                }
                let got: HashMap<String, Figures> =
                    last.into_iter().map(|(ip, (_, f))| (ip, f)).collect();
                assert_eq!(got, want, "{degree}");
                assert!(ends.len() > 1, "rows at several ticks");
                first = Some(bytes);
            }
            Some(one) => assert!(
                *one == bytes,
                "{degree}: output differs between 1 and {workers} workers"
            ),
        }
    }
}

fn quickstart() -> std::path::PathBuf {
    root().join("samples/quickstart.pcap")
}

const SECOND: i64 = 1_000_000_000;

#[test]
fn tumbling_windows_match_a_hash_map_computation() {
    check_windows(&quickstart(), SECOND, "window: 1s", 1, None);
    check_windows(&quickstart(), SECOND / 100, "window: 10ms", 1, None);
}

#[test]
fn min_count_and_top_k_match_a_hash_map_computation() {
    check_windows(&quickstart(), SECOND, "window: 1s, min_count: 11", 11, None);
    check_windows(
        &quickstart(),
        2 * SECOND,
        "window: 2s, top_k: 3",
        1,
        Some(3),
    );
}

#[test]
fn window_all_matches_a_hash_map_computation() {
    check_all(&quickstart(), "window: all", 1);
    check_all(&quickstart(), "window: all, min_count: 11", 11);
}

#[test]
fn a_generated_capture_matches_a_hash_map_computation() {
    let dir = TempDir::new("degree-gen");
    let Some(capture) = crate::util::generated_capture(&dir, 60_000, 7) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    check_windows(&capture, SECOND, "window: 1s", 1, None);
    check_windows(
        &capture,
        SECOND,
        "window: 1s, min_count: 3, top_k: 20",
        3,
        Some(20),
    );
    check_all(&capture, "window: all, min_count: 2", 2);
}

/// Hopping windows: each window holds the packets of `[start, start+size)`.
#[test]
fn hopping_windows_are_identical_for_1_2_4_workers_and_cover_their_packets() {
    let mut first: Option<Vec<u8>> = None;
    for workers in ["1", "2", "4"] {
        let dir = TempDir::new("degree-hop");
        let (_, bytes) = run(&dir, &quickstart(), "window: 2s, slide: 1s", workers);
        if first.is_none() {
            let packets = packets(&dir.join("packets.csv"));
            let got = rows(&dir.join("degrees.csv"));
            assert!(!got.is_empty());
            // Per window: the sum of out_packets is the packets in it.
            let mut sums: BTreeMap<i64, u64> = BTreeMap::new();
            for (start, end, _, f) in &got {
                assert_eq!(end - start, 2 * SECOND);
                *sums.entry(*start).or_default() += f[5];
            }
            for (start, sum) in sums {
                let want = packets
                    .iter()
                    .filter(|(ts, s, d)| {
                        *ts >= start && *ts < start + 2 * SECOND && !s.is_empty() && !d.is_empty()
                    })
                    .count() as u64;
                assert_eq!(sum, want, "window {}", seconds(start));
            }
            first = Some(bytes);
        } else {
            assert!(first.as_ref() == Some(&bytes), "{workers} workers differ");
        }
    }
}

/// The notebook pipeline: window records in, one row per change.
#[test]
fn the_notebook_pipeline_counts_window_rows_as_edges() {
    let dir = TempDir::new("notebook");
    let (out, files) = crate::util::run_into(
        &root().join("pipelines/notebook.yaml"),
        dir.path(),
        &["-w", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let path = |id: &str| {
        files
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, p)| p.clone())
            .expect(id)
    };
    // The oracle from the (anonymized) flows table: edges are the rows of
    // one (src, dst) pair; weight the sum of their counts.
    let (header, flows) = crate::util::read_csv(&path("flows_out"));
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (src, dst, count) = (col("src"), col("dst"), col("count"));
    let mut edges: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for r in &flows {
        if r[src].is_empty() || r[dst].is_empty() {
            continue;
        }
        let e = edges.entry((r[src].clone(), r[dst].clone())).or_default();
        e.0 += 1;
        e.1 += r[count].parse::<u64>().expect("count");
    }
    let mut want: HashMap<String, Figures> = HashMap::new();
    for ((s, d), (records, packets)) in edges {
        if packets < 11 {
            continue;
        }
        let f = want.entry(s).or_default();
        f[1] += 1;
        f[3] += records;
        f[5] += packets;
        let f = want.entry(d).or_default();
        f[0] += 1;
        f[2] += records;
        f[4] += packets;
    }
    let mut last: HashMap<String, Figures> = HashMap::new();
    for (_, _, ip, f) in rows(&path("degrees_out")) {
        last.insert(ip, f);
    }
    assert!(!want.is_empty());
    assert_eq!(last, want);
}

/// A capture much larger than a source reads per activation, through
/// degree operators of every kind into file and console sinks: flow
/// control must never stall (an operator holding a capability at an early
/// time would stop every source).
#[test]
fn a_large_capture_runs_through_degree_without_stalling() {
    let dir = TempDir::new("degree-large");
    let Some(capture) = crate::util::generated_capture(&dir, 120_000, 5) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    let pipeline = dir.write(
        "large.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: {}}}\noperators:\n  flows: {{type: window, inputs: [capture], size: 10ms}}\n  tumbling: {{type: degree, inputs: [capture], window: 1s}}\n  hopping: {{type: degree, inputs: [capture], window: 2s, slide: 1s, top_k: 5}}\n  all: {{type: degree, inputs: [flows], min_count: 11}}\nsinks:\n  t: {{type: file, inputs: [tumbling], path: {}}}\n  h: {{type: console, inputs: [hopping]}}\n  a: {{type: file, inputs: [all], path: {}}}\n",
            capture.display(),
            dir.join("t.csv").display(),
            dir.join("a.csv").display()
        ),
    );
    for workers in ["1", "2"] {
        let out = crate::util::netanom_within(
            &["run", &pipeline.display().to_string(), "-w", workers],
            120,
        )
        .expect("the run finishes (no stall)");
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("== h =="), "{stdout}");
        assert!(stdout.contains("highest degrees"), "{stdout}");
        for f in ["t.csv", "a.csv"] {
            let rows = std::fs::read_to_string(dir.join(f))
                .expect("written")
                .lines()
                .count();
            assert!(rows > 10, "{f}: {rows} lines");
        }
    }
}
