//! Property tests over the whole binary: degree counts and window
//! aggregates of generated traffic equal a naive model, for tumbling and
//! hopping windows, with packets out of order.
//! (Unit-level properties: window assignment in
//! crates/operators/src/windowing.rs, Crypto-PAn prefixes in
//! crates/operators/src/cryptopan.rs, CSV round trip in
//! crates/sources/src/csv.rs.)

use crate::util::{netanom, read_csv, text, TempDir};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const MS: i64 = 1_000_000;
/// Generated times start here (epoch nanoseconds), clear of zero.
const BASE: i64 = 1_000_000_000_000;
const HOSTS: [&str; 5] = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "192.168.1.9",
    "2001:db8::5",
];

/// Figures of one address in one window, in output column order:
/// in_degree, out_degree, in_edges, out_edges, in_packets, out_packets.
type Figures = [u64; 6];

/// The naive model: every window start `k * slide` whose `[start, start
/// + size)` holds the packet, found by scanning all candidate starts.
fn naive(
    packets: &[(i64, usize, usize)],
    size: i64,
    slide: i64,
    min_count: u64,
) -> BTreeMap<(i64, String), Figures> {
    let mut edges: BTreeMap<(i64, usize, usize), u64> = BTreeMap::new();
    for &(ts, src, dst) in packets {
        let mut start = (ts - size).div_euclid(slide) * slide;
        while start <= ts {
            if start <= ts && ts < start + size {
                *edges.entry((start, src, dst)).or_default() += 1;
            }
            start += slide;
        }
    }
    let mut out: BTreeMap<(i64, String), Figures> = BTreeMap::new();
    for ((start, src, dst), n) in edges {
        if n < min_count {
            continue;
        }
        let s = out.entry((start, HOSTS[src].to_owned())).or_default();
        s[1] += 1;
        s[3] += n;
        s[5] += n;
        let d = out.entry((start, HOSTS[dst].to_owned())).or_default();
        d[0] += 1;
        d[2] += n;
        d[4] += n;
    }
    out
}

fn nanos(text: &str) -> i64 {
    let (s, f) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{f:0<9}");
    s.parse::<i64>().unwrap_or(0) * 1_000_000_000 + frac[..9].parse::<i64>().unwrap_or(0)
}

/// Packets (ts, src, dst, protocol, length) as Wireshark's CSV export,
/// addresses from [`HOSTS`].
fn wireshark_csv<'a>(packets: impl Iterator<Item = (i64, usize, usize, &'a str, u64)>) -> String {
    let mut csv = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
    for (i, (ts, src, dst, protocol, len)) in packets.enumerate() {
        csv.push_str(&format!(
            "{},{}.{:09},{},{},{protocol},{len},\n",
            i + 1,
            ts / 1_000_000_000,
            ts % 1_000_000_000,
            HOSTS[src],
            HOSTS[dst]
        ));
    }
    csv
}

/// Runs `degree` over the packets written as CSV; rows by (start, ip).
fn run_degree(
    packets: &[(i64, usize, usize)],
    size: i64,
    slide: i64,
    min_count: u64,
) -> Result<BTreeMap<(i64, String), Figures>, String> {
    let dir = TempDir::new("degree-prop");
    let data = dir.write(
        "packets.csv",
        &wireshark_csv(
            packets
                .iter()
                .map(|&(ts, src, dst)| (ts, src, dst, "UDP", 100)),
        ),
    );
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  src: {{type: csv, path: {}}}\noperators:\n  g: {{type: degree, inputs: [src], window: {}ms, slide: {}ms, min_count: {min_count}}}\nsinks:\n  o: {{type: file, inputs: [g], path: {}}}\n",
            data.display(),
            size / MS,
            slide / MS,
            dir.join("degrees.csv").display()
        ),
    );
    let out = netanom(&["run", &p.display().to_string(), "-w", "2"]);
    let (_, stderr) = text(&out);
    if out.status.code() != Some(0) || stderr.contains("late") {
        return Err(stderr);
    }
    let (header, rows) = read_csv(&dir.join("degrees.csv"));
    if header.len() != 9 {
        return Err(format!("header {header:?}"));
    }
    let mut got = BTreeMap::new();
    for r in rows {
        let mut f = [0u64; 6];
        for (i, v) in r[3..9].iter().enumerate() {
            f[i] = v.parse().map_err(|_| format!("row {r:?}"))?;
        }
        if nanos(&r[1]) - nanos(&r[0]) != size {
            return Err(format!("window length in {r:?}"));
        }
        if got.insert((nanos(&r[0]), r[2].clone()), f).is_some() {
            return Err(format!("two rows for {r:?}"));
        }
    }
    Ok(got)
}

/// Window length and slide in ms: tumbling or hopping, a slide that
/// divides the length or not.
fn windows() -> impl Strategy<Value = (i64, i64)> {
    prop_oneof![
        Just((1000, 1000)),
        Just((1000, 500)),
        Just((1000, 300)),
        Just((500, 200)),
        Just((2000, 700)),
    ]
}

proptest! {
    // Each case runs the binary: few cases, small inputs.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn degree_counts_equal_a_naive_model(
        mut packets in proptest::collection::vec((0i64..4000, 0usize..5, 0usize..5), 1..120),
        (size, slide) in windows(),
        min_count in 1u64..3,
    ) {
        packets.sort();
        let packets: Vec<(i64, usize, usize)> =
            packets.into_iter().map(|(ms, s, d)| (BASE + ms * MS, s, d)).collect();
        let want = naive(&packets, size * MS, slide * MS, min_count);
        let got = run_degree(&packets, size * MS, slide * MS, min_count)
            .map_err(TestCaseError::fail)?;
        let starts: BTreeSet<i64> = want.keys().map(|(s, _)| *s).collect();
        prop_assert_eq!(got, want, "windows {:?}", starts);
    }
}

/// Aggregates of one (window start, src, dst, protocol): count, bytes,
/// len_max.
type Aggregates = [u64; 3];

const PROTOCOLS: [&str; 3] = ["UDP", "TCP", "DNS"];

/// Packets as (ts, src, dst, protocol, length).
type Pkt = (i64, usize, usize, usize, u64);

fn naive_windows(packets: &[Pkt], size: i64, slide: i64) -> BTreeMap<(i64, String), Aggregates> {
    let mut out: BTreeMap<(i64, String), Aggregates> = BTreeMap::new();
    for &(ts, src, dst, protocol, len) in packets {
        let mut start = (ts - size).div_euclid(slide) * slide;
        while start <= ts {
            if ts < start + size {
                let key = format!("{},{},{}", HOSTS[src], HOSTS[dst], PROTOCOLS[protocol]);
                let a = out.entry((start, key)).or_default();
                a[0] += 1;
                a[1] += len;
                a[2] = a[2].max(len);
            }
            start += slide;
        }
    }
    out
}

/// Runs `window` by src, dst, protocol over the packets, in the order
/// given, as CSV; rows by (start, "src,dst,protocol").
fn run_windows(
    packets: &[Pkt],
    size: i64,
    slide: i64,
    workers: &str,
) -> Result<BTreeMap<(i64, String), Aggregates>, String> {
    let dir = TempDir::new("window-prop");
    let data = dir.write(
        "packets.csv",
        &wireshark_csv(
            packets
                .iter()
                .map(|&(ts, src, dst, protocol, len)| (ts, src, dst, PROTOCOLS[protocol], len)),
        ),
    );
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  src: {{type: csv, path: {}, out_of_order: 2s}}\noperators:\n  w: {{type: window, inputs: [src], size: {}ms, slide: {}ms}}\nsinks:\n  o: {{type: file, inputs: [w], path: {}}}\n",
            data.display(),
            size / MS,
            slide / MS,
            dir.join("windows.csv").display()
        ),
    );
    let out = netanom(&["run", &p.display().to_string(), "-w", workers]);
    let (_, stderr) = text(&out);
    if out.status.code() != Some(0) || stderr.contains("late") {
        return Err(stderr);
    }
    let (header, rows) = read_csv(&dir.join("windows.csv"));
    if header.get(5).map(String::as_str) != Some("count") {
        return Err(format!("header {header:?}"));
    }
    let mut got = BTreeMap::new();
    for r in rows {
        let num = |i: usize| r[i].parse::<u64>().map_err(|_| format!("row {r:?}"));
        if nanos(&r[1]) - nanos(&r[0]) != size {
            return Err(format!("window length in {r:?}"));
        }
        let key = format!("{},{},{}", r[2], r[3], r[4]);
        if got
            .insert((nanos(&r[0]), key), [num(5)?, num(6)?, num(8)?])
            .is_some()
        {
            return Err(format!("two rows for {r:?}"));
        }
    }
    Ok(got)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Packets come in time order but for some that come later than
    /// packets up to half a second newer: the windows they fall in may
    /// already be put in key order (sealed) when they come, and must
    /// take them all the same.
    #[test]
    fn window_aggregates_equal_a_naive_model_out_of_order(
        mut packets in proptest::collection::vec(
            (0i64..4000, 0usize..5, 0usize..5, 0usize..3, 60u64..1500), 1..1500),
        delays in proptest::collection::vec((0usize..1500, 1usize..400), 0..40),
        (size, slide) in prop_oneof![Just((10, 10)), Just((20, 10)), Just((100, 30))],
        workers in prop_oneof![Just("1"), Just("2")],
    ) {
        packets.sort();
        let mut packets: Vec<Pkt> = packets
            .into_iter()
            .map(|(ms, s, d, p, len)| (BASE + ms * MS, s, d, p, len))
            .collect();
        // Move some packets later in the file, past at most 500 ms of newer ones.
        for (at, by) in delays {
            if at < packets.len() {
                let p = packets.remove(at);
                let mut to = (at + by).min(packets.len());
                while to > at && packets[to - 1].0 - p.0 > 500 * MS {
                    to -= 1;
                }
                packets.insert(to, p);
            }
        }
        let want = naive_windows(&packets, size * MS, slide * MS);
        let got = run_windows(&packets, size * MS, slide * MS, workers)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, want);
    }
}
