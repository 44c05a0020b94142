//! Operator plugins: they take streams of records and produce new ones.
//!
//! One file per plugin (a directory for a large one, like `kmeans/`): its
//! config struct (documented, defaults, checks) and its Timely operator.
//! Adding one = a file, a variant of [`OperatorConfig`], and an arm in
//! each `match` below.
#![deny(missing_docs)]

pub mod anonymize;
pub mod cryptopan;
pub mod degree;
pub mod kmeans;
pub mod kmeans_model;
pub mod kmeans_pca;
pub mod kmeans_store;
pub mod motif;
pub mod window;
mod windowing;

pub use anonymize::AnonymizeConfig;
pub use degree::DegreeConfig;
pub use kmeans::KmeansConfig;
pub use motif::MotifConfig;
pub use window::WindowConfig;

use netanom_records::doc::{parse_options, ConfigProblem, Describe, PluginDoc};
use netanom_records::{Duration, RecordKind};

/// The `type`s of operator, in `netanom plugins` order.
pub const TYPES: &[&str] = &["anonymize", "window", "kmeans", "degree", "motif"];

/// An operator's configuration, by `type`.
#[derive(Clone, Debug)]
pub enum OperatorConfig {
    /// `type: anonymize`.
    Anonymize(AnonymizeConfig),
    /// `type: window`.
    Window(WindowConfig),
    /// `type: kmeans`.
    Kmeans(KmeansConfig),
    /// `type: degree`.
    Degree(DegreeConfig),
    /// `type: motif`.
    Motif(MotifConfig),
}

impl OperatorConfig {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            OperatorConfig::Anonymize(_) => "anonymize",
            OperatorConfig::Window(_) => "window",
            OperatorConfig::Kmeans(_) => "kmeans",
            OperatorConfig::Degree(_) => "degree",
            OperatorConfig::Motif(_) => "motif",
        }
    }

    /// Parses the options of an operator of type `ty`.
    pub fn parse(ty: &str, options: serde_yaml::Value) -> Result<Self, ConfigProblem> {
        match ty {
            "anonymize" => parse_options(options).map(OperatorConfig::Anonymize),
            "window" => parse_options(options).map(OperatorConfig::Window),
            "kmeans" => parse_options(options).map(OperatorConfig::Kmeans),
            "degree" => parse_options(options).map(OperatorConfig::Degree),
            "motif" => parse_options(options).map(OperatorConfig::Motif),
            other => Err(unknown_type(other)),
        }
    }

    /// Plugin-specific checks.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            OperatorConfig::Anonymize(c) => c.validate(),
            OperatorConfig::Window(c) => c.validate(),
            OperatorConfig::Kmeans(c) => c.validate(),
            OperatorConfig::Degree(c) => c.validate(),
            OperatorConfig::Motif(c) => c.validate(),
        }
    }

    /// Whether the operator can take records of `kind`.
    pub fn accepts(&self, kind: RecordKind) -> bool {
        match self {
            OperatorConfig::Anonymize(_) => matches!(kind, RecordKind::Packet | RecordKind::Window),
            OperatorConfig::Window(_) => kind == RecordKind::Packet,
            OperatorConfig::Kmeans(_) => kind == RecordKind::Window,
            OperatorConfig::Degree(_) => matches!(kind, RecordKind::Packet | RecordKind::Window),
            OperatorConfig::Motif(_) => kind == RecordKind::Packet,
        }
    }

    /// The kind of record it produces from inputs of kind `input`;
    /// `None` when that depends on an input kind that is not known (an
    /// operator that passes its input's kind through, like `anonymize`).
    pub fn output_kind(&self, input: Option<RecordKind>) -> Option<RecordKind> {
        match self {
            OperatorConfig::Anonymize(_) => input,
            OperatorConfig::Window(_) => Some(RecordKind::Window),
            OperatorConfig::Kmeans(_) => Some(RecordKind::Scored),
            OperatorConfig::Degree(_) => Some(RecordKind::Degree),
            OperatorConfig::Motif(_) => Some(RecordKind::Motif),
        }
    }

    /// Window sizes and slides, which set the pipeline's tick.
    pub fn durations(&self) -> Vec<Duration> {
        match self {
            OperatorConfig::Anonymize(_) => Vec::new(),
            OperatorConfig::Window(c) => vec![c.size, c.slide()],
            OperatorConfig::Kmeans(_) => Vec::new(),
            OperatorConfig::Degree(c) => c.durations(),
            OperatorConfig::Motif(c) => c.durations(),
        }
    }

    /// Checks options that depend on the input's columns `input` (the
    /// fields of the first input), like `kmeans` features.
    pub fn check_fields(&self, input: &[netanom_records::Field]) -> Vec<ConfigProblem> {
        match self {
            OperatorConfig::Kmeans(c) => c.check_fields(input),
            OperatorConfig::Degree(c) => c.check_fields(input),
            _ => Vec::new(),
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
    vec![
        PluginDoc {
            category: "operator",
            name: "anonymize",
            accepts: &[RecordKind::Packet, RecordKind::Window],
            // The same kind as its input.
            produces: None,
            doc: AnonymizeConfig::describe(),
        },
        PluginDoc {
            category: "operator",
            name: "window",
            accepts: &[RecordKind::Packet],
            produces: Some(RecordKind::Window),
            doc: WindowConfig::describe(),
        },
        PluginDoc {
            category: "operator",
            name: "kmeans",
            accepts: &[RecordKind::Window],
            produces: Some(RecordKind::Scored),
            doc: KmeansConfig::describe(),
        },
        PluginDoc {
            category: "operator",
            name: "degree",
            accepts: &[RecordKind::Packet, RecordKind::Window],
            produces: Some(RecordKind::Degree),
            doc: DegreeConfig::describe(),
        },
        PluginDoc {
            category: "operator",
            name: "motif",
            accepts: &[RecordKind::Packet],
            produces: Some(RecordKind::Motif),
            doc: MotifConfig::describe(),
        },
    ]
}
