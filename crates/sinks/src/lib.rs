//! Sink plugins: where records leave the pipeline.
//!
//! One file per plugin, holding its config struct and its Timely operator.
//! Adding one = a file, a variant of [`SinkConfig`], and an arm in each
//! `match` below.
#![deny(missing_docs)]

pub mod console;
pub mod file;
mod gather;
pub mod graph;
pub mod parts;
pub mod prometheus;
mod syncer;

pub use console::ConsoleConfig;
pub use graph::GraphConfig;
pub use prometheus::PrometheusConfig;

use netanom_records::Time;
use timely::dataflow::channels::pact::ParallelizationContract;
use timely::dataflow::operators::generic::{InputHandleCore, Operator};
use timely::dataflow::Stream;
use timely::progress::frontier::MutableAntichain;

/// What a sink returns: an empty stream whose frontier is the sink's input
/// frontier, including records sent to it and not yet consumed. The engine
/// probes it, so that sources can wait for slow sinks.
pub type Consumed<'s> = Stream<'s, Time, Vec<()>>;

/// Like timely's `sink`, but returning a [`Consumed`] stream. The operator
/// holds no capability, so its output frontier follows its input.
pub(crate) fn terminal<'s, C, P, L>(
    input: Stream<'s, Time, C>,
    pact: P,
    name: &str,
    mut logic: L,
) -> Consumed<'s>
where
    C: timely::Container,
    P: ParallelizationContract<Time, C>,
    L: FnMut(
            (
                &mut InputHandleCore<Time, C, P::Puller>,
                &MutableAntichain<Time>,
            ),
        ) + 'static,
{
    input.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
        pact,
        name,
        move |cap, _| {
            drop(cap);
            move |(handle, frontier), _output| logic((handle, frontier))
        },
    )
}
pub use file::FileConfig;

use netanom_records::doc::{parse_options, ConfigProblem, Describe, PluginDoc};
use netanom_records::RecordKind;

/// The `type`s of sink, in `netanom plugins` order.
pub const TYPES: &[&str] = &["file", "console", "prometheus", "graph"];

const ALL_KINDS: &[RecordKind] = &[
    RecordKind::Packet,
    RecordKind::Window,
    RecordKind::Scored,
    RecordKind::Degree,
    RecordKind::Motif,
];

/// A sink's configuration, by `type`.
#[derive(Clone, Debug)]
pub enum SinkConfig {
    /// `type: file`.
    File(FileConfig),
    /// `type: console`.
    Console(ConsoleConfig),
    /// `type: prometheus`.
    Prometheus(PrometheusConfig),
    /// `type: graph`.
    Graph(GraphConfig),
}

impl SinkConfig {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::File(_) => "file",
            SinkConfig::Console(_) => "console",
            SinkConfig::Prometheus(_) => "prometheus",
            SinkConfig::Graph(_) => "graph",
        }
    }

    /// Parses the options of a sink of type `ty`.
    pub fn parse(ty: &str, options: serde_yaml::Value) -> Result<Self, ConfigProblem> {
        match ty {
            "file" => parse_options(options).map(SinkConfig::File),
            "console" => parse_options(options).map(SinkConfig::Console),
            "prometheus" => parse_options(options).map(SinkConfig::Prometheus),
            "graph" => parse_options(options).map(SinkConfig::Graph),
            other => Err(ConfigProblem::at(
                "type",
                format!(
                    "unknown sink type `{other}`; known types: {}",
                    TYPES.join(", ")
                ),
            )),
        }
    }

    /// Plugin-specific checks.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            SinkConfig::File(c) => c.validate(),
            SinkConfig::Console(_) => Vec::new(),
            SinkConfig::Prometheus(c) => c.validate(),
            SinkConfig::Graph(c) => c.validate(),
        }
    }

    /// Checks options that depend on the input's columns `input` (the
    /// fields of the first input): `graph` needs `src` and `dst`.
    pub fn check_fields(&self, input: &[netanom_records::Field]) -> Vec<ConfigProblem> {
        match self {
            SinkConfig::Graph(c) => c.check_fields(input),
            _ => Vec::new(),
        }
    }

    /// Whether the sink can take records of `kind`.
    pub fn accepts(&self, kind: RecordKind) -> bool {
        match self {
            SinkConfig::File(_) | SinkConfig::Console(_) => ALL_KINDS.contains(&kind),
            SinkConfig::Prometheus(_) => prometheus::ACCEPTS.contains(&kind),
            SinkConfig::Graph(_) => graph::ACCEPTS.contains(&kind),
        }
    }

    /// Whether the sink takes each input as its own stream (so its inputs
    /// may mix record kinds) rather than one merged stream.
    pub fn keeps_inputs_apart(&self) -> bool {
        matches!(self, SinkConfig::Prometheus(_))
    }
}

/// Every sink's documentation.
pub fn docs() -> Vec<PluginDoc> {
    vec![
        PluginDoc {
            category: "sink",
            name: "file",
            accepts: ALL_KINDS,
            produces: None,
            doc: FileConfig::describe(),
        },
        PluginDoc {
            category: "sink",
            name: "console",
            accepts: ALL_KINDS,
            produces: None,
            doc: ConsoleConfig::describe(),
        },
        PluginDoc {
            category: "sink",
            name: "prometheus",
            accepts: prometheus::ACCEPTS,
            produces: None,
            doc: PrometheusConfig::describe(),
        },
        PluginDoc {
            category: "sink",
            name: "graph",
            accepts: graph::ACCEPTS,
            produces: None,
            doc: GraphConfig::describe(),
        },
    ]
}
