//! Results do not depend on the number of workers.

use crate::util::{root, run_into, text, TempDir};
use std::path::Path;

fn outputs_for(pipeline: &Path, workers: &str, extra: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = TempDir::new("workers");
    let mut args = vec!["-w", workers];
    args.extend_from_slice(extra);
    let (out, files) = run_into(pipeline, dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    files
        .into_iter()
        .map(|(id, f)| (id, std::fs::read(&f).expect("output written")))
        .collect()
}

fn assert_same_for_1_2_4(pipeline: &str, extra: &[&str]) {
    let p = root().join(pipeline);
    let one = outputs_for(&p, "1", extra);
    assert!(
        one.iter().all(|(_, bytes)| bytes.len() > 100),
        "{pipeline}: outputs too small"
    );
    for w in ["2", "4"] {
        let other = outputs_for(&p, w, extra);
        for ((id, a), (_, b)) in one.iter().zip(other.iter()) {
            assert!(
                a == b,
                "{pipeline}: sink {id} differs between 1 and {w} workers"
            );
        }
    }
}

#[test]
fn quickstart_is_identical_for_1_2_4_workers() {
    assert_same_for_1_2_4("pipelines/quickstart.yaml", &[]);
}

#[test]
fn hopping_windows_are_identical_for_1_2_4_workers() {
    assert_same_for_1_2_4("pipelines/hopping.yaml", &[]);
}

/// Splitting one file over workers (every worker reads it, each decodes its
/// own chunks) must not change anything either.
#[test]
fn split_files_are_identical_for_1_2_4_workers() {
    assert_same_for_1_2_4(
        "pipelines/quickstart.yaml",
        &["--set", "capture.split=always"],
    );
    assert_same_for_1_2_4(
        "pipelines/csv-export.yaml",
        &["--set", "export.split=always"],
    );
}

/// Many files, spread over workers.
#[test]
fn a_directory_of_files_is_identical_for_1_2_4_workers() {
    let Some(shared) = crate::util::shared() else {
        eprintln!("skipped: ../shared not found");
        return;
    };
    let dir = TempDir::new("dir");
    for n in 0..5 {
        let status = std::process::Command::new("python3")
            .arg(shared.join("tools/gen_pcap.py"))
            .args([
                "-n",
                "3000",
                "-s",
                &n.to_string(),
                "-q",
                "--no-labels",
                "-o",
            ])
            .arg(dir.join(&format!("part{n}.pcap")))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: gen_pcap.py did not run");
            return;
        }
    }
    let pipeline = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  caps: {{type: pcap, path: {}}}\noperators:\n  w: {{type: window, inputs: [caps], size: 100ms, group_by: [src, protocol]}}\nsinks:\n  out: {{type: file, inputs: [w], path: w.csv}}\n  pk: {{type: file, inputs: [caps], path: p.csv}}\n",
            dir.path().display()
        ),
    );
    // The pipeline file itself is in the directory: it is reported as not a
    // capture, and the rest is read.
    let one = outputs_for(&pipeline, "1", &[]);
    for w in ["2", "4"] {
        assert!(
            one == outputs_for(&pipeline, w, &[]),
            "differs with {w} workers"
        );
    }
    let packets = String::from_utf8_lossy(&one[1].1).lines().count() - 1;
    assert_eq!(packets, 15_000);
}
