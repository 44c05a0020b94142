//! `netanom run` and its end-of-run summary.

use super::{load, Failure};
use netanom_engine::{EngineError, RunOptions};
use netanom_records::stats::{ComponentStats, Stats};
use std::fmt::Write;
use std::path::Path;

/// Runs a pipeline; prints a summary (and every kind of bad input seen) on
/// stderr.
pub fn run(path: &Path, sets: &[String], options: RunOptions, quiet: bool) -> Result<(), Failure> {
    let pipeline = load(path, sets)?;
    if pipeline
        .operators
        .iter()
        .any(|op| matches!(op.config, netanom_operators::OperatorConfig::Anonymize(_)))
    {
        withhold_panic_messages();
    }
    let sources: Vec<String> = pipeline.sources.iter().map(|s| s.id.clone()).collect();
    let stats = Stats::new();
    let progress = super::progress::Progress::start(stats.clone(), sources.clone(), quiet);
    let result = netanom_engine::run_with_stats(pipeline, &options, stats);
    drop(progress);
    let summary = result.map_err(|e| match e {
        EngineError::Usage(m) => Failure::BadInput(format!("netanom: {m}")),
        EngineError::Runtime(m) => Failure::Runtime(m),
    })?;
    let mut text = render(&summary.stats, &sources, summary.elapsed);
    if netanom_records::shutdown::requested() {
        text.push_str(
            "interrupted: sources stopped reading early; the outputs hold what was read\n",
        );
    }
    if !quiet || text.contains("bad input") || text.contains("interrupted") {
        eprint!("{text}");
    }
    Ok(())
}

/// With anonymization on, a panic (a bug, never meant to happen on any
/// input) reports where it happened, and its message only when that is a
/// fixed text: a formatted message could quote a record's address.
fn withhold_panic_messages() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "an unknown place".into());
        let message = match info.payload().downcast_ref::<&'static str>() {
            Some(fixed) => (*fixed).to_owned(),
            None => "message withheld: anonymization is on".to_owned(),
        };
        eprintln!("netanom: internal error at {place}: {message}");
    }));
}

fn render(stats: &Stats, sources: &[String], elapsed: std::time::Duration) -> String {
    let mut out = String::new();
    let secs = elapsed.as_secs_f64().max(1e-9);
    for (id, c) in stats.components() {
        let records = ComponentStats::get(&c.records_out);
        if sources.contains(&id) {
            let _ = writeln!(
                out,
                "{id}: {records} packets, {} bytes, {} files read, {} files failed ({:.0} packets/s)",
                ComponentStats::get(&c.bytes),
                ComponentStats::get(&c.files_done),
                ComponentStats::get(&c.files_error),
                records as f64 / secs
            );
        } else {
            let late = ComponentStats::get(&c.late);
            let late = if late > 0 {
                format!(", {late} late (after their window closed)")
            } else {
                String::new()
            };
            let _ = writeln!(out, "{id}: {records} records{late}");
        }
        let bad = c.bad_by_kind();
        if !bad.is_empty() {
            let total: u64 = bad.values().sum();
            let kinds: Vec<String> = bad.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(out, "{id}: {total} bad input ({})", kinds.join(", "));
            let samples = c.bad_samples();
            for b in &samples {
                let _ = writeln!(out, "  {b}");
            }
            if total > samples.len() as u64 {
                let _ = writeln!(out, "  ... and {} more", total - samples.len() as u64);
            }
        }
    }
    match peak_rss_bytes() {
        Some(rss) => {
            let _ = writeln!(
                out,
                "done in {:.3} s, peak memory {} MB",
                elapsed.as_secs_f64(),
                rss / 1_000_000
            );
        }
        None => {
            let _ = writeln!(out, "done in {:.3} s", elapsed.as_secs_f64());
        }
    }
    out
}

/// The process's peak resident set (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
