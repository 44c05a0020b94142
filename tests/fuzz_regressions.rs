//! Every input a fuzz target ever crashed on, replayed through the same
//! entry point (fuzz/entries.rs) in the default suite. Inputs live in
//! tests/data/fuzz-regressions/TARGET/, one file each (see its README).

use crate::util::root;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[path = "../fuzz/entries.rs"]
mod entries;

#[test]
fn saved_fuzz_inputs_run_without_panicking() {
    let base = root().join("tests/data/fuzz-regressions");
    let mut replayed = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&base).expect("tests/data/fuzz-regressions") {
        let dir = entry.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((_, target)) = entries::TARGETS.iter().find(|(t, _)| *t == name) else {
            panic!("{}: not a fuzz target", dir.display());
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("target dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("read input");
            let outcome = catch_unwind(AssertUnwindSafe(|| target(&data)));
            replayed += 1;
            if outcome.is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "panicked on: {failures:?}");
    assert!(replayed >= 1, "no saved inputs under {}", base.display());
}
