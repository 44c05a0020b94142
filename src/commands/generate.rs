//! `netanom generate`: synthetic, labelled traffic (see `netanom-generate`).

use super::Failure;
use netanom_generate::{At, AttackKind, CsvTime, Format, Label, Options, Proto};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `netanom generate` was asked for.
pub struct Args {
    /// Capture to write.
    pub out: PathBuf,
    /// Generator options.
    pub options: Options,
    /// Explicit format, else from the extension.
    pub format: Option<Format>,
    /// CSV export to write.
    pub csv: Option<PathBuf>,
    /// Labels file to write.
    pub labels: Option<PathBuf>,
    /// No summary on stderr.
    pub quiet: bool,
}

/// Parses `KIND@TIME`: TIME in seconds after the first packet (`12`,
/// `12.5s`) or a percentage of the capture (`30%`).
pub fn parse_attack(text: &str) -> Result<(AttackKind, At), String> {
    let (kind, at) = text
        .split_once('@')
        .ok_or_else(|| format!("`{text}`: expected KIND@TIME, like vscan@30% or icmp_flood@12s"))?;
    let kind = AttackKind::parse(kind).ok_or_else(|| {
        format!(
            "`{kind}`: unknown attack; expected one of {}",
            AttackKind::NAMES.join(", ")
        )
    })?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let at =
        if let Some(p) = at.strip_suffix('%') {
            At::Fraction(
                number(p)
                    .filter(|v| *v <= 100.0)
                    .ok_or_else(|| format!("`{at}`: expected a percentage from 0% to 100%"))?
                    / 100.0,
            )
        } else {
            At::Seconds(number(at.strip_suffix('s').unwrap_or(at)).ok_or_else(|| {
                format!("`{at}`: expected seconds (12, 12.5s) or a percentage (30%)")
            })?)
        };
    Ok((kind, at))
}

/// Parses `relative` / `epoch`.
pub fn parse_csv_time(text: &str) -> Result<CsvTime, String> {
    match text {
        "relative" => Ok(CsvTime::Relative),
        "epoch" => Ok(CsvTime::Epoch),
        _ => Err(format!("`{text}`: expected relative or epoch")),
    }
}

/// Parses `pcap` / `pcapng`.
pub fn parse_format(text: &str) -> Result<Format, String> {
    match text {
        "pcap" => Ok(Format::Pcap),
        "pcapng" => Ok(Format::Pcapng),
        _ => Err(format!("`{text}`: expected pcap or pcapng")),
    }
}

fn create(path: &Path) -> Result<BufWriter<File>, Failure> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::Runtime(format!("cannot create `{}`: {e}", parent.display())))?;
    }
    let file = File::create(path)
        .map_err(|e| Failure::Runtime(format!("cannot create `{}`: {e}", path.display())))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Writes the capture (and CSV, labels); prints a summary on stderr.
pub fn generate(args: Args) -> Result<(), Failure> {
    let mut options = args.options;
    options.format = args.format.unwrap_or_else(|| {
        let ng = args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
        if ng {
            Format::Pcapng
        } else {
            Format::Pcap
        }
    });
    let started = Instant::now();
    let capture = create(&args.out)?;
    let mut csv = args.csv.as_deref().map(create).transpose()?;
    let mut labels = args.labels.as_deref().map(create).transpose()?;
    let summary = netanom_generate::generate(
        &options,
        capture,
        csv.as_mut().map(|w| w as &mut dyn Write),
        labels.as_mut().map(|w| w as &mut dyn Write),
    )
    .map_err(|e| match e {
        netanom_generate::GenerateError::Options(m) => Failure::BadInput(format!("netanom: {m}")),
        e => Failure::Runtime(format!("`{}`: {e}", args.out.display())),
    })?;
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    if !args.quiet {
        let protocols: Vec<String> = Proto::ALL
            .iter()
            .filter(|p| summary.protocols[p.index()] > 0)
            .map(|p| format!("{} {}", p.name(), summary.protocols[p.index()]))
            .collect();
        let labels: Vec<String> = Label::ALL
            .iter()
            .map(|l| format!("{} {}", l.name(), summary.labels[l.index()]))
            .collect();
        eprintln!(
            "wrote {}: {} packets, {:.1} MB of frames, {:.3} s of traffic\n  protocols: {}\n  labels: {}\n  {:.3} s, {:.2} M packets/s",
            args.out.display(),
            summary.packets,
            summary.frame_bytes as f64 / 1e6,
            summary.duration_us as f64 / 1e6,
            protocols.join(", "),
            labels.join(", "),
            elapsed,
            summary.packets as f64 / elapsed / 1e6
        );
    }
    Ok(())
}
