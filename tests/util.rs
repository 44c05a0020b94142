//! Helpers: running the binary, temporary directories, reading outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (tests run from it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository, if present.
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    p.join("corpus/manifest.tsv").exists().then_some(p)
}

/// Runs `netanom ARGS` from the repository root.
pub fn netanom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the netanom binary runs")
}

/// stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "netanom-test-{}-{}-{}",
            name,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `file` and `graph` sinks of a pipeline: (id, path; a directory
/// for `graph`).
pub fn file_sinks(pipeline: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(pipeline).expect("read pipeline");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("pipeline YAML");
    let mut out = Vec::new();
    if let Some(sinks) = doc.get("sinks").and_then(|s| s.as_mapping()) {
        for (id, sink) in sinks {
            if matches!(
                sink.get("type").and_then(|t| t.as_str()),
                Some("file" | "graph")
            ) {
                let path = sink
                    .get("path")
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_owned();
                out.push((id.as_str().unwrap_or("").to_owned(), path));
            }
        }
    }
    out
}

/// Runs a pipeline with its file and graph sinks redirected into `dir`
/// (same file names), returning the output files' paths by sink id.
pub fn run_into(pipeline: &Path, dir: &Path, extra: &[&str]) -> (Output, Vec<(String, PathBuf)>) {
    let mut args: Vec<String> = vec!["run".into(), pipeline.display().to_string(), "-q".into()];
    let mut outputs = Vec::new();
    for (id, path) in file_sinks(pipeline) {
        let name = Path::new(&path)
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let target = dir.join(format!("{id}-{name}"));
        args.push("--set".into());
        args.push(format!("{id}.path={}", target.display()));
        outputs.push((id, target));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (netanom(&refs), outputs)
}

/// Parses a CSV file with a header into rows of (column -> value) maps.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Runs `netanom ARGS`, killing it after `secs` seconds (a stall is a test
/// failure, not a hung CI run). `None` when it had to be killed.
pub fn netanom_within(args: &[&str], secs: u64) -> Option<Output> {
    let child = Command::new(env!("CARGO_BIN_EXE_netanom"))
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the netanom binary runs");
    output_within(child, std::time::Duration::from_secs(secs))
}

/// The output of `child` (spawned with piped stdout and stderr), or `None`
/// when it did not exit within `limit` and was killed.
pub fn output_within(mut child: std::process::Child, limit: std::time::Duration) -> Option<Output> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return child.wait_with_output().ok();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A capture of `packets` generated by ../shared/tools/gen_pcap.py into
/// `dir`, or `None` when the generator is not available.
pub fn generated_capture(dir: &TempDir, packets: u64, seed: u64) -> Option<PathBuf> {
    let shared = shared()?;
    let path = dir.join(&format!("gen-{packets}-{seed}.pcap"));
    let status = Command::new("python3")
        .arg(shared.join("tools/gen_pcap.py"))
        .args([
            "-n",
            &packets.to_string(),
            "-s",
            &seed.to_string(),
            "-q",
            "--no-labels",
            "-o",
        ])
        .arg(&path)
        .status()
        .ok()?;
    status.success().then_some(path)
}
