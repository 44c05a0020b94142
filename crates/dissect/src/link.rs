//! Link layers: Ethernet (VLAN tags, 802.3/LLC), Linux cooked captures,
//! loopback, raw IP, PPP, Cisco HDLC, Frame Relay, 802.11 and a few
//! capture pseudo-headers, down to the EtherType dispatch.

use crate::bytes::Bytes;
use crate::names;
use crate::net;
use crate::transport::MAX_DEPTH;
use netanom_records::protocol::{self as p, Protocol};
use netanom_records::{Addr, Packet};

/// Dissects a whole frame of link type `linktype`.
pub(crate) fn frame(linktype: u32, data: &[u8], pkt: &mut Packet, depth: u8) {
    match linktype {
        1 => ethernet(data, pkt, depth),
        113 => sll(data, pkt, depth),
        276 => sll2(data, pkt, depth),
        101 | 12 | 14 => raw_ip(data, pkt, depth, p::NONE),
        228 => raw_ip(data, pkt, depth, p::IPV4),
        229 => raw_ip(data, pkt, depth, p::IPV6),
        0 | 108 => null(data, pkt, depth),
        9 | 50 => ppp_frame(data, pkt, depth),
        104 => chdlc(data, pkt, depth),
        107 => frame_relay(data, pkt, depth),
        105 => wlan(data, pkt, depth, false),
        127 => radiotap(data, pkt, depth),
        192 => ppi(data, pkt, depth),
        129 => arcnet(data, pkt, depth),
        239 => nflog(data, pkt, depth),
        242 => ipoib(data, pkt, depth),
        258 => pktap(data, pkt, depth),
        253 => pkt.protocol = netlink(data.be16(14)),
        _ => pkt.protocol = linktype_name(linktype),
    }
}

/// The Protocol column of a frame whose link type is not decoded further.
fn linktype_name(linktype: u32) -> Protocol {
    match linktype {
        123 => p::ATM,
        165 => p::BACNET,
        195 | 215 | 230 | 283 => p::IEEE_802_15_4,
        231 => p::DBUS,
        271 => p::VSOCKET,
        _ => p::NONE,
    }
}

fn mac(data: &[u8], at: usize) -> Addr {
    data.arr::<6>(at).map_or(Addr::None, Addr::Mac)
}

/// Ethernet II or IEEE 802.3.
pub(crate) fn ethernet(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::ETHERNET;
    let Some(len_or_type) = data.be16(12) else {
        return;
    };
    pkt.dst = mac(data, 0);
    pkt.src = mac(data, 6);
    // The common cases first, without the general dispatch.
    match len_or_type {
        0x0800 => net::ipv4(data.from(14), pkt, depth + 1),
        0x86dd => net::ipv6(data.from(14), pkt, depth + 1),
        _ => type_or_length(len_or_type, data.from(14), pkt, depth),
    }
}

/// Not inlined, to keep the common IPv4/IPv6 path free of a jump table.
#[inline(never)]
/// The 2 bytes after the MAC addresses (or a VLAN tag): an EtherType, or
/// the length of an 802.3 frame.
fn type_or_length(value: u16, payload: &[u8], pkt: &mut Packet, depth: u8) {
    if value <= 1500 {
        if payload.be16(0) == Some(0xffff) {
            pkt.protocol = p::IPX; // Novell "raw" 802.3
        } else {
            llc(payload, pkt, depth);
        }
    } else {
        ethertype(value, payload, pkt, depth);
    }
}

/// Dispatches on an EtherType.
pub(crate) fn ethertype(etype: u16, payload: &[u8], pkt: &mut Packet, depth: u8) {
    if depth > MAX_DEPTH {
        return;
    }
    let depth = depth + 1;
    match etype {
        0x0800 => net::ipv4(payload, pkt, depth),
        0x86dd => net::ipv6(payload, pkt, depth),
        0x0806 => pkt.protocol = arp_name(payload),
        0x8035 => pkt.protocol = p::RARP,
        0x8100 | 0x88a8 | 0x9100 | 0x9200 => match payload.be16(2) {
            Some(inner) => type_or_length(inner, payload.from(4), pkt, depth),
            None => pkt.protocol = p::NONE,
        },
        0x88cc => pkt.protocol = p::LLDP,
        0x888e => {
            // EAPOL packet type 0 carries EAP.
            pkt.protocol = if payload.u8_at(1) == Some(0) {
                p::EAP
            } else {
                p::EAPOL
            };
        }
        0x8863 => pkt.protocol = p::PPPOED,
        0x8864 => ppp(payload.from(6), pkt, depth),
        0x8847 | 0x8848 => mpls(payload, pkt, depth),
        0x9000 => pkt.protocol = p::LOOP,
        0x88a2 => pkt.protocol = p::AOE,
        0x8809 => {
            pkt.protocol = match payload.u8_at(0) {
                Some(1) => p::LACP,
                _ => names::hex16(etype),
            }
        }
        0x88f7 => pkt.protocol = p::PTPV2,
        0x8137 | 0x8138 => pkt.protocol = p::IPX,
        0x0842 => pkt.protocol = p::WOL,
        0x6558 => ethernet(payload, pkt, depth),
        0x880b => ppp(payload, pkt, depth),
        // Cisco MetaData: 6 bytes, then the next EtherType.
        0x8909 => match payload.be16(6) {
            Some(next) => ethertype(next, payload.from(8), pkt, depth),
            None => pkt.protocol = names::hex16(etype),
        },
        _ => pkt.protocol = names::hex16(etype),
    }
}

fn arp_name(payload: &[u8]) -> Protocol {
    match payload.be16(6) {
        Some(3 | 4) => p::RARP,
        _ => p::ARP,
    }
}

/// IEEE 802.2 LLC, with SNAP.
fn llc(payload: &[u8], pkt: &mut Packet, depth: u8) {
    let (Some(dsap), Some(ssap), Some(control)) =
        (payload.u8_at(0), payload.u8_at(1), payload.u8_at(2))
    else {
        pkt.protocol = p::LLC;
        return;
    };
    // Bridged Ethernet inside LLC can nest without an EtherType in between.
    if depth > MAX_DEPTH {
        pkt.protocol = p::LLC;
        return;
    }
    pkt.protocol = match (dsap & 0xfe, ssap & 0xfe) {
        (0x42, 0x42) => p::STP,
        (0xaa, 0xaa) => {
            let oui = payload.arr::<3>(3);
            let pid = payload.be16(6);
            match (oui, pid) {
                (Some([0, 0, 0]), Some(etype)) => {
                    return ethertype(etype, payload.from(8), pkt, depth);
                }
                (Some([0x00, 0x00, 0x0c]), Some(0x2000)) => p::CDP,
                (Some([0x00, 0x00, 0x0c]), Some(0x2004)) => p::DTP,
                (Some([0x00, 0x00, 0x0c]), Some(0x010b)) => p::STP,
                (Some([0x00, 0x80, 0xc2]), Some(0x0001 | 0x0007)) => {
                    return ethernet(payload.from(8), pkt, depth + 1);
                }
                _ => p::LLC,
            }
        }
        (0xe0, 0xe0) => p::IPX,
        (0xf0, 0xf0) => p::NETBIOS,
        _ if control & 0xef == 0xaf => p::XID,
        _ => p::LLC,
    };
}

/// MPLS label stack, then IPv4/IPv6 by the version nibble or a pseudowire
/// carrying Ethernet.
fn mpls(payload: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::MPLS;
    let mut at = 0;
    // Each entry is 4 bytes; the bottom-of-stack bit ends the stack.
    while let Some(entry) = payload.be32(at) {
        at += 4;
        if entry & 0x100 != 0 {
            let inner = payload.from(at);
            match inner.u8_at(0).map(|b| b >> 4) {
                Some(4) => net::ipv4(inner, pkt, depth),
                Some(6) => net::ipv6(inner, pkt, depth),
                // A zero nibble starts the pseudowire control word.
                Some(0) => ethernet(inner.from(4), pkt, depth),
                Some(_) => ethernet(inner, pkt, depth),
                None => {}
            }
            return;
        }
    }
}

/// Linux cooked capture v1: 16 bytes, the protocol last.
fn sll(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::SLL;
    let (Some(hatype), Some(halen), Some(proto)) = (data.be16(2), data.be16(4), data.be16(14))
    else {
        return;
    };
    if halen == 6 {
        pkt.src = mac(data, 6);
    }
    sll_payload(hatype, proto, data.from(16), pkt, depth);
}

/// Linux cooked capture v2: 20 bytes, the protocol first.
fn sll2(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::SLL;
    let (Some(proto), Some(hatype), Some(halen)) = (data.be16(0), data.be16(8), data.u8_at(11))
    else {
        return;
    };
    if data.len() < 20 {
        return;
    }
    if halen == 6 {
        pkt.src = mac(data, 12);
    }
    sll_payload(hatype, proto, data.from(20), pkt, depth);
}

fn sll_payload(hatype: u16, proto: u16, payload: &[u8], pkt: &mut Packet, depth: u8) {
    match (hatype, proto) {
        // Netlink and other non-Ethernet device types keep their own numbering.
        (824, family) => pkt.protocol = netlink(Some(family)),
        (_, 0x0004) => llc(payload, pkt, depth),
        (_, 0x0001) => pkt.protocol = p::IPX,
        (_, etype) if etype > 1500 => ethertype(etype, payload, pkt, depth),
        _ => {}
    }
}

/// Netlink messages (an SLL header with the netlink family as protocol).
fn netlink(family: Option<u16>) -> Protocol {
    match family {
        Some(0) => p::NETLINK_ROUTE,
        _ => p::NETLINK,
    }
}

/// Raw IP: the version nibble decides, `fallback` names other versions.
fn raw_ip(data: &[u8], pkt: &mut Packet, depth: u8, fallback: Protocol) {
    match data.u8_at(0).map(|b| b >> 4) {
        Some(4) => net::ipv4(data, pkt, depth),
        Some(6) => net::ipv6(data, pkt, depth),
        _ => pkt.protocol = fallback,
    }
}

/// BSD (host byte order) and OpenBSD (network byte order) loopback: a 4-byte
/// address family, read the way Wireshark reads it (either byte order, the
/// 2-byte IRIX variant, or an EtherType).
fn null(data: &[u8], pkt: &mut Packet, depth: u8) {
    if data.be16(0) == Some(0xff03) {
        return ppp(data, pkt, depth);
    }
    pkt.protocol = names::not_applicable_protocol();
    let Some(header) = data.le32(0) else {
        return;
    };
    let family = if header & 0xffff_0000 != 0 {
        if header & 0xff00_0000 == 0 && header & 0x00ff_0000 < 0x0006_0000 {
            header >> 16
        } else {
            header.swap_bytes()
        }
    } else if header & 0xff == 0 && header & 0xff00 < 0x0600 {
        u32::from((header as u16).swap_bytes())
    } else {
        header
    };
    let payload = data.from(4);
    if family > 1500 {
        return ethertype(family as u16, payload, pkt, depth);
    }
    match family {
        2 => net::ipv4(payload, pkt, depth),
        24 | 28 | 30 => net::ipv6(payload, pkt, depth),
        23 => pkt.protocol = p::IPX,
        _ => {}
    }
}

/// A PPP frame as a link layer: optional HDLC address/control bytes.
fn ppp_frame(data: &[u8], pkt: &mut Packet, depth: u8) {
    ppp(data, pkt, depth);
}

/// PPP: optional `ff 03`, then a 1- or 2-byte protocol number.
pub(crate) fn ppp(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::PPP;
    let data = if data.be16(0) == Some(0xff03) {
        data.from(2)
    } else {
        data
    };
    let Some(first) = data.u8_at(0) else {
        return;
    };
    let (proto, payload) = if first & 1 == 1 {
        (u16::from(first), data.from(1))
    } else {
        match data.be16(0) {
            Some(proto) => (proto, data.from(2)),
            None => return,
        }
    };
    pkt.protocol = match proto {
        0x0021 => return net::ipv4(payload, pkt, depth),
        0x0057 => return net::ipv6(payload, pkt, depth),
        0x0281 => return mpls(payload, pkt, depth),
        0xc021 => p::PPP_LCP,
        0x8021 => p::PPP_IPCP,
        0x8057 => p::PPP_IPV6CP,
        0xc223 => p::PPP_CHAP,
        0xc023 => p::PPP_PAP,
        0x80fd => p::PPP_CCP,
        0x00fd => p::PPP_COMP,
        other => names::hex16(other),
    };
}

/// Cisco HDLC: address, control, EtherType.
fn chdlc(data: &[u8], pkt: &mut Packet, depth: u8) {
    let Some(proto) = data.be16(2) else {
        return;
    };
    pkt.src = names::not_applicable();
    pkt.dst = pkt.src;
    match proto {
        0x8035 => pkt.protocol = p::SLARP,
        0x2000 => pkt.protocol = p::CDP,
        etype => ethertype(etype, data.from(4), pkt, depth),
    }
}

/// Frame Relay: a Q.922 address, then RFC 2427 (NLPID) or Cisco
/// (EtherType) encapsulation.
fn frame_relay(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::FR;
    // The address ends at the byte with the EA bit set (2 to 4 bytes).
    let Some(end) = data.iter().take(4).position(|b| b & 1 == 1) else {
        return;
    };
    let rest = data.from(end + 1);
    let Some(control) = rest.u8_at(0) else {
        return;
    };
    if control != 0x03 {
        if let Some(etype) = rest.be16(0) {
            if etype > 1500 {
                ethertype(etype, rest.from(2), pkt, depth);
            }
        }
        return;
    }
    let mut at = 1;
    if rest.u8_at(at) == Some(0) {
        at += 1; // padding before the NLPID
    }
    let payload = rest.from(at + 1);
    match rest.u8_at(at) {
        Some(0xcc) => net::ipv4(payload, pkt, depth),
        Some(0x8e) => net::ipv6(payload, pkt, depth),
        Some(0x08) => pkt.protocol = p::Q933,
        Some(0x80) => match (payload.arr::<3>(0), payload.be16(3)) {
            (Some([0, 0, 0]), Some(etype)) => ethertype(etype, payload.from(5), pkt, depth),
            (Some([0x00, 0x80, 0xc2]), Some(0x0001 | 0x0007)) => {
                ethernet(payload.from(5), pkt, depth)
            }
            _ => {}
        },
        _ => {}
    }
}

/// Radiotap: a little-endian header length, then 802.11.
fn radiotap(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::IEEE_802_11;
    if let Some(len) = data.le16(2) {
        wlan(data.from(usize::from(len)), pkt, depth, false);
    }
}

/// PPI: a little-endian header length and the inner link type.
fn ppi(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::IEEE_802_11;
    if let (Some(len), Some(dlt)) = (data.le16(2), data.le32(4)) {
        let inner = data.from(usize::from(len));
        match dlt {
            105 => wlan(inner, pkt, depth, false),
            1 => ethernet(inner, pkt, depth),
            _ => {}
        }
    }
}

/// IEEE 802.11: data frames carry LLC/SNAP; everything else is "802.11".
fn wlan(data: &[u8], pkt: &mut Packet, depth: u8, _fcs: bool) {
    pkt.protocol = p::IEEE_802_11;
    let (Some(fc0), Some(fc1)) = (data.u8_at(0), data.u8_at(1)) else {
        return;
    };
    let kind = (fc0 >> 2) & 3;
    let subtype = fc0 >> 4;
    let to_ds = fc1 & 1 != 0;
    let from_ds = fc1 & 2 != 0;
    match kind {
        0 => {
            pkt.dst = mac(data, 4);
            pkt.src = mac(data, 10);
        }
        2 => {
            pkt.dst = mac(data, if to_ds { 16 } else { 4 });
            pkt.src = match (to_ds, from_ds) {
                (_, false) => mac(data, 10),
                (false, true) => mac(data, 16),
                (true, true) => mac(data, 24),
            };
            let protected = fc1 & 0x40 != 0;
            let no_data = subtype & 0x4 != 0;
            if protected || no_data {
                return;
            }
            let mut hdr = 24;
            if to_ds && from_ds {
                hdr += 6;
            }
            if subtype & 0x8 != 0 {
                hdr += 2; // QoS control
                if fc1 & 0x80 != 0 {
                    hdr += 4; // HT control
                }
            }
            llc(data.from(hdr), pkt, depth);
        }
        _ => {}
    }
}

/// ARCNET (Linux): source, destination, 2 bytes of offset, then the
/// protocol id; RFC 1201 ids add split flag and sequence number.
fn arcnet(data: &[u8], pkt: &mut Packet, depth: u8) {
    let Some(id) = data.u8_at(4) else {
        return;
    };
    match id {
        0xd4 => net::ipv4(data.from(8), pkt, depth),
        0xd5 | 0xd6 => pkt.protocol = p::ARP,
        0xf0 => net::ipv4(data.from(5), pkt, depth),
        0xf1 => pkt.protocol = p::ARP,
        _ => {}
    }
}

/// NFLOG: address family, version, resource id, then TLVs (little-endian
/// length and type) of which type 9 holds the packet.
fn nflog(data: &[u8], pkt: &mut Packet, depth: u8) {
    let Some(family) = data.u8_at(0) else {
        return;
    };
    let mut at = 4usize;
    while let (Some(len), Some(kind)) = (data.le16(at), data.le16(at.saturating_add(2))) {
        let len = usize::from(len);
        if len < 4 {
            return;
        }
        if kind == 9 {
            let end = at.saturating_add(len).min(data.len());
            let payload = data.get(at.saturating_add(4)..end).unwrap_or(&[]);
            match family {
                2 => net::ipv4(payload, pkt, depth),
                10 => net::ipv6(payload, pkt, depth),
                _ => {}
            }
            return;
        }
        // TLVs are padded to 4 bytes.
        at = at.saturating_add((len + 3) & !3);
    }
}

/// IP over InfiniBand: destination and source hardware addresses (20 bytes
/// each), then an EtherType and 2 reserved bytes.
fn ipoib(data: &[u8], pkt: &mut Packet, depth: u8) {
    if let Some(etype) = data.be16(40) {
        ethertype(etype, data.from(44), pkt, depth);
    }
}

/// Apple PKTAP: a little-endian header length and the inner link type.
fn pktap(data: &[u8], pkt: &mut Packet, depth: u8) {
    let (Some(len), Some(dlt)) = (data.le32(0), data.le32(8)) else {
        return;
    };
    // PKTAP inside PKTAP would only recurse.
    if dlt != 258 && depth < MAX_DEPTH {
        frame(dlt, data.from(len as usize), pkt, depth + 1);
    }
}
