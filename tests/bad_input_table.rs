//! A table of bad inputs: command-line flags, pipeline files, keys,
//! captures and CSVs, each with the message fragment it must produce and
//! the exit code: 2 for a bad config or bad arguments (found before
//! anything runs), 1 for a failure while running, 0 for bad data, which is
//! reported with file and line/offset and skipped while the rest is
//! processed. None may panic, and no message is longer than 4 KB.

use crate::util::{text, TempDir};
use std::process::Command;

/// One bad input: files created in a fresh directory (the working
/// directory of the run), the arguments, and what must come out.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<&'static str>,
    code: i32,
    expect: &'static str,
}

impl Case {
    fn new(name: &'static str, args: &[&'static str], code: i32, expect: &'static str) -> Case {
        Case {
            name,
            files: Vec::new(),
            args: args.to_vec(),
            code,
            expect,
        }
    }

    fn file(mut self, name: &'static str, bytes: impl AsRef<[u8]>) -> Case {
        self.files.push((name, bytes.as_ref().to_vec()));
        self
    }

    /// With a valid CSV pipeline in `p.yaml`.
    fn with_good_pipeline(self) -> Case {
        self.file("p.yaml", CSV).file("data.csv", GOOD_CSV)
    }
}

/// A pipeline reading `data.csv` into `out.csv`.
const CSV: &str = "sources:\n  src: {type: csv, path: data.csv}\nsinks:\n  out: {type: file, inputs: [src], path: out.csv}\n";
const GOOD_CSV: &str =
    "No.,Time,Source,Destination,Protocol,Length,Info\n1,0.1,10.0.0.1,10.0.0.2,TCP,60,x\n";
/// A pipeline reading the single file `data.pcap` (validation checks it
/// is a capture).
const PCAP: &str = "sources:\n  src: {type: pcap, path: data.pcap}\nsinks:\n  out: {type: file, inputs: [src], path: out.csv}\n";
/// A pipeline reading the directory `caps` (its files are only looked at
/// while running).
const PCAP_DIR: &str = "sources:\n  src: {type: pcap, path: caps}\nsinks:\n  out: {type: file, inputs: [src], path: out.csv}\n";
/// pcap global header: little-endian, microseconds, snaplen 65535, Ethernet.
const PCAP_HEADER: &[u8] =
    b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00";

/// `netanom validate p.yaml` of a pipeline (with data.csv present).
fn config(name: &'static str, yaml: &str, expect: &'static str) -> Case {
    Case::new(name, &["validate", "p.yaml"], 2, expect)
        .file("p.yaml", yaml)
        .file("data.csv", GOOD_CSV)
}

/// `netanom validate` of a pipeline anonymizing with `anonymize` options.
fn key(name: &'static str, options: &str, expect: &'static str) -> Case {
    config(
        name,
        &format!("sources:\n  src: {{type: csv, path: data.csv}}\noperators:\n  anon: {{type: anonymize, inputs: [src], {options}}}\nsinks:\n  out: {{type: file, inputs: [anon], path: out.csv}}\n"),
        expect,
    )
}

/// `netanom run` of a CSV whose header is Wireshark's and rows `body`.
fn csv(name: &'static str, body: &[u8], expect: &'static str) -> Case {
    let header = b"No.,Time,Source,Destination,Protocol,Length,Info\n";
    Case::new(name, &["run", "p.yaml"], 0, expect)
        .file("p.yaml", CSV)
        .file("data.csv", [&header[..], body].concat())
}

/// `netanom run` of the directory `caps` holding `file`.
fn capture(name: &'static str, file: &'static str, bytes: &[u8], expect: &'static str) -> Case {
    Case::new(name, &["run", "p.yaml"], 0, expect)
        .file("p.yaml", PCAP_DIR)
        .file(file, bytes)
}

/// A pipeline with one window operator with `options`.
fn window(options: &str) -> String {
    format!("sources:\n  a: {{type: csv, path: data.csv}}\noperators:\n  w: {{type: window, inputs: [a], {options}}}\nsinks:\n  o: {{type: file, inputs: [w], path: o.csv}}\n")
}

fn cases() -> Vec<Case> {
    vec![
        // Command-line flags.
        Case::new("unknown subcommand", &["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
        Case::new("run without pipeline", &["run"], 2, "the following required arguments were not provided"),
        Case::new("unknown flag", &["run", "p.yaml", "--bogus"], 2, "unexpected argument '--bogus'"),
        Case::new("missing pipeline file", &["run", "missing.yaml"], 2, "missing.yaml:1:1: pipeline: cannot read the pipeline file"),
        Case::new("pipeline is a directory", &["validate", "."], 2, ".:1:1: pipeline: cannot read the pipeline file"),
        Case::new("unknown plugin", &["plugins", "nonesuch"], 2, "nonesuch"),
        Case::new("zero workers", &["run", "p.yaml", "-w", "0"], 2, "0 is not in 1..=1024").with_good_pipeline(),
        Case::new("workers not a number", &["run", "p.yaml", "-w", "many"], 2, "invalid value 'many'").with_good_pipeline(),
        Case::new("--set without =", &["run", "p.yaml", "--set", "noequals"], 2, "--set `noequals`: expected ID.KEY=VALUE").with_good_pipeline(),
        Case::new("--set unknown component", &["run", "p.yaml", "--set", "ghost.path=x"], 2, "--set `ghost.path=x`: no component `ghost` in the pipeline").with_good_pipeline(),
        Case::new("--set through a value", &["run", "p.yaml", "--set", "out.path.deeper=x"], 2, "`path` is not a mapping").with_good_pipeline(),
        Case::new("--set bad duration", &["validate", "p.yaml", "--set", "src.out_of_order=soon"], 2, "invalid duration `soon`").with_good_pipeline(),
        Case::new("process out of range", &["run", "p.yaml", "--processes", "2", "--process", "5"], 2, "--process 5 is out of range for --processes 2").with_good_pipeline(),
        Case::new("hostfile missing", &["run", "p.yaml", "--processes", "2", "--hostfile", "nohosts"], 2, "cannot read hostfile `nohosts`").with_good_pipeline(),
        Case::new("hostfile bad line", &["run", "p.yaml", "--processes", "2", "--hostfile", "hosts"], 2, "hosts:2: expected host:port, found `not-a-host`").with_good_pipeline().file("hosts", "127.0.0.1:2101\nnot-a-host\n"),
        Case::new("hostfile without end", &["run", "p.yaml", "--processes", "2", "--hostfile", "/dev/zero"], 2, "/dev/zero:1: expected host:port").with_good_pipeline(),
        Case::new("graph bad format", &["graph", "p.yaml", "--format", "png"], 2, "invalid value 'png'").with_good_pipeline(),
        // Pipeline files.
        config("not YAML", "sources: {a: [}\n", "p.yaml:1:"),
        Case::new("not UTF-8", &["validate", "p.yaml"], 2, "p.yaml:1:1: pipeline: cannot read the pipeline file: not UTF-8").file("p.yaml", b"sources:\n  a: {type: csv, path: \xff\xfe}\n"),
        config("not a mapping", "- just\n- a list\n", "expected a mapping with `sources`, `operators` and `sinks`"),
        config("unknown section", "source:\n  a: {type: csv, path: data.csv}\n", "unknown key `source`; expected sources, operators, sinks"),
        config("section not a mapping", "sources: [a, b]\nsinks: {}\n", "`sources` must be a mapping from ids to components"),
        config("id with a space", "sources:\n  my src: {type: csv, path: data.csv}\nsinks:\n  out: {type: file, inputs: [my src], path: o.csv}\n", "ids may only use letters, digits, `_` and `-`"),
        config("id that is a number", "sources:\n  1: {type: csv, path: data.csv}\nsinks: {}\n", "component ids must be text, found `1`"),
        config("id used twice", "sources:\n  a: {type: csv, path: data.csv}\nsinks:\n  a: {type: file, inputs: [a], path: o.csv}\n", "id `a` is used twice"),
        config("unknown plugin type", "sources:\n  a: {type: kafka}\nsinks:\n  o: {type: file, inputs: [a], path: o.csv}\n", "a: unknown"),
        config("unknown option", "sources:\n  a: {type: csv, path: data.csv, colour: red}\nsinks:\n  o: {type: file, inputs: [a], path: o.csv}\n", "unknown field `colour`"),
        config("duration without unit", &window("size: 10"), "w: size:"),
        config("zero window", &window("size: 0s"), "w: size: must be greater than 0"),
        config("slide over size", &window("size: 1s, slide: 2s"), "slide: must be greater than 0 and at most size (1s)"),
        config("too many overlapping windows", &window("size: 1s, slide: 1ms"), "w: slide: at most 64 windows may overlap"),
        config("degree slide too fine", "sources:\n  a: {type: csv, path: data.csv}\noperators:\n  g: {type: degree, inputs: [a], window: 10s, slide: 1ms}\nsinks:\n  o: {type: file, inputs: [g], path: o.csv}\n", "g: slide: at most 64 windows may overlap"),
        config("negative count", "sources:\n  a: {type: csv, path: data.csv}\noperators:\n  g: {type: degree, inputs: [a], min_count: -1}\nsinks:\n  o: {type: file, inputs: [g], path: o.csv}\n", "g: min_count"),
        config("input cycle", "sources:\n  a: {type: csv, path: data.csv}\noperators:\n  x: {type: anonymize, inputs: [y], key_env: K}\n  y: {type: anonymize, inputs: [x], key_env: K}\nsinks:\n  o: {type: file, inputs: [x], path: o.csv}\n", "inputs form a cycle"),
        config("unknown input", "sources:\n  a: {type: csv, path: data.csv}\nsinks:\n  o: {type: file, inputs: [b], path: o.csv}\n", "o: unknown input `b`"),
        config("listen not an address", "sources:\n  a: {type: csv, path: data.csv}\nsinks:\n  m: {type: prometheus, inputs: [a], listen: localhost}\n", "listen: `localhost` is not an address and port like 127.0.0.1:9898"),
        config("csv unknown column key", "sources:\n  a: {type: csv, path: data.csv, columns: {colour: Color}}\nsinks:\n  o: {type: file, inputs: [a], path: o.csv}\n", "columns: unknown field `colour`"),
        config("glob matching nothing", "sources:\n  a: {type: csv, path: \"nothing/*.csv\"}\nsinks:\n  o: {type: file, inputs: [a], path: o.csv}\n", "a: path: no file matches `nothing/*.csv`"),
        // Keys (never shown in messages; see tests/anonymize.rs).
        key("key file missing", "key_file: k.key", "anon: key_file:"),
        key("key too short", "key_file: k.key", "a key is 32 raw bytes or 64 hex characters; found 16 bytes").file("k.key", "0123456789abcdef"),
        key("key of 64 non-hex characters", "key_file: k.key", "anon: key_file:").file("k.key", "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        key("key file is a directory", "key_file: keys", "anon: key_file:").file("keys/placeholder", "x"),
        key("key variable unset", "key_env: NETANOM_TEST_UNSET_KEY", "NETANOM_TEST_UNSET_KEY"),
        key("no key at all", "fields: [src]", "missing key: give key_file"),
        key("both key sources", "key_file: k.key, key_env: K", "key_env: give only one of key_file and key_env"),
        // Captures: a single named file that is not a capture is a config
        // error; damage inside a capture is reported and skipped.
        // An empty file may be a capture still being written: reported
        // while running, not refused.
        Case::new("empty capture file", &["run", "p.yaml"], 0, "data.pcap: offset 0: file has 0 bytes, at least 4 are needed to recognise the format").file("p.yaml", PCAP).file("data.pcap", ""),
        Case::new("not a capture", &["run", "p.yaml"], 2, "src: path: data.pcap: offset 0:").file("p.yaml", PCAP).file("data.pcap", "GET / HTTP/1.1\r\n\r\n"),
        capture("capture header cut short", "caps/a.pcap", b"\xd4\xc3\xb2\xa1\x02\x00", "caps/a.pcap: offset 0:"),
        capture("pcap record over 16 MiB", "caps/a.pcap", &[PCAP_HEADER, b"\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\x7f\x3c\x00\x00\x00"].concat(), "caps/a.pcap: offset 24: record claims 2147483647 captured bytes (limit 16777216)"),
        capture("pcap last record cut short", "caps/a.pcap", &[PCAP_HEADER, b"\x01\x00\x00\x00\x00\x00\x00\x00\x3c\x00\x00\x00\x3c\x00\x00\x00abc"].concat(), "caps/a.pcap: offset 24:"),
        capture("pcapng bad byte-order magic", "caps/a.pcapng", b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x11\x22\x33\x44\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00", "caps/a.pcapng: offset 0:"),
        capture("directory with no captures", "caps/notes.txt", b"hello", "caps/notes.txt: offset 0:"),
        // CSV files: each bad row is reported with its line, the rest kept.
        Case::new("empty CSV", &["run", "p.yaml"], 0, "data.csv:1: empty file: expected a CSV header line").file("p.yaml", CSV).file("data.csv", ""),
        Case::new("CSV without the needed columns", &["run", "p.yaml"], 0, "data.csv:1: header has no column for ts, src, dst, protocol, length").file("p.yaml", CSV).file("data.csv", "a,b,c\n1,2,3\n"),
        csv("CSV bad time", b"1,noon,10.0.0.1,10.0.0.2,TCP,60,x\n", "data.csv:2: Time: expected seconds or a date and time, found `noon`"),
        csv("CSV field of 100 KB", format!("1,{},10.0.0.1,10.0.0.2,TCP,60,x\n", "x".repeat(100_000)).as_bytes(), "data.csv:2: Time: expected seconds or a date and time, found `xxxxxxxxxx"),
        csv("CSV impossible date", b"1,2024-02-30T25:00:00,10.0.0.1,10.0.0.2,TCP,60,x\n", "data.csv:2: Time: expected seconds or a date and time"),
        csv("CSV bad length", b"1,0.5,10.0.0.1,10.0.0.2,TCP,-3,x\n", "data.csv:2: Length: expected a whole number, found `-3`"),
        csv("CSV too few fields", b"1,0.5,10.0.0.1\n", "data.csv:2: expected 7 fields, found 3"),
        csv("CSV unclosed quote", b"1,0.5,10.0.0.1,10.0.0.2,TCP,60,\"open\n", "data.csv:2: a quoted field is not closed on its line"),
        csv("CSV text after a quote", b"1,0.5,10.0.0.1,10.0.0.2,TCP,60,\"a\"b\n", "data.csv:2: unexpected `b` after a quoted field"),
        csv("CSV row not UTF-8", b"1,0.5,10.0.0.1,10.0.0.2,TCP,60,\xff\xfe\n", "data.csv:2: not UTF-8 text"),
        Case::new("CSV bad port", &["run", "p.yaml"], 0, "data.csv:2: source port: expected a port number, found `http`")
            .file("p.yaml", "sources:\n  src: {type: csv, path: data.csv, columns: {sport: SP}}\nsinks:\n  out: {type: file, inputs: [src], path: out.csv}\n")
            .file("data.csv", "No.,Time,Source,Destination,Protocol,Length,Info,SP\n1,0.5,10.0.0.1,10.0.0.2,TCP,60,x,http\n"),
        // Failures while running.
        Case::new("output under a file", &["run", "p.yaml"], 1, "out: cannot write")
            .file("p.yaml", "sources:\n  src: {type: csv, path: data.csv}\nsinks:\n  out: {type: file, inputs: [src], path: blocker/out.csv}\n")
            .file("data.csv", GOOD_CSV)
            .file("blocker", "x"),
    ]
}

#[test]
fn bad_inputs_give_their_message_and_exit_code() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let dir = TempDir::new("table");
        for (name, bytes) in &case.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, bytes).expect("write case file");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_netanom"))
            .args(&case.args)
            .current_dir(dir.path())
            .env_remove("NETANOM_TEST_UNSET_KEY")
            .output()
            .expect("netanom runs");
        let (_, stderr) = text(&out);
        let code = out.status.code();
        // Messages quote what they found only in part: a few KB at most.
        if code != Some(case.code)
            || !stderr.contains(case.expect)
            || stderr.contains("panicked")
            || stderr.len() > 4096
        {
            failures.push(format!(
                "{}: want exit {} and `{}`, got exit {code:?}:\n{stderr}",
                case.name, case.code, case.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n---\n")
    );
}
