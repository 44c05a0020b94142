//! Where things are in a pipeline file.
//!
//! serde_yaml reports positions only for syntax errors, and only at the
//! start of the enclosing map for bad fields, so the validator finds keys
//! itself: a scan of block-style YAML (and one-line flow maps) that records
//! the line and column of every `section.id.key` path.

use std::collections::HashMap;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// Key paths (`["sources", "capture", "path"]`) and their positions.
#[derive(Debug, Default)]
pub struct PosIndex {
    keys: HashMap<Vec<String>, Pos>,
}

impl PosIndex {
    /// Scans `text`.
    pub fn scan(text: &str) -> PosIndex {
        let mut index = PosIndex::default();
        // (indent, key) of the enclosing block mappings.
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            let content = line.trim_start();
            if content.is_empty() || content.starts_with("---") || content.starts_with("...") {
                continue;
            }
            let indent = line.len() - content.len();
            if content.starts_with("- ") || content == "-" {
                continue;
            }
            let Some((key, rest)) = split_key(content) else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let mut path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            path.push(key.clone());
            let pos = Pos {
                line: n + 1,
                col: indent + 1,
            };
            index.keys.entry(path.clone()).or_insert(pos);
            let rest_trim = rest.trim_start();
            if rest_trim.starts_with('{') {
                let offset = line.len() - rest_trim.len();
                index.scan_flow(&path, rest_trim, n + 1, offset);
            }
            stack.push((indent, key));
        }
        index
    }

    /// Records the keys of a one-line flow mapping `{a: 1, b: [x, y]}`.
    fn scan_flow(&mut self, parent: &[String], text: &str, line: usize, offset: usize) {
        let mut depth = 0;
        let mut quote: Option<char> = None;
        let mut key_start: Option<usize> = None;
        for (i, c) in text.char_indices() {
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '"' | '\'' => quote = Some(c),
                '{' | '[' => {
                    depth += 1;
                    if depth == 1 && c == '{' {
                        key_start = Some(i + 1);
                    }
                }
                '}' | ']' => depth -= 1,
                ',' if depth == 1 => key_start = Some(i + 1),
                ':' if depth == 1 => {
                    if let Some(start) = key_start.take() {
                        let key = text[start..i].trim();
                        if !key.is_empty() {
                            let lead = text[start..i].len() - text[start..i].trim_start().len();
                            let mut path = parent.to_vec();
                            path.push(unquote(key));
                            self.keys.entry(path).or_insert(Pos {
                                line,
                                col: offset + start + lead + 1,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The position of the longest known prefix of `path`.
    pub fn find(&self, path: &[&str]) -> Option<Pos> {
        (1..=path.len()).rev().find_map(|n| {
            let key: Vec<String> = path[..n].iter().map(|s| s.to_string()).collect();
            self.keys.get(&key).copied()
        })
    }
}

fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_space => return &line[..i],
            None => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `key: rest` → (key, rest); `None` when the line is not a mapping entry.
fn split_key(content: &str) -> Option<(String, &str)> {
    let mut quote: Option<char> = None;
    for (i, c) in content.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == '"' || c == '\'') && i == 0 => quote = Some(c),
            None if c == ':' => {
                let rest = &content[i + 1..];
                if rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t') {
                    return Some((unquote(content[..i].trim()), rest));
                }
            }
            None if c == '{' || c == '[' => return None,
            None => {}
        }
    }
    None
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_and_flow_keys() {
        let text = "sources:\n  capture:   # the capture\n    type: pcap\n    path: a.pcap\nsinks:\n  out: {type: file, inputs: [capture], path: \"o.csv\"}\n";
        let idx = PosIndex::scan(text);
        assert_eq!(
            idx.find(&["sources", "capture"]),
            Some(Pos { line: 2, col: 3 })
        );
        assert_eq!(
            idx.find(&["sources", "capture", "path"]),
            Some(Pos { line: 4, col: 5 })
        );
        assert_eq!(
            idx.find(&["sinks", "out", "inputs"]),
            Some(Pos { line: 6, col: 21 })
        );
        assert_eq!(
            idx.find(&["sinks", "out", "path"]),
            Some(Pos { line: 6, col: 40 })
        );
        // an unknown key falls back to its component
        assert_eq!(
            idx.find(&["sources", "capture", "nope"]),
            Some(Pos { line: 2, col: 3 })
        );
        assert_eq!(idx.find(&["operators"]), None);
    }
}
