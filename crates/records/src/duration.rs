//! Durations as written in pipeline files: `10ms`, `1s`, `5m`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A span of time, in nanoseconds. Written `<integer><unit>` with unit one
/// of `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl Duration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms * 1_000_000)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s * 1_000_000_000)
    }

    /// Nanoseconds.
    pub fn nanos(self) -> u64 {
        self.0
    }

    /// The same span as a standard library duration.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0)
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration `{}`: expected a whole number and a unit (ns, us, ms, s, m, h, d), like `10ms` or `5m`",
            self.0
        )
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Duration, DurationError> {
        let err = || DurationError(text.to_owned());
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(err)?;
        let (number, unit) = trimmed.split_at(split);
        let unit = if unit == "µs" { "us" } else { unit.trim() };
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(err)?;
        let number: u64 = number.parse().map_err(|_| err())?;
        number.checked_mul(scale).map(Duration).ok_or_else(err)
    }
}

impl fmt::Display for Duration {
    /// The largest unit that divides the span exactly (`0s` for zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (name, scale) in UNITS {
            if self.0.is_multiple_of(*scale) {
                return write!(f, "{}{}", self.0 / scale, name);
            }
        }
        write!(f, "{}ns", self.0)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({self})")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like `10ms`, `1s` or `5m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write `{v}s` or `{v}ms`, not `{v}`"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write `{v}s` or `{v}ms`, not `{v}`"
                )))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!("10ms".parse(), Ok(Duration(10_000_000)));
        assert_eq!("5m".parse(), Ok(Duration(300_000_000_000)));
        assert_eq!("250us".parse(), Ok(Duration(250_000)));
        assert_eq!("250µs".parse(), Ok(Duration(250_000)));
        assert_eq!(Duration(10_000_000).to_string(), "10ms");
        assert_eq!(Duration(90_000_000_000).to_string(), "90s");
        assert_eq!(Duration(0).to_string(), "0s");
        for bad in [
            "",
            "10",
            "ms",
            "10 parsecs",
            "-5s",
            "1.5s",
            "99999999999999999999d",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }
}
