//! Sets `NETANOM_GIT_HASH` (for `netanom_build_info`): the commit being
//! built, or `unknown` outside a git checkout.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    let hash = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NETANOM_GIT_HASH={hash}");
    println!("cargo:rerun-if-env-changed=NETANOM_GIT_HASH");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let head = std::path::Path::new(&dir).join("HEAD");
        println!("cargo:rerun-if-changed={}", head.display());
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let file = std::path::Path::new(&dir).join(reference);
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
}
