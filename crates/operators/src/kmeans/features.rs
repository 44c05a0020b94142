//! Features: the `features` option resolved, checked against the input's
//! columns, and each record turned into feature slots (plain, `log1p`,
//! and one-hot over the vocabulary seen in warmup).

use netanom_records::doc::ConfigProblem;
use netanom_records::field::{Field, Value};
use netanom_records::Record;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// One feature as written in the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureSpec {
    /// A numeric field, as is.
    Name(String),
    /// `{log1p: field}` or `{onehot: field}`.
    Transform(BTreeMap<String, String>),
}

/// A resolved feature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Feature {
    /// The field's value.
    Num(Field),
    /// ln(1 + value).
    Log1p(Field),
    /// One-hot over the values seen in warmup, plus `other`.
    OneHot(Field),
}

impl Feature {
    /// The field it reads.
    pub fn field(self) -> Field {
        match self {
            Feature::Num(f) | Feature::Log1p(f) | Feature::OneHot(f) => f,
        }
    }
}

/// Fields that hold text or addresses: only usable with `onehot`.
const NON_NUMERIC: &[Field] = &[Field::Src, Field::Dst, Field::Protocol, Field::Info];

/// Categories kept per one-hot feature (the most frequent in warmup).
const MAX_CATEGORIES: usize = 64;

/// The features, resolved; problems for unknown names or transforms.
pub(super) fn resolve(specs: &[FeatureSpec]) -> Result<Vec<Feature>, Vec<ConfigProblem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let field = |name: &str, problems: &mut Vec<ConfigProblem>| match Field::from_name(name) {
        Some(f) => Some(f),
        None => {
            problems.push(ConfigProblem::at(
                "features",
                format!("features: unknown field `{name}`"),
            ));
            None
        }
    };
    for spec in specs {
        match spec {
            FeatureSpec::Name(name) => {
                if let Some(f) = field(name, &mut problems) {
                    out.push(Feature::Num(f));
                }
            }
            FeatureSpec::Transform(map) => {
                if map.len() != 1 {
                    problems.push(ConfigProblem::at(
                        "features",
                        "features: a transform is one key, `{log1p: field}` or `{onehot: field}`",
                    ));
                    continue;
                }
                for (t, name) in map {
                    let Some(f) = field(name, &mut problems) else {
                        continue;
                    };
                    match t.as_str() {
                        "log1p" => out.push(Feature::Log1p(f)),
                        "onehot" => out.push(Feature::OneHot(f)),
                        other => problems.push(ConfigProblem::at(
                            "features",
                            format!(
                                "features: unknown transform `{other}`; expected log1p or onehot"
                            ),
                        )),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Checks resolved features against the input's columns: each must
/// exist, and plain or `log1p` features must be numeric.
pub(super) fn check_fields(features: &[Feature], input: &[Field]) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for &f in features {
        let field = f.field();
        if !input.contains(&field) {
            problems.push(ConfigProblem::at(
                "features",
                format!(
                    "features: the input has no field `{field}`; its fields: {}",
                    input
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if NON_NUMERIC.contains(&field) && !matches!(f, Feature::OneHot(_)) {
            problems.push(ConfigProblem::at(
                "features",
                format!("features: `{field}` is not numeric; use {{onehot: {field}}}"),
            ));
        }
    }
    problems
}

/// Writes a value as a one-hot category name.
fn category(v: Value<'_>, out: &mut String) {
    out.clear();
    let _ = match v {
        Value::Null => Ok(()),
        Value::Str(s) => out.write_str(s),
        Value::Addr(a) => write!(out, "{a}"),
        Value::Protocol(p) => out.write_str(p.name()),
        Value::U64(n) => write!(out, "{n}"),
        Value::F64(f) => write!(out, "{f}"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Ts(t) => write!(out, "{}", t.0),
        Value::Flags(f) => write!(out, "{f}"),
    };
}

/// The categories of each one-hot feature: the most frequent in `records`
/// (at most [`MAX_CATEGORIES`]), in name order.
pub(super) fn vocabulary<R: Record>(features: &[Feature], records: &[R]) -> Vec<Vec<String>> {
    let mut buf = String::new();
    features
        .iter()
        .filter_map(|f| match f {
            Feature::OneHot(field) => Some(*field),
            _ => None,
        })
        .map(|field| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for r in records {
                category(r.get(field), &mut buf);
                *counts.entry(buf.clone()).or_default() += 1;
            }
            let mut all: Vec<(String, u64)> = counts.into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(MAX_CATEGORIES);
            let mut names: Vec<String> = all.into_iter().map(|(n, _)| n).collect();
            names.sort();
            names
        })
        .collect()
}

/// Feature slots: one per plain or `log1p` feature, categories + 1 per
/// one-hot feature.
pub(crate) fn dims(features: &[Feature], vocab: &[Vec<String>]) -> usize {
    let mut v = vocab.iter();
    features
        .iter()
        .map(|f| match f {
            Feature::OneHot(_) => v.next().map_or(0, Vec::len) + 1,
            _ => 1,
        })
        .sum()
}

/// Fills `out` with the features of `r` (non-finite values become 0).
pub(super) fn extract<R: Record>(
    features: &[Feature],
    vocab: &[Vec<String>],
    r: &R,
    out: &mut [f64],
) {
    let mut slot = 0;
    let mut v = vocab.iter();
    let mut buf = String::new();
    for f in features {
        match *f {
            Feature::Num(field) => {
                out[slot] = finite(r.get(field).as_f64().unwrap_or(0.0));
                slot += 1;
            }
            Feature::Log1p(field) => {
                let x = r.get(field).as_f64().unwrap_or(0.0);
                out[slot] = finite(x.max(0.0).ln_1p());
                slot += 1;
            }
            Feature::OneHot(field) => {
                let names = v.next().map_or(&[][..], Vec::as_slice);
                category(r.get(field), &mut buf);
                let hit = names.iter().position(|n| *n == buf).unwrap_or(names.len());
                for (i, o) in out[slot..slot + names.len() + 1].iter_mut().enumerate() {
                    *o = if i == hit { 1.0 } else { 0.0 };
                }
                slot += names.len() + 1;
            }
        }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
