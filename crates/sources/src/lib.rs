//! Source plugins: where records enter the pipeline.
//!
//! One file per plugin holds its config struct and its build function;
//! [`driver`] is the Timely operator they share (files and chunks spread
//! over workers, event time per file in [`clock`]). Adding a source = a
//! file, a variant of [`SourceConfig`], and an arm in each `match` below.
#![deny(missing_docs)]

pub mod clock;
pub mod csv;
mod driver;
pub mod files;
pub mod options;
pub mod pcap;

pub use csv::CsvConfig;
pub use pcap::PcapConfig;

use netanom_records::doc::{parse_options, ConfigProblem, Describe, PluginDoc};
use netanom_records::stats::Stats;
use netanom_records::{Packet, RecordKind, Time};
use std::sync::Arc;
use timely::dataflow::{Scope, Stream};

/// The `type`s of source, in `netanom plugins` order.
pub const TYPES: &[&str] = &["csv", "pcap"];

/// A source's configuration, by `type`.
#[derive(Clone, Debug)]
pub enum SourceConfig {
    /// `type: csv`.
    Csv(CsvConfig),
    /// `type: pcap`.
    Pcap(PcapConfig),
}

/// What a source's build needs from the engine.
pub struct SourceContext<'a> {
    /// The source's id.
    pub id: &'a str,
    /// The pipeline's tick in nanoseconds: Timely times are multiples of it.
    pub tick: u64,
    /// Counters and bad-input reports.
    pub stats: Arc<Stats>,
    /// How far the sinks have consumed: a source waits while it is more
    /// than a tick ahead, which bounds the records in flight.
    pub consumed: timely::dataflow::ProbeHandle<Time>,
    /// Anonymization is in the pipeline: bad-input reports must not quote
    /// what they found (it may hold an address), only where and what kind.
    pub redact: bool,
}

impl SourceConfig {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Csv(_) => "csv",
            SourceConfig::Pcap(_) => "pcap",
        }
    }

    /// Parses the options of a source of type `ty`.
    pub fn parse(ty: &str, options: serde_yaml::Value) -> Result<Self, ConfigProblem> {
        match ty {
            "csv" => parse_options(options).map(SourceConfig::Csv),
            "pcap" => parse_options(options).map(SourceConfig::Pcap),
            other => Err(ConfigProblem::at(
                "type",
                format!(
                    "unknown source type `{other}`; known types: {}",
                    TYPES.join(", ")
                ),
            )),
        }
    }

    /// Plugin-specific checks (paths exist, ...).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            SourceConfig::Csv(c) => c.validate(),
            SourceConfig::Pcap(c) => c.validate(),
        }
    }

    /// The kind of record it produces.
    pub fn output_kind(&self) -> RecordKind {
        RecordKind::Packet
    }

    /// Builds the source operator on this worker.
    pub fn build<'s>(
        &self,
        scope: Scope<'s, Time>,
        ctx: &SourceContext,
    ) -> Stream<'s, Time, Vec<Packet>> {
        match self {
            SourceConfig::Csv(c) => c.build(scope, ctx),
            SourceConfig::Pcap(c) => c.build(scope, ctx),
        }
    }
}

/// Every source's documentation.
pub fn docs() -> Vec<PluginDoc> {
    vec![
        PluginDoc {
            category: "source",
            name: "csv",
            accepts: &[],
            produces: Some(RecordKind::Packet),
            doc: CsvConfig::describe(),
        },
        PluginDoc {
            category: "source",
            name: "pcap",
            accepts: &[],
            produces: Some(RecordKind::Packet),
            doc: PcapConfig::describe(),
        },
    ]
}
