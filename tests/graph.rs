//! The `graph` sink: each window's graph against the run's own window CSV,
//! the options, worker independence, and GraphML that real readers load.

use crate::util::{netanom, read_csv, root, text, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Expected graph of one window: nodes id → (in, out, packets), links.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    nodes: BTreeMap<String, (u64, u64, u64)>,
    links: BTreeMap<(String, String), u64>,
}

/// A pipeline on the quick start capture: 1 s windows by (src, dst,
/// protocol) written as CSV, and graph sinks with `sinks` options.
fn pipeline(dir: &TempDir, sinks: &[(&str, &str)]) -> std::path::PathBuf {
    let mut yaml = format!(
        "sources:\n  capture: {{type: pcap, path: {}}}\n\
operators:\n  pairs: {{type: window, inputs: [capture], size: 1s, group_by: [src, dst, protocol]}}\n\
sinks:\n  csv: {{type: file, inputs: [pairs], path: {}}}\n",
        root().join("samples/quickstart.pcap").display(),
        dir.join("pairs.csv").display()
    );
    for (id, options) in sinks {
        yaml.push_str(&format!(
            "  {id}: {{type: graph, inputs: [pairs], path: {}{options}}}\n",
            dir.join(id).display()
        ));
    }
    dir.write("graph.yaml", &yaml)
}

/// Links per window (start as written in the CSV) from the window CSV.
fn csv_links(path: &Path) -> BTreeMap<String, BTreeMap<(String, String), u64>> {
    let (header, rows) = read_csv(path);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (start, src, dst, count) = (col("window_start"), col("src"), col("dst"), col("count"));
    let mut out: BTreeMap<String, BTreeMap<(String, String), u64>> = BTreeMap::new();
    for row in rows {
        let w: u64 = row[count].parse().expect("count");
        *out.entry(row[start].clone())
            .or_default()
            .entry((row[src].clone(), row[dst].clone()))
            .or_default() += w;
    }
    out
}

fn degrees(links: &BTreeMap<(String, String), u64>) -> BTreeMap<String, (u64, u64, u64)> {
    let mut nodes: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for ((s, d), w) in links {
        let n = nodes.entry(s.clone()).or_default();
        n.1 += 1;
        n.2 += w;
        let n = nodes.entry(d.clone()).or_default();
        n.0 += 1;
        if s != d {
            n.2 += w;
        }
    }
    nodes
}

fn expected(links: &BTreeMap<(String, String), u64>, min_weight: u64) -> Expected {
    let links: BTreeMap<_, _> = links
        .iter()
        .filter(|(_, w)| **w >= min_weight)
        .map(|(k, w)| (k.clone(), *w))
        .collect();
    Expected {
        nodes: degrees(&links),
        links,
    }
}

/// The graph in one JSON file, and its raw text.
fn read_json(path: &Path) -> (Expected, String) {
    let raw = std::fs::read_to_string(path).expect("json file");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("valid JSON");
    let mut g = Expected::default();
    let u = |v: &serde_json::Value, k: &str| v[k].as_u64().expect(k);
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().expect(k).to_owned();
    for n in v["nodes"].as_array().expect("nodes") {
        let old = g.nodes.insert(
            s(n, "id"),
            (u(n, "in_degree"), u(n, "out_degree"), u(n, "packets")),
        );
        assert!(old.is_none(), "{}: duplicate node", path.display());
    }
    for l in v["links"].as_array().expect("links") {
        g.links
            .insert((s(l, "source"), s(l, "target")), u(l, "weight"));
    }
    (g, raw)
}

/// `1795687547.000000000` → `1795687547000000000`.
fn nanos(seconds: &str) -> String {
    let n: i64 = seconds.replace('.', "").parse().expect("decimal seconds");
    n.to_string()
}

/// The JSON file of the window starting at `start` (CSV text) in `dir`.
fn json_of(dir: &Path, start: &str) -> std::path::PathBuf {
    let prefix = format!("window-{}-", nanos(start));
    let found: Vec<_> = std::fs::read_dir(dir)
        .expect("graph dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".json")
        })
        .collect();
    assert_eq!(found.len(), 1, "{prefix}*.json in {}", dir.display());
    found[0].clone()
}

fn files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("graph dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn each_window_graph_matches_the_window_csv() {
    let dir = TempDir::new("graph-csv");
    let p = pipeline(
        &dir,
        &[
            ("all", ""),
            ("heavy", ", min_weight: 5"),
            ("top", ", min_weight: 2, top_k: 1, format: json"),
        ],
    );
    let out = netanom(&["run", &p.display().to_string(), "-q", "-w", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let windows = csv_links(&dir.join("pairs.csv"));
    assert!(windows.len() > 10, "{} windows", windows.len());
    for (id, min_weight) in [("all", 1), ("heavy", 5)] {
        let gdir = dir.join(id);
        assert_eq!(files(&gdir, "json").len(), windows.len(), "{id}");
        assert_eq!(files(&gdir, "graphml").len(), windows.len(), "{id}");
        for (start, links) in &windows {
            let (got, raw) = read_json(&json_of(&gdir, start));
            assert_eq!(got, expected(links, min_weight), "{id}: window {start}");
            assert!(
                raw.starts_with(&format!("{{\"window_start\":{start},")),
                "{raw}"
            );
        }
    }
    // top_k: k nodes of highest degree (after min_weight), links among them,
    // degrees within the kept graph.
    let gdir = dir.join("top");
    assert!(files(&gdir, "graphml").is_empty());
    let mut trimmed = 0;
    for (start, links) in &windows {
        let full = expected(links, 2);
        let (got, _) = read_json(&json_of(&gdir, start));
        let kept: BTreeSet<String> = got.nodes.keys().cloned().collect();
        assert_eq!(kept.len(), full.nodes.len().min(1), "window {start}");
        let degree = |n: &(u64, u64, u64)| n.0 + n.1;
        let least_kept = kept.iter().map(|a| degree(&full.nodes[a])).min();
        let most_dropped = full
            .nodes
            .iter()
            .filter(|(a, _)| !kept.contains(*a))
            .map(|(_, n)| degree(n))
            .max();
        if let (Some(k), Some(d)) = (least_kept, most_dropped) {
            assert!(k >= d, "window {start}: kept degree {k} < dropped {d}");
            trimmed += 1;
        }
        let links: BTreeMap<_, _> = full
            .links
            .into_iter()
            .filter(|((s, d), _)| kept.contains(s) && kept.contains(d))
            .collect();
        let mut nodes = degrees(&links);
        for a in &kept {
            nodes.entry(a.clone()).or_default();
        }
        assert_eq!(got, Expected { nodes, links }, "window {start}");
    }
    assert!(trimmed > 0, "top_k never trimmed a window");
}

#[test]
fn graph_files_are_identical_for_1_2_4_workers() {
    let dir = TempDir::new("graph-workers");
    let mut listings = Vec::new();
    for w in ["1", "2", "4"] {
        let gdir = dir.join(w);
        let out = netanom(&[
            "run",
            "pipelines/graph.yaml",
            "-q",
            "-w",
            w,
            "--set",
            &format!("graphs.path={}", gdir.display()),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&gdir)
            .expect("graph dir")
            .filter_map(Result::ok)
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).expect("read"))
            })
            .collect();
        files.sort();
        assert!(files.len() > 20, "{} files", files.len());
        assert!(files.iter().all(|(n, _)| !n.ends_with(".partial")));
        listings.push(files);
    }
    assert!(listings[0] == listings[1], "1 and 2 workers differ");
    assert!(listings[0] == listings[2], "1 and 4 workers differ");
}

#[test]
fn graph_needs_window_records_by_src_and_dst() {
    let dir = TempDir::new("graph-invalid");
    let operators = "hosts: {type: window, inputs: [capture], size: 1s, group_by: [src]}\n  \
pairs: {type: window, inputs: [capture], size: 1s, group_by: [src, dst]}";
    for (input, extra, want) in [
        (
            "hosts",
            "",
            "graph needs window records grouped by both `src` and `dst`",
        ),
        ("capture", "", "g:"),
        ("pairs", ", top_k: 0", "top_k: must be at least 1"),
    ] {
        let yaml = format!(
            "sources:\n  capture: {{type: pcap, path: samples/quickstart.pcap}}\n\
operators:\n  {operators}\n\
sinks:\n  g: {{type: graph, inputs: [{input}], path: {}{extra}}}\n",
            dir.join("g").display()
        );
        let p = dir.write("bad.yaml", &yaml);
        let out = netanom(&["validate", &p.display().to_string()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert!(stderr.contains(want), "{input}: {stderr}");
    }
    // And the valid one passes.
    let yaml = format!(
        "sources:\n  capture: {{type: pcap, path: samples/quickstart.pcap}}\n\
operators:\n  {operators}\n\
sinks:\n  g: {{type: graph, inputs: [pairs], path: {}}}\n",
        dir.join("g").display()
    );
    let p = dir.write("good.yaml", &yaml);
    let out = netanom(&["validate", &p.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

#[test]
fn graphml_is_strict_xml_and_loads_in_networkx() {
    let dir = TempDir::new("graph-xml");
    let p = pipeline(&dir, &[("all", "")]);
    let out = netanom(&["run", &p.display().to_string(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let gdir = dir.join("all");
    let graphml = files(&gdir, "graphml");
    assert!(graphml.len() > 10);
    for f in &graphml {
        let xml = std::fs::read_to_string(f).expect("graphml");
        let (nodes, edges) = check_graphml(&xml).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (json, _) = read_json(&f.with_extension("json"));
        assert_eq!(nodes, json.nodes.len(), "{}", f.display());
        assert_eq!(edges, json.links.len(), "{}", f.display());
    }
    let has_networkx = std::process::Command::new("python3")
        .args(["-c", "import networkx"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_networkx {
        eprintln!("skipped the networkx check: python3 with networkx not available");
        return;
    }
    // NetworkX reads every file; its nodes, edges and attributes equal the
    // JSON of the same window.
    let script = r#"
import json, sys, networkx as nx
for path in sys.argv[1:]:
    g = nx.read_graphml(path)
    j = json.load(open(path[:-len("graphml")] + "json"))
    assert g.is_directed(), path
    nodes = {n: (d["in_degree"], d["out_degree"], d["packets"]) for n, d in g.nodes(data=True)}
    want = {n["id"]: (n["in_degree"], n["out_degree"], n["packets"]) for n in j["nodes"]}
    assert nodes == want, (path, nodes, want)
    edges = {(s, t): d["weight"] for s, t, d in g.edges(data=True)}
    want = {(l["source"], l["target"]): l["weight"] for l in j["links"]}
    assert edges == want, (path, edges, want)
    assert g.graph["window_start"] == str(j["window_start"]) or float(g.graph["window_start"]) == j["window_start"], path
print("ok", len(sys.argv) - 1)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&graphml)
        .output()
        .expect("python3 runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "networkx: {stderr}");
    assert_eq!(stdout.trim(), format!("ok {}", graphml.len()));
}

/// A strict structural check of a GraphML document: XML declaration,
/// well-formed elements and attributes (quoted, unique, valid entity
/// references), the GraphML namespace on the root, `<key>`s declared
/// before the graph with a valid `for`, every `<data>` using a key declared
/// for its parent element, a directed graph, unique node ids, and every
/// edge's endpoints declared as nodes. Returns (nodes, edges).
fn check_graphml(xml: &str) -> Result<(usize, usize), String> {
    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let mut rest = xml.strip_prefix(DECL).ok_or("no XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut graph_seen = false;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text_part = &rest[..lt];
        check_text(text_part)?;
        if stack.is_empty() && !text_part.trim().is_empty() {
            return Err(format!("text outside the root: {text_part:?}"));
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or("close tag without open")?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let (name, attrs) = parse_tag(tag)?;
        let parent = stack.last().cloned();
        match (parent.as_deref(), name.as_str()) {
            (None, "graphml") => {
                roots += 1;
                if roots > 1 {
                    return Err("two roots".into());
                }
                if attrs.get("xmlns").map(String::as_str)
                    != Some("http://graphml.graphdrawing.org/xmlns")
                {
                    return Err("root without the GraphML namespace".into());
                }
            }
            (None, other) => return Err(format!("root <{other}>")),
            (Some("graphml"), "key") => {
                if graph_seen {
                    return Err("key after the graph".into());
                }
                let id = attrs.get("id").ok_or("key without id")?;
                let target = attrs.get("for").ok_or("key without for")?;
                if !["node", "edge", "graph", "all"].contains(&target.as_str()) {
                    return Err(format!("key for `{target}`"));
                }
                for a in ["attr.name", "attr.type"] {
                    attrs.get(a).ok_or(format!("key {id} without {a}"))?;
                }
                if keys.insert(id.clone(), target.clone()).is_some() {
                    return Err(format!("key {id} declared twice"));
                }
            }
            (Some("graphml"), "graph") => {
                graph_seen = true;
                if attrs.get("edgedefault").map(String::as_str) != Some("directed") {
                    return Err("graph not directed".into());
                }
            }
            (Some("graph"), "node") => {
                let id = attrs.get("id").ok_or("node without id")?;
                if !nodes.insert(id.clone()) {
                    return Err(format!("node {id} declared twice"));
                }
            }
            (Some("graph"), "edge") => {
                let s = attrs.get("source").ok_or("edge without source")?;
                let t = attrs.get("target").ok_or("edge without target")?;
                edges.push((s.clone(), t.clone()));
            }
            (Some(p @ ("graph" | "node" | "edge")), "data") => {
                let key = attrs.get("key").ok_or("data without key")?;
                match keys.get(key).map(String::as_str) {
                    Some(f) if f == p || f == "all" => {}
                    Some(f) => return Err(format!("data {key} (for {f}) in <{p}>")),
                    None => return Err(format!("data uses undeclared key {key}")),
                }
            }
            (Some(p), n) => return Err(format!("<{n}> inside <{p}>")),
        }
        if !empty {
            stack.push(name);
        }
    }
    if !stack.is_empty() || roots != 1 {
        return Err(format!("unclosed elements {stack:?}"));
    }
    for (s, t) in &edges {
        if !nodes.contains(s) || !nodes.contains(t) {
            return Err(format!("edge {s} -> {t} to an undeclared node"));
        }
    }
    Ok((nodes.len(), edges.len()))
}

/// Element name and attributes (unescaped); errors on bad syntax.
fn parse_tag(tag: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    let end = tag.find(|c: char| !name_char(c)).unwrap_or(tag.len());
    let name = &tag[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(format!("bad element name in <{tag}>"));
    }
    let mut rest = &tag[end..];
    let mut attrs = BTreeMap::new();
    loop {
        let trimmed = rest.trim_start_matches([' ', '\n', '\t', '\r']);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(format!("no space before an attribute in <{tag}>"));
        }
        let eq = trimmed
            .find('=')
            .ok_or(format!("attribute without = in <{tag}>"))?;
        let attr = &trimmed[..eq];
        if attr.is_empty() || !attr.chars().all(name_char) {
            return Err(format!("bad attribute name `{attr}`"));
        }
        let value = trimmed[eq + 1..]
            .strip_prefix('"')
            .ok_or(format!("unquoted attribute {attr}"))?;
        let close = value.find('"').ok_or("unterminated attribute")?;
        let raw = &value[..close];
        if raw.contains('<') {
            return Err(format!("`<` in attribute {attr}"));
        }
        check_text(raw)?;
        if attrs.insert(attr.to_owned(), unescape(raw)).is_some() {
            return Err(format!("attribute {attr} twice"));
        }
        rest = &value[close + 1..];
    }
    Ok((name.to_owned(), attrs))
}

/// Character data: every `&` starts a valid reference, no `>`-free `<`.
fn check_text(s: &str) -> Result<(), String> {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        let after = &rest[i + 1..];
        let semi = after.find(';').ok_or("`&` without `;`")?;
        let name = &after[..semi];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("bad reference &{name};"));
        }
        rest = &after[semi + 1..];
    }
    if s.chars()
        .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("control character".into());
    }
    Ok(())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_xml_check_rejects_broken_graphml() {
    let good = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\
<key id=\"w\" for=\"edge\" attr.name=\"w\" attr.type=\"long\"/>\
<graph id=\"g\" edgedefault=\"directed\"><node id=\"a&amp;b\"/><node id=\"c\"/>\
<edge source=\"a&amp;b\" target=\"c\"><data key=\"w\">1</data></edge></graph></graphml>\n";
    assert_eq!(check_graphml(good), Ok((2, 1)));
    for (from, to) in [
        ("target=\"c\"", "target=\"d\""),
        ("<data key=\"w\">", "<data key=\"v\">"),
        ("a&amp;b\"/>", "a&b\"/>"),
        ("</graph>", "</graf>"),
        ("directed", "undirected"),
        ("graphml.graphdrawing.org/xmlns\"", "example.org\""),
        ("for=\"edge\"", "for=\"node\""),
    ] {
        let bad = good.replacen(from, to, 1);
        assert!(check_graphml(&bad).is_err(), "accepted {from} -> {to}");
    }
}
