//! Protocol names as Wireshark's Protocol column shows them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! known_protocols {
    ($($konst:ident = $name:expr,)*) => {
        // An enum numbers the names without recursion.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[repr(u32)]
        enum Index { $($konst,)* }

        /// The names with fixed symbols, in symbol order.
        pub(crate) const KNOWN: &[&str] = &[$($name,)*];

        $(
            #[doc = concat!("The `", $name, "` protocol name.")]
            pub const $konst: Protocol = Protocol(Index::$konst as u32);
        )*
    };
}

/// A protocol name (`TCP`, `DNS`, `TLSv1.3`, ...), interned.
///
/// Well-known names are constants (`protocol::TCP`); any other name, for
/// example one read from a CSV export, is interned on first sight with
/// [`Protocol::new`]. Ordering compares names, not symbols, so that sorted
/// output does not depend on the order names were first seen in.
#[derive(Clone, Copy, PartialEq, Eq)]
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
    X11 = "X11",
    LDAP = "LDAP",
    EAP = "EAP",
    EAPOL = "EAPOL",
    BROWSER = "BROWSER",
    NBSS = "NBSS",
    NBDGM = "NBDGM",
    NFS = "NFS",
    RPC = "RPC",
    SLARP = "SLARP",
    XID = "XID",
    DTP = "DTP",
    LOOP = "LOOP",
    PPTP = "PPTP",
    WIREGUARD = "WireGuard",
    ISAKMP = "ISAKMP",
    MYSQL = "MySQL",
    PPP_LCP = "PPP LCP",
    PPP_IPCP = "PPP IPCP",
    PPP_IPV6CP = "PPP IPV6CP",
    PPP_CHAP = "PPP CHAP",
    PPP_PAP = "PPP PAP",
    PPP_CCP = "PPP CCP",
    PPP_COMP = "PPP Comp",
    PPP = "PPP",
    PPPOED = "PPPoED",
    AOE = "AoE",
    BABEL = "Babel",
    DB_LSP_DISC = "DB-LSP-DISC/JSON",
    RARP = "RARP",
    SNMP = "SNMP",
    TFTP = "TFTP",
    SYSLOG = "Syslog",
    RIPV1 = "RIPv1",
    RIPV2 = "RIPv2",
    SIP = "SIP",
    RADIUS = "RADIUS",
    STUN = "STUN",
    IPX = "IPX",
    NETBIOS = "NetBIOS",
    PIMV1 = "PIMv1",
    DVMRP = "DVMRP",
    LACP = "LACP",
    IEEE_802_11 = "802.11",
    IEEE_802_15_4 = "IEEE 802.15.4",
    BACNET = "BACnet",
    DBUS = "D-Bus",
    VSOCKET = "vSocket",
    NETLINK = "Netlink",
    NETLINK_ROUTE = "Netlink route",
    ATM = "ATM",
    FR = "FR",
    Q933 = "Q.933",
    L2TP = "L2TP",
    EIGRP = "EIGRP",
    AH = "AH",
    DCCP = "DCCP",
    UDPLITE = "UDPlite",
    RSVP = "RSVP",
    SMTP = "SMTP",
    FTP = "FTP",
    POP = "POP",
    IMAP = "IMAP",
    TELNET = "TELNET",
    PTPV2 = "PTPv2",
    CFLOW = "CFLOW",
    KRB5 = "KRB5",
    MPLS = "MPLS",
    SLL = "SLL",
    NULL = "NULL",
    SSLV2_OR_3 = "SSL",
    TLS = "TLS",
    WOL = "WOL",
    SFLOW = "sFlow",
    MIPV6 = "MIPv6",
    IPCOMP = "IPComp",
    HIP = "HIP",
    HSRP = "HSRP",
    CARP = "CARP",
    IGMP = "IGMP",
    MRDISC = "MRDISC",
    MTRACE = "MTRACE",
    RIPNG = "RIPng",
    VXLAN = "VXLAN",
    LISP = "LISP",
    BFD = "BFD Control",
    GTP = "GTP",
    CLDAP = "CLDAP",
    COAP = "CoAP",
    SRVLOC = "SRVLOC",
    WSD = "WS-Discovery",
    MSMMS = "MSMMS",
    RTCP = "RTCP",
    BJNP = "BJNP",
}

impl Protocol {
    /// The protocol named `name`, interning it if it is new.
    pub fn new(name: &str) -> Protocol {
        Protocol(crate::intern::intern(name))
    }

    /// The protocol named `name` read from input: interned only if the
    /// interner has room for a new name ([`crate::intern::try_intern`]).
    pub fn try_new(name: &str) -> Result<Protocol, crate::intern::Full> {
        crate::intern::try_intern(name).map(Protocol)
    }

    /// The name as Wireshark writes it.
    pub fn name(self) -> &'static str {
        if (self.0 as usize) < KNOWN.len() {
            KNOWN[self.0 as usize]
        } else {
            crate::intern::resolve(self.0)
        }
    }

    /// The interned symbol: equal symbols are equal names within one
    /// process, but symbols of interned names differ between processes, so
    /// hash by [`Hash`](std::hash::Hash) for anything routed or stored.
    #[inline]
    pub fn symbol(self) -> u32 {
        self.0
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

// Hashes by name for interned names: symbols differ between processes, and
// keys are routed to workers by hash.
impl std::hash::Hash for Protocol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if (self.0 as usize) < KNOWN.len() {
            self.0.hash(state)
        } else {
            self.name().hash(state)
        }
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
