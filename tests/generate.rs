//! `netanom generate`: deterministic output, tshark's protocol counts, and
//! the pcap and csv sources agreeing on the same generated traffic.

use crate::util::{netanom, read_csv, text, TempDir};
use std::collections::BTreeMap;
use std::path::Path;

fn generate(dir: &TempDir, name: &str, args: &[&str]) -> (std::path::PathBuf, String) {
    let out = dir.join(name);
    let mut all = vec!["generate", "-o", out.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let run = netanom(&all);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    (out, stderr)
}

#[test]
fn generate_is_deterministic_and_reports_what_it_wrote() {
    let dir = TempDir::new("generate");
    let args = |csv: &Path, labels: &Path| {
        vec![
            "-n".to_owned(),
            "20000".to_owned(),
            "--seed".to_owned(),
            "4".to_owned(),
            "--csv".to_owned(),
            csv.display().to_string(),
            "--labels".to_owned(),
            labels.display().to_string(),
        ]
    };
    let mut outputs = Vec::new();
    for run in ["a", "b"] {
        let (csv, labels) = (
            dir.join(&format!("{run}.csv")),
            dir.join(&format!("{run}.labels")),
        );
        let a = args(&csv, &labels);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let (pcap, stderr) = generate(&dir, &format!("{run}.pcapng"), &refs);
        assert!(stderr.contains("20000 packets"), "{stderr}");
        assert!(stderr.contains("vscan"), "{stderr}");
        let bytes = std::fs::read(&pcap).expect("capture written");
        // .pcapng gives pcapng: a section header block first.
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        outputs.push((
            bytes,
            std::fs::read(&csv).expect("csv written"),
            std::fs::read(&labels).expect("labels written"),
        ));
    }
    assert!(outputs[0] == outputs[1], "same seed, different bytes");
    let labels = String::from_utf8_lossy(&outputs[0].2);
    assert_eq!(labels.lines().count(), 20_001);
    assert!(labels.starts_with("No.,label\n1,"));

    let bad = netanom(&[
        "generate",
        "-n",
        "10",
        "-o",
        "/dev/null",
        "--attack",
        "portscan@10%",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("unknown attack"), "{}", text(&bad).1);
    let bad = netanom(&[
        "generate",
        "-n",
        "10",
        "-o",
        "/dev/null",
        "--attack",
        "vscan@150%",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// tshark names every generated packet's protocol as the generator meant
/// (the CSV's Protocol column): the counts per protocol are equal.
#[test]
fn tshark_agrees_on_protocol_counts() {
    let tshark = std::process::Command::new("tshark").arg("-v").output();
    if !tshark.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: tshark is not installed");
        return;
    }
    let dir = TempDir::new("generate-tshark");
    let csv = dir.join("g.csv");
    let (pcap, _) = generate(
        &dir,
        "g.pcap",
        &[
            "-n",
            "60000",
            "--seed",
            "7",
            "--csv",
            csv.to_str().expect("path"),
            "-q",
        ],
    );
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "_ws.col.Protocol"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs = BTreeMap::<String, u64>::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        *theirs.entry(line.to_owned()).or_default() += 1;
    }
    let mut ours = BTreeMap::<String, u64>::new();
    let text = std::fs::read_to_string(&csv).expect("csv");
    for line in text.lines().skip(1) {
        let proto = line.split("\",\"").nth(4).expect("Protocol column");
        *ours.entry(proto.to_owned()).or_default() += 1;
    }
    assert_eq!(ours.values().sum::<u64>(), 60_000);
    assert!(ours.len() >= 10, "{ours:?}");
    assert_eq!(theirs, ours);
}

fn windows(dir: &TempDir, source: &str, name: &str) -> Vec<Vec<String>> {
    let out = dir.join(&format!("{name}.csv"));
    let pipeline = dir.write(
        &format!("{name}.yaml"),
        &format!(
            "sources:\n  cap: {source}\noperators:\n  flows: {{type: window, inputs: [cap], size: 100ms, group_by: [src, dst, protocol]}}\n  hosts: {{type: window, inputs: [cap], size: 1s, group_by: [src]}}\nsinks:\n  out: {{type: file, inputs: [flows, hosts], path: {}}}\n",
            out.display()
        ),
    );
    let run = netanom(&["run", pipeline.to_str().expect("path"), "-q", "-w", "2"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run).1);
    let (header, rows) = read_csv(&out);
    // Fields the CSV export does not have: ports and TCP flags.
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| {
            !matches!(
                header[i].as_str(),
                "distinct_sports" | "distinct_dports" | "syn_count"
            )
        })
        .collect();
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            keep.iter()
                .map(|&i| match r[i].as_str() {
                    // Wireshark shows the broadcast MAC as "Broadcast".
                    "ff:ff:ff:ff:ff:ff" => "Broadcast".to_owned(),
                    v => v.to_owned(),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// The same generated traffic read as pcap and as the CSV export gives the
/// same windows, except for the fields the export lacks.
#[test]
fn pcap_and_csv_sources_give_the_same_windows() {
    let dir = TempDir::new("generate-sources");
    let csv = dir.join("g.csv");
    let (pcap, _) = generate(
        &dir,
        "g.pcap",
        &[
            "-n",
            "50000",
            "--seed",
            "11",
            "--csv",
            csv.to_str().expect("path"),
            "--csv-time",
            "epoch",
            "-q",
        ],
    );
    let from_pcap = windows(
        &dir,
        &format!("{{type: pcap, path: {}}}", pcap.display()),
        "pcap",
    );
    let from_csv = windows(
        &dir,
        &format!("{{type: csv, path: {}, info: false}}", csv.display()),
        "csv",
    );
    assert!(from_pcap.len() > 1000, "{} windows", from_pcap.len());
    assert_eq!(from_pcap.len(), from_csv.len());
    for (a, b) in from_pcap.iter().zip(&from_csv) {
        assert_eq!(a, b);
    }
}
