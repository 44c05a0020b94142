//! Turning a source's `path` (a file, a directory or a glob) into files.

use std::path::{Path, PathBuf};

/// The files `path` names, sorted by path: the file itself, the regular
/// files of a directory (not recursive, hidden files skipped), or the
/// matches of a glob pattern (`captures/*.pcap`).
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    let text = path.to_string_lossy();
    if text.contains(['*', '?', '[']) {
        let paths = glob::glob(&text).map_err(|e| format!("bad glob pattern `{text}`: {e}"))?;
        let mut files: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("no file matches `{text}`"));
        }
        return Ok(files);
    }
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no such file or directory `{text}`"),
        _ => format!("cannot read `{text}`: {e}"),
    })?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("cannot list `{text}`: {e}"))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("directory `{text}` has no files"));
        }
        Ok(files)
    } else {
        Ok(vec![path.to_owned()])
    }
}
