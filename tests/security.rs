//! What netanom must not do: write outside the paths its config names,
//! or show an original address in a report when the pipeline anonymizes.
//! (Outputs and metrics: tests/anonymize.rs and tests/prometheus.rs; the
//! loopback default of the metrics endpoint: crates/sinks' unit tests.)

use crate::util::{root, text, TempDir};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Every file under `dir` (relative path -> contents).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .expect("list dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .display()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn run_writes_only_the_paths_in_its_config() {
    let work = TempDir::new("confined");
    let home = TempDir::new("confined-home");
    let tmp = TempDir::new("confined-tmp");
    std::fs::copy(root().join("samples/quickstart.pcap"), work.join("in.pcap")).expect("copy");
    std::fs::copy(
        root().join("pipelines/keys/example.key"),
        work.join("k.key"),
    )
    .expect("copy");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            std::fs::set_permissions(work.join("k.key"), std::fs::Permissions::from_mode(0o600));
    }
    work.write(
        "p.yaml",
        "sources:\n  capture: {type: pcap, path: in.pcap}\n\
         operators:\n  anon: {type: anonymize, inputs: [capture], key_file: k.key}\n  \
         flows: {type: window, inputs: [anon], size: 10ms, group_by: [src, dst, protocol]}\n  \
         graph: {type: degree, inputs: [anon], window: 1s}\n  \
         hosts: {type: window, inputs: [anon], size: 250ms, group_by: [src]}\n  \
         scans: {type: kmeans, inputs: [hosts], k: 2, warmup: 10, threshold: {farthest: 1}, features: [count, len_avg], model_path: models/m.json}\n\
         sinks:\n  packets: {type: file, inputs: [anon], path: out/packets.jsonl}\n  \
         flows_out: {type: file, inputs: [flows], path: out/flows.csv}\n  \
         graph_out: {type: file, inputs: [graph], path: deep/er/degrees.csv}\n  \
         scans_out: {type: file, inputs: [scans], path: out/scans.csv}\n  \
         pictures: {type: graph, inputs: [flows], path: pictures}\n  \
         show: {type: console, inputs: [flows], top: 3}\n",
    );
    let before = tree(work.path());
    let out = Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args(["run", "p.yaml", "-w", "2"])
        .current_dir(work.path())
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        .output()
        .expect("netanom runs");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let after = tree(work.path());
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{path} changed");
    }
    let new: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let files = [
        "deep/er/degrees.csv",
        "models/m.json",
        "out/flows.csv",
        "out/packets.jsonl",
        "out/scans.csv",
    ];
    for f in files {
        assert!(new.contains(&&f.to_owned()), "{f} not written: {new:?}");
    }
    let pictures = new.iter().filter(|p| p.starts_with("pictures/")).count();
    assert!(pictures > 0, "no graph files: {new:?}");
    let stray: Vec<&&String> = new
        .iter()
        .filter(|p| !files.contains(&p.as_str()) && !p.starts_with("pictures/"))
        .collect();
    assert!(
        stray.is_empty(),
        "written besides the configured outputs: {stray:?}"
    );
    assert!(tree(home.path()).is_empty(), "wrote under HOME");
    assert!(tree(tmp.path()).is_empty(), "wrote under TMPDIR");
}

const ADDRESSES: [&str; 4] = ["10.9.8.7", "192.168.77.1", "2001:db8::77", "172.16.5.4"];

/// A CSV whose bad rows hold addresses where numbers belong, and a second
/// file whose header is a data row.
fn leaky_csvs(dir: &TempDir) {
    std::fs::create_dir_all(dir.join("caps")).expect("mkdir");
    dir.write(
        "caps/a.csv",
        "No.,Time,Source,Destination,Protocol,Length,Info\n\
         1,0.1,10.0.0.1,10.0.0.2,TCP,60,ok\n\
         2,10.9.8.7,10.0.0.1,10.0.0.2,TCP,60,time is an address\n\
         3,0.3,10.0.0.1,10.0.0.2,TCP,192.168.77.1,length is an address\n",
    );
    dir.write(
        "caps/b.csv",
        "1,0.1,2001:db8::77,172.16.5.4,TCP,60,no header\n",
    );
}

fn run_csvs(dir: &TempDir, anonymize: bool) -> String {
    let (input, operators) = if anonymize {
        (
            "anon",
            "operators:\n  anon: {type: anonymize, inputs: [src], key_env: NETANOM_TEST_KEY}\n",
        )
    } else {
        ("src", "")
    };
    let p = dir.write(
        "p.yaml",
        &format!("sources:\n  src: {{type: csv, path: caps}}\n{operators}sinks:\n  out: {{type: file, inputs: [{input}], path: out.csv}}\n"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args(["run", &p.display().to_string()])
        .current_dir(dir.path())
        .env(
            "NETANOM_TEST_KEY",
            "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202",
        )
        .output()
        .expect("netanom runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let written = std::fs::read_to_string(dir.join("out.csv")).unwrap_or_default();
    format!("{stdout}{stderr}{written}")
}

#[test]
fn reports_quote_no_address_when_the_pipeline_anonymizes() {
    let dir = TempDir::new("redact");
    leaky_csvs(&dir);
    let all = run_csvs(&dir, true);
    for a in ADDRESSES {
        assert!(!all.contains(a), "{a} leaked:\n{all}");
    }
    // The reports still say where and what.
    for report in [
        "a.csv:3: Time: expected seconds or a date and time, found 8 bytes, not shown: anonymization is on",
        "a.csv:4: Length: expected a whole number, found 12 bytes, not shown",
        "b.csv:1: header has no column for",
        "7 columns, not shown: anonymization is on",
    ] {
        assert!(all.contains(report), "missing `{report}`:\n{all}");
    }
}

#[test]
fn reports_quote_the_bad_text_without_anonymization() {
    let dir = TempDir::new("noredact");
    leaky_csvs(&dir);
    let all = run_csvs(&dir, false);
    assert!(
        all.contains("a.csv:3: Time: expected seconds or a date and time, found `10.9.8.7`"),
        "{all}"
    );
    assert!(
        all.contains("(header: 1,0.1,2001:db8::77,172.16.5.4"),
        "{all}"
    );
}
