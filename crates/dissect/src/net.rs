//! The network layer: IPv4 (options, fragments) and IPv6 (extension headers).

use crate::bytes::Bytes;
use crate::transport;
use netanom_records::protocol as p;
use netanom_records::{Addr, Packet};
use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4. A fragment (first or not) is named `IPv4` and not decoded further,
/// as tshark shows it when it reassembles (the last fragment, which tshark
/// names after the reassembled payload, is `IPv4` here too).
pub(crate) fn ipv4(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::IPV4;
    let Some(first) = data.u8_at(0) else {
        return;
    };
    if first >> 4 == 6 {
        // Wireshark's IPv4 dissector hands version 6 to IPv6.
        return ipv6(data, pkt, depth);
    }
    let header_len = usize::from(first & 0x0f) * 4;
    let (Some(total), Some(frag), Some(proto)) = (data.be16(2), data.be16(6), data.u8_at(9)) else {
        return;
    };
    if first >> 4 != 4 || header_len < 20 {
        return;
    }
    // Like tshark, fill in what the captured bytes hold, even if that is
    // only the source.
    let Some(src) = data.arr::<4>(12) else {
        return;
    };
    pkt.src = Addr::V4(Ipv4Addr::from(src));
    let total = usize::from(total);
    if total != 0 && total < header_len {
        return; // tshark stops at the bogus length
    }
    let Some(dst) = data.arr::<4>(16) else {
        return;
    };
    pkt.dst = Addr::V4(Ipv4Addr::from(dst));
    if frag & 0x3fff != 0 {
        return; // more fragments, or a fragment offset
    }
    // Total length 0 is TCP segmentation offload: the frame says how long.
    let end = if total == 0 {
        data.len()
    } else {
        total.min(data.len())
    };
    let payload = data.get(header_len..end).unwrap_or(&[]);
    transport::ip_payload(proto, payload, pkt, depth);
}

/// IPv6, through hop-by-hop, routing, fragment, destination options and AH
/// headers. A fragment with an offset or more to come is named `IPv6`.
pub(crate) fn ipv6(data: &[u8], pkt: &mut Packet, depth: u8) {
    pkt.protocol = p::IPV6;
    let (Some(payload_len), Some(mut next), Some(src), Some(dst)) = (
        data.be16(4),
        data.u8_at(6),
        data.arr::<16>(8),
        data.arr::<16>(24),
    ) else {
        return;
    };
    pkt.src = Addr::V6(Ipv6Addr::from(src));
    pkt.dst = Addr::V6(Ipv6Addr::from(dst));
    // Payload length 0 is a jumbogram (or offload): the frame says how long.
    let end = match payload_len {
        0 => data.len(),
        n => (usize::from(n) + 40).min(data.len()),
    };
    let data = data.upto(end);
    let mut at = 40usize;
    loop {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-byte units.
            0 | 43 | 60 => {
                let (Some(n), Some(len)) = (data.u8_at(at), data.u8_at(at + 1)) else {
                    return;
                };
                next = n;
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let (Some(n), Some(offset_flags)) = (data.u8_at(at), data.be16(at + 2)) else {
                    return;
                };
                // An offset or the M flag: a real fragment (an "atomic" one
                // with neither is decoded on).
                if offset_flags & 0xfff9 != 0 {
                    return;
                }
                next = n;
                at += 8;
            }
            // AH: length in 4-byte units, minus 2.
            51 => {
                let (Some(n), Some(len)) = (data.u8_at(at), data.u8_at(at + 1)) else {
                    return;
                };
                next = n;
                at += (usize::from(len) + 2) * 4;
            }
            _ => break,
        }
        if at > data.len() {
            return;
        }
    }
    transport::ip_payload(next, data.from(at), pkt, depth);
}
