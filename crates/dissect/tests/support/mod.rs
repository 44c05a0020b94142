//! Helpers shared by the tests: frame loading, the corpus's location and its
//! TSV files.

#![allow(dead_code)]

pub mod frames;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The shared capture corpus (`../shared/corpus` of the workspace), if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("manifest.tsv").is_file().then_some(dir)
}

/// A tab-separated file with a header row, as maps from column name to value.
pub fn read_tsv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            header
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Splits one line of a CSV file whose fields are all double-quoted (the
/// Wireshark export format).
pub fn split_quoted_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.peek().is_some() {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        break;
                    }
                } else {
                    field.push(c);
                }
            }
            // Skip to the separator.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
                field.push(c);
            }
        }
        fields.push(field);
    }
    fields
}

#[test]
fn quoted_csv() {
    assert_eq!(
        split_quoted_csv(r#""1","a, b","say ""hi""","""#),
        ["1", "a, b", "say \"hi\"", ""]
    );
}
