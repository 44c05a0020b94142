//! `netanom graph`: the wired dataflow.

use super::{load, print, Failure};
use std::fmt::Write;
use std::path::Path;

/// Output format of `netanom graph`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// Prints the pipeline's DAG: nodes are components (with their type),
/// edges carry the record kind.
pub fn graph(path: &Path, format: GraphFormat) -> Result<(), Failure> {
    let p = load(path, &[])?;
    let mut nodes: Vec<(String, String, &str)> = Vec::new();
    for s in &p.sources {
        nodes.push((s.id.clone(), s.config.type_name().into(), "source"));
    }
    for o in &p.operators {
        nodes.push((o.id.clone(), o.config.type_name().into(), "operator"));
    }
    for s in &p.sinks {
        nodes.push((s.id.clone(), s.config.type_name().into(), "sink"));
    }
    let mut edges: Vec<(String, String, String)> = Vec::new();
    for (id, inputs) in p
        .operators
        .iter()
        .map(|o| (&o.id, &o.inputs))
        .chain(p.sinks.iter().map(|s| (&s.id, &s.inputs)))
    {
        for input in inputs {
            let kind = p.kind_of(input).map(|k| k.name()).unwrap_or("?");
            edges.push((input.clone(), id.clone(), kind.to_owned()));
        }
    }
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            let _ = writeln!(out, "digraph pipeline {{\n  rankdir=LR;");
            for (id, ty, cat) in &nodes {
                let shape = match *cat {
                    "source" => "cylinder",
                    "sink" => "folder",
                    _ => "box",
                };
                let _ = writeln!(out, "  \"{id}\" [label=\"{id}\\n{ty}\", shape={shape}];");
            }
            for (from, to, kind) in &edges {
                let _ = writeln!(out, "  \"{from}\" -> \"{to}\" [label=\"{kind}\"];");
            }
            let _ = writeln!(out, "}}");
        }
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "flowchart LR");
            for (id, ty, cat) in &nodes {
                let (open, close) = match *cat {
                    "source" => ("[(", ")]"),
                    "sink" => ("[/", "/]"),
                    _ => ("[", "]"),
                };
                let _ = writeln!(out, "  {id}{open}\"{id}<br/>{ty}\"{close}");
            }
            for (from, to, kind) in &edges {
                let _ = writeln!(out, "  {from} -->|{kind}| {to}");
            }
        }
    }
    print(&out);
    Ok(())
}
