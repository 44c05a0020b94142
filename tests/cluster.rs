//! Cluster mode (Timely's processes over TCP), on loopback: the outputs
//! equal the single-process run's byte for byte, and a process that dies
//! makes the others fail with a clear error instead of hanging.

use crate::util::{netanom, root, text, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two free loopback ports (bound, then released for the processes).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

fn hostfile(dir: &TempDir, processes: usize) -> PathBuf {
    let lines: Vec<String> = free_ports(processes)
        .into_iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    dir.write("hosts", &(lines.join("\n") + "\n"))
}

/// A pipeline with windows, degrees, k-means (trained across the
/// processes' workers) and file sinks writing into `out`.
fn pipeline(dir: &TempDir, capture: &Path, out: &Path) -> PathBuf {
    dir.write(
        &format!("p-{}.yaml", out.file_name().and_then(|n| n.to_str()).unwrap_or("x")),
        &format!(
            "sources:\n  capture: {{type: pcap, path: {}, split: always}}\n\
             operators:\n  flows: {{type: window, inputs: [capture], size: 10ms, group_by: [src, dst, protocol]}}\n  \
             hosts: {{type: window, inputs: [capture], size: 1s, group_by: [src]}}\n  \
             graph: {{type: degree, inputs: [flows], window: 1s}}\n  \
             scores: {{type: kmeans, inputs: [flows], k: 5, warmup: 500, n_init: 2, features: [count, bytes, len_max], threshold: {{quantile: 0.99}}, decay: 0.9}}\n\
             sinks:\n  flows_out: {{type: file, inputs: [flows], path: {out}/flows.csv}}\n  \
             scores_out: {{type: file, inputs: [scores], path: {out}/scores.csv}}\n  \
             hosts_out: {{type: file, inputs: [hosts], path: {out}/hosts.jsonl}}\n  \
             degrees_out: {{type: file, inputs: [graph], path: {out}/degrees.csv}}\n  \
             parts_out: {{type: file, inputs: [flows], path: {out}/parts.csv, parallel: true}}\n",
            capture.display(),
            out = out.display()
        ),
    )
}

fn spawn(pipeline: &Path, hosts: &Path, process: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args([
            "run",
            pipeline.to_str().expect("path"),
            "-q",
            "-w",
            "2",
            "--processes",
            "2",
        ])
        .args([
            "--process",
            &process.to_string(),
            "--hostfile",
            hosts.to_str().expect("path"),
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the netanom binary runs")
}

/// Waits for `child` at most `secs`; kills it and returns `None` on timeout.
fn wait_within(mut child: Child, secs: u64) -> Option<Output> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return child.wait_with_output().ok();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn generated(dir: &TempDir, packets: &str) -> PathBuf {
    let capture = dir.join("g.pcap");
    let out = netanom(&[
        "generate",
        "-n",
        packets,
        "--seed",
        "3",
        "-q",
        "-o",
        capture.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    capture
}

#[test]
fn two_processes_of_two_workers_write_the_same_bytes_as_one_process() {
    let dir = TempDir::new("cluster");
    // 64 MB, split over all four workers of both processes.
    let capture = generated(&dir, "100000");
    let one = dir.join("one");
    let run = netanom(&[
        "run",
        pipeline(&dir, &capture, &one).to_str().expect("path"),
        "-q",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run).1);

    let two = dir.join("two");
    let p = pipeline(&dir, &capture, &two);
    let hosts = hostfile(&dir, 2);
    let children = [spawn(&p, &hosts, 1), spawn(&p, &hosts, 0)];
    for (i, child) in children.into_iter().enumerate() {
        let out = wait_within(child, 120).expect("a cluster process did not finish within 120 s");
        assert_eq!(
            out.status.code(),
            Some(0),
            "process {}: {}",
            1 - i,
            text(&out).1
        );
    }
    for name in ["flows.csv", "hosts.jsonl", "degrees.csv", "scores.csv"] {
        let a = std::fs::read(one.join(name)).expect("single-process output");
        let b = std::fs::read(two.join(name)).expect("cluster output");
        assert!(a.len() > 1000, "{name}: only {} bytes", a.len());
        assert!(
            a == b,
            "{name} differs between 1 process and 2 processes x 2 workers"
        );
    }
}

#[test]
fn a_process_that_dies_makes_the_other_fail_clearly_not_hang() {
    let dir = TempDir::new("cluster-kill");
    let capture = generated(&dir, "200000");
    let out = dir.join("out");
    let p = pipeline(&dir, &capture, &out);
    let hosts = hostfile(&dir, 2);
    let zero = spawn(&p, &hosts, 0);
    let mut one = spawn(&p, &hosts, 1);
    // Once process 0 builds its dataflow (its sinks' files appear), both
    // are connected: freeze process 1 so the run cannot end, then kill it.
    let partial = out.join("flows.csv.partial");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !partial.exists() {
        assert!(
            Instant::now() < deadline,
            "process 0 never started its dataflow"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = Command::new("kill")
        .args(["-STOP", &one.id().to_string()])
        .status();
    assert!(stopped.is_ok_and(|s| s.success()), "cannot stop process 1");
    std::thread::sleep(Duration::from_millis(300));
    one.kill().expect("kill process 1");
    let _ = one.wait();
    let out0 = wait_within(zero, 30).expect("process 0 hung after process 1 died");
    let stderr = text(&out0).1;
    assert_eq!(out0.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lost the connection to another process"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic, not a clear error: {stderr}"
    );
    // Nothing under the final names.
    assert!(!out.join("flows.csv").exists());
}

#[test]
fn a_process_whose_peers_never_connect_gives_up_with_a_clear_error() {
    let dir = TempDir::new("cluster-alone");
    let capture = generated(&dir, "1000");
    let p = pipeline(&dir, &capture, &dir.join("out"));
    let hosts = hostfile(&dir, 2);
    let child = Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args([
            "run",
            p.to_str().expect("path"),
            "-q",
            "--processes",
            "2",
            "--process",
            "1",
        ])
        .args(["--hostfile", hosts.to_str().expect("path")])
        .env("NETANOM_CONNECT_TIMEOUT", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the netanom binary runs");
    let out = wait_within(child, 30).expect("a lone cluster process waited forever");
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not all connect within 2 s"),
        "{stderr}"
    );
}
