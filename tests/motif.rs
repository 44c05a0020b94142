//! `motif`: fan-out (distinct destinations, distinct destination ports),
//! fan-in and reciprocal pairs on the bundled capture, equal to a plain
//! hash-map computation over tshark's fields of the same capture
//! (samples/quickstart.fields.tsv); the scanners of
//! samples/quickstart.attacks.tsv are found and no other host; 1, 2 and 4
//! workers write the same bytes.

use crate::util::{netanom, read_csv, root, text, TempDir};
use std::collections::{BTreeSet, HashMap, HashSet};

/// One output row: (window_start, window_end, pattern, a, b, count).
type Row = (String, String, String, String, String, u64);

/// Decimal seconds as the sinks write them, from tshark's epoch text.
fn window_of(epoch: &str) -> i64 {
    epoch
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("epoch seconds")
}

/// (window start in s, src, dst, dport or 0) of every IP packet, from
/// tshark's fields.
fn edges() -> Vec<(i64, String, String, u16)> {
    let text =
        std::fs::read_to_string(root().join("samples/quickstart.fields.tsv")).expect("fields.tsv");
    let first = |s: &str| s.split(',').next().unwrap_or("").to_owned();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let src = if c[3].is_empty() {
                first(c[4])
            } else {
                first(c[3])
            };
            let dst = if c[5].is_empty() {
                first(c[6])
            } else {
                first(c[5])
            };
            if src.is_empty() || dst.is_empty() {
                return None;
            }
            let proto = if c[9].is_empty() {
                first(c[10])
            } else {
                first(c[9])
            };
            // ICMP errors quote a UDP header: tshark shows its ports, but
            // the packet itself has none.
            let dport = match proto.as_str() {
                "6" => first(c[13]).parse().unwrap_or(0),
                "17" => first(c[14]).parse().unwrap_or(0),
                _ => 0,
            };
            Some((window_of(c[1]), src, dst, dport))
        })
        .collect()
}

/// The oracle for fan-out / fan-in: (window, centre) -> count, at least `min`.
fn fan(out: bool, by_dport: bool, min: u64) -> BTreeSet<(i64, String, u64)> {
    let mut seen: HashMap<(i64, String), HashSet<String>> = HashMap::new();
    for (w, src, dst, dport) in edges() {
        let (centre, peer) = if out { (src, dst) } else { (dst, src) };
        let value = if by_dport { dport.to_string() } else { peer };
        seen.entry((w, centre)).or_default().insert(value);
    }
    seen.into_iter()
        .map(|((w, c), s)| (w, c, s.len() as u64))
        .filter(|(_, _, n)| *n >= min)
        .collect()
}

/// The oracle for reciprocal pairs: (window, a, b) with a < b (as
/// addresses) -> packets both ways.
fn reciprocal() -> BTreeSet<(i64, String, String, u64)> {
    let mut packets: HashMap<(i64, String, String), u64> = HashMap::new();
    for (w, src, dst, _) in edges() {
        *packets.entry((w, src, dst)).or_default() += 1;
    }
    let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("IP");
    let mut out = BTreeSet::new();
    for ((w, a, b), n) in &packets {
        if ip(a) >= ip(b) {
            continue;
        }
        if let Some(m) = packets.get(&(*w, b.clone(), a.clone())) {
            out.insert((*w, a.clone(), b.clone(), n + m));
        }
    }
    out
}

const PIPELINE: &str = r#"
sources:
  capture: {type: pcap, path: samples/quickstart.pcap}
operators:
  vertical: {type: motif, inputs: [capture], pattern: "(a)-[]->(b)", count: dport, min: 100, window: 1s}
  horizontal: {type: motif, inputs: [capture], pattern: "(a)-[]->(b)", count: b, min: 100, window: 1s}
  fan_in: {type: motif, inputs: [capture], pattern: "(b)<-[]-(a)", count: b, min: 2, window: 1s}
  pairs: {type: motif, inputs: [capture], pattern: "(a)-[]->(b); (b)-[]->(a)", window: 1s}
sinks:
  vertical_out: {type: file, inputs: [vertical], path: OUT/vertical.csv}
  horizontal_out: {type: file, inputs: [horizontal], path: OUT/horizontal.csv}
  fan_in_out: {type: file, inputs: [fan_in], path: OUT/fan_in.csv}
  pairs_out: {type: file, inputs: [pairs], path: OUT/pairs.csv}
"#;

/// Runs the pipeline with `workers`; the outputs' bytes by name.
fn run(dir: &TempDir, workers: &str) -> HashMap<&'static str, Vec<u8>> {
    let out = dir.path().join(format!("w{workers}"));
    std::fs::create_dir_all(&out).expect("out dir");
    let yaml = PIPELINE.replace("OUT", &out.display().to_string());
    let pipeline = dir.write(&format!("motif-{workers}.yaml"), &yaml);
    let result = netanom(&["run", &pipeline.display().to_string(), "-q", "-w", workers]);
    let (stdout, stderr) = text(&result);
    assert!(result.status.success(), "{stdout}\n{stderr}");
    ["vertical", "horizontal", "fan_in", "pairs"]
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(out.join(format!("{name}.csv"))).expect("output written");
            (name, bytes)
        })
        .collect()
}

/// The rows of an output file, checking its header.
fn rows(dir: &TempDir, workers: &str, name: &str) -> Vec<Row> {
    let (header, rows) = read_csv(&dir.path().join(format!("w{workers}/{name}.csv")));
    assert_eq!(
        header,
        ["window_start", "window_end", "pattern", "a", "b", "count"]
    );
    rows.into_iter()
        .map(|r| {
            (
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
                r[3].clone(),
                r[4].clone(),
                r[5].parse().expect("count"),
            )
        })
        .collect()
}

fn secs(w: i64) -> String {
    format!("{w}.000000000")
}

#[test]
fn motifs_match_hash_maps_and_find_the_scanners_for_1_2_4_workers() {
    let dir = TempDir::new("motif");
    let one = run(&dir, "1");
    for workers in ["2", "4"] {
        assert!(run(&dir, workers) == one, "{workers} workers differ from 1");
    }

    let fans = [
        ("vertical", "fan_out", true, true, 100),
        ("horizontal", "fan_out", true, false, 100),
        ("fan_in", "fan_in", false, false, 2),
    ];
    for (name, pattern, out, by_dport, min) in fans {
        let got: BTreeSet<(i64, String, u64)> = rows(&dir, "1", name)
            .into_iter()
            .map(|(start, end, p, a, b, n)| {
                let w = window_of(&start);
                assert_eq!((end, p.as_str(), b.as_str()), (secs(w + 1), pattern, ""));
                (w, a, n)
            })
            .collect();
        assert_eq!(got, fan(out, by_dport, min), "{name}");
    }

    // The scanners, and no normal host, above the thresholds.
    let attacks = std::fs::read_to_string(root().join("samples/quickstart.attacks.tsv"))
        .expect("attacks.tsv");
    let attackers: HashSet<&str> = attacks
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    let hosts = |name: &str| -> HashSet<String> {
        rows(&dir, "1", name).into_iter().map(|r| r.3).collect()
    };
    let vertical = hosts("vertical");
    let horizontal = hosts("horizontal");
    assert!(vertical.contains("127.0.66.1"), "{vertical:?}");
    assert!(horizontal.contains("127.0.66.3"), "{horizontal:?}");
    for host in vertical.iter().chain(&horizontal) {
        assert!(
            attackers.contains(host.as_str()),
            "normal host {host} matched"
        );
    }

    let got: BTreeSet<(i64, String, String, u64)> = rows(&dir, "1", "pairs")
        .into_iter()
        .map(|(start, _, p, a, b, n)| {
            assert_eq!(p, "reciprocal");
            (window_of(&start), a, b, n)
        })
        .collect();
    let expected = reciprocal();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}
