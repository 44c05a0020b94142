//! Addresses as Wireshark's Source and Destination columns show them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A packet's source or destination: an IP address for IP traffic, a MAC
/// address for other Ethernet frames (ARP, STP, ...), a name where a CSV
/// export holds one (resolved host names, `Broadcast`), or nothing.
///
/// The variant order is the sort order: none, IPv4, IPv6, MAC, name.
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Addr {
    /// No address (a frame Wireshark shows with empty columns).
    #[default]
    None,
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// A link-layer (MAC) address.
    Mac([u8; 6]),
    /// Any other text, interned (see [`crate::intern`]).
    Name(#[serde(with = "name_serde")] NameId),
}

/// An interned name ([`crate::intern`]), its symbol kept as bytes so that
/// an [`Addr`] needs no alignment: 17 bytes instead of 20, and a packet,
/// which holds two and is copied once per consumer and exchange, is 8
/// bytes smaller.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameId([u8; 4]);

impl NameId {
    /// The name of an interned symbol.
    #[inline]
    pub fn new(symbol: u32) -> NameId {
        NameId(symbol.to_ne_bytes())
    }

    /// Interns `text`.
    pub fn intern(text: &str) -> NameId {
        NameId::new(crate::intern::intern(text))
    }

    /// Interns `text` read from input, if the interner has room for a new
    /// name ([`crate::intern::try_intern`]).
    pub fn try_intern(text: &str) -> Result<NameId, crate::intern::Full> {
        crate::intern::try_intern(text).map(NameId::new)
    }

    /// The interned symbol (valid in this process only).
    #[inline]
    pub fn symbol(self) -> u32 {
        u32::from_ne_bytes(self.0)
    }

    /// The text.
    #[inline]
    pub fn text(self) -> &'static str {
        crate::intern::resolve(self.symbol())
    }
}

/// The all-ones MAC address, which Wireshark writes as `Broadcast`.
pub const BROADCAST: [u8; 6] = [0xff; 6];

impl Addr {
    /// True when there is no address.
    pub fn is_none(&self) -> bool {
        matches!(self, Addr::None)
    }

    /// True for IP addresses (the ones anonymization rewrites).
    pub fn is_ip(&self) -> bool {
        matches!(self, Addr::V4(_) | Addr::V6(_))
    }

    /// An address from arbitrary text; never fails (unknown text becomes a
    /// [`Addr::Name`], empty text [`Addr::None`]).
    pub fn parse_lenient(text: &str) -> Addr {
        let Ok(addr) = Addr::parse_or_name(text, |t| {
            Ok::<_, std::convert::Infallible>(NameId::intern(t))
        });
        addr
    }

    /// The address folded to 64 bits for hash tables and slots: equal
    /// addresses give equal bits, and the kinds are apart. Names fold by
    /// their interned symbol, so the bits are valid in this process only
    /// (never route across processes by them).
    #[inline]
    pub fn bits(self) -> u64 {
        match self {
            Addr::None => 0,
            Addr::V4(ip) => (1 << 32) | u64::from(u32::from(ip)),
            Addr::V6(ip) => {
                let bits = u128::from(ip);
                (2 << 60) ^ (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29)
            }
            Addr::Mac(m) => {
                let mut b = [0u8; 8];
                b[..6].copy_from_slice(&m);
                (3 << 60) ^ u64::from_le_bytes(b)
            }
            Addr::Name(id) => (4 << 60) | u64::from(id.symbol()),
        }
    }

    /// [`Addr::parse_lenient`] for text read from input: a name is kept
    /// only if the interner has room for it.
    pub fn try_parse_lenient(text: &str) -> Result<Addr, crate::intern::Full> {
        Addr::parse_or_name(text, NameId::try_intern)
    }

    /// Trimmed `text` as an address, [`Addr::None`] if empty, else the
    /// name `name` makes of it.
    fn parse_or_name<E>(
        text: &str,
        name: impl FnOnce(&str) -> Result<NameId, E>,
    ) -> Result<Addr, E> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Addr::None);
        }
        match text.parse() {
            Ok(addr) => Ok(addr),
            Err(_) => name(text).map(Addr::Name),
        }
    }
}

impl Addr {
    fn rank(&self) -> u8 {
        match self {
            Addr::None => 0,
            Addr::V4(_) => 1,
            Addr::V6(_) => 2,
            Addr::Mac(_) => 3,
            Addr::Name(_) => 4,
        }
    }
}

// Names order by text: symbol ids depend on the order names were first seen.
impl Ord for Addr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Addr::V4(a), Addr::V4(b)) => a.cmp(b),
            (Addr::V6(a), Addr::V6(b)) => a.cmp(b),
            (Addr::Mac(a), Addr::Mac(b)) => a.cmp(b),
            (Addr::Name(a), Addr::Name(b)) if a == b => std::cmp::Ordering::Equal,
            (Addr::Name(a), Addr::Name(b)) => a.text().cmp(b.text()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Addr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

// Names hash by text: symbols differ between processes.
impl std::hash::Hash for Addr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Addr::None => state.write_u8(0),
            Addr::V4(a) => {
                state.write_u8(1);
                state.write_u32(u32::from(*a));
            }
            Addr::V6(a) => {
                state.write_u8(2);
                state.write(&a.octets());
            }
            Addr::Mac(m) => {
                state.write_u8(3);
                state.write(m);
            }
            Addr::Name(id) => {
                state.write_u8(4);
                state.write(id.text().as_bytes());
            }
        }
    }
}

impl FromStr for Addr {
    type Err = ();

    /// Parses an IPv4, IPv6 or MAC address, or `Broadcast`.
    fn from_str(s: &str) -> Result<Addr, ()> {
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Addr::V4(v4));
        }
        if let Ok(v6) = s.parse::<Ipv6Addr>() {
            return Ok(Addr::V6(v6));
        }
        if s == "Broadcast" {
            return Ok(Addr::Mac(BROADCAST));
        }
        parse_mac(s).map(Addr::Mac).ok_or(())
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for byte in out.iter_mut() {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::None => Ok(()),
            Addr::V4(a) => a.fmt(f),
            Addr::V6(a) => a.fmt(f),
            Addr::Mac(m) if *m == BROADCAST => f.write_str("Broadcast"),
            Addr::Mac(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Addr::Name(id) => f.write_str(id.text()),
        }
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({self})")
    }
}

mod name_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &super::NameId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.text())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<super::NameId, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(super::NameId::intern(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_wireshark() {
        for text in [
            "192.168.1.5",
            "2001:db8:1:0:7ed4:c2ce:7311:78e5",
            "0e:53:67:6d:a4:19",
            "Broadcast",
            "Intel_12:34:56",
            "",
        ] {
            assert_eq!(Addr::parse_lenient(text).to_string(), text);
        }
        assert!(matches!(Addr::parse_lenient("10.0.0.1"), Addr::V4(_)));
        assert!(matches!(
            Addr::parse_lenient("ff:ff:ff:ff:ff:ff"),
            Addr::Mac(BROADCAST)
        ));
        assert!(matches!(
            Addr::parse_lenient("0e:53:67:6d:a4"),
            Addr::Name(_)
        ));
    }
}
