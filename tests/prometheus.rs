//! The `prometheus` sink, checked by real Prometheus tools: a Prometheus
//! server scrapes it and answers queries, `promtool` lints a scrape.
//! Loopback only, every wait bounded.

use crate::util::{netanom, root, text, TempDir};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (by its id) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` on loopback: status and body, `None` if nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of a PromQL query that gives one sample, if it does.
fn query(port: u16, promql: &str) -> Option<f64> {
    let (code, body) = get(port, &format!("/api/v1/query?query={}", url_encode(promql)))?;
    if code != 200 {
        return None;
    }
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{..},"value":[T,"V"]}]}}
    let mut values = body.split("\"value\":[").skip(1);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let v = first.split('"').nth(1)?;
    v.parse().ok()
}

fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Starts `netanom run PIPELINE` in the background, output into `dir`.
fn start_netanom(dir: &TempDir, pipeline: &Path) -> Guard {
    let out = std::fs::File::create(dir.join("stdout.txt")).expect("stdout file");
    let err = std::fs::File::create(dir.join("stderr.txt")).expect("stderr file");
    Guard(
        Command::new(env!("CARGO_BIN_EXE_netanom"))
            .args(["run", "-w", "2"])
            .arg(pipeline)
            .current_dir(root())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("netanom runs"),
    )
}

/// The console sink's protocol table: protocol -> (packets, bytes).
fn console_protocols(stdout: &str) -> Vec<(String, u64, u64)> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if line.trim_end().ends_with("  protocol") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [p, b, name] if !name.starts_with('(') => match (p.parse(), b.parse()) {
                (Ok(p), Ok(b)) => rows.push(((*name).to_owned(), p, b)),
                _ => break,
            },
            _ => break,
        }
    }
    rows
}

#[test]
fn prometheus_scrapes_the_runs_own_counts() {
    let Some(prometheus) = which("prometheus") else {
        eprintln!("skipped: the prometheus binary is not installed");
        return;
    };
    let dir = TempDir::new("prometheus");
    let (sink_port, prom_port) = (free_port(), free_port());
    let config = dir.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: netanom\n    static_configs:\n      - targets: ['127.0.0.1:{sink_port}']\n"
        ),
    );
    let hosts = dir.join("hosts.csv");
    let pipeline = dir.write(
        "pipeline.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: {}}}\n\
             operators:\n  hosts: {{type: window, inputs: [capture], size: 1s, group_by: [src]}}\n\
             sinks:\n  hosts_out: {{type: file, inputs: [hosts], path: {}}}\n\
             \x20 traffic: {{type: console, inputs: [capture], top: 64}}\n\
             \x20 metrics: {{type: prometheus, inputs: [capture, hosts], listen: '127.0.0.1:{sink_port}', hold: 90s}}\n",
            root().join("samples/quickstart.pcap").display(),
            hosts.display()
        ),
    );
    let prom_log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let _prometheus = Guard(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(prom_log)
            .spawn()
            .expect("prometheus starts"),
    );
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert!(
        wait_for(30, || (get(prom_port, "/-/ready")?.0 == 200).then_some(())).is_some(),
        "prometheus did not get ready:\n{}",
        log()
    );
    let _netanom = start_netanom(&dir, &pipeline);
    let stderr = || std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    // Scraped after the run's end: the values are final.
    assert!(
        wait_for(60, || (query(prom_port, "netanom_run_complete")? == 1.0)
            .then_some(()))
        .is_some(),
        "no complete run seen by prometheus\nnetanom: {}\nprometheus: {}",
        stderr(),
        log()
    );
    let q = |promql: &str| query(prom_port, promql).unwrap_or(f64::NAN);
    assert_eq!(q("sum(netanom_packets_total)"), 10501.0);
    assert_eq!(
        q("netanom_source_packets_total{source=\"capture\"}"),
        10501.0
    );
    assert_eq!(q("netanom_source_files_total{state=\"done\"}"), 1.0);
    assert_eq!(q("netanom_source_files_total{state=\"error\"}"), 0.0);
    assert_eq!(
        q("netanom_window_packets_total{operator=\"hosts\"}"),
        10501.0
    );
    assert_eq!(q("netanom_records_in_total{operator=\"hosts\"}"), 10501.0);
    assert_eq!(q("netanom_workers"), 2.0);
    assert_eq!(q("count(netanom_build_info)"), 1.0);
    let (_, rows) = crate::util::read_csv(&hosts);
    assert_eq!(
        q("netanom_window_records_total{operator=\"hosts\"}"),
        rows.len() as f64
    );
    assert_eq!(
        q("netanom_records_total{operator=\"hosts\"}"),
        rows.len() as f64
    );
    // Per protocol, as the console sink counted them.
    let stdout = std::fs::read_to_string(dir.join("stdout.txt")).unwrap_or_default();
    let protocols = console_protocols(&stdout);
    assert!(protocols.len() > 5, "console table: {stdout}");
    assert_eq!(
        q("count(netanom_packets_total)"),
        protocols.len() as f64,
        "{stdout}"
    );
    for (name, packets, bytes) in &protocols {
        let labels = format!("{{source=\"capture\",protocol=\"{name}\"}}");
        assert_eq!(
            q(&format!("netanom_packets_total{labels}")),
            *packets as f64,
            "{name}"
        );
        assert_eq!(
            q(&format!("netanom_bytes_total{labels}")),
            *bytes as f64,
            "{name}"
        );
    }
    let total_bytes: u64 = protocols.iter().map(|p| p.2).sum();
    assert_eq!(q("sum(netanom_bytes_total)"), total_bytes as f64);
    // The event-time watermark is inside the capture's time span.
    let event_time = q("netanom_event_time_seconds");
    assert!(event_time > 1.0e9, "{event_time}");

    // promtool lints a scrape of the (still holding) endpoint; it comes
    // with prometheus, so here it must be there.
    assert!(
        which("promtool").is_some(),
        "promtool comes with prometheus"
    );
    let (code, scrape) = get(sink_port, "/metrics").expect("the sink still serves");
    assert_eq!(code, 200);
    promtool_accepts(&scrape);
}

#[test]
fn traffic_label_values_stay_bounded() {
    // 100,000 packets, each with its own source and destination address,
    // over 1,000 protocol names.
    let dir = TempDir::new("cardinality");
    let mut csv = String::from(
        "\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n",
    );
    for i in 0u32..100_000 {
        let (a, b, c) = (i >> 16, (i >> 8) & 255, i & 255);
        csv.push_str(&format!(
            "{},{}.{:04},10.{a}.{b}.{c},172.{}.{b}.{c},P{},{},\n",
            i + 1,
            i / 10_000,
            i % 10_000,
            16 + a,
            i % 1000,
            60 + i % 100
        ));
    }
    let capture = dir.write("many.csv", &csv);
    let port = free_port();
    let pipeline = dir.write(
        "pipeline.yaml",
        &format!(
            "sources:\n  wide: {{type: csv, path: {}}}\n\
             operators:\n  pairs: {{type: window, inputs: [wide], size: 1s, group_by: [src, dst]}}\n\
             sinks:\n  metrics: {{type: prometheus, inputs: [wide, pairs], listen: '127.0.0.1:{port}', max_series: 20, hold: 60s}}\n",
            capture.display()
        ),
    );
    let _netanom = start_netanom(&dir, &pipeline);
    let scrape = wait_for(60, || {
        let (_, body) = get(port, "/metrics")?;
        body.lines()
            .any(|l| l == "netanom_run_complete 1")
            .then_some(body)
    })
    .unwrap_or_else(|| {
        panic!(
            "no complete run: {}",
            std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
        )
    });
    let series: Vec<&str> = scrape.lines().filter(|l| !l.starts_with('#')).collect();
    let packets: Vec<&str> = series
        .iter()
        .copied()
        .filter(|l| l.starts_with("netanom_packets_total{"))
        .collect();
    assert_eq!(packets.len(), 21, "20 protocols and other: {packets:?}");
    let sum: f64 = packets
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(sum, 100_000.0);
    assert!(
        scrape.contains("netanom_packets_total{protocol=\"other\",source=\"wide\"} 98000"),
        "{packets:?}"
    );
    assert!(series.len() < 100, "{} series:\n{scrape}", series.len());
    assert!(!scrape.contains("10.1.134.159"), "no address in any label");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = TempDir::new("port-in-use");
    let out = netanom(&[
        "run",
        "pipelines/monitor.yaml",
        "--set",
        &format!("metrics.listen=127.0.0.1:{port}"),
        "--set",
        &format!("flows_out.path={}", dir.join("flows.csv").display()),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on 127.0.0.1:"), "{stderr}");
}

/// With anonymization before the prometheus sink, no original address of
/// the capture appears in a scrape (as a whole token: Crypto-PAn keeps
/// prefixes, so a shared leading octet is expected).
#[test]
fn anonymized_metrics_hold_no_original_address() {
    let dir = TempDir::new("prom-anon");
    let port = free_port();
    let pipeline = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: samples/quickstart.pcap}}\n\
             operators:\n  anon: {{type: anonymize, inputs: [capture], key_file: pipelines/keys/example.key}}\n\
             \x20 hosts: {{type: window, inputs: [anon], size: 1s, group_by: [src, dst]}}\n\
             sinks:\n  metrics: {{type: prometheus, inputs: [anon, hosts], listen: \"127.0.0.1:{port}\", hold: 60s}}\n"
        ),
    );
    let guard = start_netanom(&dir, &pipeline);
    let scrape = wait_for(30, || {
        get(port, "/metrics")
            .filter(|(code, body)| *code == 200 && body.contains("netanom_run_complete 1"))
    });
    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let (_, body) = scrape.expect("a scrape after the run completed");
    assert!(body.contains("netanom_packets_total"), "{body}");
    let fields =
        std::fs::read_to_string(root().join("samples/quickstart.fields.tsv")).expect("fields.tsv");
    let mut originals = std::collections::BTreeSet::new();
    for line in fields.lines().skip(1) {
        for (i, value) in line.split('\t').enumerate() {
            // ip.src, ipv6.src, ip.dst, ipv6.dst
            if (3..=6).contains(&i) && !value.is_empty() {
                originals.insert(value.to_owned());
            }
        }
    }
    assert!(originals.len() > 200, "the sample has many addresses");
    let tokens: std::collections::BTreeSet<&str> = body
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .filter(|t| !t.is_empty())
        .collect();
    let leaked: Vec<&String> = originals
        .iter()
        .filter(|a| tokens.contains(a.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "original addresses in the metrics: {leaked:?}"
    );
}

/// Degree inputs: `netanom_degree{operator,ip,direction}` for the top
/// addresses of the last closed window only (bounded cardinality).
#[test]
fn degree_gauges_show_the_top_of_the_last_window() {
    let dir = TempDir::new("prom-degree");
    let port = free_port();
    let pipeline = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: samples/quickstart.pcap}}\n\
             operators:\n  graph: {{type: degree, inputs: [capture], window: 1s}}\n\
             sinks:\n  metrics: {{type: prometheus, inputs: [graph], listen: \"127.0.0.1:{port}\", hold: 5s}}\n"
        ),
    );
    let _guard = start_netanom(&dir, &pipeline);
    let (_, body) = wait_for(30, || {
        get(port, "/metrics")
            .filter(|(code, body)| *code == 200 && body.contains("netanom_run_complete 1"))
    })
    .expect("a scrape after the run completed");
    let series: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("netanom_degree{"))
        .collect();
    assert!(!series.is_empty(), "{body}");
    assert!(series.len() <= 20, "{series:?}");
    assert!(
        series.iter().all(|l| l.contains("operator=\"graph\"")
            && (l.contains("direction=\"in\"") || l.contains("direction=\"out\""))),
        "{series:?}"
    );
}

/// The value of the one sample `series` (name and labels, as printed) in a
/// scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `promtool check metrics` on a scrape, if promtool is installed:
/// no complaint at all.
fn promtool_accepts(scrape: &str) {
    let Some(promtool) = which("promtool") else {
        eprintln!("promtool check skipped: promtool is not installed");
        return;
    };
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(scrape.as_bytes())
        .expect("scrape to promtool");
    let out = check.wait_with_output().expect("promtool ends");
    let (lint_out, lint_err) = text(&out);
    assert!(
        out.status.success() && lint_out.trim().is_empty() && lint_err.trim().is_empty(),
        "promtool check metrics: {lint_out}{lint_err}\n{scrape}"
    );
}

/// Scored inputs (k-means output): the anomaly counter, the score
/// histogram and the cluster sizes agree with a file sink on the same
/// stream in the same run (two workers).
#[test]
fn kmeans_metrics_match_the_scored_rows() {
    let dir = TempDir::new("prom-kmeans");
    let port = free_port();
    let scored = dir.join("scored.csv");
    let yaml = std::fs::read_to_string(root().join("pipelines/scan-detect.yaml"))
        .expect("scan-detect.yaml");
    let (head, _) = yaml.split_once("\nsinks:").expect("a sinks section");
    let pipeline = dir.write(
        "p.yaml",
        &format!(
            "{head}\nsinks:\n  scored: {{type: file, inputs: [scans], path: {}}}\n\
             \x20 metrics: {{type: prometheus, inputs: [scans, by_src], listen: \"127.0.0.1:{port}\", hold: 60s}}\n",
            scored.display()
        ),
    );
    let mut guard = start_netanom(&dir, &pipeline);
    let stderr = || std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    let scrape = wait_for(60, || {
        get(port, "/metrics")
            .filter(|(code, body)| *code == 200 && body.contains("netanom_run_complete 1"))
            .map(|(_, body)| body)
    })
    .unwrap_or_else(|| panic!("no complete run: {}", stderr()));
    // SIGINT ends the hold; the file sink is complete once the run exits.
    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let exited = wait_for(20, || guard.0.try_wait().ok().flatten());
    assert_eq!(exited.and_then(|s| s.code()), Some(0), "{}", stderr());

    let (header, rows) = crate::util::read_csv(&scored);
    let anomaly = header.iter().position(|h| h == "anomaly").expect("anomaly");
    let cluster = header.iter().position(|h| h == "cluster").expect("cluster");
    let anomalies = rows.iter().filter(|r| r[anomaly] == "true").count();
    assert!(rows.len() > 100, "{} scored rows", rows.len());
    assert!(anomalies > 0, "the sample has scans");
    let op = "{operator=\"scans\"}";
    let get = |series: &str| sample(&scrape, series).unwrap_or(f64::NAN);
    assert_eq!(
        get(&format!("netanom_anomalies_total{op}")),
        anomalies as f64,
        "{scrape}"
    );
    assert_eq!(
        get(&format!("netanom_anomaly_score_count{op}")),
        rows.len() as f64
    );
    assert_eq!(
        get(&format!("netanom_scored_records_total{op}")),
        rows.len() as f64
    );
    // Anomalies have score > 1: at most the records above the `le="1"` bucket.
    let at_most_one = get("netanom_anomaly_score_bucket{operator=\"scans\",le=\"1\"}");
    assert!(
        rows.len() as f64 - at_most_one >= anomalies as f64,
        "{scrape}"
    );
    // Cluster sizes (cumulative) sum to the scored rows, cluster by cluster.
    let mut sizes = std::collections::BTreeMap::<String, usize>::new();
    for r in &rows {
        *sizes.entry(r[cluster].clone()).or_default() += 1;
    }
    for (c, n) in &sizes {
        assert_eq!(
            get(&format!(
                "netanom_kmeans_cluster_size{{cluster=\"{c}\",operator=\"scans\"}}"
            )),
            *n as f64,
            "cluster {c}: {scrape}"
        );
    }
    let series = scrape
        .lines()
        .filter(|l| l.starts_with("netanom_kmeans_cluster_size{"))
        .count();
    assert_eq!(series, sizes.len(), "{scrape}");
    // The window input is counted on its own, as before.
    assert!(get("netanom_window_records_total{operator=\"by_src\"}") > 0.0);
    assert!(
        !scrape.contains("operator=\"by_src\",le="),
        "no scores for windows"
    );
    promtool_accepts(&scrape);
}

/// Motif inputs: `netanom_motif_matches_total` per operator and pattern
/// equals the rows a file sink wrote from the same operators in the run.
#[test]
fn motif_metrics_match_the_motif_rows() {
    let dir = TempDir::new("prom-motif");
    let port = free_port();
    let yaml = std::fs::read_to_string(root().join("pipelines/motifs.yaml")).expect("motifs.yaml");
    let (head, _) = yaml.split_once("\nsinks:").expect("a sinks section");
    let files: Vec<(&str, std::path::PathBuf)> = ["vertical", "horizontal", "pairs"]
        .into_iter()
        .map(|id| (id, dir.join(&format!("{id}.csv"))))
        .collect();
    let mut sinks = String::new();
    for (id, path) in &files {
        sinks.push_str(&format!(
            "  {id}_out: {{type: file, inputs: [{id}], path: {}}}\n",
            path.display()
        ));
    }
    let pipeline = dir.write(
        "p.yaml",
        &format!(
            "{head}\nsinks:\n{sinks}  metrics: {{type: prometheus, inputs: [vertical, horizontal, pairs], listen: \"127.0.0.1:{port}\", hold: 60s}}\n"
        ),
    );
    let mut guard = start_netanom(&dir, &pipeline);
    let stderr = || std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    let scrape = wait_for(60, || {
        get(port, "/metrics")
            .filter(|(code, body)| *code == 200 && body.contains("netanom_run_complete 1"))
            .map(|(_, body)| body)
    })
    .unwrap_or_else(|| panic!("no complete run: {}", stderr()));
    let status = Command::new("kill")
        .args(["-INT", &guard.0.id().to_string()])
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let exited = wait_for(20, || guard.0.try_wait().ok().flatten());
    assert_eq!(exited.and_then(|s| s.code()), Some(0), "{}", stderr());
    let mut total = 0.0;
    for (id, path) in &files {
        let (header, rows) = crate::util::read_csv(path);
        let pattern = header
            .iter()
            .position(|h| h == "pattern")
            .expect("pattern column");
        for name in ["reciprocal", "fan_out", "fan_in"] {
            let want = rows.iter().filter(|r| r[pattern] == name).count() as f64;
            let series =
                format!("netanom_motif_matches_total{{operator=\"{id}\",pattern=\"{name}\"}}");
            let got = sample(&scrape, &series).unwrap_or(f64::NAN);
            assert_eq!(got, want, "{series}: {scrape}");
            total += want;
        }
    }
    assert!(total >= 3.0, "the sample's scans match");
    promtool_accepts(&scrape);
}
