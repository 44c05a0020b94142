//! The window record: the aggregate of one event-time window and group.

use crate::field::{Field, Value};
use crate::{Addr, Protocol, RecordKind, Ts};
use serde::{Deserialize, Serialize};

/// The group a window record aggregates. Fields not in the window's
/// `group_by` stay at their empty value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct GroupKey {
    /// Source address, when grouped by `src`.
    pub src: Addr,
    /// Destination address, when grouped by `dst`.
    pub dst: Addr,
    /// Protocol, when grouped by `protocol`.
    pub protocol: Protocol,
    /// Source port, when grouped by `sport` (and the packet has one).
    pub sport: Option<u16>,
    /// Destination port, when grouped by `dport`.
    pub dport: Option<u16>,
}

/// The fields a window may be grouped by.
pub const GROUPABLE: &[Field] = &[
    Field::Src,
    Field::Dst,
    Field::Protocol,
    Field::Sport,
    Field::Dport,
];

impl GroupKey {
    /// The value of one grouping field.
    #[inline]
    pub fn get(&self, field: Field) -> Value<'static> {
        match field {
            Field::Src => Value::Addr(self.src),
            Field::Dst => Value::Addr(self.dst),
            Field::Protocol => Value::Protocol(self.protocol),
            Field::Sport => self.sport.map_or(Value::Null, |p| Value::U64(p.into())),
            Field::Dport => self.dport.map_or(Value::Null, |p| Value::U64(p.into())),
            _ => Value::Null,
        }
    }
}

/// One window and group: what the notebook computed per 10 ms and
/// (src, dst, protocol), plus the distinct counts scans show up in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Window start, inclusive.
    pub window_start: Ts,
    /// Window end, exclusive.
    pub window_end: Ts,
    /// The group.
    pub key: GroupKey,
    /// Packets.
    pub count: u64,
    /// Sum of frame lengths.
    pub bytes: u64,
    /// Largest frame length.
    pub len_max: u32,
    /// Distinct source addresses.
    pub distinct_srcs: u32,
    /// Distinct destination addresses.
    pub distinct_dsts: u32,
    /// Distinct source ports (packets without ports do not count).
    pub distinct_sports: u32,
    /// Distinct destination ports.
    pub distinct_dports: u32,
    /// TCP segments with SYN and without ACK.
    pub syn_count: u64,
}

impl WindowRecord {
    /// The aggregate columns that follow the group columns.
    pub const AGGREGATES: &'static [Field] = &[
        Field::Count,
        Field::Bytes,
        Field::LenAvg,
        Field::LenMax,
        Field::LocalAnomaly,
        Field::DistinctSrcs,
        Field::DistinctDsts,
        Field::DistinctSports,
        Field::DistinctDports,
        Field::SynCount,
    ];

    /// The columns of a window record grouped by `group_by`, in output order.
    pub fn fields(group_by: &[Field]) -> Vec<Field> {
        let mut fields = vec![Field::WindowStart, Field::WindowEnd];
        fields.extend_from_slice(group_by);
        fields.extend_from_slice(Self::AGGREGATES);
        fields
    }

    /// Mean frame length.
    #[inline]
    pub fn len_avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.bytes as f64 / self.count as f64
        }
    }

    /// `len_avg / len_max`: 1 when all frames have the same length.
    #[inline]
    pub fn local_anomaly(&self) -> f64 {
        if self.len_max == 0 {
            0.0
        } else {
            self.len_avg() / f64::from(self.len_max)
        }
    }
}

impl crate::Record for WindowRecord {
    const KIND: RecordKind = RecordKind::Window;

    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::WindowStart => Value::Ts(self.window_start),
            Field::WindowEnd => Value::Ts(self.window_end),
            Field::Src | Field::Dst | Field::Protocol | Field::Sport | Field::Dport => {
                self.key.get(field)
            }
            Field::Count => Value::U64(self.count),
            Field::Bytes => Value::U64(self.bytes),
            Field::LenAvg => Value::F64(self.len_avg()),
            Field::LenMax => Value::U64(self.len_max.into()),
            Field::LocalAnomaly => Value::F64(self.local_anomaly()),
            Field::DistinctSrcs => Value::U64(self.distinct_srcs.into()),
            Field::DistinctDsts => Value::U64(self.distinct_dsts.into()),
            Field::DistinctSports => Value::U64(self.distinct_sports.into()),
            Field::DistinctDports => Value::U64(self.distinct_dports.into()),
            Field::SynCount => Value::U64(self.syn_count),
            _ => Value::Null,
        }
    }

    fn event_time(&self) -> Ts {
        self.window_end
    }

    #[inline]
    fn csv_line(&self, fields: &[Field], buf: &mut [u8]) -> Option<usize> {
        crate::line::window_line(self, fields, buf)
    }

    #[inline]
    fn sort_key(&self, out: &mut Vec<u8>) {
        use crate::sortkey as k;
        k::ts(out, self.window_start);
        k::ts(out, self.window_end);
        k::addr(out, self.key.src);
        k::addr(out, self.key.dst);
        k::protocol(out, self.key.protocol);
        k::port(out, self.key.sport);
        k::port(out, self.key.dport);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sortkey as k;
    use crate::Record as _;

    #[test]
    fn sort_key_is_the_fields_keys_in_order() {
        let addrs = [
            Addr::None,
            Addr::V4("10.1.2.3".parse().expect("v4")),
            Addr::V6("fe80::1:2".parse().expect("v6")),
            Addr::Mac([1, 2, 3, 4, 5, 6]),
            Addr::Name(crate::NameId::intern("host-a")),
        ];
        for src in addrs {
            for dst in addrs {
                for (protocol, sport, dport) in [
                    ("TCP", Some(443), None),
                    ("", None, Some(0)),
                    ("A-PROTOCOL-NAME-OF-20", Some(65535), Some(1)),
                ] {
                    let r = WindowRecord {
                        window_start: Ts(-7),
                        window_end: Ts(1_700_000_000_010_000_000),
                        key: GroupKey {
                            src,
                            dst,
                            protocol: Protocol::new(protocol),
                            sport,
                            dport,
                        },
                        ..WindowRecord::default()
                    };
                    let mut want = Vec::new();
                    k::ts(&mut want, r.window_start);
                    k::ts(&mut want, r.window_end);
                    k::addr(&mut want, src);
                    k::addr(&mut want, dst);
                    k::protocol(&mut want, r.key.protocol);
                    k::port(&mut want, sport);
                    k::port(&mut want, dport);
                    let mut got = b"before".to_vec();
                    r.sort_key(&mut got);
                    assert_eq!(&got[6..], &want[..], "{r:?}");
                }
            }
        }
    }
}
