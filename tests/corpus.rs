//! The pcap source on every capture of ../shared/corpus: tshark's record
//! counts, no panic, bounded memory, every damaged file reported with its
//! name and offset, and the same packets and reports when the file is
//! split over three workers.

use crate::util::{netanom, shared, text, TempDir};

#[test]
fn corpus_counts_match_and_nothing_panics() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/corpus not found");
        return;
    };
    let corpus = shared.join("corpus");
    let manifest = std::fs::read_to_string(corpus.join("manifest.tsv")).expect("manifest");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let (c_file, c_records, c_note) = (col("file"), col("records_in_file"), col("structure_note"));
    let dir = TempDir::new("corpus");
    let (mut checked, mut reported) = (0, 0);
    let mut failures = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, records, note) = (f[c_file], f[c_records], f[c_note]);
        let path = corpus.join(file);
        let out_csv = dir.join("packets.csv");
        let _ = std::fs::remove_file(&out_csv);
        let p = dir.write(
            "p.yaml",
            &format!(
                "sources:\n  cap: {{type: pcap, path: \"{}\"}}\nsinks:\n  out: {{type: file, inputs: [cap], path: \"{}\"}}\n",
                path.display(),
                out_csv.display()
            ),
        );
        let out = netanom(&["run", &p.display().to_string()]);
        let (_, stderr) = text(&out);
        if stderr.contains("panicked") || out.status.code().is_none() {
            failures.push(format!("{file}: crashed: {stderr}"));
            continue;
        }
        if out.status.code() == Some(2) {
            // Only files that are no capture at all are refused up front.
            if !stderr.contains("not a pcap or pcapng file") && !stderr.contains("magic") {
                failures.push(format!("{file}: refused: {stderr}"));
            }
            reported += 1;
            continue;
        }
        if out.status.code() != Some(0) {
            failures.push(format!("{file}: exit {:?}: {stderr}", out.status.code()));
            continue;
        }
        if let Some(mb) = stderr
            .split("peak memory ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse::<u64>().ok())
        {
            if mb > 200 {
                failures.push(format!("{file}: peak memory {mb} MB"));
            }
        }
        let written = std::fs::read(&out_csv).unwrap_or_default();
        // The same file split over 3 workers, read in turns through the
        // shared reader: the same packets and the same reports.
        let split_csv = dir.join("split.csv");
        let _ = std::fs::remove_file(&split_csv);
        let p3 = dir.write(
            "p3.yaml",
            &format!(
                "sources:\n  cap: {{type: pcap, path: \"{}\", split: always}}\nsinks:\n  out: {{type: file, inputs: [cap], path: \"{}\"}}\n",
                path.display(),
                split_csv.display()
            ),
        );
        let split = netanom(&["run", &p3.display().to_string(), "-w", "3"]);
        let reports = |stderr: &str| -> Vec<String> {
            stderr
                .lines()
                .filter(|l| !l.starts_with("done in") && !l.starts_with("out:"))
                .map(|l| l.split(" (").next().unwrap_or(l).to_owned())
                .collect()
        };
        let split_stderr = text(&split).1;
        if split.status.code() != Some(0)
            || std::fs::read(&split_csv).unwrap_or_default() != written
            || reports(&split_stderr) != reports(&stderr)
        {
            failures.push(format!(
                "{file}: split over 3 workers differs:\n{stderr}\n---\n{split_stderr}"
            ));
        }
        let packets = String::from_utf8_lossy(&written)
            .lines()
            .count()
            .saturating_sub(1);
        if note == "ok" {
            checked += 1;
            if records.parse::<usize>().ok() != Some(packets) {
                failures.push(format!(
                    "{file}: {packets} packets, tshark/manifest says {records}"
                ));
            }
        } else if stderr.contains("bad input") {
            reported += 1;
            // A report names the file and a position.
            if !stderr.contains(file) || !stderr.contains("offset") {
                failures.push(format!("{file}: report lacks file or offset: {stderr}"));
            }
        }
    }
    eprintln!("corpus: {checked} well-formed files counted, {reported} damaged files reported");
    assert!(checked >= 100, "only {checked} well-formed files checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
