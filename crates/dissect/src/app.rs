//! Application protocols: the name Wireshark puts in the Protocol column for
//! a TCP or UDP payload, from its ports and first bytes.
//!
//! Wireshark tries the lower port's dissector, then the higher port's, then
//! heuristics, and falls back to the transport's name. It also follows
//! conversations (reassembly, QUIC connections, SSH version exchange), which
//! a per-frame decoder cannot: the stateless stand-ins are
//! - a TCP payload that starts a TLS record, an HTTP message or an SSH
//!   banner is named for it on any port; other payloads on those ports
//!   (continuations of reassembled messages) are `TCP`. tshark names a
//!   message after its *last* segment, this after its first, so per-capture
//!   counts agree;
//! - TLS: the version a ServerHello selects (with `supported_versions`),
//!   else the first record's; a Change Cipher Spec directly followed by
//!   application data or a plaintext ClientHello only happens in TLS 1.3;
//! - SSH: a client's banner is `SSH`, the server's banner and encrypted
//!   packets on port 22 are `SSHv2`;
//! - QUIC: long headers by version, short headers on port 443; Google QUIC
//!   by its version tag, or on port 443 by a public header with a
//!   connection id.

use crate::bytes::Bytes;
use crate::link;
use crate::net;
use crate::transport::MAX_DEPTH;
use netanom_records::protocol::{self as p, Protocol};
use netanom_records::Packet;

/// The ports in the order Wireshark tries them: lower first.
#[inline]
fn by_port_order(sport: u16, dport: u16) -> [u16; 2] {
    if sport <= dport {
        [sport, dport]
    } else {
        [dport, sport]
    }
}

/// Names a TCP segment's payload.
pub(crate) fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Protocol {
    let Some(&first) = payload.first() else {
        return p::TCP;
    };
    match first {
        0x14..=0x18 => {
            if let Some(name) = tls(payload) {
                return name;
            }
        }
        0x80..=0xff => {
            if let Some(name) = sslv2(payload) {
                return name;
            }
        }
        b'S' if payload.starts_with(b"SSH-") => {
            // tshark learns the version from the client's banner, so that
            // banner is still plain "SSH" and everything after it "SSHv2".
            let from_server = sport == 22 || (dport != 22 && sport < dport);
            return if from_server { p::SSHV2 } else { p::SSH };
        }
        _ => {
            if is_http(payload) {
                return p::HTTP;
            }
        }
    }
    for port in by_port_order(sport, dport) {
        if let Some(name) = tcp_port(port, payload) {
            return name;
        }
    }
    p::TCP
}

/// Dissectors registered on a TCP port, for a non-empty payload that is not
/// TLS, HTTP or an SSH banner.
fn tcp_port(port: u16, payload: &[u8]) -> Option<Protocol> {
    Some(match port {
        21 => p::FTP,
        22 => p::SSHV2,
        23 => p::TELNET,
        25 | 587 => p::SMTP,
        53 => p::DNS,
        88 => p::KRB5,
        110 => p::POP,
        139 | 445 => return nbss(payload),
        143 => p::IMAP,
        // BGP messages start with a marker of 16 0xff bytes, LDAP ones with
        // a BER SEQUENCE.
        179 if payload.arr::<16>(0) == Some([0xff; 16]) => p::BGP,
        389 | 3268 if payload.first() == Some(&0x30) => p::LDAP,
        1723 => p::PPTP,
        3306 => p::MYSQL,
        5060 => p::SIP,
        6000..=6063 => p::X11,
        _ => return None,
    })
}

/// NetBIOS session service (ports 139 and 445), with SMB or SMB2 inside.
fn nbss(payload: &[u8]) -> Option<Protocol> {
    match payload.u8_at(0)? {
        0x00 => Some(match payload.arr::<4>(4) {
            Some([0xff, b'S', b'M', b'B']) => p::SMB,
            Some([0xfe | 0xfd, b'S', b'M', b'B']) => p::SMB2,
            _ => p::NBSS,
        }),
        0x81..=0x85 => Some(p::NBSS),
        _ => None,
    }
}

/// True when a payload starts an HTTP request or response.
fn is_http(payload: &[u8]) -> bool {
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"TRACE ",
        b"PATCH ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"COPY ",
        b"MOVE ",
        b"LOCK ",
        b"UNLOCK ",
        b"NOTIFY ",
        b"M-SEARCH ",
        b"SUBSCRIBE ",
        b"UNSUBSCRIBE ",
        b"SEARCH ",
        b"REPORT ",
    ];
    match payload.first() {
        Some(b'H') if payload.starts_with(b"HTTP/1.") => true,
        Some(
            b'C' | b'D' | b'G' | b'H' | b'L' | b'M' | b'N' | b'O' | b'P' | b'R' | b'S' | b'T'
            | b'U',
        ) => METHODS.iter().any(|m| payload.starts_with(m)),
        _ => false,
    }
}

fn tls_version_name(version: u16) -> Option<Protocol> {
    Some(match version {
        0x0300 => p::SSLV3,
        0x0301 => p::TLSV1,
        0x0302 => p::TLSV1_1,
        0x0303 => p::TLSV1_2,
        // TLS 1.3 and its drafts.
        0x0304 | 0x7f00..=0x7fff => p::TLSV1_3,
        _ => return None,
    })
}

/// The longest TLS record: 2^14 bytes plus expansion.
const MAX_RECORD: u16 = 18432;

/// A payload made of TLS records: the version tshark shows for them.
fn tls(payload: &[u8]) -> Option<Protocol> {
    let version = payload.be16(1)?;
    let len = payload.be16(3)?;
    if len == 0 || len > MAX_RECORD || !(0x0300..=0x0304).contains(&version) {
        return None;
    }
    let mut shown = tls_version_name(version)?;
    let mut at = 0usize;
    let mut previous = 0u8;
    while let (Some(kind), Some(version), Some(len)) = (
        payload.u8_at(at),
        payload.u8_at(at + 1),
        payload.be16(at + 3),
    ) {
        if !(0x14..=0x18).contains(&kind) || version != 3 {
            break;
        }
        let body = payload.from(at + 5).upto(usize::from(len));
        if kind == 22 && body.first() == Some(&2) {
            if let Some(name) = server_hello_version(body).and_then(tls_version_name) {
                shown = name;
            }
        }
        // TLS 1.2 follows Change Cipher Spec with an encrypted handshake
        // record; only TLS 1.3's compatibility CCS is followed by
        // application data or by a plaintext ClientHello (after a
        // HelloRetryRequest).
        if previous == 20 && (kind == 23 || (kind == 22 && is_client_hello(body, len))) {
            shown = p::TLSV1_3;
        }
        previous = kind;
        at += 5 + usize::from(len);
    }
    Some(shown)
}

/// A handshake record body that is exactly one plaintext ClientHello.
fn is_client_hello(body: &[u8], record_len: u16) -> bool {
    let declared = body
        .arr::<4>(0)
        .map(|[kind, a, b, c]| (kind, u32::from_be_bytes([0, a, b, c])));
    declared == Some((1, u32::from(record_len).wrapping_sub(4)))
}

/// The version a ServerHello handshake message selects: the
/// `supported_versions` extension's, else the legacy version field.
fn server_hello_version(msg: &[u8]) -> Option<u16> {
    let legacy = msg.be16(4)?;
    let found = || -> Option<u16> {
        // type, length (3), version (2), random (32), session id.
        let mut at = 38;
        at += 1 + usize::from(msg.u8_at(at)?);
        at += 3; // cipher suite, compression method
        let end = (at + 2 + usize::from(msg.be16(at)?)).min(msg.len());
        at += 2;
        while at + 4 <= end {
            let (kind, len) = (msg.be16(at)?, msg.be16(at + 2)?);
            if kind == 0x002b {
                return msg.be16(at + 4);
            }
            at += 4 + usize::from(len);
        }
        None
    };
    Some(found().unwrap_or(legacy))
}

/// An SSLv2-format ClientHello that offers SSL 2.0.
fn sslv2(payload: &[u8]) -> Option<Protocol> {
    let len = usize::from(payload.be16(0)? & 0x7fff);
    (len >= 9 && payload.u8_at(2)? == 1 && payload.be16(3)? == 0x0002).then_some(p::SSLV2)
}

/// Names a UDP datagram's payload; tunnels (Teredo, VXLAN, Geneve) are
/// followed into the packet they carry.
///
/// `complete` is false when the capture cut the datagram short.
pub(crate) fn udp(
    sport: u16,
    dport: u16,
    payload: &[u8],
    complete: bool,
    pkt: &mut Packet,
    depth: u8,
) {
    for port in by_port_order(sport, dport) {
        if port != 0 && udp_port(port, payload, complete, pkt, depth) {
            return;
        }
    }
    pkt.protocol = udp_heuristics(payload).unwrap_or(p::UDP);
}

/// Dissectors registered on a UDP port; false when there is none or it
/// rejects the payload.
fn udp_port(port: u16, payload: &[u8], complete: bool, pkt: &mut Packet, depth: u8) -> bool {
    let name = match port {
        53 => p::DNS,
        67 | 68 => dhcp(payload, complete),
        69 => p::TFTP,
        88 => p::KRB5,
        123 => p::NTP,
        137 => p::NBNS,
        138 => nbdgm(payload),
        161 | 162 => p::SNMP,
        443 => match quic(payload, true) {
            Some(name) => name,
            None => return false,
        },
        500 => p::ISAKMP,
        514 => p::SYSLOG,
        520 => match payload.u8_at(1) {
            Some(1) => p::RIPV1,
            Some(2) => p::RIPV2,
            _ => return false,
        },
        521 => p::RIPNG,
        546 | 547 => p::DHCPV6,
        1645 | 1646 | 1812 | 1813 => p::RADIUS,
        1701 => p::L2TP,
        1900 => p::SSDP,
        1985 => p::HSRP,
        // An RPC call to the NFS program (replies need the call).
        2049 if payload.be32(4) == Some(0) && payload.be32(12) == Some(100_003) => p::NFS,
        3544 => return teredo(payload, pkt, depth),
        4500 => match payload.be32(0) {
            Some(0) => p::ISAKMP,
            Some(_) => p::ESP,
            None => return false,
        },
        4789 if depth < MAX_DEPTH => {
            link::ethernet(payload.from(8), pkt, depth + 1);
            return true;
        }
        5060 => p::SIP,
        5353 => p::MDNS,
        5355 => p::LLMNR,
        6696 if payload.first() == Some(&42) => p::BABEL,
        6081 if depth < MAX_DEPTH => return geneve(payload, pkt, depth + 1),
        8611 | 8612 => p::BJNP,
        17500 => p::DB_LSP_DISC,
        _ => return false,
    };
    pkt.protocol = name;
    true
}

/// UDP heuristics that tshark runs when no port matched.
fn udp_heuristics(payload: &[u8]) -> Option<Protocol> {
    if let Some(name) = quic(payload, false) {
        return Some(name);
    }
    if is_wireguard(payload) {
        return Some(p::WIREGUARD);
    }
    if is_stun(payload) {
        return Some(p::STUN);
    }
    None
}

/// BOOTP, or DHCP when the options hold a DHCP message type. tshark names
/// the message only after walking every option up to End: options cut off
/// by the snapshot length leave it BOOTP.
fn dhcp(payload: &[u8], complete: bool) -> Protocol {
    if payload.be32(236) != Some(0x6382_5363) {
        return p::BOOTP;
    }
    let mut at = 240usize;
    let mut message_type = false;
    loop {
        match payload.u8_at(at) {
            None if !complete => return p::BOOTP,
            None => break,
            Some(0) => at += 1,
            Some(255) => break,
            Some(code) => {
                let Some(len) = payload.u8_at(at + 1) else {
                    return p::BOOTP;
                };
                at += 2 + usize::from(len);
                if at > payload.len() {
                    return p::BOOTP;
                }
                message_type |= code == 53;
            }
        }
    }
    if message_type {
        p::DHCP
    } else {
        p::BOOTP
    }
}

/// NetBIOS datagrams: SMB browser announcements are `BROWSER`.
fn nbdgm(payload: &[u8]) -> Protocol {
    match payload.u8_at(0) {
        Some(0x10..=0x12) => {
            let smb = payload.from(82);
            if smb.arr::<4>(0) != Some([0xff, b'S', b'M', b'B']) {
                return p::NBDGM;
            }
            let mailslot = |name: &[u8]| smb.windows(name.len()).any(|w| w == name);
            if mailslot(b"\\MAILSLOT\\BROWSE") || mailslot(b"\\MAILSLOT\\LANMAN") {
                p::BROWSER
            } else {
                p::SMB
            }
        }
        _ => p::NBDGM,
    }
}

/// QUIC (IETF) or Google QUIC, from the header form and version.
fn quic(payload: &[u8], port_443: bool) -> Option<Protocol> {
    let first = payload.u8_at(0)?;
    if first & 0x80 != 0 {
        let version = payload.be32(1)?;
        if version >> 24 == u32::from(b'Q') {
            return Some(p::GQUIC); // Q046 and later use the long header
        }
        let known = version == 0
            || version == 1
            || version == 0x6b33_43cf // v2
            || version == 0x709a_50c4 // v2 draft
            || version >> 8 == 0xff_0000 // IETF drafts
            || version & 0x0f0f_0f0f == 0x0a0a_0a0a; // greased
        let dcid_len = payload.u8_at(5)?;
        return (known && dcid_len <= 20).then_some(p::QUIC);
    }
    // Google QUIC public header: connection id and version flags, "Q0xx".
    if first & 0x09 == 0x09 && payload.get(9..11) == Some(b"Q0".as_slice()) {
        return Some(p::GQUIC);
    }
    if !port_443 {
        return None;
    }
    if first & 0x40 != 0 {
        return Some(p::QUIC); // short header
    }
    // A Google QUIC public header with a connection id: tshark knows these
    // from the connection's first packet; without a connection id (the
    // server's side) they cannot be told from other traffic.
    (first & 0x08 != 0).then_some(p::GQUIC)
}

/// WireGuard: a message type and 3 reserved zero bytes, and the length
/// each type has.
fn is_wireguard(payload: &[u8]) -> bool {
    let Some([kind, 0, 0, 0]) = payload.arr::<4>(0) else {
        return false;
    };
    match kind {
        1 => payload.len() == 148,
        2 => payload.len() == 92,
        3 => payload.len() == 64,
        4 => payload.len() >= 32 && payload.len() & 15 == 0,
        _ => false,
    }
}

/// STUN (RFC 5389): magic cookie and a length that matches.
fn is_stun(payload: &[u8]) -> bool {
    payload.u8_at(0).is_some_and(|b| b & 0xc0 == 0)
        && payload.be32(4) == Some(0x2112_a442)
        && payload
            .be16(2)
            .is_some_and(|len| usize::from(len) + 20 == payload.len())
}

/// Teredo: optional authentication and origin indication headers, then
/// IPv6.
fn teredo(payload: &[u8], pkt: &mut Packet, depth: u8) -> bool {
    let mut at = 0usize;
    if payload.be16(at) == Some(0x0001) {
        let (Some(id_len), Some(auth_len)) = (payload.u8_at(2), payload.u8_at(3)) else {
            return false;
        };
        // header, client id, authentication value, nonce, confirmation byte
        at += 4 + usize::from(id_len) + usize::from(auth_len) + 8 + 1;
    }
    if payload.be16(at) == Some(0x0000) {
        at += 8;
    }
    let inner = payload.from(at);
    if depth >= MAX_DEPTH || inner.u8_at(0).map(|b| b >> 4) != Some(6) || inner.len() < 40 {
        return false;
    }
    net::ipv6(inner, pkt, depth + 1);
    true
}

/// Geneve: 8 bytes plus options, then the protocol named in the header.
fn geneve(payload: &[u8], pkt: &mut Packet, depth: u8) -> bool {
    let (Some(first), Some(proto)) = (payload.u8_at(0), payload.be16(2)) else {
        return false;
    };
    let inner = payload.from(8 + usize::from(first & 0x3f) * 4);
    link::ethertype(proto, inner, pkt, depth);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions() {
        // Client Hello in a TLS 1.0 record: the record's version.
        let hello = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03];
        assert_eq!(tls(&hello), Some(p::TLSV1));
        // Application data in a TLS 1.2 record.
        assert_eq!(tls(&[0x17, 0x03, 0x03, 0x00, 0x02, 1, 2]), Some(p::TLSV1_2));
        // CCS then application data: TLS 1.3.
        let ccs_app = [0x14, 3, 3, 0, 1, 1, 0x17, 3, 3, 0, 1, 0];
        assert_eq!(tls(&ccs_app), Some(p::TLSV1_3));
        // Not a record.
        assert_eq!(tls(&[0x17, 0x05, 0x03, 0x00, 0x02]), None);
        assert_eq!(tls(&[0x17, 0x03, 0x03, 0x00, 0x00]), None);
    }

    #[test]
    fn server_hello_supported_versions() {
        let mut msg = vec![2, 0, 0, 0, 3, 3];
        msg.extend([0u8; 32]); // random
        msg.push(0); // session id
        msg.extend([0x13, 0x01, 0]); // suite, compression
        msg.extend([0, 6, 0, 0x2b, 0, 2, 3, 4]); // extensions
        assert_eq!(server_hello_version(&msg), Some(0x0304));
        msg.truncate(42);
        assert_eq!(server_hello_version(&msg), Some(0x0303));
    }

    #[test]
    fn http_start_lines() {
        assert!(is_http(b"GET / HTTP/1.1\r\n"));
        assert!(is_http(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_http(b"GETTER"));
        assert!(!is_http(b""));
    }
}
