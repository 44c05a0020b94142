//! The `kmeans` operator: batch quality against scikit-learn's committed
//! figure, scan detection on the sample capture against its attack labels,
//! worker independence, and bad input.

use crate::util::{read_csv, root, run_into, text, TempDir};
use netanom_operators::kmeans_model::fit;

/// The figures scripts/kmeans-sklearn.py committed: (k, inertia).
fn sklearn_costs() -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(root().join("tests/data/kmeans/sklearn.tsv"))
        .expect("tests/data/kmeans/sklearn.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('k'))
        .filter_map(|l| {
            let (k, cost) = l.split_once('\t')?;
            Some((k.parse().ok()?, cost.parse().ok()?))
        })
        .collect()
}

#[test]
fn batch_cost_is_within_2_percent_of_scikit_learn() {
    let text = std::fs::read_to_string(root().join("tests/data/kmeans/matrix.tsv"))
        .expect("tests/data/kmeans/matrix.tsv");
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split('\t').map(|v| v.parse().expect("number")).collect())
        .collect();
    let d = rows[0].len();
    let data: Vec<f64> = rows.concat();
    let costs = sklearn_costs();
    assert_eq!(costs.len(), 3, "{costs:?}");
    for (k, sklearn) in costs {
        let ours = fit(&data, d, k, 0, 10, 300).expect("fit").cost;
        println!(
            "k = {k}: netanom cost {ours:.4}, scikit-learn {sklearn:.4} (ratio {:.4}), {} points x {d}",
            ours / sklearn,
            rows.len()
        );
        assert!(ours <= sklearn * 1.02, "k = {k}: {ours} vs {sklearn}");
    }
}

/// Area under the ROC curve: the probability that a random positive
/// scores above a random negative (ties count half).
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut wins = 0.0;
    for p in pos {
        for n in neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn scan_detect_flags_each_attack_and_little_else() {
    let dir = TempDir::new("scan-detect");
    let (out, files) = run_into(&root().join("pipelines/scan-detect.yaml"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let scored = &files
        .iter()
        .find(|(id, _)| id == "scored")
        .expect("scored")
        .1;
    let (header, rows) = read_csv(scored);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (src, score, anomaly) = (col("src"), col("score"), col("anomaly"));
    let labels = std::fs::read_to_string(root().join("samples/quickstart.attacks.tsv"))
        .expect("attack labels");
    let attacks: Vec<(String, String)> = labels
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect();
    assert_eq!(attacks.len(), 3);
    let is_attacker = |r: &Vec<String>| attacks.iter().any(|(_, a)| *a == r[src]);
    for r in &rows {
        let s: f64 = r[score].parse().expect("score is a number");
        let d: f64 = r[col("distance")].parse().expect("distance is a number");
        assert!(s.is_finite() && d.is_finite(), "{r:?}");
    }
    let normal: Vec<&Vec<String>> = rows.iter().filter(|r| !is_attacker(r)).collect();
    let false_alarms = normal.iter().filter(|r| r[anomaly] == "true").count();
    let rate = false_alarms as f64 / normal.len() as f64;
    let pos: Vec<f64> = rows
        .iter()
        .filter(|r| is_attacker(r))
        .map(|r| r[score].parse().unwrap_or(0.0))
        .collect();
    let neg: Vec<f64> = normal
        .iter()
        .map(|r| r[score].parse().unwrap_or(0.0))
        .collect();
    println!("features: log1p(count), log1p(distinct_dsts), log1p(distinct_dports), log1p(syn_count), len_avg; 250 ms windows by src; k = 4, warmup 50, threshold farthest 1");
    for (name, addr) in &attacks {
        let alerts = rows
            .iter()
            .filter(|r| r[src] == *addr && r[anomaly] == "true")
            .count();
        let windows = rows.iter().filter(|r| r[src] == *addr).count();
        let a_pos: Vec<f64> = rows
            .iter()
            .filter(|r| r[src] == *addr)
            .map(|r| r[score].parse().unwrap_or(0.0))
            .collect();
        println!(
            "{name} ({addr}): {alerts} alerts in {windows} windows, ROC AUC {:.4}",
            auc(&a_pos, &neg)
        );
        assert!(alerts >= 1, "{name}: no alert for {addr}");
    }
    println!(
        "normal traffic: {false_alarms} false alarms in {} rows ({:.2}%); ROC AUC (all attacks) {:.4}",
        normal.len(),
        100.0 * rate,
        auc(&pos, &neg)
    );
    assert!(rate <= 0.01, "false-alarm rate {rate}");
    // only_anomalies: the JSONL file holds exactly the flagged rows.
    let flagged = rows.iter().filter(|r| r[anomaly] == "true").count();
    let jsonl = &files
        .iter()
        .find(|(id, _)| id == "anomalies")
        .expect("anomalies")
        .1;
    let lines = std::fs::read_to_string(jsonl).expect("anomalies written");
    assert_eq!(lines.lines().count(), flagged);
    assert!(lines.lines().all(|l| l.contains("\"anomaly\":true")));
}

#[test]
fn scan_detect_is_identical_for_1_2_4_workers() {
    let p = root().join("pipelines/scan-detect.yaml");
    let run = |w: &str| {
        let dir = TempDir::new("scan-detect-workers");
        let (out, files) = run_into(&p, dir.path(), &["-w", w]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        files
            .into_iter()
            .map(|(id, f)| (id, std::fs::read(f).expect("written")))
            .collect::<Vec<_>>()
    };
    let one = run("1");
    assert!(one.iter().all(|(_, b)| b.len() > 100));
    for w in ["2", "4"] {
        assert!(
            one == run(w),
            "scan-detect differs between 1 and {w} workers"
        );
    }
}

#[test]
fn too_few_records_and_empty_input_fail_or_pass_cleanly() {
    let p = root().join("pipelines/scan-detect.yaml");
    // The capture gives 533 window records: fewer than k.
    let dir = TempDir::new("kmeans-short");
    let (out, _) = run_into(
        &p,
        dir.path(),
        &["--set", "scans.k=600", "--set", "scans.warmup=1000"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fewer than k = 600"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // An empty capture: nothing to score, no error, a header only.
    let dir = TempDir::new("kmeans-empty");
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes());
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, pcap).expect("write pcap");
    let set = format!("capture.path={}", empty.display());
    let (out, files) = run_into(&p, dir.path(), &["--set", &set]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let scored = &files
        .iter()
        .find(|(id, _)| id == "scored")
        .expect("scored")
        .1;
    let (_, rows) = read_csv(scored);
    assert!(rows.is_empty());
}
