//! The documentation model behind `netanom plugins`, filled in by
//! `#[derive(Describe)]` from each plugin's config struct.

use serde::Serialize;

/// One option of a plugin.
#[derive(Clone, Debug)]
pub struct OptionDoc {
    /// The YAML key.
    pub name: &'static str,
    /// The Rust type, as written in the struct (see [`OptionDoc::type_name`]).
    pub rust_type: &'static str,
    /// The default, rendered as YAML; `None` for required options.
    pub default: Option<String>,
    /// True when the option may be left out (it has a default or is optional).
    pub optional: bool,
    /// The field's doc comment.
    pub doc: &'static str,
}

impl OptionDoc {
    /// A reader's name for the option's type (`duration`, `list of string`).
    pub fn type_name(&self) -> String {
        if self.rust_type.contains('|') {
            // Named with #[describe(ty = ...)]: already for readers.
            return self.rust_type.to_owned();
        }
        friendly_type(self.rust_type)
    }
}

fn friendly_type(rust: &str) -> String {
    let rust: String = rust.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(inner) = strip_generic(&rust, "Option") {
        return friendly_type(inner);
    }
    if let Some(inner) = strip_generic(&rust, "Vec") {
        return format!("list of {}", friendly_type(inner));
    }
    for map in ["BTreeMap", "HashMap"] {
        if let Some(inner) = strip_generic(&rust, map) {
            if let Some((k, v)) = inner.split_once(',') {
                return format!("map of {} to {}", friendly_type(k), friendly_type(v));
            }
        }
    }
    let last = rust.rsplit("::").next().unwrap_or(&rust);
    match last {
        "String" | "PathBuf" | "str" => "string".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "integer".into(),
        "f32" | "f64" => "number".into(),
        "bool" => "boolean".into(),
        "Duration" => "duration".into(),
        "Field" => "field".into(),
        other => other.to_string(),
    }
}

fn strip_generic<'a>(ty: &'a str, name: &str) -> Option<&'a str> {
    let last = ty.rsplit("::").next().unwrap_or(ty);
    last.strip_prefix(name)?
        .strip_prefix('<')?
        .strip_suffix('>')
        .map(|inner| &ty[ty.len() - inner.len() - 1..ty.len() - 1])
}

/// A plugin config struct's documentation.
#[derive(Clone, Debug)]
pub struct StructDoc {
    /// The struct's doc comment (the plugin's description).
    pub doc: &'static str,
    /// Its options, in declaration order.
    pub options: Vec<OptionDoc>,
}

/// Implemented by `#[derive(Describe)]` on plugin config structs.
pub trait Describe {
    /// The struct's documentation.
    fn describe() -> StructDoc;
}

/// Renders a default value as the YAML a user would write.
pub fn render_default<T: Serialize>(value: &T) -> String {
    match serde_yaml::to_string(value) {
        Ok(text) => {
            let text = text.trim_end();
            let text = text
                .strip_prefix("---")
                .map(str::trim_start)
                .unwrap_or(text);
            if text.contains('\n') {
                // Sequences come out in block style; show them inline.
                match serde_yaml::from_str::<serde_yaml::Value>(text) {
                    Ok(serde_yaml::Value::Sequence(items)) => format!(
                        "[{}]",
                        items
                            .iter()
                            .map(render_default)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => text.replace('\n', " "),
                }
            } else {
                text.to_string()
            }
        }
        Err(_) => String::from("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_types() {
        assert_eq!(friendly_type("Option<Duration>"), "duration");
        assert_eq!(friendly_type("Vec<Field>"), "list of field");
        assert_eq!(friendly_type("Vec < String >"), "list of string");
        assert_eq!(friendly_type("std::path::PathBuf"), "string");
        assert_eq!(friendly_type("u64"), "integer");
    }

    #[test]
    fn defaults_render_as_yaml() {
        assert_eq!(render_default(&crate::Duration::from_millis(10)), "10ms");
        assert_eq!(render_default(&vec!["src", "dst"]), "[src, dst]");
        assert_eq!(render_default(&true), "true");
        assert_eq!(render_default(&Option::<u32>::None), "null");
    }
}

/// A problem with one plugin's configuration, found while parsing or
/// validating it. The config crate adds the file, position and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The option the problem is about (`size`, `group_by.1`), if one.
    pub key: Option<String>,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with option `key`.
    pub fn at(key: &str, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }
}

/// Deserializes one plugin's options (the component's mapping without
/// `type` and `inputs`), naming the offending option on error.
pub fn parse_options<T: serde::de::DeserializeOwned>(
    value: serde_yaml::Value,
) -> Result<T, ConfigProblem> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let key = (path != "." && !path.is_empty()).then_some(path);
        // serde_yaml appends a position that is meaningless for a value
        // already parsed; the config crate adds the real one.
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let message = match &key {
            Some(key) => format!("{key}: {message}"),
            None => message,
        };
        ConfigProblem { key, message }
    })
}

/// A plugin's entry in `netanom plugins`.
#[derive(Clone, Debug)]
pub struct PluginDoc {
    /// `source`, `operator` or `sink`.
    pub category: &'static str,
    /// The `type` value.
    pub name: &'static str,
    /// Record kinds it takes (empty for sources).
    pub accepts: &'static [crate::RecordKind],
    /// Record kind it produces (none for sinks).
    pub produces: Option<crate::RecordKind>,
    /// Description and options.
    pub doc: StructDoc,
}
