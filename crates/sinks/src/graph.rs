//! `graph`: writes each closed window's traffic graph as D3 node-link JSON
//! and as GraphML, one file per window.

use netanom_records::doc::ConfigProblem;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::{Addr, Field, Time, Ts, WindowRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::Stream;

/// Writes the traffic graph of every closed window: each input window
/// record (grouped by at least `src` and `dst`) is a link src → dst
/// weighing its `count` (packets); records of one window and pair (other
/// group keys, like protocol) add up. Per window, one file
/// `window-<start_ns>-<end_ns>.json` (the node-link shape D3's force layout
/// reads) and/or `.graphml` (Gephi, NetworkX), written by worker 0 under a
/// temporary name and renamed, with sorted nodes and links: the directory
/// is byte-identical whatever the number of workers. A node's `in_degree`,
/// `out_degree` (distinct neighbours) and `packets` (sent plus received, a
/// self-link once) count the links written to its file.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    /// Output directory; created if missing.
    pub path: PathBuf,
    /// `json`, `graphml` or `both`.
    #[serde(default)]
    #[describe(ty = "json | graphml | both")]
    pub format: GraphFormat,
    /// Links lighter than this many packets are left out.
    #[serde(default = "default_min_weight")]
    pub min_weight: u64,
    /// Keep only the `top_k` nodes with the highest in_degree + out_degree
    /// per window (ties by address) and the links among them; all nodes by
    /// default.
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// The record kinds a `graph` sink takes.
pub const ACCEPTS: &[netanom_records::RecordKind] = &[netanom_records::RecordKind::Window];

fn default_min_weight() -> u64 {
    1
}

/// Which files the `graph` sink writes per window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphFormat {
    /// D3 node-link JSON only.
    Json,
    /// GraphML only.
    Graphml,
    /// Both.
    #[default]
    Both,
}

impl GraphConfig {
    /// Checks the options.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(ConfigProblem::at("path", "path: must not be empty"));
        } else if self.path.is_file() {
            problems.push(ConfigProblem::at(
                "path",
                format!(
                    "path: `{}` is a file; expected a directory",
                    self.path.display()
                ),
            ));
        }
        if self.top_k == Some(0) {
            problems.push(ConfigProblem::at("top_k", "top_k: must be at least 1"));
        }
        problems
    }

    /// Checks the input's columns: window records grouped by `src` and
    /// `dst`.
    pub fn check_fields(&self, input: &[Field]) -> Vec<ConfigProblem> {
        if input.is_empty() || (input.contains(&Field::Src) && input.contains(&Field::Dst)) {
            return Vec::new();
        }
        vec![ConfigProblem::at(
            "inputs",
            "inputs: graph needs window records grouped by both `src` and `dst`",
        )]
    }

    /// Builds the sink on a stream of window records.
    pub fn build<'s>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<WindowRecord>>,
        stats: Arc<Stats>,
    ) -> crate::Consumed<'s> {
        let is_writer = input.scope().index() == 0;
        let component = stats.component(name);
        let config = self.clone();
        let id = name.to_owned();
        let mut failed = false;
        let mut pending: BTreeMap<Time, Vec<WindowRecord>> = BTreeMap::new();
        crate::terminal(
            input,
            Exchange::new(|_: &WindowRecord| 0),
            name,
            move |(handle, frontier)| {
                handle.for_each(|cap, batch| {
                    let time = cap.least().copied().unwrap_or_default();
                    pending.entry(time).or_default().append(batch);
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let records = entry.remove();
                    if !is_writer || failed {
                        continue;
                    }
                    for ((start, end), links) in windows(&records) {
                        let graph = Graph::new(start, end, links, config.min_weight, config.top_k);
                        if let Err(e) = write_window(&config.path, config.format, &graph) {
                            stats.fail(format!("{id}: {e}"));
                            failed = true;
                            break;
                        }
                        ComponentStats::add(&component.records_out, 1);
                    }
                }
            },
        )
    }
}

/// Links per window: (start, end) → (src, dst) → packets.
type Windows = BTreeMap<(Ts, Ts), BTreeMap<(Addr, Addr), u64>>;

fn windows(records: &[WindowRecord]) -> Windows {
    let mut out = Windows::new();
    for r in records {
        let w = out
            .entry((r.window_start, r.window_end))
            .or_default()
            .entry((r.key.src, r.key.dst))
            .or_default();
        *w = w.saturating_add(r.count);
    }
    out
}

/// A node of one window's graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Distinct sources of links into it.
    pub in_degree: u64,
    /// Distinct targets of links out of it.
    pub out_degree: u64,
    /// Packets sent plus received (a self-link once).
    pub packets: u64,
}

/// One window's graph, nodes and links sorted by address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// Window start.
    pub start: Ts,
    /// Window end.
    pub end: Ts,
    /// Nodes by address.
    pub nodes: BTreeMap<Addr, Node>,
    /// Links (source, target) → weight.
    pub links: BTreeMap<(Addr, Addr), u64>,
}

impl Graph {
    /// The graph of `links` after `min_weight` and `top_k`.
    pub fn new(
        start: Ts,
        end: Ts,
        mut links: BTreeMap<(Addr, Addr), u64>,
        min_weight: u64,
        top_k: Option<usize>,
    ) -> Graph {
        links.retain(|_, w| *w >= min_weight);
        if let Some(k) = top_k {
            let nodes = node_table(&links);
            let mut ranked: Vec<(u64, Addr)> = nodes
                .iter()
                .map(|(a, n)| (n.in_degree + n.out_degree, *a))
                .collect();
            // Highest degree first, then by address.
            ranked.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
            let keep: BTreeSet<Addr> = ranked.into_iter().take(k).map(|(_, a)| a).collect();
            links.retain(|(s, d), _| keep.contains(s) && keep.contains(d));
            let mut nodes = node_table(&links);
            for a in keep {
                nodes.entry(a).or_default();
            }
            return Graph {
                start,
                end,
                nodes,
                links,
            };
        }
        Graph {
            start,
            end,
            nodes: node_table(&links),
            links,
        }
    }

    /// Node-link JSON (one object and a newline).
    pub fn json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"window_start\":");
        self.start.write_to(&mut out);
        out.extend_from_slice(b",\"window_end\":");
        self.end.write_to(&mut out);
        out.extend_from_slice(b",\"nodes\":[");
        for (i, (addr, n)) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            json_string(&addr.to_string(), &mut out);
            let _ = write!(
                out,
                ",\"in_degree\":{},\"out_degree\":{},\"packets\":{}}}",
                n.in_degree, n.out_degree, n.packets
            );
        }
        out.extend_from_slice(b"],\"links\":[");
        for (i, ((s, d), w)) in self.links.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"source\":");
            json_string(&s.to_string(), &mut out);
            out.extend_from_slice(b",\"target\":");
            json_string(&d.to_string(), &mut out);
            let _ = write!(out, ",\"weight\":{w}}}");
        }
        out.extend_from_slice(b"]}\n");
        out
    }

    /// GraphML, directed, with the node and link figures as declared keys.
    pub fn graphml(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n\
\x20 <key id=\"window_start\" for=\"graph\" attr.name=\"window_start\" attr.type=\"string\"/>\n\
\x20 <key id=\"window_end\" for=\"graph\" attr.name=\"window_end\" attr.type=\"string\"/>\n\
\x20 <key id=\"in_degree\" for=\"node\" attr.name=\"in_degree\" attr.type=\"long\"/>\n\
\x20 <key id=\"out_degree\" for=\"node\" attr.name=\"out_degree\" attr.type=\"long\"/>\n\
\x20 <key id=\"packets\" for=\"node\" attr.name=\"packets\" attr.type=\"long\"/>\n\
\x20 <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"long\"/>\n",
        );
        let _ = write!(
            out,
            "  <graph id=\"window-{}\" edgedefault=\"directed\">\n    <data key=\"window_start\">",
            self.start.0
        );
        self.start.write_to(&mut out);
        out.extend_from_slice(b"</data>\n    <data key=\"window_end\">");
        self.end.write_to(&mut out);
        out.extend_from_slice(b"</data>\n");
        for (addr, n) in &self.nodes {
            out.extend_from_slice(b"    <node id=\"");
            xml_escape(&addr.to_string(), &mut out);
            let _ = writeln!(
                out,
                "\"><data key=\"in_degree\">{}</data><data key=\"out_degree\">{}</data><data key=\"packets\">{}</data></node>",
                n.in_degree, n.out_degree, n.packets
            );
        }
        for ((s, d), w) in &self.links {
            out.extend_from_slice(b"    <edge source=\"");
            xml_escape(&s.to_string(), &mut out);
            out.extend_from_slice(b"\" target=\"");
            xml_escape(&d.to_string(), &mut out);
            let _ = writeln!(out, "\"><data key=\"weight\">{w}</data></edge>");
        }
        out.extend_from_slice(b"  </graph>\n</graphml>\n");
        out
    }
}

fn node_table(links: &BTreeMap<(Addr, Addr), u64>) -> BTreeMap<Addr, Node> {
    let mut nodes: BTreeMap<Addr, Node> = BTreeMap::new();
    for (&(s, d), &w) in links {
        let src = nodes.entry(s).or_default();
        src.out_degree += 1;
        src.packets = src.packets.saturating_add(w);
        let dst = nodes.entry(d).or_default();
        dst.in_degree += 1;
        if s != d {
            dst.packets = dst.packets.saturating_add(w);
        }
    }
    nodes
}

fn json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot
/// hold become U+FFFD.
fn xml_escape(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\'' => out.extend_from_slice(b"&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Writes one window's files (temporary name, then rename).
fn write_window(dir: &Path, format: GraphFormat, graph: &Graph) -> std::io::Result<()> {
    let with_path = |p: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("cannot write `{}`: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| with_path(dir, e))?;
    let stem = format!("window-{}-{}", graph.start.0, graph.end.0);
    let mut files = Vec::new();
    if format != GraphFormat::Graphml {
        files.push(("json", graph.json()));
    }
    if format != GraphFormat::Json {
        files.push(("graphml", graph.graphml()));
    }
    for (ext, bytes) in files {
        let path = dir.join(format!("{stem}.{ext}"));
        let tmp = dir.join(format!("{stem}.{ext}.partial"));
        let mut file = std::fs::File::create(&tmp).map_err(|e| with_path(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| with_path(&tmp, e))?;
        file.sync_all().map_err(|e| with_path(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| with_path(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> Addr {
        Addr::V4(std::net::Ipv4Addr::new(10, 0, 0, last))
    }

    fn links() -> BTreeMap<(Addr, Addr), u64> {
        [
            ((v4(1), v4(2)), 5),
            ((v4(1), v4(3)), 1),
            ((v4(2), v4(1)), 2),
            ((v4(4), v4(4)), 3),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn degrees_weights_and_filters() {
        let g = Graph::new(Ts(0), Ts(10), links(), 1, None);
        assert_eq!(g.nodes.len(), 4);
        assert_eq!(
            g.nodes[&v4(1)],
            Node {
                in_degree: 1,
                out_degree: 2,
                packets: 8
            }
        );
        assert_eq!(g.nodes[&v4(4)].packets, 3);
        let g = Graph::new(Ts(0), Ts(10), links(), 2, None);
        assert_eq!(g.links.len(), 3);
        assert!(!g.nodes.contains_key(&v4(3)));
        let g = Graph::new(Ts(0), Ts(10), links(), 1, Some(2));
        assert_eq!(
            g.nodes.keys().copied().collect::<Vec<_>>(),
            vec![v4(1), v4(2)]
        );
        assert_eq!(g.links.len(), 2);
    }

    #[test]
    fn encodings_escape_ids() {
        let name = Addr::parse_lenient("a<\"&'>\\b");
        let l = [((name, v4(1)), 1)].into_iter().collect();
        let g = Graph::new(Ts(1_500_000_000), Ts(2_000_000_000), l, 1, None);
        let json = String::from_utf8(g.json()).unwrap_or_default();
        assert!(json.contains(r#""id":"a<\"&'>\\b""#), "{json}");
        assert!(json.starts_with(r#"{"window_start":1.500000000,"window_end":2.000000000,"#));
        let xml = String::from_utf8(g.graphml()).unwrap_or_default();
        assert!(
            xml.contains("id=\"a&lt;&quot;&amp;&apos;&gt;\\b\""),
            "{xml}"
        );
    }
}
