//! The packet record: one captured frame.

use crate::field::{Field, Value};
use crate::{Addr, Protocol, RecordKind, Ts};
use serde::{Deserialize, Serialize};

/// TCP flag bits, as in the TCP header (with NS as bit 8).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
}

/// One frame of a capture (or one row of a CSV export).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    /// Event time.
    pub ts: Ts,
    /// Source address (IP, or MAC for non-IP frames).
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Source port, for TCP, UDP and SCTP.
    pub sport: Option<u16>,
    /// Destination port.
    pub dport: Option<u16>,
    /// Wireshark's Protocol column.
    pub protocol: Protocol,
    /// Frame length on the wire (not the captured length).
    pub length: u32,
    /// TCP flags, for TCP segments.
    pub tcp_flags: Option<u16>,
    /// Wireshark's Info column; empty unless the source has it.
    pub info: Info,
}

/// Wireshark's Info column of one packet: usually absent (pcap sources
/// leave it empty), so that copying a packet copies no text. Every packet
/// is copied once per extra consumer of its stream: with `String` here,
/// that clone cost 4% of the quick start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info(Option<Box<str>>);

impl Info {
    /// The text ("" when there is none).
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether there is no text.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }

    /// Drops the text.
    #[inline]
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl From<&str> for Info {
    fn from(s: &str) -> Info {
        Info((!s.is_empty()).then(|| s.into()))
    }
}

impl From<String> for Info {
    fn from(s: String) -> Info {
        Info((!s.is_empty()).then(|| s.into_boxed_str()))
    }
}

impl std::ops::Deref for Info {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for Info {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Info {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Info, D::Error> {
        String::deserialize(deserializer).map(Info::from)
    }
}

impl Packet {
    /// The columns of a packet record, in output order.
    pub const FIELDS: &'static [Field] = &[
        Field::Ts,
        Field::Src,
        Field::Dst,
        Field::Sport,
        Field::Dport,
        Field::Protocol,
        Field::Length,
        Field::TcpFlags,
        Field::Info,
    ];

    /// True for a TCP segment with SYN set and ACK clear (a connection
    /// attempt, what a SYN scan sends).
    pub fn is_syn(&self) -> bool {
        self.tcp_flags
            .is_some_and(|f| f & tcp_flags::SYN != 0 && f & tcp_flags::ACK == 0)
    }
}

impl crate::Record for Packet {
    const KIND: RecordKind = RecordKind::Packet;

    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::Ts => Value::Ts(self.ts),
            Field::Src => Value::Addr(self.src),
            Field::Dst => Value::Addr(self.dst),
            Field::Sport => self.sport.map_or(Value::Null, |p| Value::U64(p.into())),
            Field::Dport => self.dport.map_or(Value::Null, |p| Value::U64(p.into())),
            Field::Protocol => Value::Protocol(self.protocol),
            Field::Length => Value::U64(self.length.into()),
            Field::TcpFlags => self.tcp_flags.map_or(Value::Null, Value::Flags),
            Field::Info => Value::Str(self.info.as_str()),
            _ => Value::Null,
        }
    }

    fn event_time(&self) -> Ts {
        self.ts
    }

    #[inline]
    fn sort_key(&self, out: &mut Vec<u8>) {
        use crate::sortkey as k;
        k::ts(out, self.ts);
        k::addr(out, self.src);
        k::addr(out, self.dst);
        k::port(out, self.sport);
        k::port(out, self.dport);
        k::protocol(out, self.protocol);
        k::u64(out, self.length.into());
        k::port(out, self.tcp_flags);
        k::text(out, self.info.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_stay_small() {
        // Every packet is copied once per consumer and exchange: an
        // address needs no alignment.
        assert_eq!(std::mem::size_of::<crate::Addr>(), 17);
        let size = std::mem::size_of::<Packet>();
        assert!(size <= 80, "{size}");
    }
}
