//! Scored records: an input record with its k-means verdict.

use crate::field::{Field, Value};
use crate::{RecordKind, Ts};
use serde::{Deserialize, Serialize};

/// The fields a scored record adds after its input's fields.
pub const SCORE_FIELDS: &[Field] = &[
    Field::Cluster,
    Field::Distance,
    Field::Score,
    Field::Anomaly,
];

/// An input record plus `cluster`, `distance`, `score` and `anomaly`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored<R> {
    /// The record that was scored.
    pub record: R,
    /// Index of the nearest centroid.
    pub cluster: u32,
    /// Distance to the nearest centroid, in standardized feature space.
    pub distance: f64,
    /// `distance` divided by the threshold in effect (> 1: anomaly).
    pub score: f64,
    /// Whether the record is an anomaly.
    pub anomaly: bool,
}

/// The columns of scored records whose input has columns `input`.
pub fn fields(input: &[Field]) -> Vec<Field> {
    let mut fields: Vec<Field> = input
        .iter()
        .copied()
        .filter(|f| !SCORE_FIELDS.contains(f))
        .collect();
    fields.extend_from_slice(SCORE_FIELDS);
    fields
}

impl<R: crate::Record> crate::Record for Scored<R> {
    const KIND: RecordKind = RecordKind::Scored;

    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::Cluster => Value::U64(self.cluster.into()),
            Field::Distance => Value::F64(self.distance),
            Field::Score => Value::F64(self.score),
            Field::Anomaly => Value::Bool(self.anomaly),
            other => self.record.get(other),
        }
    }

    fn event_time(&self) -> Ts {
        self.record.event_time()
    }

    #[inline]
    fn sort_key(&self, out: &mut Vec<u8>) {
        self.record.sort_key(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, WindowRecord};

    #[test]
    fn adds_four_fields_after_the_input() {
        let w = WindowRecord {
            count: 3,
            ..Default::default()
        };
        let s = Scored {
            record: w,
            cluster: 2,
            distance: 1.5,
            score: 0.5,
            anomaly: false,
        };
        assert_eq!(s.get(Field::Count), Value::U64(3));
        assert_eq!(s.get(Field::Cluster), Value::U64(2));
        assert_eq!(s.get(Field::Anomaly), Value::Bool(false));
        let f = fields(&[Field::Src, Field::Count]);
        assert_eq!(f.len(), 6);
        assert_eq!(f[5], Field::Anomaly);
    }
}
