//! Names that are not [`netanom_records::protocol`] constants, interned once
//! and then read without locking.

use netanom_records::{Addr, Protocol};
use std::sync::{LazyLock, OnceLock};

/// One slot per 16-bit value, filled on first use.
static HEX16: LazyLock<Box<[OnceLock<Protocol>]>> =
    LazyLock::new(|| (0..=u16::MAX).map(|_| OnceLock::new()).collect());

/// The name Wireshark gives an EtherType or PPP protocol it has no dissector
/// for: the number as `0x%04x`.
pub(crate) fn hex16(value: u16) -> Protocol {
    match HEX16.get(usize::from(value)) {
        Some(slot) => *slot.get_or_init(|| Protocol::new(&format!("0x{value:04x}"))),
        None => netanom_records::protocol::NONE,
    }
}

/// The `N/A` Wireshark shows as the addresses of Cisco HDLC frames without IP.
pub(crate) fn not_applicable() -> Addr {
    static NA: LazyLock<Addr> = LazyLock::new(|| Addr::parse_lenient("N/A"));
    *NA
}

/// The `N/A` protocol name Wireshark gives loopback frames it cannot decode.
pub(crate) fn not_applicable_protocol() -> Protocol {
    static NA: LazyLock<Protocol> = LazyLock::new(|| Protocol::new("N/A"));
    *NA
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_names() {
        assert_eq!(hex16(0x3030).name(), "0x3030");
        assert_eq!(hex16(0x3030), hex16(0x3030));
        assert_eq!(hex16(0x7e08).name(), "0x7e08");
        assert_eq!(not_applicable().to_string(), "N/A");
    }
}
