//! Field names (the output column / JSON key names) and field values.

use crate::{Addr, Protocol, Ts};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! fields {
    ($($variant:ident = $name:expr, $doc:expr;)*) => {
        /// A named field of some record kind (see DESIGN.md, "Records").
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Field {
            $(#[doc = $doc] $variant,)*
        }

        impl Field {
            /// Every field, in declaration order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];

            /// The column / JSON key name.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// What the field holds.
            pub fn doc(self) -> &'static str {
                match self { $(Field::$variant => $doc,)* }
            }
        }
    };
}

fields! {
    Ts = "ts", "Event time in seconds (epoch for pcap, as given for CSV).";
    Src = "src", "Source address.";
    Dst = "dst", "Destination address.";
    Sport = "sport", "Source port (TCP, UDP, SCTP).";
    Dport = "dport", "Destination port.";
    Protocol = "protocol", "Wireshark's Protocol column name.";
    Length = "length", "Frame length on the wire, in bytes.";
    TcpFlags = "tcp_flags", "TCP flags, as tshark prints tcp.flags (0x0012).";
    Info = "info", "Wireshark's Info column, when the source has it.";
    WindowStart = "window_start", "Start of the window (inclusive), seconds.";
    WindowEnd = "window_end", "End of the window (exclusive), seconds.";
    Count = "count", "Packets in the window and group.";
    Bytes = "bytes", "Sum of frame lengths.";
    LenAvg = "len_avg", "Mean frame length.";
    LenMax = "len_max", "Largest frame length.";
    LocalAnomaly = "local_anomaly", "len_avg / len_max (the notebook's column).";
    DistinctSrcs = "distinct_srcs", "Distinct source addresses.";
    DistinctDsts = "distinct_dsts", "Distinct destination addresses.";
    DistinctSports = "distinct_sports", "Distinct source ports.";
    DistinctDports = "distinct_dports", "Distinct destination ports.";
    SynCount = "syn_count", "TCP segments with SYN set and ACK clear.";
    Ip = "ip", "degree: the address (a vertex of the traffic graph).";
    InDegree = "in_degree", "degree: distinct addresses with an edge to this one.";
    OutDegree = "out_degree", "degree: distinct addresses this one has an edge to.";
    InEdges = "in_edges", "degree: input records (packets or window records) to this address.";
    OutEdges = "out_edges", "degree: input records from this address.";
    InPackets = "in_packets", "degree: packets to this address.";
    OutPackets = "out_packets", "degree: packets from this address.";
    Cluster = "cluster", "k-means: index of the nearest centroid.";
    Distance = "distance", "k-means: distance to the nearest centroid (standardized features).";
    Score = "score", "k-means: distance divided by the anomaly threshold in effect (above 1: anomaly).";
    Anomaly = "anomaly", "k-means: whether the score is above the threshold (true/false).";
    Pattern = "pattern", "motif: the pattern that matched (reciprocal, fan_out, fan_in).";
    A = "a", "motif: the first bound vertex (lower address of a reciprocal pair, sender of a fan-out, receiver of a fan-in).";
    B = "b", "motif: the second bound vertex (empty for fan-out and fan-in).";
}

impl Field {
    /// The field called `name`, if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field's value, borrowed from its record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// Absent (an empty CSV cell, JSON `null`).
    Null,
    /// A flag.
    Bool(bool),
    /// A count, port or length.
    U64(u64),
    /// A measurement.
    F64(f64),
    /// A point in event time.
    Ts(Ts),
    /// An address.
    Addr(Addr),
    /// A protocol name.
    Protocol(Protocol),
    /// TCP flags.
    Flags(u16),
    /// Text.
    Str(&'a str),
}

impl Value<'_> {
    /// The value as a number, for numeric features (timestamps in seconds).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::U64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Ts(t) => Some(t.0 as f64 / 1e9),
            Value::Flags(v) => Some(f64::from(v)),
            _ => None,
        }
    }
}
