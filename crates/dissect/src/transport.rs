//! What IP carries: TCP, UDP, SCTP, ICMP, IGMP, GRE, PIM, tunnels and the
//! routing protocols that sit directly on IP.

use crate::app;
use crate::bytes::Bytes;
use crate::link;
use crate::net;
use netanom_records::protocol::{self as p, Protocol};
use netanom_records::Packet;

/// How many encapsulations (tunnels, tags, label stacks) are followed
/// before giving up: enough for real traffic, and a bound on recursion
/// for crafted frames.
pub(crate) const MAX_DEPTH: u8 = 8;

/// Dissects the payload of an IPv4 or IPv6 packet whose (last) next-header
/// value is `proto`. Protocols not named here keep the IP layer's name.
pub(crate) fn ip_payload(proto: u8, payload: &[u8], pkt: &mut Packet, depth: u8) {
    // The common cases as plain branches: a jump table over all protocol
    // numbers costs a mispredicted indirect jump on mixed traffic.
    if proto == 6 {
        tcp(payload, pkt);
    } else if proto == 17 {
        udp(payload, pkt, depth);
    } else {
        other_ip_payload(proto, payload, pkt, depth);
    }
}

#[inline(never)]
fn other_ip_payload(proto: u8, payload: &[u8], pkt: &mut Packet, depth: u8) {
    match proto {
        1 => pkt.protocol = p::ICMP,
        58 => pkt.protocol = p::ICMPV6,
        2 => pkt.protocol = igmp(payload),
        4 | 41 if depth < MAX_DEPTH => net::ipv4(payload, pkt, depth + 1),
        47 if depth < MAX_DEPTH => gre(payload, pkt, depth + 1),
        50 => pkt.protocol = p::ESP,
        51 if depth < MAX_DEPTH => {
            // AH inside IPv4 (IPv6 walks it as an extension header).
            if let (Some(next), Some(len)) = (payload.u8_at(0), payload.u8_at(1)) {
                let at = (usize::from(len) + 2) * 4;
                ip_payload(next, payload.from(at), pkt, depth + 1);
            } else {
                pkt.protocol = p::AH;
            }
        }
        89 => pkt.protocol = p::OSPF,
        103 => pim(payload, pkt, depth),
        112 => pkt.protocol = p::VRRP,
        132 => {
            ports(payload, pkt);
            pkt.protocol = p::SCTP;
        }
        33 => {
            ports(payload, pkt);
            pkt.protocol = p::DCCP;
        }
        136 => {
            ports(payload, pkt);
            pkt.protocol = p::UDPLITE;
        }
        88 => pkt.protocol = p::EIGRP,
        46 => pkt.protocol = p::RSVP,
        115 => pkt.protocol = p::L2TP,
        135 => pkt.protocol = p::MIPV6,
        _ => {}
    }
}

/// Source and destination port, the first 4 bytes of TCP, UDP, SCTP, DCCP.
fn ports(segment: &[u8], pkt: &mut Packet) -> Option<(u16, u16)> {
    let (sport, dport) = (segment.be16(0)?, segment.be16(2)?);
    pkt.sport = Some(sport);
    pkt.dport = Some(dport);
    Some((sport, dport))
}

fn tcp(segment: &[u8], pkt: &mut Packet) {
    pkt.protocol = p::TCP;
    let Some((sport, dport)) = ports(segment, pkt) else {
        return;
    };
    let (Some(offset), Some(flags)) = (segment.u8_at(12), segment.u8_at(13)) else {
        return;
    };
    // NS is the low bit of the data-offset byte.
    pkt.tcp_flags = Some(u16::from(flags) | (u16::from(offset & 1) << 8));
    let header_len = usize::from(offset >> 4) * 4;
    if header_len < 20 {
        return;
    }
    pkt.protocol = app::tcp(sport, dport, segment.from(header_len));
}

fn udp(datagram: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::UDP;
    let Some((sport, dport)) = ports(datagram, pkt) else {
        return;
    };
    let (end, complete) = match datagram.be16(4).map(usize::from) {
        Some(len) if len >= 8 => (len.min(datagram.len()), len <= datagram.len()),
        _ => (datagram.len(), true),
    };
    let payload = datagram.get(8..end).unwrap_or(&[]);
    app::udp(sport, dport, payload, complete, pkt, depth);
}

/// IGMP's version, from the message type and length as Wireshark decides.
fn igmp(msg: &[u8]) -> Protocol {
    match msg.u8_at(0) {
        Some(0x11) => {
            if msg.len() >= 12 {
                p::IGMPV3
            } else if msg.u8_at(1) == Some(0) {
                p::IGMPV1
            } else {
                p::IGMPV2
            }
        }
        Some(0x12) => p::IGMPV1,
        Some(0x16 | 0x17) => p::IGMPV2,
        Some(0x22) => p::IGMPV3,
        Some(0x13) => p::DVMRP,
        Some(0x14) => p::PIMV1,
        Some(0x1e | 0x1f) => p::MTRACE,
        Some(0x30..=0x32) => p::MRDISC,
        _ => p::IGMP,
    }
}

/// GRE (RFC 2784/2890, and the PPTP variant): optional checksum, key,
/// sequence and acknowledgment words, then the payload's EtherType.
fn gre(msg: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::GRE;
    let (Some(flags), Some(ptype)) = (msg.be16(0), msg.be16(2)) else {
        return;
    };
    if flags & 0x4000 != 0 {
        return; // source routing: not worth following
    }
    let mut at = 4;
    for bit in [0x8000, 0x2000, 0x1000] {
        if flags & bit != 0 {
            at += 4;
        }
    }
    if flags & 7 == 1 && flags & 0x0080 != 0 {
        at += 4; // PPTP acknowledgment number
    }
    let inner = msg.from(at);
    if inner.is_empty() {
        return;
    }
    match ptype {
        0x0800 | 0x86dd | 0x0806 | 0x6558 | 0x8847 | 0x8848 | 0x880b | 0x8100 => {
            link::ethertype(ptype, inner, pkt, depth)
        }
        // Cisco MetaData in GRE: the EtherType first, then 6 bytes.
        0x8909 => {
            if let Some(next) = inner.be16(0) {
                link::ethertype(next, inner.from(8), pkt, depth);
            }
        }
        0x2000 => pkt.protocol = p::CDP,
        // ERSPAN type II: an 8-byte header before the mirrored frame.
        0x88be => link::ethernet(inner.from(8), pkt, depth),
        _ => {}
    }
}

/// PIM: the version names it; a Register's encapsulated packet gives the
/// addresses (as in tshark) but not the name.
fn pim(msg: &[u8], pkt: &mut Packet, depth: u8) {
    let Some(first) = msg.u8_at(0) else {
        pkt.protocol = p::PIMV2;
        return;
    };
    let name = if first >> 4 == 1 { p::PIMV1 } else { p::PIMV2 };
    if first == 0x21 && depth < MAX_DEPTH {
        let inner = msg.from(8);
        match inner.u8_at(0).map(|b| b >> 4) {
            Some(4) => net::ipv4(inner, pkt, depth + 1),
            Some(6) => net::ipv6(inner, pkt, depth + 1),
            _ => {}
        }
    }
    pkt.protocol = name;
}
