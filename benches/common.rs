//! What the benchmarks share: the generated capture they read.

use std::path::{Path, PathBuf};

/// The capture named on the command line, or a 1M-packet capture generated
/// once with ../shared/tools/gen_pcap.py into target/bench-data/.
pub fn capture() -> PathBuf {
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(arg);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("target/bench-data/g1m.pcap");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let status = std::process::Command::new("python3")
            .arg(root.join("../shared/tools/gen_pcap.py"))
            .args(["-n", "1000000", "-s", "1", "--no-labels", "-q", "-o"])
            .arg(&path)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "gen_pcap.py failed");
    }
    path
}
