#![allow(clippy::unwrap_used)]

use super::exporter::{LabelBound, OTHER};
use super::*;
use netanom_records::stats::{BadInput, ComponentStats, Stats};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration as StdDuration;

fn exporter(config: &PrometheusConfig, stats: Arc<Stats>) -> Arc<Exporter> {
    let topology = Topology {
        sources: vec!["capture".into()],
        operators: vec![("flows".into(), vec!["capture".into()])],
        workers: 2,
    };
    let config = PrometheusConfig {
        listen: "127.0.0.1:0".into(),
        ..config.clone()
    };
    Exporter::start("metrics", &config, topology, stats).unwrap()
}

/// Sends raw bytes, returns the status code and the body.
fn request(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(StdDuration::from_secs(10)))
        .unwrap();
    let _ = s.write_all(raw);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (code, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

#[test]
fn label_values_beyond_the_bound_fold_into_other() {
    let bound = LabelBound::new(3);
    for p in ["TCP", "UDP", "DNS"] {
        assert_eq!(bound.label("a", p), p);
    }
    assert_eq!(bound.label("a", "QUIC"), OTHER);
    assert_eq!(bound.label("a", "TCP"), "TCP");
    // Per scope.
    assert_eq!(bound.label("b", "QUIC"), "QUIC");
    assert_eq!(bound.label("b", ""), "unknown");
}

#[test]
fn urls_and_options_are_checked() {
    assert_eq!(
        HttpUrl::parse("http://127.0.0.1:9091").unwrap(),
        HttpUrl {
            authority: "127.0.0.1:9091".into(),
            path: String::new()
        }
    );
    assert_eq!(
        HttpUrl::parse("http://gw/base/").unwrap(),
        HttpUrl {
            authority: "gw:80".into(),
            path: "/base".into()
        }
    );
    for bad in [
        "https://x:1",
        "http://",
        "ftp://x",
        "http://u:p@x:1",
        "http://x:99999",
        "http://x:1/a b",
    ] {
        assert!(HttpUrl::parse(bad).is_err(), "{bad}");
    }
    let ok = PrometheusConfig::default();
    assert!(ok.validate().is_empty());
    let bad = PrometheusConfig {
        listen: "localhost".into(),
        max_series: 0,
        push_gateway: Some("https://gw".into()),
        job: "a/b".into(),
        ..PrometheusConfig::default()
    };
    let fields: Vec<String> = bad.validate().iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(fields.len(), 4, "{fields:?}");
}

#[test]
fn the_endpoint_answers_and_survives_bad_requests() {
    let stats = Stats::new();
    let c = stats.component("capture");
    ComponentStats::add(&c.records_out, 7);
    ComponentStats::add(&c.files_done, 1);
    c.bad_input(BadInput {
        file: "f".into(),
        offset: 3,
        line: None,
        kind: "truncated".into(),
        message: "cut".into(),
    });
    let e = exporter(&PrometheusConfig::default(), stats);
    let addr = e.addr();
    assert_eq!(get(addr, "/-/healthy").0, 200);
    assert_eq!(get(addr, "/-/ready").0, 503);
    e.set_ready();
    assert_eq!(get(addr, "/-/ready").0, 200);
    assert_eq!(get(addr, "/nope").0, 404);
    assert_eq!(
        request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").0,
        405
    );
    assert_eq!(request(addr, b"\x00\xff garbage\r\n\r\n").0, 404);
    // A head larger than the bound: 431, and the server goes on.
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert_eq!(request(addr, &huge).0, 431);
    // A client that connects and says nothing does not block the others.
    let _idle = TcpStream::connect(addr).unwrap();
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("netanom_source_packets_total{source=\"capture\"} 7"),
        "{body}"
    );
    assert!(body.contains("netanom_source_files_total{source=\"capture\",state=\"done\"} 1"));
    assert!(body.contains("netanom_source_errors_total{kind=\"truncated\",source=\"capture\"} 1"));
    assert!(body.contains("netanom_records_in_total{operator=\"flows\"} 7"));
    assert!(body.contains("netanom_workers 2"));
    assert!(body.contains("netanom_build_info{"));
    assert!(body.contains("# HELP netanom_event_time_seconds "));
    // Many concurrent clients all get an answer.
    let threads: Vec<_> = (0..200)
        .map(|_| std::thread::spawn(move || get(addr, "/metrics").0))
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    e.finish(true).unwrap();
    assert!(TcpStream::connect(addr).is_err(), "stopped after finish");
}

#[test]
fn protocol_counters_are_bounded_per_source() {
    let config = PrometheusConfig {
        max_series: 2,
        ..PrometheusConfig::default()
    };
    let e = exporter(&config, Stats::new());
    let shared = e.shared();
    for p in ["TCP", "UDP", "DNS", "QUIC", "TCP"] {
        let pair = shared.traffic.pair("capture", p).unwrap();
        pair.packets.inc();
        pair.bytes.inc_by(10);
    }
    let text = String::from_utf8(e.render().unwrap()).unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("netanom_packets_total{"))
        .collect();
    assert_eq!(
        series,
        [
            "netanom_packets_total{protocol=\"TCP\",source=\"capture\"} 2",
            "netanom_packets_total{protocol=\"UDP\",source=\"capture\"} 1",
            "netanom_packets_total{protocol=\"other\",source=\"capture\"} 2",
        ]
    );
    e.stop();
}

#[test]
fn the_final_values_are_pushed() {
    let gateway = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", gateway.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = gateway.accept().unwrap();
        s.set_read_timeout(Some(StdDuration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 8192];
        // Read the head, then Content-Length bytes.
        loop {
            let n = s.read(&mut chunk).unwrap();
            got.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap();
                if body.len() >= len || n == 0 {
                    break;
                }
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });
    let config = PrometheusConfig {
        push_gateway: Some(url),
        job: "nightly".into(),
        ..PrometheusConfig::default()
    };
    let e = exporter(&config, Stats::new());
    e.finish(true).unwrap();
    let got = server.join().unwrap();
    assert!(
        got.starts_with("PUT /metrics/job/nightly HTTP/1.1\r\n"),
        "{got}"
    );
    assert!(got.contains("netanom_run_complete 1"), "{got}");
}

#[test]
fn a_failed_push_is_an_error() {
    // A port nobody listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = PrometheusConfig {
        push_gateway: Some(format!("http://127.0.0.1:{port}")),
        ..PrometheusConfig::default()
    };
    let e = exporter(&config, Stats::new());
    let err = e.finish(true).unwrap_err();
    assert!(err.contains("push to http://127.0.0.1"), "{err}");
}

#[test]
fn scored_series_exist_at_zero_and_clusters_stay_bounded() {
    let config = PrometheusConfig {
        max_series: 2,
        ..Default::default()
    };
    let e = exporter(&config, Stats::new());
    let shared = e.shared();
    let m = shared.traffic.scored("scans").unwrap();
    for cluster in 0..5u32 {
        shared
            .traffic
            .cluster_size("scans", cluster)
            .unwrap()
            .add(i64::from(cluster) + 1);
    }
    m.score.observe(super::SCORE_CAP);
    let body = String::from_utf8(e.render().unwrap()).unwrap();
    assert!(
        body.contains("netanom_anomalies_total{operator=\"scans\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("netanom_scored_records_total{operator=\"scans\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("netanom_anomaly_score_bucket{operator=\"scans\",le=\"16\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("netanom_anomaly_score_count{operator=\"scans\"} 1"),
        "{body}"
    );
    let clusters: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("netanom_kmeans_cluster_size{"))
        .collect();
    assert_eq!(clusters.len(), 3, "{clusters:?}");
    assert!(
        body.contains("netanom_kmeans_cluster_size{cluster=\"other\",operator=\"scans\"} 12"),
        "3 + 4 + 5: {clusters:?}"
    );
}

/// Without `listen` the endpoint is on loopback; any other address is
/// announced as reachable from other machines (checked on the message, so
/// the test binds nothing beyond loopback).
#[test]
fn binds_loopback_by_default_and_says_so_otherwise() {
    let default: SocketAddr = PrometheusConfig::default().listen_addr().unwrap();
    assert!(default.ip().is_loopback(), "{default}");
    for local in ["127.0.0.1:9898", "[::1]:9898"] {
        let notice = super::exporter::listen_notice("m", local.parse().unwrap());
        assert!(!notice.contains("beyond"), "{notice}");
    }
    for open in ["0.0.0.0:9898", "[::]:9898", "192.0.2.7:9898"] {
        let notice = super::exporter::listen_notice("m", open.parse().unwrap());
        assert!(
            notice.contains("reachable beyond this machine (listen is not a loopback address)"),
            "{notice}"
        );
    }
}
