//! The degree record: one address's in- and out-degree in one window of
//! the traffic graph (edges src -> dst).

use crate::field::{Field, Value};
use crate::{Addr, RecordKind, Ts};
use serde::{Deserialize, Serialize};

/// One address (vertex) of the traffic graph of one window: distinct
/// neighbours, input records and packets, in each direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DegreeRecord {
    /// Window start, inclusive (0 for `window: all`).
    pub window_start: Ts,
    /// Window end, exclusive (for `window: all`, the end of the tick the
    /// row was computed at).
    pub window_end: Ts,
    /// The address.
    pub ip: Addr,
    /// Distinct addresses with an edge to `ip`.
    pub in_degree: u64,
    /// Distinct addresses `ip` has an edge to.
    pub out_degree: u64,
    /// Input records (packets or window records) to `ip`.
    pub in_edges: u64,
    /// Input records from `ip`.
    pub out_edges: u64,
    /// Packets to `ip`.
    pub in_packets: u64,
    /// Packets from `ip`.
    pub out_packets: u64,
}

impl DegreeRecord {
    /// The columns, in output order.
    pub const FIELDS: &'static [Field] = &[
        Field::WindowStart,
        Field::WindowEnd,
        Field::Ip,
        Field::InDegree,
        Field::OutDegree,
        Field::InEdges,
        Field::OutEdges,
        Field::InPackets,
        Field::OutPackets,
    ];

    /// `in_degree + out_degree`, what `top_k` ranks by.
    #[inline]
    pub fn degree(&self) -> u64 {
        self.in_degree.saturating_add(self.out_degree)
    }
}

impl crate::Record for DegreeRecord {
    const KIND: RecordKind = RecordKind::Degree;

    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::WindowStart => Value::Ts(self.window_start),
            Field::WindowEnd => Value::Ts(self.window_end),
            Field::Ip => Value::Addr(self.ip),
            Field::InDegree => Value::U64(self.in_degree),
            Field::OutDegree => Value::U64(self.out_degree),
            Field::InEdges => Value::U64(self.in_edges),
            Field::OutEdges => Value::U64(self.out_edges),
            Field::InPackets => Value::U64(self.in_packets),
            Field::OutPackets => Value::U64(self.out_packets),
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
        k::addr(out, self.ip);
        // One row per window and address; the figures keep the key total
        // (records with equal keys are equal) all the same.
        for n in [
            self.in_degree,
            self.out_degree,
            self.in_edges,
            self.out_edges,
            self.in_packets,
            self.out_packets,
        ] {
            k::u64(out, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    #[test]
    fn fields_and_sort_order() {
        let a = DegreeRecord {
            window_start: Ts(0),
            window_end: Ts(1_000_000_000),
            ip: "10.0.0.2".parse().unwrap_or_default(),
            in_degree: 3,
            out_degree: 1,
            ..Default::default()
        };
        let b = DegreeRecord {
            ip: "10.0.0.10".parse().unwrap_or_default(),
            ..a.clone()
        };
        assert_eq!(a.get(Field::InDegree), Value::U64(3));
        assert_eq!(a.get(Field::Ip), Value::Addr(a.ip));
        assert_eq!(a.get(Field::Count), Value::Null);
        assert_eq!(a.degree(), 4);
        let key = |r: &DegreeRecord| {
            let mut v = Vec::new();
            r.sort_key(&mut v);
            v
        };
        assert!(key(&a) < key(&b));
        assert_eq!(a.event_time(), Ts(1_000_000_000));
        assert_eq!(DegreeRecord::FIELDS.len(), 9);
    }
}
