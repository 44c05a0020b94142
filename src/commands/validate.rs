//! `netanom validate`.

use super::{load, print, Failure};
use std::path::Path;

/// Validates; prints `FILE: ok` with a one-line shape of the pipeline.
pub fn validate(path: &Path, sets: &[String]) -> Result<(), Failure> {
    let p = load(path, sets)?;
    print(&format!(
        "{}: ok ({} sources, {} operators, {} sinks)\n",
        path.display(),
        p.sources.len(),
        p.operators.len(),
        p.sinks.len()
    ));
    Ok(())
}
