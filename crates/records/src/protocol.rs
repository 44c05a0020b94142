//! Protocol names as Wireshark's Protocol column shows them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! known_protocols {
    ($($konst:ident = $name:expr,)*) => {
        /// The names with fixed symbols, in symbol order.
        pub(crate) const KNOWN: &[&str] = &[$($name,)*];
        known_protocols!(@consts 0u32, $($konst,)*);
    };
    (@consts $n:expr, $konst:ident, $($rest:ident,)*) => {
        #[doc = concat!("The `", stringify!($konst), "` protocol name.")]
        pub const $konst: Protocol = Protocol($n);
        known_protocols!(@consts $n + 1u32, $($rest,)*);
    };
    (@consts $n:expr,) => {};
}

/// A protocol name (`TCP`, `DNS`, `TLSv1.3`, ...), interned.
///
/// Well-known names are constants (`protocol::TCP`); any other name, for
/// example one read from a CSV export, is interned on first sight with
/// [`Protocol::new`]. Ordering compares names, not symbols, so that sorted
/// output does not depend on the order names were first seen in.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocol(u32);

known_protocols! {
    NONE = "",
    TCP = "TCP",
    UDP = "UDP",
    DNS = "DNS",
    MDNS = "MDNS",
    LLMNR = "LLMNR",
    NBNS = "NBNS",
    SSDP = "SSDP",
    NTP = "NTP",
    DHCP = "DHCP",
    DHCPV6 = "DHCPv6",
    QUIC = "QUIC",
    GQUIC = "GQUIC",
    SSLV2 = "SSLv2",
    SSLV3 = "SSLv3",
    TLSV1 = "TLSv1",
    TLSV1_1 = "TLSv1.1",
    TLSV1_2 = "TLSv1.2",
    TLSV1_3 = "TLSv1.3",
    HTTP = "HTTP",
    SSH = "SSH",
    SSHV2 = "SSHv2",
    SMB = "SMB",
    SMB2 = "SMB2",
    ARP = "ARP",
    ICMP = "ICMP",
    ICMPV6 = "ICMPv6",
    IGMPV1 = "IGMPv1",
    IGMPV2 = "IGMPv2",
    IGMPV3 = "IGMPv3",
    STP = "STP",
    IPV4 = "IPv4",
    IPV6 = "IPv6",
    ETHERNET = "Ethernet",
    LLC = "LLC",
    LLDP = "LLDP",
    CDP = "CDP",
    BGP = "BGP",
    OSPF = "OSPF",
    ESP = "ESP",
    GRE = "GRE",
    SCTP = "SCTP",
    PIMV2 = "PIMv2",
    VRRP = "VRRP",
    BOOTP = "BOOTP",
}

impl Protocol {
    /// The protocol named `name`, interning it if it is new.
    pub fn new(name: &str) -> Protocol {
        Protocol(crate::intern::intern(name))
    }

    /// The name as Wireshark writes it.
    pub fn name(self) -> &'static str {
        if (self.0 as usize) < KNOWN.len() {
            KNOWN[self.0 as usize]
        } else {
            crate::intern::resolve(self.0)
        }
    }

    /// True for the "no protocol" value.
    pub fn is_none(self) -> bool {
        self == NONE
    }
}

impl Default for Protocol {
    fn default() -> Self {
        NONE
    }
}

impl PartialOrd for Protocol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Protocol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            std::cmp::Ordering::Equal
        } else {
            self.name().cmp(other.name())
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name())
    }
}

// Symbols are per process: the wire form is the name.
impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Protocol::new(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_names() {
        assert_eq!(TCP.name(), "TCP");
        assert_eq!(TLSV1_3.name(), "TLSv1.3");
        assert_eq!(Protocol::new("DNS"), DNS);
        assert_eq!(NONE.name(), "");
    }

    #[test]
    fn new_names_are_interned_and_ordered_by_name() {
        let x = Protocol::new("ZZZ-proto");
        assert_eq!(x.name(), "ZZZ-proto");
        assert!(TCP < x);
        assert!(Protocol::new("AAA-proto") < ARP);
    }
}
