//! The motif record: one match of a graph pattern (reciprocal pair,
//! fan-out, fan-in) in one window of the traffic graph (edges src -> dst).

use crate::field::{Field, Value};
use crate::{Addr, RecordKind, Ts};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The supported pattern shapes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum MotifPattern {
    /// `(a)-[]->(b); (b)-[]->(a)`: a and b send to each other.
    #[default]
    Reciprocal,
    /// `(a)-[]->(b)`: one source, many destinations (or ports).
    FanOut,
    /// `(a)<-[]-(b)`: one destination, many sources (or ports).
    FanIn,
}

impl MotifPattern {
    /// The name written in the `pattern` column.
    pub fn name(self) -> &'static str {
        match self {
            MotifPattern::Reciprocal => "reciprocal",
            MotifPattern::FanOut => "fan_out",
            MotifPattern::FanIn => "fan_in",
        }
    }
}

impl fmt::Display for MotifPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One match of a motif in one window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MotifRecord {
    /// Window start, inclusive.
    pub window_start: Ts,
    /// Window end, exclusive.
    pub window_end: Ts,
    /// The pattern that matched.
    pub pattern: MotifPattern,
    /// The first bound vertex: the lower address of a reciprocal pair, the
    /// sender of a fan-out, the receiver of a fan-in.
    pub a: Addr,
    /// The second bound vertex: the higher address of a reciprocal pair;
    /// empty for fan-out and fan-in (aggregated).
    pub b: Addr,
    /// Reciprocal: packets both ways; fan-out / fan-in: the distinct peers
    /// or destination ports counted.
    pub count: u64,
}

impl MotifRecord {
    /// The columns, in output order.
    pub const FIELDS: &'static [Field] = &[
        Field::WindowStart,
        Field::WindowEnd,
        Field::Pattern,
        Field::A,
        Field::B,
        Field::Count,
    ];
}

impl crate::Record for MotifRecord {
    const KIND: RecordKind = RecordKind::Motif;

    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::WindowStart => Value::Ts(self.window_start),
            Field::WindowEnd => Value::Ts(self.window_end),
            Field::Pattern => Value::Str(self.pattern.name()),
            Field::A => Value::Addr(self.a),
            Field::B => Value::Addr(self.b),
            Field::Count => Value::U64(self.count),
            _ => Value::Null,
        }
    }

    #[inline]
    fn event_time(&self) -> Ts {
        self.window_end
    }

    #[inline]
    fn sort_key(&self, out: &mut Vec<u8>) {
        use crate::sortkey as k;
        k::ts(out, self.window_start);
        k::ts(out, self.window_end);
        out.push(self.pattern as u8);
        k::addr(out, self.a);
        k::addr(out, self.b);
        k::u64(out, self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    #[test]
    fn fields_and_sort_order() {
        let a = MotifRecord {
            window_start: Ts(0),
            window_end: Ts(1_000_000_000),
            pattern: MotifPattern::FanOut,
            a: "10.0.0.2".parse().unwrap_or_default(),
            b: Addr::None,
            count: 7,
        };
        let b = MotifRecord {
            a: "10.0.0.10".parse().unwrap_or_default(),
            ..a.clone()
        };
        assert_eq!(a.get(Field::Count), Value::U64(7));
        assert_eq!(a.get(Field::Pattern), Value::Str("fan_out"));
        assert_eq!(a.get(Field::Ip), Value::Null);
        let key = |r: &MotifRecord| {
            let mut v = Vec::new();
            r.sort_key(&mut v);
            v
        };
        assert!(key(&a) < key(&b));
        assert_eq!(a.event_time(), Ts(1_000_000_000));
    }
}
