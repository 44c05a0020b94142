//! `capture_dir`: rotating capture files read in order and followed,
//! checkpoints and exactly-once restart (kill -9 at seeded random points),
//! lost files, and live tcpdump rotations followed as they are written.

use crate::util::{generated_capture, root, text, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Splits a classic pcap file into `parts` files named like tcpdump -C
/// (`cap.pcap`, `cap.pcap1`, ...), records in order.
fn split_pcap(src: &Path, parts: usize, dir: &Path) -> Vec<PathBuf> {
    split_stretched(src, parts, dir, 1)
}

/// [`split_pcap`], with the time between packets multiplied by `stretch`
/// (microsecond pcap): more event time from fewer packets.
fn split_stretched(src: &Path, parts: usize, dir: &Path, stretch: u64) -> Vec<PathBuf> {
    let data = std::fs::read(src).expect("read capture");
    let header = &data[..24];
    let big = matches!(
        header[..4],
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d]
    );
    let mut records = Vec::new();
    let mut p = 24;
    while p + 16 <= data.len() {
        let word: [u8; 4] = data[p + 8..p + 12].try_into().expect("4 bytes");
        let incl = if big {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        } as usize;
        records.push(data[p..p + 16 + incl].to_vec());
        p += 16 + incl;
    }
    assert!(!big, "little-endian pcap expected");
    let micros = |r: &[u8]| {
        let w = |i: usize| u64::from(u32::from_le_bytes(r[i..i + 4].try_into().expect("4 bytes")));
        w(0) * 1_000_000 + w(4)
    };
    let t0 = records.first().map_or(0, |r| micros(r));
    for r in &mut records {
        let t = t0 + (micros(r) - t0) * stretch;
        r[0..4].copy_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        r[4..8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
    }
    let per = records.len().div_ceil(parts);
    std::fs::create_dir_all(dir).expect("dir");
    let mut files = Vec::new();
    for (i, chunk) in records.chunks(per).enumerate() {
        let name = if i == 0 {
            "cap.pcap".to_string()
        } else {
            format!("cap.pcap{i}")
        };
        let mut bytes = header.to_vec();
        for r in chunk {
            bytes.extend_from_slice(r);
        }
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write part");
        files.push(path);
    }
    files
}

/// A pipeline over `dir` with windows of three sizes and a degree
/// operator (differential state), writing into `out`.
fn pipeline(t: &TempDir, name: &str, dir: &Path, out: &Path, extra: &str) -> PathBuf {
    pipeline_with(t, name, dir, out, extra, "")
}

/// [`pipeline`] plus k-means scoring of the per-host windows (a state no
/// replay rebuilds: it is in the checkpoint), into `out/scores.csv`.
fn pipeline_with_kmeans(t: &TempDir, name: &str, dir: &Path, out: &Path, extra: &str) -> PathBuf {
    pipeline_with(
        t,
        name,
        dir,
        out,
        extra,
        &format!(
            "  scored: {{type: kmeans, inputs: [hosts], k: 4, warmup: 300, n_init: 2, features: [count, bytes, distinct_dsts, distinct_dports], threshold: {{quantile: 0.99}}, half_life: 5s}}
SINKS
  scores_out: {{type: file, inputs: [scored], path: {}/scores.csv}}
",
            out.display()
        ),
    )
}

fn pipeline_with(
    t: &TempDir,
    name: &str,
    dir: &Path,
    out: &Path,
    extra: &str,
    more: &str,
) -> PathBuf {
    let (more_ops, more_sinks) = more.split_once("SINKS\n").unwrap_or(("", ""));
    t.write(
        name,
        &format!(
            "sources:
  capture:
    type: capture_dir
    path: {dir}
    poll: 20ms
{extra}
operators:
  flows: {{type: window, inputs: [capture], size: 10ms, group_by: [src, dst, protocol]}}
  hosts: {{type: window, inputs: [capture], size: 1s, group_by: [src]}}
  degrees: {{type: degree, inputs: [flows], window: 5s}}
{more_ops}sinks:
  flows_out: {{type: file, inputs: [flows], path: {out}/flows.csv}}
  hosts_out: {{type: file, inputs: [hosts], path: {out}/hosts.jsonl}}
  degrees_out: {{type: file, inputs: [degrees], path: {out}/degrees.csv}}
{more_sinks}",
            dir = dir.display(),
            out = out.display(),
        ),
    )
}

const OUTPUTS: &[&str] = &["flows.csv", "hosts.jsonl", "degrees.csv"];

fn spawn(pipeline: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_netanom"))
        .arg("run")
        .arg(pipeline)
        .arg("-q")
        .args(extra)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netanom runs")
}

fn finish(child: Child, limit: Duration) -> (Option<i32>, String) {
    match crate::util::output_within(child, limit) {
        Some(out) => (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        None => (None, format!("killed: still running after {limit:?}")),
    }
}

fn run_to_end(pipeline: &Path, extra: &[&str]) -> String {
    let (code, stderr) = finish(spawn(pipeline, extra), Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    stderr
}

fn same_outputs(a: &Path, b: &Path) {
    same_files(a, b, OUTPUTS);
}

fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        let (x, y) = (a.join(name), b.join(name));
        let (x, y) = (
            std::fs::read(&x).unwrap_or_else(|e| panic!("{}: {e}", x.display())),
            std::fs::read(&y).unwrap_or_else(|e| panic!("{}: {e}", y.display())),
        );
        assert!(
            x.iter().filter(|&&b| b == b'\n').count() >= 2,
            "{name} has rows"
        );
        if x != y {
            let first = x
                .iter()
                .zip(&y)
                .position(|(p, q)| p != q)
                .unwrap_or(x.len().min(y.len()));
            panic!(
                "{name} differs from byte {first} ({} vs {} bytes): {:?} vs {:?}",
                x.len(),
                y.len(),
                String::from_utf8_lossy(&x[first.saturating_sub(80)..(first + 80).min(x.len())]),
                String::from_utf8_lossy(&y[first.saturating_sub(80)..(first + 80).min(y.len())]),
            );
        }
    }
}

#[test]
fn a_directory_of_rotated_files_gives_the_windows_of_the_whole_capture() {
    let t = TempDir::new("cdir-batch");
    let whole = root().join("samples/quickstart.pcap");
    split_pcap(&whole, 5, &t.join("caps"));
    let dir_out = t.join("dir-out");
    let p = pipeline(
        &t,
        "dir.yaml",
        &t.join("caps"),
        &dir_out,
        "    follow: false",
    );
    run_to_end(&p, &[]);
    // The same capture as one file through the pcap source.
    let one_out = t.join("one-out");
    let one = t.write(
        "one.yaml",
        &std::fs::read_to_string(&p)
            .expect("pipeline")
            .replace("type: capture_dir", "type: pcap")
            .replace(
                &t.join("caps").display().to_string(),
                &whole.display().to_string(),
            )
            .replace("    poll: 20ms\n", "")
            .replace("    follow: false\n", "")
            .replace(
                &dir_out.display().to_string(),
                &one_out.display().to_string(),
            ),
    );
    run_to_end(&one, &[]);
    same_outputs(&dir_out, &one_out);
    // 1, 2 and 4 workers agree.
    for w in ["2", "4"] {
        let out = t.join(&format!("dir-out-{w}"));
        let pw = pipeline(
            &t,
            &format!("dir{w}.yaml"),
            &t.join("caps"),
            &out,
            "    follow: false",
        );
        run_to_end(&pw, &["-w", w]);
        same_outputs(&dir_out, &out);
    }
}

/// A tiny deterministic generator for kill points.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// The crash tests' setup: 100k generated packets (5 s of traffic)
/// stretched to 30 s and cut into 6 files, read by two copies of the
/// pipeline with k-means, each with its own state_dir (checkpoints every
/// 30 ms): `clean` for one uninterrupted run into `clean_out`, `crashed`
/// for the runs that are killed, into `out`.
struct CrashCase {
    t: TempDir,
    clean: PathBuf,
    clean_out: PathBuf,
    crashed: PathBuf,
    out: PathBuf,
}

impl CrashCase {
    fn new(name: &str, seed: u64) -> Option<CrashCase> {
        let t = TempDir::new(name);
        let capture = generated_capture(&t, 100_000, seed)?;
        split_stretched(&capture, 6, &t.join("caps"), 6);
        let state = |name: &str| {
            format!(
                "    state_dir: {}\n    checkpoint_interval: 30ms\n    idle_advance: 0s",
                t.join(name).display()
            )
        };
        let (clean_out, out) = (t.join("clean"), t.join("crashed"));
        let clean = pipeline_with_kmeans(
            &t,
            "clean.yaml",
            &t.join("caps"),
            &clean_out,
            &state("state-clean"),
        );
        let crashed = pipeline_with_kmeans(
            &t,
            "crashed.yaml",
            &t.join("caps"),
            &out,
            &state("state-crashed"),
        );
        Some(CrashCase {
            t,
            clean,
            clean_out,
            crashed,
            out,
        })
    }

    /// The killed runs' checkpoint file.
    fn checkpoint(&self) -> PathBuf {
        self.t.join("state-crashed/checkpoint.json")
    }

    /// The last restart runs to the end of the files (with `extra`); its
    /// outputs must equal the uninterrupted run's byte for byte.
    fn finish_and_compare(&self, extra: &[&str]) {
        let mut args = vec!["--set", "capture.follow=false"];
        args.extend_from_slice(extra);
        run_to_end(&self.crashed, &args);
        same_files(
            &self.clean_out,
            &self.out,
            &["flows.csv", "hosts.jsonl", "degrees.csv", "scores.csv"],
        );
    }
}

#[test]
fn killed_at_ten_random_points_the_restarted_runs_equal_one_uninterrupted_run() {
    let Some(case) = CrashCase::new("cdir-crash", 21) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    let started = Instant::now();
    run_to_end(&case.clean, &["--set", "capture.follow=false"]);
    let duration = started.elapsed().as_millis() as u64;
    // Follow runs killed with SIGKILL, each resuming from the checkpoint.
    let mut rng = Lcg(2026);
    let mut points = Vec::new();
    for i in 0..10 {
        // Each run resumes where the last stopped: kills spread over about
        // one run's worth of progress, at seeded random points.
        let delay = 40 + rng.next((duration / 6).max(50));
        let mut child = spawn(&case.crashed, &["-w", if i % 2 == 0 { "1" } else { "2" }]);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let committed = std::fs::read_to_string(case.checkpoint())
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.contains("\"before\""))
                    .map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "no checkpoint yet".into());
        points.push(format!("kill {i}: after {delay} ms ({committed})"));
    }
    eprintln!(
        "uninterrupted run: {duration} ms; kill points:\n{}",
        points.join("\n")
    );
    case.finish_and_compare(&[]);
}

/// The ten random kills above mostly land before k-means has a model: here
/// each run is killed only once its checkpoint holds a trained model (and
/// a later one), so the restarts restore the model on every worker (1, 2
/// and 4 of them) and score on from it: the outputs still equal one
/// uninterrupted run byte for byte.
#[test]
fn killed_after_the_model_is_checkpointed_the_restarted_runs_equal_one_run() {
    let Some(case) = CrashCase::new("cdir-crash-model", 23) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    run_to_end(&case.clean, &["--set", "capture.follow=false", "-w", "4"]);
    let checkpoint = case.checkpoint();
    let committed = || -> Option<(u64, bool)> {
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&checkpoint).ok()?).ok()?;
        let before = saved["before"].as_u64()?;
        Some((before, saved["operators"]["scored"]["model"].is_object()))
    };
    let mut last = 0;
    for workers in ["2", "1", "4"] {
        let mut child = spawn(&case.crashed, &["-w", workers]);
        // Killed once a checkpoint newer than the last run's holds a model.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if committed().is_some_and(|(before, model)| model && before > last) {
                break;
            }
            assert!(Instant::now() < deadline, "no checkpoint with a model");
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        last = committed().map_or(last, |c| c.0);
    }
    case.finish_and_compare(&["-w", "2"]);
}

#[test]
fn sigint_checkpoints_and_the_next_run_resumes_exactly() {
    let t = TempDir::new("cdir-sigint");
    let Some(capture) = generated_capture(&t, 60_000, 22) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    split_stretched(&capture, 4, &t.join("caps"), 6);
    let state = |name: &str| {
        format!(
            "    state_dir: {}\n    idle_advance: 0s",
            t.join(name).display()
        )
    };
    let clean_out = t.join("clean");
    let clean = pipeline(&t, "clean.yaml", &t.join("caps"), &clean_out, &state("s1"));
    let started = Instant::now();
    run_to_end(&clean, &["--set", "capture.follow=false"]);
    let half = started.elapsed() / 2;
    let out = t.join("stopped");
    let p = pipeline(&t, "p.yaml", &t.join("caps"), &out, &state("s2"));
    let child = spawn(&p, &["-w", "2"]);
    std::thread::sleep(half);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        t.join("s2/checkpoint.json").exists(),
        "checkpoint written at the stop"
    );
    // The outputs were renamed, as at the end of any run.
    assert!(out.join("flows.csv").exists());
    run_to_end(&p, &["--set", "capture.follow=false"]);
    same_outputs(&clean_out, &out);
}

#[test]
fn a_follow_run_writes_its_kmeans_model_at_checkpoints() {
    let t = TempDir::new("cdir-model");
    split_pcap(&root().join("samples/quickstart.pcap"), 3, &t.join("caps"));
    let model = t.join("model.json");
    let p = t.write(
        "p.yaml",
        &format!(
            "sources:
  capture: {{type: capture_dir, path: {caps}, state_dir: {state}, checkpoint_interval: 30ms, idle_advance: 200ms}}
operators:
  by_src: {{type: window, inputs: [capture], size: 250ms, group_by: [src]}}
  scans: {{type: kmeans, inputs: [by_src], k: 4, warmup: 50, features: [count, distinct_dports], threshold: {{farthest: 1}}, model_path: {model}}}
sinks:
  scored: {{type: file, inputs: [scans], path: {out}}}
",
            caps = t.join("caps").display(),
            state = t.join("state").display(),
            model = model.display(),
            out = t.join("scored.csv").display(),
        ),
    );
    let mut child = spawn(&p, &[]);
    // It follows forever: the model file must appear while it runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !model.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&model).expect("model written while running"),
    )
    .expect("a JSON model");
    assert_eq!(saved["centroids"].as_array().map(Vec::len), Some(4));
}

#[test]
fn a_resumed_batch_run_continues_where_the_last_one_stopped() {
    let t = TempDir::new("cdir-resume");
    let parts = split_pcap(&root().join("samples/quickstart.pcap"), 4, &t.join("all"));
    std::fs::create_dir_all(t.join("growing")).expect("dir");
    let state = |name: &str| {
        format!(
            "    follow: false\n    state_dir: {}",
            t.join(name).display()
        )
    };
    let inc_out = t.join("inc");
    let inc = pipeline(&t, "inc.yaml", &t.join("growing"), &inc_out, &state("s1"));
    for part in &parts {
        std::fs::copy(
            part,
            t.join("growing").join(part.file_name().expect("name")),
        )
        .expect("copy");
        run_to_end(&inc, &[]);
    }
    let all_out = t.join("all-out");
    let all = pipeline(&t, "all.yaml", &t.join("all"), &all_out, &state("s2"));
    run_to_end(&all, &[]);
    same_outputs(&inc_out, &all_out);
}

#[test]
fn a_damaged_or_foreign_checkpoint_is_a_clear_error() {
    let t = TempDir::new("cdir-damaged");
    split_pcap(&root().join("samples/quickstart.pcap"), 2, &t.join("caps"));
    let out = t.join("out");
    let state = format!(
        "    follow: false\n    state_dir: {}",
        t.join("st").display()
    );
    let p = pipeline(&t, "p.yaml", &t.join("caps"), &out, &state);
    run_to_end(&p, &[]);
    let ckpt = t.join("st/checkpoint.json");
    let good = std::fs::read_to_string(&ckpt).expect("checkpoint written");
    std::fs::write(&ckpt, &good[..good.len() / 2]).expect("damage");
    let (code, stderr) = finish(spawn(&p, &[]), Duration::from_secs(60));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("checkpoint.json") && stderr.contains("damaged"),
        "{stderr}"
    );
    // A checkpoint of another pipeline is not applied.
    std::fs::write(&ckpt, &good).expect("restore");
    let (code, stderr) = finish(
        spawn(&p, &["--set", "flows.size=20ms"]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("different pipeline"), "{stderr}");
    // Valid JSON, but not a position: refused, and no checkpoint is
    // written over it.
    let mut v: serde_json::Value = serde_json::from_str(&good).expect("json");
    v["sources"]["capture"]["replay"] = serde_json::json!({"what": 1});
    let bad = serde_json::to_string(&v).expect("json");
    std::fs::write(&ckpt, &bad).expect("write");
    let (code, stderr) = finish(spawn(&p, &[]), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("position is damaged"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&ckpt).expect("kept"), bad);
    std::fs::write(&ckpt, &good).expect("restore");
    // An output changed behind netanom's back is not silently extended.
    std::fs::write(out.join("flows.csv"), "x\n").expect("clobber");
    let (code, stderr) = finish(spawn(&p, &[]), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("flows.csv") && stderr.contains("was changed"),
        "{stderr}"
    );
}

#[test]
fn files_deleted_before_they_were_read_are_reported_lost_by_name() {
    let t = TempDir::new("cdir-lost");
    let Some(big) = generated_capture(&t, 120_000, 5) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    let caps = t.join("caps");
    std::fs::create_dir_all(&caps).expect("dir");
    // A long first file keeps the reader busy while the ring deletes the
    // next two (a reader slower than the ring).
    std::fs::copy(&big, caps.join("ring_00001_20261126120000.pcap")).expect("copy");
    let small = split_pcap(&root().join("samples/quickstart.pcap"), 3, &t.join("small"));
    for (i, s) in small.iter().enumerate() {
        std::fs::copy(
            s,
            caps.join(format!("ring_0000{}_2026112612000{}.pcap", i + 2, i + 1)),
        )
        .expect("copy");
    }
    // Their packets are older than the first file's: order by name.
    let p = pipeline(
        &t,
        "p.yaml",
        &caps,
        &t.join("out"),
        &format!(
            "    order: name\n    follow: false\n    state_dir: {}\n    checkpoint_interval: 10ms",
            t.join("state").display()
        ),
    );
    let child = spawn(&p, &[]);
    // Delete once it is reading the first file (its first checkpoint, after
    // a second of event time), long before it is done with it: however slow
    // the machine, it has listed the files then.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !t.join("state/checkpoint.json").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    for name in [
        "ring_00002_20261126120001.pcap",
        "ring_00003_20261126120002.pcap",
    ] {
        std::fs::remove_file(caps.join(name)).expect("delete");
    }
    let (code, stderr) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    for name in [
        "ring_00002_20261126120001.pcap",
        "ring_00003_20261126120002.pcap",
    ] {
        assert!(
            stderr.contains(&format!("lost file `{}`", caps.join(name).display())),
            "{stderr}"
        );
    }
    assert!(stderr.contains("lost_file 2"), "{stderr}");
}

#[test]
fn a_file_rewritten_in_place_is_not_read_on_as_the_same_file() {
    let t = TempDir::new("cdir-rewrite");
    let parts = split_pcap(&root().join("samples/quickstart.pcap"), 2, &t.join("parts"));
    let caps = t.join("caps");
    std::fs::create_dir_all(&caps).expect("dir");
    let name = caps.join("cap.pcap");
    std::fs::copy(&parts[0], &name).expect("copy");
    let p = pipeline(&t, "p.yaml", &caps, &t.join("out"), "    idle_advance: 0s");
    let child = spawn(&p, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    // A ring reusing the name: same inode, new content.
    std::fs::write(&name, std::fs::read(&parts[1]).expect("part")).expect("rewrite");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("replaced 1"), "{stderr}");
    assert!(stderr.contains("in place while it was read"), "{stderr}");
    // Both contents were read whole (as two files), and nothing else.
    assert!(stderr.contains("capture: 10501 packets"), "{stderr}");
}

fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Sends `n` UDP datagrams to 127.0.0.1:`port` at about `rate` per second.
fn send_udp(port: u16, n: usize, rate: usize) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let started = Instant::now();
    for i in 0..n {
        let payload = format!("netanom-follow-test {i:08}");
        let _ = socket.send_to(payload.as_bytes(), ("127.0.0.1", port));
        let due = Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Follows a live rotation written by `tool` (tcpdump or dumpcap) on
/// loopback, then compares with a batch run over the same files.
fn follow_live(name: &str, tool: &str, args: &[&str], port: u16) {
    if !available(tool) {
        eprintln!("skipped: {tool} not installed (.ci/run installs it)");
        return;
    }
    let t = TempDir::new(name);
    let caps = t.join("caps");
    std::fs::create_dir_all(&caps).expect("dir");
    let filter = format!("udp port {port}");
    let mut cmd = Command::new(tool);
    if tool == "tcpdump" {
        // -U: write each packet at once; -Z root: keep the right to create
        // the next file in a directory owned by root.
        cmd.args(["-i", "lo", "-n", "-U", "-s", "256", "-Z", "root"])
            .args(args)
            .arg(&filter);
    } else {
        cmd.args(["-i", "lo", "-q", "-s", "256", "-f", &filter])
            .args(args);
    }
    let mut tcpdump = cmd
        .current_dir(&caps)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump runs");
    std::thread::sleep(Duration::from_millis(700));
    let follow_out = t.join("follow");
    // With a state_dir, a stop writes only windows that are complete: the
    // last ones are there only if idle_advance closed them once the
    // capture went quiet.
    let state = format!(
        "    idle_advance: 500ms\n    state_dir: {}",
        t.join("state").display()
    );
    let p = pipeline(&t, "follow.yaml", &caps, &follow_out, &state);
    let follower = spawn(&p, &["-w", "2"]);
    send_udp(port, 12_000, 4_000);
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &tcpdump.id().to_string()])
        .status();
    let _ = tcpdump.wait();
    // Idle: event time advances with the clock (after out_of_order,
    // idle_advance and the read lag) and the last windows close and are
    // committed; then stop.
    let stopped = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let deadline = Instant::now() + Duration::from_secs(30);
    let committed = || {
        std::fs::read_to_string(t.join("state/checkpoint.json"))
            .ok()
            .and_then(|c| {
                let v: serde_json::Value = serde_json::from_str(&c).ok()?;
                v["before"].as_u64()
            })
            .unwrap_or(0)
    };
    // The longest window (degree, 5 s) ends at most 5 s after the last
    // packet and is emitted a tick later.
    while committed() < (stopped + 7) * 1_000_000_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-INT", &follower.id().to_string()])
        .status();
    let (code, stderr) = finish(follower, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(&caps).expect("caps").flatten().collect();
    assert!(files.len() >= 2, "tcpdump rotated: {} files", files.len());
    // Every file was finished, the last one too: the writer closed it
    // (inotify), so it did not wait for idle_close.
    assert!(
        stderr.contains(&format!("{} files read", files.len())),
        "{} files: {stderr}",
        files.len()
    );
    let batch_out = t.join("batch");
    let batch = pipeline(&t, "batch.yaml", &caps, &batch_out, "    follow: false");
    let stderr = run_to_end(&batch, &[]);
    same_outputs(&follow_out, &batch_out);
    let (header, rows) = crate::util::read_csv(&batch_out.join("flows.csv"));
    let count = header
        .iter()
        .position(|h| h == "count")
        .expect("count column");
    let packets: u64 = rows
        .iter()
        .filter_map(|r| r.get(count)?.parse::<u64>().ok())
        .sum();
    // tcpdump may drop a few under load; nearly all must be there.
    assert!(
        packets >= 11_400,
        "{packets} of 12000 packets in flows: {stderr}"
    );
}

#[test]
fn following_tcpdump_rotating_every_second_equals_a_batch_run() {
    follow_live(
        "cdir-tcpdump-g",
        "tcpdump",
        &["-G", "1", "-w", "cap-%Y%m%d-%H%M%S.pcap"],
        47_611,
    );
}

#[test]
fn following_a_dumpcap_ring_buffer_equals_a_batch_run() {
    follow_live(
        "cdir-dumpcap",
        "dumpcap",
        &["-b", "duration:1", "-b", "files:50", "-w", "ring.pcapng"],
        47_613,
    );
}

#[test]
fn following_a_tcpdump_size_ring_equals_a_batch_run() {
    follow_live(
        "cdir-tcpdump-c",
        "tcpdump",
        &["-C", "1", "-W", "8", "-w", "ring.pcap"],
        47_612,
    );
}

#[test]
fn plugins_lists_capture_dir() {
    let out = crate::util::netanom(&["plugins", "capture_dir"]);
    let (stdout, _) = text(&out);
    for key in [
        "state_dir",
        "idle_advance",
        "idle_close",
        "order",
        "follow",
        "pattern",
    ] {
        assert!(stdout.contains(key), "{stdout}");
    }
}

#[test]
fn a_terminal_gets_a_progress_line_and_a_pipe_does_not() {
    let t = TempDir::new("cdir-progress");
    let Some(capture) = generated_capture(&t, 100_000, 23) else {
        eprintln!("skipped: gen_pcap.py not available");
        return;
    };
    split_pcap(&capture, 4, &t.join("caps"));
    let p = pipeline(
        &t,
        "p.yaml",
        &t.join("caps"),
        &t.join("out"),
        "    follow: false",
    );
    let command = format!("{} run {}", env!("CARGO_BIN_EXE_netanom"), p.display());
    // `script` gives the run a terminal (util-linux); its transcript is
    // what the terminal showed.
    let Ok(out) = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
    else {
        eprintln!("skipped: script (util-linux) not available");
        return;
    };
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains(" files, ")
            && shown.contains(" packets (")
            && shown.contains("event time 20"),
        "no progress line on a terminal: {shown}"
    );
    // Not a terminal: the summary only.
    let (code, stderr) = finish(spawn(&p, &[]), Duration::from_secs(120));
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("event time"), "{stderr}");
}
