//! `netanom plugins`: the reference, generated from the config structs.

use super::{print, Failure};
use netanom_records::doc::PluginDoc;
use std::fmt::Write;

/// Every plugin's docs, in category order.
pub fn all() -> Vec<PluginDoc> {
    let mut docs = netanom_sources::docs();
    docs.extend(netanom_operators::docs());
    docs.extend(netanom_sinks::docs());
    docs
}

/// Prints the plugin list, or one plugin.
pub fn plugins(name: Option<&str>, markdown: bool) -> Result<(), Failure> {
    let docs: Vec<PluginDoc> = all()
        .into_iter()
        .filter(|d| name.is_none_or(|n| n == d.name))
        .collect();
    if docs.is_empty() {
        let known: Vec<&str> = all().iter().map(|d| d.name).collect();
        return Err(Failure::BadInput(format!(
            "netanom: no plugin `{}`; known plugins: {}",
            name.unwrap_or_default(),
            known.join(", ")
        )));
    }
    let text = if markdown {
        render_markdown(&docs)
    } else {
        render_text(&docs)
    };
    print(&text);
    Ok(())
}

fn kinds(d: &PluginDoc) -> String {
    let takes: Vec<&str> = d.accepts.iter().map(|k| k.name()).collect();
    match (takes.is_empty(), d.produces) {
        (true, Some(p)) => format!("produces {p} records"),
        (false, Some(p)) => format!("takes {} records, produces {p} records", takes.join(", ")),
        // An operator without a fixed output kind passes its input's through.
        (false, None) if d.category == "operator" => format!(
            "takes {} records, produces records of its input's kind",
            takes.join(", ")
        ),
        (false, None) => format!("takes {} records", takes.join(", ")),
        (true, None) => String::new(),
    }
}

/// Plain text for the terminal.
pub fn render_text(docs: &[PluginDoc]) -> String {
    let mut out = String::new();
    for d in docs {
        let _ = writeln!(out, "{} `{}` ({})", d.category, d.name, kinds(d));
        for line in wrap(d.doc.doc, 76) {
            let _ = writeln!(out, "    {line}");
        }
        if d.category != "source" {
            let _ = writeln!(
                out,
                "    - inputs (list of id, required): the components it reads from."
            );
        }
        for o in &d.doc.options {
            let default = match (&o.default, o.optional) {
                (Some(v), _) => format!("default {v}"),
                (None, true) => "optional".into(),
                (None, false) => "required".into(),
            };
            let _ = writeln!(out, "    - {} ({}, {}):", o.name, o.type_name(), default);
            for line in wrap(o.doc, 70) {
                let _ = writeln!(out, "        {line}");
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// Markdown, for the README's pipeline reference.
pub fn render_markdown(docs: &[PluginDoc]) -> String {
    let mut out = String::new();
    for d in docs {
        let _ = writeln!(out, "### {} `{}`\n", d.category, d.name);
        let _ = writeln!(out, "{}\n\n*{}.*\n", d.doc.doc, kinds(d));
        let _ = writeln!(out, "| option | type | default | description |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        if d.category != "source" {
            let _ = writeln!(
                out,
                "| `inputs` | list of id | required | The components it reads from. |"
            );
        }
        for o in &d.doc.options {
            let default = match (&o.default, o.optional) {
                (Some(v), _) => format!("`{v}`"),
                (None, true) => "optional".into(),
                (None, false) => "required".into(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                o.name,
                o.type_name().replace('|', "\\|"),
                default,
                o.doc.replace('\n', " ").replace('|', "\\|")
            );
        }
        let _ = writeln!(out);
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}
