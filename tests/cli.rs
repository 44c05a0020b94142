//! The command line: validate, plugins, graph, --set, exit codes.

use crate::util::{netanom, root, text, TempDir};

/// Every file in tests/data/bad-pipelines states, on its first line, the
/// problem `netanom validate` must report: `# expect: LINE:COL: ID: text`.
#[test]
fn broken_pipelines_are_reported_with_position_and_exit_2() {
    let dir = root().join("tests/data/bad-pipelines");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("bad-pipelines dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "need at least 15 broken pipelines, have {}",
        files.len()
    );
    for file in files {
        let rel = file
            .strip_prefix(root())
            .expect("under root")
            .display()
            .to_string();
        let first = std::fs::read_to_string(&file)
            .expect("read")
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        let expect = first
            .strip_prefix("# expect: ")
            .expect("first line is # expect: ...");
        for cmd in ["validate", "run"] {
            let out = netanom(&[cmd, &rel]);
            let (stdout, stderr) = text(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {rel}: exit code\n{stderr}"
            );
            assert!(
                stderr.contains(&format!("{rel}:{expect}")),
                "{cmd} {rel}: expected `{rel}:{expect}` in:\n{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{rel}: {stderr}");
            assert!(
                stdout.is_empty(),
                "{cmd} {rel}: nothing on stdout, got {stdout}"
            );
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let out = netanom(&["validate", "tests/data/bad-pipelines/cycle.yaml"]);
    let (_, stderr) = text(&out);
    // both members of the cycle
    assert_eq!(stderr.matches("inputs form a cycle").count(), 2, "{stderr}");
    let dir = TempDir::new("many");
    let p = dir.write(
        "many.yaml",
        "sources:\n  a: {type: pcap, path: nope.pcap}\n  b: {type: csv}\noperators:\n  w: {type: window, inputs: [a], size: 0s}\nsinks:\n  s: {type: file, inputs: [zz], path: o.csv}\n",
    );
    let out = netanom(&["validate", &p.display().to_string()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].contains(":2:") && lines[0].contains("a: path: no such file"),
        "{stderr}"
    );
    assert!(
        lines[1].contains(":3:") && lines[1].contains("b: missing field `path`"),
        "{stderr}"
    );
    assert!(
        lines[2].contains(":5:") && lines[2].contains("w: size: must be greater than 0"),
        "{stderr}"
    );
    assert!(
        lines[3].contains(":7:") && lines[3].contains("s: unknown input `zz`"),
        "{stderr}"
    );
}

#[test]
fn valid_pipelines_validate() {
    for p in [
        "pipelines/quickstart.yaml",
        "pipelines/csv-export.yaml",
        "pipelines/hopping.yaml",
    ] {
        let out = netanom(&["validate", p]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{p}: {stderr}");
        assert!(stdout.contains(": ok"), "{stdout}");
    }
}

#[test]
fn set_overrides_options_and_rejects_unknown_targets() {
    let out = netanom(&[
        "validate",
        "pipelines/quickstart.yaml",
        "--set",
        "flows.size=ten",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("flows: size: invalid duration `ten`"),
        "{stderr}"
    );
    let out = netanom(&[
        "validate",
        "pipelines/quickstart.yaml",
        "--set",
        "nobody.size=1s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no component `nobody`"));
    let out = netanom(&[
        "validate",
        "pipelines/quickstart.yaml",
        "--set",
        "flows.size",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("expected ID.KEY=VALUE"));
    let out = netanom(&[
        "validate",
        "pipelines/quickstart.yaml",
        "--set",
        "flows.group_by=[src, dport]",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["run"],
        vec!["run", "pipelines/quickstart.yaml", "-w", "0"],
        vec!["run", "pipelines/quickstart.yaml", "-w", "many"],
        vec!["frobnicate"],
        vec!["plugins", "nosuchplugin"],
        vec![
            "run",
            "pipelines/quickstart.yaml",
            "--processes",
            "2",
            "--process",
            "5",
        ],
    ] {
        let out = netanom(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out).1);
        assert!(!text(&out).1.contains("panicked"));
    }
}

#[test]
fn plugins_lists_every_option_with_docs() {
    let out = netanom(&["plugins"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    for name in [
        "source `csv`",
        "source `pcap`",
        "operator `window`",
        "sink `file`",
        "sink `console`",
    ] {
        assert!(stdout.contains(name), "missing {name}");
    }
    for option in [
        "- path (string, required)",
        "- size (duration, required)",
        "- group_by (list of field, default [src, dst, protocol])",
        "- out_of_order (duration, default 1s)",
    ] {
        assert!(stdout.contains(option), "missing {option} in\n{stdout}");
    }
    let one = text(&netanom(&["plugins", "window"])).0;
    assert!(one.contains("operator `window`") && !one.contains("sink `file`"));
}

/// The README's pipeline reference is `netanom plugins --markdown`.
#[test]
fn readme_reference_matches_plugins() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = "<!-- plugins:start -->\n";
    let end = "<!-- plugins:end -->";
    let from = readme
        .find(start)
        .expect("README has <!-- plugins:start -->")
        + start.len();
    let to = readme.find(end).expect("README has <!-- plugins:end -->");
    let generated = text(&netanom(&["plugins", "--markdown"])).0;
    assert!(
        readme[from..to] == generated,
        "README's pipeline reference is stale: regenerate it with scripts/update-readme.sh"
    );
}

#[test]
fn graph_prints_the_wired_dag() {
    let out = netanom(&["graph", "pipelines/quickstart.yaml"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.starts_with("digraph pipeline {"));
    assert!(
        stdout.contains("\"capture\" -> \"flows\" [label=\"packet\"]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"flows\" -> \"flows_out\" [label=\"window\"]"),
        "{stdout}"
    );
    let out = netanom(&["graph", "pipelines/quickstart.yaml", "--format", "mermaid"]);
    assert!(text(&out).0.contains("capture -->|packet| flows"));
}
