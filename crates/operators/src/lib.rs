//! Operator plugins: they take streams of records and produce new ones.
//!
//! One file per plugin: its config struct (documented, defaults, checks)
//! and its Timely operator. Adding one = a file, a variant of
//! [`OperatorConfig`], and an arm in each `match` below.
#![deny(missing_docs)]

pub mod window;

pub use window::WindowConfig;

use netanom_records::doc::{parse_options, ConfigProblem, Describe, PluginDoc};
use netanom_records::{Duration, RecordKind};

/// The `type`s of operator, in `netanom plugins` order.
pub const TYPES: &[&str] = &["window"];

/// An operator's configuration, by `type`.
#[derive(Clone, Debug)]
pub enum OperatorConfig {
    /// `type: window`.
    Window(WindowConfig),
}

impl OperatorConfig {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            OperatorConfig::Window(_) => "window",
        }
    }

    /// Parses the options of an operator of type `ty`.
    pub fn parse(ty: &str, options: serde_yaml::Value) -> Result<Self, ConfigProblem> {
        match ty {
            "window" => parse_options(options).map(OperatorConfig::Window),
            other => Err(unknown_type(other)),
        }
    }

    /// Plugin-specific checks.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            OperatorConfig::Window(c) => c.validate(),
        }
    }

    /// Whether the operator can take records of `kind`.
    pub fn accepts(&self, kind: RecordKind) -> bool {
        match self {
            OperatorConfig::Window(_) => kind == RecordKind::Packet,
        }
    }

    /// The kind of record it produces.
    pub fn output_kind(&self) -> RecordKind {
        match self {
            OperatorConfig::Window(_) => RecordKind::Window,
        }
    }

    /// Window sizes and slides, which set the pipeline's tick.
    pub fn durations(&self) -> Vec<Duration> {
        match self {
            OperatorConfig::Window(c) => vec![c.size, c.slide()],
        }
    }
}

fn unknown_type(ty: &str) -> ConfigProblem {
    ConfigProblem::at(
        "type",
        format!(
            "unknown operator type `{ty}`; known types: {}",
            TYPES.join(", ")
        ),
    )
}

/// Every operator's documentation.
pub fn docs() -> Vec<PluginDoc> {
    vec![PluginDoc {
        category: "operator",
        name: "window",
        accepts: &[RecordKind::Packet],
        produces: Some(RecordKind::Window),
        doc: WindowConfig::describe(),
    }]
}
