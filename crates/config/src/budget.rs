//! A bound on what a pipeline file expands to. YAML aliases (`*name`)
//! repeat their anchor's whole value each time they are used, so a small
//! file can stand for a huge document ("billion laughs"). serde_yaml stops
//! nested expansions (at 100 alias jumps per event), but not a wide one: a
//! 2 MB file with one 400,000-item anchor used 400,000 times. Before the
//! file is turned into a `Value`, a counting pass walks it as serde sees it
//! (aliases expanded) and stops at [`MAX_EXPANDED`].

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// Most nodes plus scalar bytes a pipeline file may expand to (1 Mi, about
/// 100 MB of `Value` at worst). Pipelines are a few hundred nodes; a file
/// at the 1000-component limit is about 50,000.
pub const MAX_EXPANDED: usize = 1 << 20;

/// `Err` with a message when `text`, with its aliases expanded, is over
/// [`MAX_EXPANDED`]. Syntax errors are left to the real parse.
pub fn check(text: &str) -> Result<(), String> {
    let used = Cell::new(0usize);
    let counter = Counter { used: &used };
    let _ = counter.deserialize(serde_yaml::Deserializer::from_str(text));
    if used.get() > MAX_EXPANDED {
        return Err(format!(
            "the file expands to more than {MAX_EXPANDED} nodes and scalar bytes \
             (each use of an alias `*name` repeats its anchor); a pipeline is far smaller"
        ));
    }
    Ok(())
}

/// Counts nodes and scalar bytes, failing as soon as the budget is spent.
#[derive(Clone, Copy)]
struct Counter<'a> {
    used: &'a Cell<usize>,
}

impl Counter<'_> {
    fn spend<E: de::Error>(&self, units: usize) -> Result<(), E> {
        let used = self.used.get().saturating_add(units);
        self.used.set(used);
        if used > MAX_EXPANDED {
            Err(E::custom("expansion budget spent"))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.spend(1 + v.len())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(1)?;
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged value (`!tag value`): the tag, then its value.
        use de::VariantAccess;
        self.spend(1)?;
        let (_, variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_files_pass() {
        assert!(check("sources:\n  a: {type: csv, path: x.csv}\n").is_ok());
        assert!(check("a: &x [1, 2]\nb: *x\nc: !tag {k: v}\n").is_ok());
        assert!(
            check("not: [valid").is_ok(),
            "syntax is the parser's business"
        );
    }

    #[test]
    fn a_wide_alias_expansion_is_refused() {
        let items = vec!["0"; 2000].join(",");
        let uses = vec!["*a"; 2000].join(",");
        let text = format!("x: &a [{items}]\ny: [{uses}]\n");
        let err = check(&text).err().unwrap_or_default();
        assert!(err.contains("expands to more than"), "{err}");
    }

    #[test]
    fn a_long_string_repeated_is_refused() {
        let text = format!(
            "x: &a {}\ny: [{}]\n",
            "z".repeat(100_000),
            vec!["*a"; 20].join(",")
        );
        assert!(check(&text).is_err());
    }
}
