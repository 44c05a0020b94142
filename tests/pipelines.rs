//! Every example pipeline runs; the quick start matches its golden output.

use crate::util::{root, run_into, text, TempDir};

#[test]
fn every_example_pipeline_runs() {
    let mut pipelines: Vec<_> = std::fs::read_dir(root().join("pipelines"))
        .expect("pipelines/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    pipelines.sort();
    assert!(!pipelines.is_empty());
    for p in pipelines {
        let dir = TempDir::new("example");
        let mut extra = vec!["-w".to_string(), "2".to_string()];
        if std::fs::read_to_string(&p).is_ok_and(|t| t.contains("type: capture_dir")) {
            // The rotating-capture example follows until stopped: here it
            // reads what is there, with its checkpoints in the temp dir.
            extra.extend([
                "--set".to_string(),
                "ring.follow=false".to_string(),
                "--set".to_string(),
                format!("ring.state_dir={}", dir.join("state").display()),
            ]);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (out, files) = run_into(&p, dir.path(), &extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            p.display(),
            text(&out).1
        );
        for (id, f) in files {
            let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            assert!(len > 0, "{}: sink {id} wrote nothing", p.display());
        }
    }
}

/// Golden files: regenerate with `scripts/update-golden.sh` after an
/// intended change, and review the diff.
#[test]
fn quickstart_matches_golden_output() {
    let dir = TempDir::new("golden");
    let (out, files) = run_into(&root().join("pipelines/quickstart.yaml"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    for (id, f) in files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let golden = root().join("tests/data/golden/quickstart").join(&name);
        let want = std::fs::read_to_string(&golden).expect("golden file exists");
        let got = std::fs::read_to_string(&f).expect("output exists");
        if want != got {
            let first = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            panic!(
                "sink {id} differs from {} at line {}:\n want: {:?}\n  got: {:?}",
                golden.display(),
                first + 1,
                want.lines().nth(first),
                got.lines().nth(first)
            );
        }
    }
}

#[test]
fn console_sink_prints_a_summary() {
    let dir = TempDir::new("console");
    let (out, _) = run_into(&root().join("pipelines/quickstart.yaml"), dir.path(), &[]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("== traffic =="), "{stdout}");
    assert!(stdout.contains("packets: 10501"), "{stdout}");
    assert!(stdout.contains("top talkers (src)"), "{stdout}");
    assert!(stdout.contains("== busiest =="), "{stdout}");
}

/// A capture much larger than what a source reads per activation, through
/// every kind of sink: flow control must never stall (a console sink once
/// held the sinks' progress at time zero, and sources waited forever).
#[test]
fn a_large_capture_runs_through_every_sink_without_stalling() {
    let dir = TempDir::new("large");
    let Some(capture) = crate::util::generated_capture(&dir, 120_000, 4) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    for workers in ["1", "2"] {
        let out = crate::util::netanom_within(
            &[
                "run",
                "pipelines/quickstart.yaml",
                "-w",
                workers,
                "--set",
                &format!("capture.path={}", capture.display()),
                "--set",
                &format!("flows_out.path={}", dir.join("flows.csv").display()),
                "--set",
                &format!("hosts_out.path={}", dir.join("hosts.csv").display()),
            ],
            120,
        )
        .expect("the run finishes (no stall)");
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("packets: 120000"), "{stdout}");
    }
}
