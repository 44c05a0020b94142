//! `anonymize`: no original address leaves the pipeline, the mapping does
//! not depend on workers, and key problems are config errors that never
//! show the key.

use crate::util::{netanom, root, run_into, text, TempDir};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example key of pipelines/anonymized.yaml.
const EXAMPLE_KEY: &str = "pipelines/keys/example.key";

/// The published Crypto-PAn key (../shared/cryptopan-vectors.tsv).
const VECTOR_KEY: &str = "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202";

/// Every IP address of samples/quickstart.pcap, from tshark's fields.
fn original_addresses() -> BTreeSet<IpAddr> {
    let text = std::fs::read_to_string(root().join("samples/quickstart.fields.tsv"))
        .expect("samples/quickstart.fields.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let columns: Vec<usize> = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst"]
        .iter()
        .map(|c| header.iter().position(|h| h == c).expect("address column"))
        .collect();
    let mut out = BTreeSet::new();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        for &c in &columns {
            // tshark lists tunnelled addresses comma-separated.
            for value in cols.get(c).copied().unwrap_or("").split(',') {
                if let Ok(ip) = value.trim().parse::<IpAddr>() {
                    out.insert(ip);
                }
            }
        }
    }
    out
}

/// Every IP address written in `text`, as whole tokens: the text is cut at
/// every character that cannot be part of an address, and each piece (or,
/// for `ADDRESS:PORT`, its address part) that parses as an IP address is
/// one. Tokens, not substrings: Crypto-PAn preserves prefixes, so an
/// anonymized address may well contain an original one's first digits.
fn addresses_in(text: &str) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    for token in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
        let token = token.trim_matches('.');
        if let Ok(ip) = token.parse::<IpAddr>() {
            out.insert(ip);
        } else if let Some((left, port)) = token.rsplit_once(':') {
            let left = left.trim_start_matches('[').trim_end_matches(']');
            if port.chars().all(|c| c.is_ascii_digit()) {
                if let Ok(ip) = left.parse::<IpAddr>() {
                    out.insert(ip);
                }
            }
        }
    }
    out
}

/// Everything a run left behind: stdout, stderr and every output file.
fn everything(out: &Output, files: &[(String, PathBuf)]) -> String {
    let (stdout, stderr) = text(out);
    let mut all = format!("{stdout}\n{stderr}\n");
    for (id, f) in files {
        let body = std::fs::read_to_string(f).unwrap_or_default();
        assert!(!body.is_empty(), "sink {id} wrote nothing");
        all.push_str(&body);
        all.push('\n');
    }
    all
}

fn leaked(all: &str, originals: &BTreeSet<IpAddr>) -> Vec<IpAddr> {
    addresses_in(all).intersection(originals).copied().collect()
}

#[test]
fn token_search_finds_addresses_exactly() {
    let found = addresses_in("a,127.0.0.1,x 127.0.0.10:8080 [::1]:53 ::1 0x0012 1.5 128.0.12.94");
    let want: BTreeSet<IpAddr> = ["127.0.0.1", "127.0.0.10", "::1", "128.0.12.94"]
        .iter()
        .map(|s| s.parse().expect("ip"))
        .collect();
    assert_eq!(found, want);
    // a prefix of an address is not that address
    assert!(addresses_in("127.0.0.12")
        .iter()
        .all(|ip| ip.to_string() == "127.0.0.12"));
}

/// The acceptance test of the issue: with anonymization before every sink,
/// no address of the input appears in any sink file, on stdout or stderr.
/// The same search on the plain quick start (and on a run that keeps the
/// `info` text) must find them, or the search would prove nothing.
#[test]
fn no_original_address_appears_in_any_output() {
    let originals = original_addresses();
    assert!(originals.len() > 100, "{} addresses", originals.len());
    assert!(originals.contains(&"::1".parse().expect("ip")));

    // Control: without anonymization, the originals are there.
    let dir = TempDir::new("anon-plain");
    let (out, files) = run_into(&root().join("pipelines/quickstart.yaml"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let plain = leaked(&everything(&out, &files), &originals);
    assert!(plain.len() > 100, "control run shows only {plain:?}");

    for workers in ["1", "2"] {
        let dir = TempDir::new("anon-pcap");
        // Not quiet: the summary on stderr is searched too.
        let pipeline = root().join("pipelines/anonymized.yaml");
        let (out, files) = run_into(&pipeline, dir.path(), &["-w", workers]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        let all = everything(&out, &files);
        assert!(all.contains("packets: 10501"), "{all}");
        let leaks = leaked(&all, &originals);
        assert!(
            leaks.is_empty(),
            "{workers} workers: original addresses in the output: {leaks:?}"
        );
        assert!(!all.contains(VECTOR_KEY));
        let key = std::fs::read_to_string(root().join(EXAMPLE_KEY)).expect("example key");
        assert!(!all.contains(key.trim()), "the key appears in the output");
    }
}

/// The CSV export has addresses in its Info column (DNS answers): they go
/// with `redact_info` (the default), and stay without it.
#[test]
fn info_is_redacted_by_default() {
    let originals = original_addresses();
    let dir = TempDir::new("anon-csv");
    let pipeline = dir.write(
        "csv.yaml",
        &format!(
            "sources:\n  export: {{type: csv, path: {}}}\noperators:\n  anon: {{type: anonymize, inputs: [export], key_file: {}}}\nsinks:\n  out: {{type: file, inputs: [anon], path: {}}}\n  show: {{type: console, inputs: [anon]}}\n",
            root().join("samples/quickstart.csv").display(),
            root().join(EXAMPLE_KEY).display(),
            dir.join("packets.jsonl").display()
        ),
    );
    let p = pipeline.display().to_string();
    let out = netanom(&["run", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let files = vec![("out".to_owned(), dir.join("packets.jsonl"))];
    let leaks = leaked(&everything(&out, &files), &originals);
    assert!(
        leaks.is_empty(),
        "original addresses in the output: {leaks:?}"
    );

    let out = netanom(&["run", &p, "--set", "anon.redact_info=false"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let body = std::fs::read_to_string(dir.join("packets.jsonl")).expect("output");
    assert!(
        !leaked(&body, &originals).is_empty(),
        "the Info column kept its addresses, and the search finds them"
    );
}

fn outputs(pipeline: &Path, extra: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = TempDir::new("anon-workers");
    let (out, files) = run_into(pipeline, dir.path(), extra);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    files
        .into_iter()
        .map(|(id, f)| (id, std::fs::read(&f).expect("output written")))
        .collect()
}

/// The mapping is the same in every worker (here, also when every worker
/// decodes its own chunks of the one file).
#[test]
fn anonymized_output_is_identical_for_1_2_4_workers() {
    let p = root().join("pipelines/anonymized.yaml");
    for split in ["capture.split=never", "capture.split=always"] {
        let one = outputs(&p, &["-w", "1", "--set", split]);
        assert_eq!(one.len(), 3);
        assert!(one.iter().all(|(_, b)| b.len() > 1000));
        for w in ["2", "4"] {
            let other = outputs(&p, &["-w", w, "--set", split]);
            for ((id, a), (_, b)) in one.iter().zip(other.iter()) {
                assert!(
                    a == b,
                    "sink {id} differs between 1 and {w} workers ({split})"
                );
            }
        }
    }
}

fn sorted_rows(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
    rows.sort();
    rows
}

/// Anonymizing window records gives the same rows as windowing
/// anonymized packets (the mapping is one-to-one, so groups are the same,
/// renamed); and the mapping is the published vectors'.
#[test]
fn windows_anonymized_after_equal_windows_of_anonymized_packets() {
    let dir = TempDir::new("anon-windows");
    let key = dir.write("vector.key", VECTOR_KEY);
    let pipeline = dir.write(
        "both.yaml",
        &format!(
            "sources:\n  capture: {{type: pcap, path: {pcap}}}\noperators:\n  anon_first: {{type: anonymize, inputs: [capture], key_file: {key}}}\n  w_after: {{type: window, inputs: [anon_first], size: 1s, group_by: [src, dst]}}\n  w_before: {{type: window, inputs: [capture], size: 1s, group_by: [src, dst]}}\n  anon_after: {{type: anonymize, inputs: [w_before], key_file: {key}}}\nsinks:\n  a: {{type: file, inputs: [w_after], path: {a}}}\n  b: {{type: file, inputs: [anon_after], path: {b}}}\n",
            pcap = root().join("samples/quickstart.pcap").display(),
            key = key.display(),
            a = dir.join("a.csv").display(),
            b = dir.join("b.csv").display(),
        ),
    );
    let out = netanom(&["run", &pipeline.display().to_string(), "-q", "-w", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let a = std::fs::read(dir.join("a.csv")).expect("a");
    let b = std::fs::read(dir.join("b.csv")).expect("b");
    assert!(a.len() > 1000);
    assert_eq!(sorted_rows(&a), sorted_rows(&b));
    // With the published key, ::1 (in the capture) becomes the vector's
    // value: an outside oracle, end to end.
    let a = String::from_utf8_lossy(&a);
    assert!(a.contains(",78ff:f001:9fc0:20df:8380:b1f1:704:ed,"), "{a}");
    assert!(!addresses_in(&a).contains(&"::1".parse().expect("ip")));
    // Prefix-preserving: all of 127.0.0.0/8 lands in one /8.
    let firsts: BTreeSet<&str> = a
        .lines()
        .skip(1)
        .filter_map(|row| row.split(',').nth(2))
        .filter(|ip| ip.contains('.'))
        .filter_map(|ip| ip.split('.').next())
        .collect();
    assert_eq!(firsts.len(), 1, "{firsts:?}");
    assert!(!firsts.contains("127"), "{firsts:?}");
}

/// A pipeline of one anonymize operator with `options` (YAML lines at
/// operator depth), in `dir`.
fn pipeline_with(dir: &TempDir, options: &str) -> String {
    let text = format!(
        "sources:\n  capture:\n    type: pcap\n    path: {}\noperators:\n  anon:\n    type: anonymize\n    inputs: [capture]\n{options}sinks:\n  out: {{type: console, inputs: [anon]}}\n",
        root().join("samples/quickstart.pcap").display()
    );
    dir.write("p.yaml", &text).display().to_string()
}

fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netanom"));
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the netanom binary runs")
}

/// Environment variables for one run.
type Env<'a> = Vec<(&'a str, &'a str)>;

/// Bad keys are config errors (exit 2, `FILE:LINE:COL: ID: message`) for
/// both validate and run, and no message shows any part of the key.
#[test]
fn bad_keys_are_config_errors_that_never_show_the_key() {
    let dir = TempDir::new("anon-keys");
    let secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
    let short = dir.write("short.key", &secret[..62]);
    let mut bad_hex = secret.to_owned();
    bad_hex.replace_range(20..21, "z");
    let bad_hex = dir.write("badhex.key", &bad_hex);
    let good = dir.write("good.key", secret);
    let missing = dir.join("missing.key");
    // (operator options, environment, expected message)
    let cases: Vec<(String, Env, &str)> = vec![
        (
            format!("    key_file: {}\n", missing.display()),
            vec![],
            "9:5: anon: key_file: cannot read",
        ),
        (
            format!("    key_file: {}\n", short.display()),
            vec![],
            "9:5: anon: key_file:",
        ),
        (
            format!("    key_file: {}\n", bad_hex.display()),
            vec![],
            "9:5: anon: key_file:",
        ),
        (
            format!(
                "    key_file: {}\n    key_env: NETANOM_TEST_KEY\n",
                good.display()
            ),
            vec![("NETANOM_TEST_KEY", secret)],
            "10:5: anon: key_env: give only one of key_file and key_env",
        ),
        (
            "    key_env: NETANOM_TEST_KEY\n".to_owned(),
            vec![("NETANOM_TEST_KEY", "")],
            "9:5: anon: key_env: environment variable `NETANOM_TEST_KEY` is empty",
        ),
        (
            "    key_env: NETANOM_TEST_KEY\n".to_owned(),
            vec![("NETANOM_TEST_KEY", &secret[..60])],
            "9:5: anon: key_env:",
        ),
        (String::new(), vec![], "6:3: anon: missing key"),
    ];
    for (options, env, expect) in cases {
        let p = pipeline_with(&dir, &options);
        for cmd in ["validate", "run"] {
            let out = run_with_env(&[cmd, &p], &env);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {options}: {stderr}");
            assert!(
                stderr.contains(&format!("{p}:{expect}")),
                "{cmd}: expected `{p}:{expect}` in:\n{stderr}"
            );
            assert!(stdout.is_empty(), "{stdout}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            // No 8 consecutive characters of the key, anywhere.
            for i in 0..secret.len() - 8 {
                assert!(
                    !stderr.contains(&secret[i..i + 8]),
                    "{cmd} {options}: the key shows in:\n{stderr}"
                );
            }
        }
    }
    // The same key from a file and from the environment: same output.
    let from_file = pipeline_with(&dir, &format!("    key_file: {}\n", good.display()));
    let a = run_with_env(&["run", &from_file], &[]);
    let from_env = pipeline_with(&dir, "    key_env: NETANOM_TEST_KEY\n");
    let b = run_with_env(&["run", &from_env], &[("NETANOM_TEST_KEY", secret)]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a).1);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b).1);
    assert_eq!(text(&a).0, text(&b).0);
    assert!(text(&a).0.contains("top talkers"));
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("anon-mode");
    let key = dir.write("k.key", VECTOR_KEY);
    let p = pipeline_with(&dir, &format!("    key_file: {}\n", key.display()));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (_, stderr) = text(&netanom(&["validate", &p]));
    assert!(stderr.contains("readable by group or others"), "{stderr}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = netanom(&["validate", &p]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out).1.contains("warning"), "{}", text(&out).1);
}
