//! Bad data at run time is counted and reported with file and position,
//! processing goes on, and nothing panics.

use crate::util::{netanom, read_csv, text, TempDir};

fn pipeline(dir: &TempDir, source: &str) -> (String, std::path::PathBuf) {
    let out = dir.join("packets.csv");
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  src: {source}\nsinks:\n  out: {{type: file, inputs: [src], path: {}}}\n",
            out.display()
        ),
    );
    (p.display().to_string(), out)
}

#[test]
fn csv_with_broken_rows_reports_lines_and_keeps_the_rest() {
    let dir = TempDir::new("badcsv");
    let csv = dir.write(
        "x.csv",
        "\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n\
         \"1\",\"0.000001\",\"10.0.0.1\",\"10.0.0.2\",\"TCP\",\"60\",\"a\"\n\
         \"2\",\"yesterday\",\"10.0.0.1\",\"10.0.0.2\",\"TCP\",\"60\",\"b\"\n\
         \"3\",\"0.000003\",\"10.0.0.1\",\"10.0.0.2\",\"TCP\",\"sixty\",\"c\"\n\
         \"4\",\"0.000004\",\"10.0.0.1\"\n\
         \"5\",\"0.000005\",\"10.0.0.1\",\"10.0.0.2\",\"UDP\",\"70\",\"unclosed\n\
         \"6\",\"0.000006\",\"10.0.0.1\",\"10.0.0.2\",\"DNS\",\"80\",\"ok\"\n",
    );
    let (p, out) = pipeline(&dir, &format!("{{type: csv, path: {}}}", csv.display()));
    let run = netanom(&["run", &p]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let name = csv.display().to_string();
    for (line, what) in [
        (3, "Time: expected seconds"),
        (4, "Length: expected a whole number"),
        (5, "expected 7 fields, found 3"),
        (6, "a quoted field is not closed"),
    ] {
        assert!(
            stderr.contains(&format!("{name}:{line}: {what}")),
            "line {line}: {stderr}"
        );
    }
    assert!(stderr.contains("4 bad input (bad_row 4)"), "{stderr}");
    let (_, rows) = read_csv(&out);
    assert_eq!(rows.len(), 2, "the good rows are kept");
}

#[test]
fn truncated_capture_reports_offset_and_keeps_complete_records() {
    let Some(shared) = crate::util::shared() else {
        eprintln!("skipped: ../shared not found");
        return;
    };
    let dir = TempDir::new("trunc");
    let original =
        std::fs::read(crate::util::root().join("tests/data/tiny.pcap")).expect("tiny.pcap");
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &original[..original.len() - 30]).expect("write");
    let (p, out) = pipeline(&dir, &format!("{{type: pcap, path: {}}}", cut.display()));
    let run = netanom(&["run", &p]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: offset ", cut.display())),
        "{stderr}"
    );
    assert!(stderr.contains("truncated"), "{stderr}");
    let (_, rows) = read_csv(&out);
    assert_eq!(rows.len(), 299, "all records but the cut one");
    let _ = shared;
}

#[test]
fn a_non_capture_among_captures_is_reported_and_skipped() {
    let dir = TempDir::new("mixed");
    let caps = dir.join("caps");
    std::fs::create_dir_all(&caps).expect("mkdir");
    std::fs::copy(
        crate::util::root().join("tests/data/tiny.pcap"),
        caps.join("a.pcap"),
    )
    .expect("copy");
    std::fs::write(caps.join("b.pcap"), b"this is not a capture at all").expect("write");
    let (p, out) = pipeline(&dir, &format!("{{type: pcap, path: {}}}", caps.display()));
    let run = netanom(&["run", &p]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("b.pcap: offset 0:"), "{stderr}");
    assert!(stderr.contains("1 files failed"), "{stderr}");
    let (_, rows) = read_csv(&out);
    assert_eq!(rows.len(), 300);
}

#[test]
fn unwritable_output_is_a_runtime_error() {
    let dir = TempDir::new("unwritable");
    let blocker = dir.write("file", "x");
    let p = dir.write(
        "p.yaml",
        &format!(
            "sources:\n  src: {{type: pcap, path: tests/data/tiny.pcap}}\nsinks:\n  out: {{type: file, inputs: [src], path: {}/sub/out.csv}}\n",
            blocker.display()
        ),
    );
    let run = netanom(&["run", &p.display().to_string()]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("out: cannot write"), "{stderr}");
}

/// A split file is peeked at by every worker and read by the workers of a
/// process in turns: a file that cannot be read is still reported once,
/// and the good one read once, on any number of workers.
#[test]
fn a_bad_file_among_split_files_is_reported_once_on_any_number_of_workers() {
    let dir = TempDir::new("badsplit");
    let captures = dir.join("captures");
    std::fs::create_dir_all(&captures).expect("mkdir");
    std::fs::copy(
        crate::util::root().join("samples/quickstart.pcap"),
        captures.join("a.pcap"),
    )
    .expect("copy sample");
    std::fs::write(captures.join("b.pcap"), "not a capture at all\n").expect("write");
    let (p, out) = pipeline(
        &dir,
        &format!(
            "{{type: pcap, path: {}, split: always}}",
            captures.display()
        ),
    );
    let mut rows = None;
    for w in ["1", "2", "4"] {
        let run = netanom(&["run", &p, "-w", w]);
        let (_, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("1 files read, 1 files failed"),
            "{w} workers: {stderr}"
        );
        assert!(
            stderr.contains("1 bad input (not_a_capture 1)"),
            "{w} workers: {stderr}"
        );
        assert_eq!(
            stderr.matches("b.pcap: offset 0").count(),
            1,
            "{w} workers: {stderr}"
        );
        let (_, r) = read_csv(&out);
        match &rows {
            None => rows = Some(r),
            Some(first) => assert_eq!(first.len(), r.len(), "{w} workers"),
        }
    }
    // tshark counts 10,501 frames in the sample.
    assert_eq!(rows.map(|r| r.len()), Some(10_501));
}
