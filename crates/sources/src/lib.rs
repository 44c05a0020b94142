//! Source plugins: where records enter the pipeline.
//!
//! One file per plugin holds its config struct and its build function;
//! [`driver`] is the Timely operator they share (files and chunks spread
//! over workers, event time per file in [`clock`]). Adding a source = a
//! file, a variant of [`SourceConfig`], and an arm in each `match` below.
#![deny(missing_docs)]

pub mod capture_dir;
pub mod clock;
pub mod csv;
mod driver;
pub mod files;
mod flow_control;
pub mod options;
pub mod pcap;

pub use capture_dir::CaptureDirConfig;
pub use csv::CsvConfig;
pub use driver::SharedReads;
pub use pcap::PcapConfig;

use netanom_records::doc::{parse_options, ConfigProblem, Describe, PluginDoc};
use netanom_records::stats::Stats;
use netanom_records::{Packet, RecordKind, Time};
use std::sync::Arc;
use timely::dataflow::{Scope, Stream};

/// The `type`s of source, in `netanom plugins` order.
pub const TYPES: &[&str] = &["csv", "pcap", "capture_dir"];

/// A source's configuration, by `type`.
#[derive(Clone, Debug)]
pub enum SourceConfig {
    /// `type: csv`.
    Csv(CsvConfig),
    /// `type: pcap`.
    Pcap(PcapConfig),
    /// `type: capture_dir`.
    CaptureDir(CaptureDirConfig),
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
    /// Checkpoint bookkeeping, when the pipeline has a `state_dir`.
    pub checkpoints: Option<Arc<netanom_records::checkpoint::Checkpoints>>,
    /// Anonymization is in the pipeline: bad-input reports must not quote
    /// what they found (it may hold an address), only where and what kind.
    pub redact: bool,
    /// Processes in the cluster (1 without cluster mode).
    pub processes: usize,
    /// Shared by the workers of this process: the split files they read
    /// in turns.
    pub shared: Arc<SharedReads>,
}

impl SourceConfig {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Csv(_) => "csv",
            SourceConfig::Pcap(_) => "pcap",
            SourceConfig::CaptureDir(_) => "capture_dir",
        }
    }

    /// Parses the options of a source of type `ty`.
    pub fn parse(ty: &str, options: serde_yaml::Value) -> Result<Self, ConfigProblem> {
        match ty {
            "csv" => parse_options(options).map(SourceConfig::Csv),
            "pcap" => parse_options(options).map(SourceConfig::Pcap),
            "capture_dir" => parse_options(options).map(SourceConfig::CaptureDir),
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
            SourceConfig::CaptureDir(c) => c.validate(),
        }
    }

    /// The kind of record it produces.
    pub fn output_kind(&self) -> RecordKind {
        RecordKind::Packet
    }

    /// What decides this source's records, for the pipeline's fingerprint:
    /// its options except those that only decide when it reads (`follow`,
    /// `poll`, `idle_close`, `idle_advance`: a checkpoint written by a
    /// follow run resumes in a batch run, and the other way round).
    pub fn identity(&self) -> String {
        match self {
            SourceConfig::CaptureDir(c) => {
                let mut c = c.clone();
                c.follow = true;
                c.poll = netanom_records::Duration::from_secs(0);
                c.idle_close = c.poll;
                c.idle_advance = c.poll;
                c.checkpoint_interval = c.poll;
                format!("{c:?}")
            }
            other => format!("{other:?}"),
        }
    }

    /// The checkpoint directory, if the source keeps checkpoints.
    pub fn state_dir(&self) -> Option<&std::path::Path> {
        match self {
            SourceConfig::CaptureDir(c) => c.state_dir.as_deref(),
            _ => None,
        }
    }

    /// How often checkpoints are written, if the source keeps them.
    pub fn checkpoint_interval(&self) -> Option<std::time::Duration> {
        match self {
            SourceConfig::CaptureDir(c) if c.state_dir.is_some() => {
                Some(c.checkpoint_interval.to_std())
            }
            _ => None,
        }
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
            SourceConfig::CaptureDir(c) => c.build(scope, ctx),
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
        PluginDoc {
            category: "source",
            name: "capture_dir",
            accepts: &[],
            produces: Some(RecordKind::Packet),
            doc: CaptureDirConfig::describe(),
        },
    ]
}
