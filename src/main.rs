//! `netanom`: anomaly detection in network traffic, as YAML pipelines on
//! Timely dataflow. See README.md for the quick start.

mod commands;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for bad input: a config or argument problem.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a failure while running.
const EXIT_RUNTIME: u8 = 1;

#[derive(Parser)]
#[command(
    name = "netanom",
    version,
    about = "Finds anomalies in network traffic: pipelines of sources, operators and sinks on Timely dataflow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a pipeline.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Worker threads (per process).
        #[arg(short = 'w', long = "workers", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: u16,
        /// Overrides an option: ID.KEY=VALUE (VALUE is YAML). Repeatable.
        #[arg(long = "set", value_name = "ID.KEY=VALUE")]
        sets: Vec<String>,
        /// Processes in a cluster (Timely's cluster mode).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
        processes: u16,
        /// This process's index, from 0.
        #[arg(long, default_value_t = 0)]
        process: u16,
        /// host:port of each process, one per line.
        #[arg(long)]
        hostfile: Option<PathBuf>,
        /// Print no end-of-run summary.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Checks a pipeline and prints every problem as FILE:LINE:COL: ID: message.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Overrides an option: ID.KEY=VALUE. Repeatable.
        #[arg(long = "set", value_name = "ID.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Lists the plugins with their options, defaults and docs.
    Plugins {
        /// Show only this plugin.
        name: Option<String>,
        /// Print Markdown (the README's pipeline reference).
        #[arg(long)]
        markdown: bool,
    },
    /// Writes synthetic, labelled traffic: a capture (pcap or pcapng), and
    /// optionally its Wireshark CSV export and a labels file.
    ///
    /// A LAN of about 400 hosts (TLS, QUIC, DNS, mDNS, SSDP, NTP, ARP,
    /// ICMP) with attacks injected at chosen times. The same options give
    /// the same bytes.
    Generate {
        /// Packets to write (exactly).
        #[arg(short = 'n', long)]
        packets: u64,
        /// The capture file to write (`.pcapng` gives pcapng unless
        /// --format says otherwise).
        #[arg(short, long)]
        out: PathBuf,
        /// Random seed.
        #[arg(short, long, default_value_t = 1)]
        seed: u64,
        /// pcap or pcapng (default: from the extension).
        #[arg(short, long, value_parser = commands::generate::parse_format)]
        format: Option<netanom_generate::Format>,
        /// Also write the Wireshark CSV export ("No.","Time","Source",
        /// "Destination","Protocol","Length","Info"), what the csv source reads.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// The CSV's Time column: relative (seconds since the first packet,
        /// Wireshark's default) or epoch.
        #[arg(long, default_value = "relative", value_parser = commands::generate::parse_csv_time)]
        csv_time: netanom_generate::CsvTime,
        /// Also write the labels file: `No.,label` per packet (normal, vscan,
        /// hscan, icmp_flood, dns_exfil).
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
        /// Mean packets per second of traffic (event time).
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        /// The first packet's time, seconds since the Unix epoch (default
        /// 2024-03-01T12:00:00Z).
        #[arg(long, default_value_t = 1_709_294_400)]
        start: u64,
        /// An attack to inject, KIND@TIME (repeatable). KIND: vscan
        /// (vertical SYN scan), hscan (horizontal SYN sweep), icmp_flood,
        /// dns_exfil. TIME: seconds after the first packet (12, 12.5s) or a
        /// share of the capture (30%). Default: vscan@20% hscan@40%
        /// icmp_flood@60% dns_exfil@80%. Attacks are scaled down in
        /// captures shorter than a minute.
        #[arg(long = "attack", value_name = "KIND@TIME", value_parser = commands::generate::parse_attack)]
        attacks: Vec<(netanom_generate::AttackKind, netanom_generate::At)>,
        /// Inject no attack.
        #[arg(long, conflicts_with = "attacks")]
        no_attacks: bool,
        /// Print no summary.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Prints the wired dataflow of a pipeline.
    Graph {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = commands::graph::GraphFormat::Dot)]
        format: commands::graph::GraphFormat,
    },
}

/// SIGINT and SIGTERM ask for a clean stop (sources stop reading, sinks
/// finish their files, a metrics `hold` ends); a second one exits at once.
fn handle_signals() {
    let flag = netanom_records::shutdown::flag();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The conditional shutdown goes first: it fires only once the flag
        // is already set, that is on the second signal.
        let registered =
            signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())
                .and_then(|_| signal_hook::flag::register(signal, flag.clone()));
        if let Err(e) = registered {
            eprintln!("netanom: cannot handle signal {signal}: {e}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run { .. }) {
        handle_signals();
    }
    let result = match cli.command {
        Command::Run {
            pipeline,
            workers,
            sets,
            processes,
            process,
            hostfile,
            quiet,
        } => commands::run::run(
            &pipeline,
            &sets,
            netanom_engine::RunOptions {
                workers: workers.into(),
                processes: processes.into(),
                process: process.into(),
                hostfile,
            },
            quiet,
        ),
        Command::Validate { pipeline, sets } => commands::validate::validate(&pipeline, &sets),
        Command::Plugins { name, markdown } => {
            commands::plugins::plugins(name.as_deref(), markdown)
        }
        Command::Graph { pipeline, format } => commands::graph::graph(&pipeline, format),
        Command::Generate {
            packets,
            out,
            seed,
            format,
            csv,
            csv_time,
            labels,
            rate,
            start,
            attacks,
            no_attacks,
            quiet,
        } => commands::generate::generate(commands::generate::Args {
            out,
            options: netanom_generate::Options {
                packets,
                seed,
                format: format.unwrap_or_default(),
                rate,
                start,
                attacks: if no_attacks {
                    Vec::new()
                } else if attacks.is_empty() {
                    netanom_generate::default_attacks()
                } else {
                    attacks
                },
                csv_time,
            },
            format,
            csv,
            labels,
            quiet,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::BadInput(message)) => {
            eprintln!("{message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(commands::Failure::Runtime(message)) => {
            eprintln!("netanom: {message}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
