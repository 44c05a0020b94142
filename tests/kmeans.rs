//! The `kmeans` operator: batch quality against scikit-learn's committed
//! figure, scan detection on the sample capture against its attack labels,
//! worker independence, and bad input.

use crate::util::{netanom, read_csv, root, run_into, text, TempDir};
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
    check_scan_detect(&[], "");
}

#[test]
fn scan_detect_in_three_principal_components_still_flags_each_attack() {
    // 5 feature slots projected on 3 principal components of the warmup.
    check_scan_detect(&["--set", "scans.pca=3"], "; pca 3");
}

/// Runs pipelines/scan-detect.yaml (with `extra` arguments) on the sample
/// and checks each labelled attack raises an alert, with at most 1% of
/// normal rows flagged; prints the figures.
fn check_scan_detect(extra: &[&str], label: &str) {
    let dir = TempDir::new("scan-detect");
    let (out, files) = run_into(
        &root().join("pipelines/scan-detect.yaml"),
        dir.path(),
        extra,
    );
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
    println!("features: log1p(count), log1p(distinct_dsts), log1p(distinct_dports), log1p(syn_count), len_avg; 250 ms windows by src; k = 4, warmup 50, threshold farthest 1{label}");
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

/// The output CSV of a run: (header, rows).
fn scored_rows(files: &[(String, std::path::PathBuf)]) -> (Vec<String>, Vec<Vec<String>>) {
    let scored = &files
        .iter()
        .find(|(id, _)| id == "scored")
        .expect("scored")
        .1;
    read_csv(scored)
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[test]
fn train_saves_a_model_that_score_mode_applies_unchanged() {
    let p = root().join("pipelines/scan-detect.yaml");
    let dir = TempDir::new("kmeans-model");
    let model = dir.join("models/scan.json");
    let set_path = format!("scans.model_path={}", model.display());
    // Train: the model is written at the end (its directory created), and
    // no temporary file is left.
    let (out, _) = run_into(&p, dir.path(), &["--set", &set_path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(!dir.join("models/scan.json.partial").exists());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).expect("model written"))
            .expect("the model is JSON");
    assert_eq!(json["format"], "netanom-kmeans");
    assert_eq!(json["version"], 1);
    assert_eq!(json["k"], 4);
    assert_eq!(json["seed"], 1);
    let features: Vec<&str> = json["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f.as_str().expect("text"))
        .collect();
    assert_eq!(
        features,
        [
            "log1p(count)",
            "log1p(distinct_dsts)",
            "log1p(distinct_dports)",
            "log1p(syn_count)",
            "len_avg"
        ]
    );
    let mean = numbers(&json["mean"]);
    let variance = numbers(&json["variance"]);
    let threshold = json["threshold"].as_f64().expect("threshold");
    let centroids: Vec<Vec<f64>> = json["centroids"]
        .as_array()
        .expect("centroids")
        .iter()
        .map(numbers)
        .collect();
    assert_eq!(centroids.len(), 4);
    assert!(threshold > 0.0);

    // Score the same capture with it, on 1 and 2 workers.
    let score = |workers: &str| {
        let d = TempDir::new("kmeans-score");
        let (out, files) = run_into(
            &p,
            d.path(),
            &[
                "--set",
                &set_path,
                "--set",
                "scans.mode=score",
                "-w",
                workers,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        let bytes = std::fs::read(&files[0].1).expect("written");
        (scored_rows(&files), bytes)
    };
    let ((header, rows), one) = score("1");
    let (_, two) = score("2");
    assert!(one == two, "score mode differs between 1 and 2 workers");
    assert_eq!(rows.len(), 533);
    // Every score is the saved model applied by hand: standardize with the
    // saved means and variances, nearest saved centroid, distance.
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let raw = [
        "count",
        "distinct_dsts",
        "distinct_dports",
        "syn_count",
        "len_avg",
    ];
    let sd: Vec<f64> = variance
        .iter()
        .map(|v| if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    let mut flagged = 0;
    for r in &rows {
        let x: Vec<f64> = raw
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let v: f64 = r[col(name)].parse().expect("number");
                if i < 4 {
                    v.ln_1p()
                } else {
                    v
                }
            })
            .collect();
        let z = |v: &[f64]| -> Vec<f64> { (0..5).map(|t| (v[t] - mean[t]) / sd[t]).collect() };
        let xs = z(&x);
        let (best, dist) = centroids
            .iter()
            .map(|c| {
                let cs = z(c);
                xs.iter()
                    .zip(&cs)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            })
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |b, (j, d)| if d < b.1 { (j, d) } else { b },
            );
        let got: f64 = r[col("distance")].parse().expect("distance");
        assert!(
            (got - dist).abs() <= 1e-9 * dist.max(1.0),
            "{r:?}: distance {got}, by hand {dist}"
        );
        assert_eq!(r[col("cluster")], best.to_string(), "{r:?}");
        let score: f64 = r[col("score")].parse().expect("score");
        assert!((score - dist / threshold).abs() <= 1e-9 * score.max(1.0));
        assert_eq!(r[col("anomaly")] == "true", dist > threshold, "{r:?}");
        flagged += usize::from(dist > threshold);
    }
    // The final model still tells the scans apart (it has seen them, so
    // fewer rows pass the warmup threshold than in training).
    assert!(flagged >= 1, "the saved model flags nothing");
}

#[test]
fn bad_model_files_are_config_errors_not_panics() {
    let p = root().join("pipelines/scan-detect.yaml");
    let dir = TempDir::new("kmeans-bad-model");
    let good = dir.join("good.json");
    let (out, _) = run_into(
        &p,
        dir.path(),
        &["--set", &format!("scans.model_path={}", good.display())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let text_ok = std::fs::read_to_string(&good).expect("model written");
    let mut cases: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("not json".into(), "k: 4\n".into()),
        ("a list".into(), "[1, 2, 3]".into()),
        (
            "no centroid".into(),
            text_ok.replace("\"k\": 4", "\"k\": 5"),
        ),
        (
            "other features".into(),
            text_ok.replace("log1p(count)", "count"),
        ),
        (
            "version".into(),
            text_ok.replace("\"version\": 1", "\"version\": 7"),
        ),
        ("extra key".into(), text_ok.replacen('{', "{\"x\": 1,", 1)),
    ];
    for cut in [1, text_ok.len() / 3, text_ok.len() / 2, text_ok.len() - 3] {
        cases.push((format!("cut at {cut}"), text_ok[..cut].to_owned()));
    }
    for (name, body) in cases {
        let f = dir.write("bad.json", &body);
        let (out, _) = run_into(
            &p,
            dir.path(),
            &[
                "--set",
                &format!("scans.model_path={}", f.display()),
                "--set",
                "scans.mode=score",
            ],
        );
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(
            stderr.contains("scan-detect.yaml:") && stderr.contains(": scans: model_path: `"),
            "{name}: {stderr}"
        );
    }
    // A missing file, and score mode without a model.
    let missing = format!("scans.model_path={}", dir.join("nope.json").display());
    let (out, _) = run_into(
        &p,
        dir.path(),
        &["--set", &missing, "--set", "scans.mode=score"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("cannot read"), "{}", text(&out).1);
    let (out, _) = run_into(&p, dir.path(), &["--set", "scans.mode=score"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("mode: score needs model_path"));
}

/// A gen_pcap.py capture and its labels ("No.,label" per packet) in
/// `dir`, or `None` when ../shared is absent.
fn labelled_capture(
    dir: &TempDir,
    packets: u64,
    seed: u64,
) -> Option<(std::path::PathBuf, Vec<String>)> {
    let shared = crate::util::shared()?;
    let path = dir.join("gen.pcap");
    let labels = dir.join("gen.labels.csv");
    let status = std::process::Command::new("python3")
        .arg(shared.join("tools/gen_pcap.py"))
        .args([
            "-n",
            &packets.to_string(),
            "-s",
            &seed.to_string(),
            "-q",
            "-o",
        ])
        .arg(&path)
        .arg("--labels")
        .arg(&labels)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = std::fs::read_to_string(&labels).expect("labels written");
    let labels = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap_or("").trim().to_owned())
        .collect();
    Some((path, labels))
}

/// (timestamp in µs, IPv4 source or "") of each packet of a little-endian
/// microsecond pcap of Ethernet frames.
fn packet_sources(pcap: &std::path::Path) -> Vec<(i64, String)> {
    let bytes = std::fs::read(pcap).expect("read capture");
    assert_eq!(
        bytes[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian µs pcap"
    );
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ts = i64::from(u32_at(at)) * 1_000_000 + i64::from(u32_at(at + 4));
        let len = u32_at(at + 8) as usize;
        let frame = &bytes[at + 16..(at + 16 + len).min(bytes.len())];
        let src = if frame.len() >= 34 && frame[12..14] == [0x08, 0x00] {
            format!("{}.{}.{}.{}", frame[26], frame[27], frame[28], frame[29])
        } else {
            String::new()
        };
        out.push((ts, src));
        at += 16 + len;
    }
    out
}

/// The generated capture's two attacks, judged as an ops team would: per
/// attack, at least one alert on the attacker's address in a window that
/// holds the attack's packets; at most 1% of the other rows flagged.
#[test]
fn scan_detect_generated_flags_the_scan_and_the_flood() {
    let dir = TempDir::new("kmeans-generated");
    let Some((capture, labels)) = labelled_capture(&dir, 300_000, 1) else {
        println!("skipped: ../shared/tools/gen_pcap.py is not available");
        return;
    };
    judge_attacks(
        &dir,
        &capture,
        &labels,
        &[("scan", "192.168.1.77"), ("icmp_burst", "192.168.1.99")],
        &[],
    );
}

/// The same pipeline on `netanom generate`'s own capture: the vertical
/// scan, the horizontal sweep (one packet per destination) and the ICMP
/// flood are each flagged on the attacker. The DNS exfiltration-like burst
/// (queries to the one resolver, one port) is reported, not asserted:
/// nothing in these features sets it apart.
#[test]
fn scan_detect_flags_the_scans_and_the_flood_of_netanom_generate() {
    let dir = TempDir::new("kmeans-netanom-generate");
    let capture = dir.join("g.pcap");
    let labels_path = dir.join("g.labels.csv");
    let out = netanom(&[
        "generate",
        "-n",
        "300000",
        "-s",
        "1",
        "-q",
        "-o",
        &capture.display().to_string(),
        "--labels",
        &labels_path.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let labels: Vec<String> = std::fs::read_to_string(&labels_path)
        .expect("labels written")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap_or("").trim().to_owned())
        .collect();
    judge_attacks(
        &dir,
        &capture,
        &labels,
        &[
            ("vscan", "192.168.1.77"),
            ("hscan", "192.168.1.66"),
            ("icmp_flood", "192.168.1.99"),
        ],
        &[("dns_exfil", "192.168.1.88")],
    );
}

/// Runs pipelines/scan-detect-generated.yaml on `capture` and judges it
/// with the per-packet `labels`: each of `flagged` (attack, attacker) has
/// an alert on the attacker in a window holding the attack's packets, each
/// of `reported` is only printed, and at most 1% of the other rows are
/// flagged. Prints alerts, ROC AUC and the false-alarm rate.
fn judge_attacks(
    dir: &TempDir,
    capture: &std::path::Path,
    labels: &[String],
    flagged: &[(&str, &str)],
    reported: &[(&str, &str)],
) {
    let packets = packet_sources(capture);
    assert_eq!(packets.len(), labels.len());
    // (src, 250 ms window index) of every labelled packet: its attack.
    let window_us = 250_000;
    let mut attack_rows = std::collections::HashMap::new();
    for ((ts, src), label) in packets.iter().zip(labels) {
        if label != "normal" {
            attack_rows.insert((src.clone(), ts.div_euclid(window_us)), label.clone());
        }
    }
    let set = format!("capture.path={}", capture.display());
    let (out, files) = run_into(
        &root().join("pipelines/scan-detect-generated.yaml"),
        dir.path(),
        &["--set", &set],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let (header, rows) = scored_rows(&files);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (start, src, score, anomaly) = (
        col("window_start"),
        col("src"),
        col("score"),
        col("anomaly"),
    );
    let window_of = |r: &Vec<String>| -> i64 {
        let (s, ns) = r[start].split_once('.').unwrap_or((&r[start], "0"));
        let s: i64 = s.parse().expect("seconds");
        let ns: i64 = ns.parse().expect("nanoseconds");
        (s * 1_000_000 + ns / 1000).div_euclid(window_us)
    };
    let label_of = |r: &Vec<String>| attack_rows.get(&(r[src].clone(), window_of(r)));
    let value = |r: &Vec<String>| r[score].parse::<f64>().expect("score");
    let normal: Vec<&Vec<String>> = rows.iter().filter(|r| label_of(r).is_none()).collect();
    let neg: Vec<f64> = normal.iter().map(|r| value(r)).collect();
    let false_alarms = normal.iter().filter(|r| r[anomaly] == "true").count();
    let rate = false_alarms as f64 / normal.len() as f64;
    println!("features: log1p(count), log1p(distinct_dsts), log1p(distinct_dports), log1p(syn_count), local_anomaly; 250 ms windows by src; k = 32, warmup 2000, threshold farthest 1");
    let judged = flagged.iter().map(|a| (a, true));
    for (&(attack, attacker), must) in judged.chain(reported.iter().map(|a| (a, false))) {
        let mine: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| r[src] == attacker && label_of(r).is_some_and(|l| l == attack))
            .collect();
        assert!(!mine.is_empty(), "{attack}: no window of {attacker}");
        let alerts = mine.iter().filter(|r| r[anomaly] == "true").count();
        let pos: Vec<f64> = mine.iter().map(|r| value(r)).collect();
        println!(
            "{attack} ({attacker}): {alerts} alerts in its {} windows, ROC AUC {:.4} (vs normal rows), top score {:.3}",
            mine.len(),
            auc(&pos, &neg),
            pos.iter().copied().fold(0.0, f64::max)
        );
        assert!(!must || alerts >= 1, "{attack}: no alert for {attacker}");
    }
    println!(
        "normal rows: {false_alarms} false alarms in {} ({:.3}%)",
        normal.len(),
        100.0 * rate
    );
    assert!(rate <= 0.01, "false-alarm rate {rate}");
}

#[test]
fn a_pca_model_saved_in_train_mode_is_loaded_and_applied_in_score_mode() {
    let dir = TempDir::new("kmeans-pca-model");
    let model = dir.join("model.json");
    let p = root().join("pipelines/scan-detect.yaml");
    let set_model = format!("scans.model_path={}", model.display());
    let (out, train) = run_into(
        &p,
        dir.path(),
        &["--set", "scans.pca=3", "--set", &set_model],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).expect("model saved")).expect("json");
    assert_eq!(saved["pca"]["n"], 3);
    assert_eq!(saved["centroids"][0].as_array().map(Vec::len), Some(3));
    let scored_dir = TempDir::new("kmeans-pca-score");
    let (out, scored) = run_into(
        &p,
        scored_dir.path(),
        &[
            "--set",
            "scans.pca=3",
            "--set",
            &set_model,
            "--set",
            "scans.mode=score",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // The final model scores every row; the train run scored each with the
    // model of its time: same rows, same columns, finite distances.
    let (h1, r1) = scored_rows(&train);
    let (h2, r2) = scored_rows(&scored);
    assert_eq!(h1, h2);
    assert_eq!(r1.len(), r2.len());
    let d = h2.iter().position(|h| h == "distance").expect("distance");
    assert!(r2
        .iter()
        .all(|r| r[d].parse::<f64>().is_ok_and(f64::is_finite)));
}

/// Score mode: a given `threshold: {value: X}` replaces the saved one, a
/// `pca` that is not the model's is a config error, and training options
/// that have no effect are named in a warning.
#[test]
fn score_mode_takes_a_given_threshold_value_and_warns_about_training_options() {
    let p = root().join("pipelines/scan-detect.yaml");
    let dir = TempDir::new("kmeans-score-threshold");
    let model = dir.join("model.json");
    let set_path = format!("scans.model_path={}", model.display());
    let (out, _) = run_into(&p, dir.path(), &["--set", &set_path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let score = |extra: &[&str]| {
        let d = TempDir::new("kmeans-score-threshold-run");
        let mut args = vec!["--set", &set_path, "--set", "scans.mode=score"];
        args.extend_from_slice(extra);
        let (out, files) = run_into(&p, d.path(), &args);
        let (_, stderr) = text(&out);
        let rows = if out.status.code() == Some(0) {
            scored_rows(&files).1
        } else {
            Vec::new()
        };
        (out.status.code(), stderr, rows)
    };
    // The pipeline sets k, warmup, seed, half_life and a farthest threshold.
    let (code, stderr, saved) = score(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "warning: scans: mode: score does not train: k, warmup, seed, half_life have no effect"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("the saved threshold is used"), "{stderr}");
    let flagged = |rows: &[Vec<String>]| {
        rows.iter()
            .filter(|r| r.last().is_some_and(|a| a == "true"))
            .count()
    };
    assert!(flagged(&saved) >= 1);
    // A huge given value: nothing is an anomaly; a tiny one: everything.
    let (code, stderr, high) = score(&["--set", "scans.threshold={value: 1e9}"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("saved threshold is used"), "{stderr}");
    assert_eq!(high.len(), saved.len());
    assert_eq!(flagged(&high), 0);
    let (_, _, low) = score(&["--set", "scans.threshold={value: 1e-9}"]);
    assert_eq!(flagged(&low), low.len());
    // The model has no pca.
    let (code, stderr, _) = score(&["--set", "scans.pca=2"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("pca: 2, but the model in model_path has no pca"),
        "{stderr}"
    );
}
