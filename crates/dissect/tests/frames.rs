//! Hand-built frames: each link type, encapsulation and naming rule once.

use netanom_dissect::{dissect, linktype};
use netanom_records::{protocol as p, Addr, Packet, Protocol};

const MAC_A: [u8; 6] = [0x0e, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x0e, 0, 0, 0, 0, 0x0b];
const IP_A: [u8; 4] = [192, 168, 1, 10];
const IP_B: [u8; 4] = [198, 51, 100, 7];
const IP6_A: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
const IP6_B: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb];

fn eth(etype: u16, payload: &[u8]) -> Vec<u8> {
    [&MAC_B[..], &MAC_A, &etype.to_be_bytes(), payload].concat()
}

fn ipv4_with(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend(total.to_be_bytes());
    h.extend([0, 1]);
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(IP_A);
    h.extend(IP_B);
    [h, payload.to_vec()].concat()
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with(proto, 0, payload)
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend((payload.len() as u16).to_be_bytes());
    h.extend([next, 64]);
    h.extend(IP6_A);
    h.extend(IP6_B);
    [h, payload.to_vec()].concat()
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    [
        &sport.to_be_bytes()[..],
        &dport.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        payload,
    ]
    .concat()
}

fn tcp(sport: u16, dport: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend([0; 8]); // seq, ack
    h.push(0x50 | (flags >> 8) as u8);
    h.push(flags as u8);
    h.extend([0xff, 0xff, 0, 0, 0, 0]);
    [h, payload.to_vec()].concat()
}

fn run(linktype: u32, frame: &[u8]) -> Packet {
    let mut pkt = Packet::default();
    dissect(linktype, frame, &mut pkt);
    pkt
}

fn v4(a: [u8; 4]) -> Addr {
    Addr::V4(a.into())
}

fn v6(a: [u8; 16]) -> Addr {
    Addr::V6(a.into())
}

fn name(linktype: u32, frame: &[u8]) -> Protocol {
    run(linktype, frame).protocol
}

#[test]
fn ethernet_ipv4_udp() {
    let pkt = run(
        linktype::ETHERNET,
        &eth(0x0800, &ipv4(17, &udp(50000, 53, b"\0\x01"))),
    );
    assert_eq!((pkt.src, pkt.dst), (v4(IP_A), v4(IP_B)));
    assert_eq!((pkt.sport, pkt.dport), (Some(50000), Some(53)));
    assert_eq!((pkt.protocol, pkt.tcp_flags), (p::DNS, None));
}

#[test]
fn only_the_dissected_fields_change() {
    let mut pkt = Packet {
        length: 99,
        info: "kept".into(),
        ..Packet::default()
    };
    dissect(
        linktype::ETHERNET,
        &eth(0x0800, &ipv4(6, &tcp(1, 2, 0x02, b""))),
        &mut pkt,
    );
    assert_eq!(pkt.tcp_flags, Some(0x02));
    // The next frame has no ports or flags: they are reset, not kept.
    dissect(
        linktype::ETHERNET,
        &eth(0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]),
        &mut pkt,
    );
    assert_eq!((pkt.sport, pkt.dport, pkt.tcp_flags), (None, None, None));
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::ARP, Addr::Mac(MAC_A), Addr::Mac(MAC_B))
    );
    assert_eq!((pkt.length, pkt.info.as_str()), (99, "kept"));
}

#[test]
fn arp_broadcast_and_vlan_tags() {
    let arp = [0u8, 1, 8, 0, 6, 4, 0, 1];
    let frame = [
        &[0xff; 6][..],
        &MAC_A,
        &[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x06],
        &arp,
    ]
    .concat();
    let pkt = run(linktype::ETHERNET, &frame);
    assert_eq!(pkt.protocol, p::ARP);
    assert_eq!(
        (pkt.src.to_string(), pkt.dst.to_string()),
        ("0e:00:00:00:00:0a".into(), "Broadcast".into())
    );
}

#[test]
fn llc_frames() {
    // 802.3 length field, then LLC: STP, SNAP (CDP), XID, other.
    let stp = [&[0x42, 0x42, 0x03, 0, 0, 0, 0][..], &[0; 32]].concat();
    let pkt = run(linktype::ETHERNET, &eth(stp.len() as u16, &stp));
    assert_eq!((pkt.protocol, pkt.src), (p::STP, Addr::Mac(MAC_A)));
    let cdp = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 2, 180];
    assert_eq!(name(linktype::ETHERNET, &eth(10, &cdp)), p::CDP);
    assert_eq!(
        name(linktype::ETHERNET, &eth(3, &[0x00, 0x01, 0xaf])),
        p::XID
    );
    assert_eq!(
        name(linktype::ETHERNET, &eth(3, &[0x06, 0x06, 0x03])),
        p::LLC
    );
    // SNAP with an EtherType goes on to IP.
    let snap_ip = [
        &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00][..],
        &ipv4(1, &[8, 0, 0, 0]),
    ]
    .concat();
    assert_eq!(
        name(linktype::ETHERNET, &eth(snap_ip.len() as u16, &snap_ip)),
        p::ICMP
    );
}

#[test]
fn other_ethertypes() {
    assert_eq!(name(linktype::ETHERNET, &eth(0x88cc, &[0; 20])), p::LLDP);
    assert_eq!(
        name(linktype::ETHERNET, &eth(0x888e, &[1, 0, 0, 4])),
        p::EAP
    );
    assert_eq!(
        name(linktype::ETHERNET, &eth(0x888e, &[1, 3, 0, 4])),
        p::EAPOL
    );
    assert_eq!(
        name(linktype::ETHERNET, &eth(0x9000, &[0; 10])).to_string(),
        "LOOP"
    );
    // tshark names an EtherType it does not know by its number.
    assert_eq!(
        name(linktype::ETHERNET, &eth(0x88b5, &[0; 10])).to_string(),
        "0x88b5"
    );
    assert_eq!(name(linktype::ETHERNET, &MAC_A[..5]), p::ETHERNET);
    assert_eq!(run(linktype::ETHERNET, &[]).src, Addr::None);
}

#[test]
fn linux_cooked_captures() {
    let syn = ipv4(6, &tcp(40000, 443, 0x002, b""));
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend(MAC_A);
    sll.extend([0, 0, 0x08, 0x00]);
    let pkt = run(linktype::LINUX_SLL, &[sll, syn.clone()].concat());
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::TCP, v4(IP_A), v4(IP_B))
    );
    assert_eq!(
        (pkt.sport, pkt.dport, pkt.tcp_flags),
        (Some(40000), Some(443), Some(0x002))
    );

    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend(MAC_A);
    sll2.extend([0, 0]);
    assert_eq!(
        run(linktype::LINUX_SLL2, &[sll2, syn].concat()).protocol,
        p::TCP
    );

    // Non-IP over SLL2: only the source address exists.
    let mut sll2 = vec![0x00, 0x04, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend(MAC_A);
    sll2.extend([0, 0, 0x42, 0x42, 0x03, 0, 0]);
    let pkt = run(linktype::LINUX_SLL2, &sll2);
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::STP, Addr::Mac(MAC_A), Addr::None)
    );
}

#[test]
fn loopback_in_both_byte_orders() {
    let v4_payload = ipv4(17, &udp(5353, 5353, b""));
    let v6_payload = ipv6(17, &udp(5355, 50000, b""));
    for (header, payload, expect) in [
        ([2u8, 0, 0, 0], &v4_payload, p::MDNS),
        ([0, 0, 0, 2], &v4_payload, p::MDNS),
        ([24, 0, 0, 0], &v6_payload, p::LLMNR),
        ([0, 0, 0, 28], &v6_payload, p::LLMNR),
        ([30, 0, 0, 0], &v6_payload, p::LLMNR),
    ] {
        let frame = [&header[..], payload].concat();
        assert_eq!(name(linktype::NULL, &frame), expect, "{header:?}");
        assert_eq!(name(linktype::LOOP, &frame), expect, "{header:?}");
    }
}

#[test]
fn raw_ip_link_types() {
    let v4_frame = ipv4(1, &[8, 0, 0, 0]);
    let v6_frame = ipv6(58, &[128, 0, 0, 0]);
    for lt in [
        linktype::RAW,
        linktype::RAW_12,
        linktype::RAW_14,
        linktype::IPV4,
        linktype::IPV6,
    ] {
        assert_eq!(name(lt, &v4_frame), p::ICMP);
        let pkt = run(lt, &v6_frame);
        assert_eq!(
            (pkt.protocol, pkt.src, pkt.dst),
            (p::ICMPV6, v6(IP6_A), v6(IP6_B))
        );
    }
}

#[test]
fn ppp_and_cisco_hdlc() {
    let ip = ipv4(17, &udp(123, 123, &[0x23; 48]));
    assert_eq!(
        name(
            linktype::PPP,
            &[&[0xff, 0x03, 0x00, 0x21][..], &ip].concat()
        ),
        p::NTP
    );
    assert_eq!(
        name(linktype::PPP, &[&[0xc0, 0x21][..], &[1; 8]].concat()),
        p::PPP_LCP
    );
    assert_eq!(
        name(
            linktype::C_HDLC,
            &[&[0x0f, 0x00, 0x08, 0x00][..], &ip].concat()
        ),
        p::NTP
    );
    assert_eq!(
        name(linktype::C_HDLC, &[0x8f, 0x00, 0x80, 0x35, 0, 0]),
        p::SLARP
    );
}

#[test]
fn ipv4_fragments_are_not_decoded() {
    let payload = udp(1000, 53, b"xx");
    for frag in [0x2000, 0x0010, 0x2010] {
        let pkt = run(linktype::RAW, &ipv4_with(17, frag, &payload));
        assert_eq!(
            (pkt.protocol, pkt.sport, pkt.src),
            (p::IPV4, None, v4(IP_A))
        );
    }
    // "Don't fragment" is not a fragment.
    assert_eq!(
        name(linktype::RAW, &ipv4_with(17, 0x4000, &payload)),
        p::DNS
    );
}

#[test]
fn ipv4_options_and_unknown_protocols() {
    let mut frame = ipv4(2, &[0x16, 0, 0, 0, 224, 0, 0, 22]);
    frame[0] = 0x46; // one option word
    frame.splice(20..20, [0x94, 0x04, 0, 0]);
    frame[3] += 4;
    assert_eq!(name(linktype::RAW, &frame), p::IGMPV2);
    assert_eq!(name(linktype::RAW, &ipv4(253, b"data")), p::IPV4);
    assert_eq!(name(linktype::RAW, &ipv6(253, b"data")), p::IPV6);
}

#[test]
fn ipv6_extension_headers() {
    let inner = udp(40000, 53, b"\0\0");
    // hop-by-hop -> routing -> atomic fragment -> destination options -> UDP
    let mut chain = vec![43, 0, 1, 4, 0, 0, 0, 0];
    chain.extend([44, 0, 0, 0, 0, 0, 0, 0]);
    chain.extend([60, 0, 0, 0, 0, 0, 0, 1]);
    chain.extend([17, 0, 1, 4, 0, 0, 0, 0]);
    let pkt = run(linktype::RAW, &ipv6(0, &[chain, inner.clone()].concat()));
    assert_eq!((pkt.protocol, pkt.dport), (p::DNS, Some(53)));
    // A real fragment (offset, or more to come) stops there.
    for offset_flags in [[0x00, 0x01], [0x05, 0x00]] {
        let frag = [&[17, 0][..], &offset_flags, &[0, 0, 0, 9]].concat();
        let pkt = run(linktype::RAW, &ipv6(44, &[frag, inner.clone()].concat()));
        assert_eq!((pkt.protocol, pkt.dport), (p::IPV6, None));
    }
    // AH: (len + 2) * 4 bytes.
    let ah = [&[17, 1, 0, 0][..], &[0; 8]].concat();
    assert_eq!(
        name(
            linktype::RAW,
            &ipv6(51, &[ah.clone(), inner.clone()].concat())
        ),
        p::DNS
    );
    assert_eq!(
        name(linktype::RAW, &ipv4(51, &[ah, inner].concat())),
        p::DNS
    );
}

#[test]
fn tcp_flags_include_ns() {
    let pkt = run(linktype::RAW, &ipv4(6, &tcp(1, 2, 0x1d2, b"")));
    assert_eq!(pkt.tcp_flags, Some(0x1d2));
    assert!(!pkt.is_syn());
    assert!(run(linktype::RAW, &ipv4(6, &tcp(1, 2, 0x002, b""))).is_syn());
}

#[test]
fn igmp_versions() {
    assert_eq!(
        name(linktype::RAW, &ipv4(2, &[0x11, 0, 0, 0, 0, 0, 0, 0])),
        p::IGMPV1
    );
    assert_eq!(
        name(linktype::RAW, &ipv4(2, &[0x11, 100, 0, 0, 0, 0, 0, 0])),
        p::IGMPV2
    );
    assert_eq!(
        name(
            linktype::RAW,
            &ipv4(2, &[0x11, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        ),
        p::IGMPV3
    );
    assert_eq!(
        name(linktype::RAW, &ipv4(2, &[0x12, 0, 0, 0, 0, 0, 0, 0])),
        p::IGMPV1
    );
    assert_eq!(
        name(linktype::RAW, &ipv4(2, &[0x17, 0, 0, 0, 0, 0, 0, 0])),
        p::IGMPV2
    );
    assert_eq!(
        name(linktype::RAW, &ipv4(2, &[0x22, 0, 0, 0, 0, 0, 0, 0])),
        p::IGMPV3
    );
}

#[test]
fn sctp_icmp_esp_ospf_gre() {
    let pkt = run(
        linktype::RAW,
        &ipv4(132, &[0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 0]),
    );
    assert_eq!(
        (pkt.protocol, pkt.sport, pkt.dport),
        (p::SCTP, Some(2905), Some(2905))
    );
    assert_eq!(name(linktype::RAW, &ipv4(1, &[0, 0, 0, 0])), p::ICMP);
    assert_eq!(name(linktype::RAW, &ipv4(50, &[0; 8])), p::ESP);
    assert_eq!(name(linktype::RAW, &ipv4(89, &[2, 1, 0, 0])), p::OSPF);
    assert_eq!(name(linktype::RAW, &ipv4(47, &[0, 0, 0x08, 0x00])), p::GRE);
    // GRE with a key carrying IPv4: the inner packet's name and addresses.
    let mut inner = ipv4(1, &[8, 0, 0, 0]);
    inner[12..16].copy_from_slice(&[10, 0, 0, 1]);
    let gre = [&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7][..], &inner].concat();
    let pkt = run(linktype::RAW, &ipv4(47, &gre));
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::ICMP, v4([10, 0, 0, 1]), v4(IP_B))
    );
}

#[test]
fn teredo_shows_the_inner_ipv6_packet() {
    let inner = ipv6(59, &[]);
    let pkt = run(linktype::RAW, &ipv4(17, &udp(3544, 50000, &inner)));
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::IPV6, v6(IP6_A), v6(IP6_B))
    );
}

fn over_tcp(sport: u16, dport: u16, payload: &[u8]) -> Protocol {
    name(linktype::RAW, &ipv4(6, &tcp(sport, dport, 0x018, payload)))
}

fn over_udp(sport: u16, dport: u16, payload: &[u8]) -> Protocol {
    name(linktype::RAW, &ipv4(17, &udp(sport, dport, payload)))
}

#[test]
fn tcp_applications() {
    assert_eq!(over_tcp(50000, 443, b""), p::TCP);
    assert_eq!(over_tcp(50000, 8081, b"GET / HTTP/1.1\r\n\r\n"), p::HTTP);
    assert_eq!(over_tcp(80, 50000, b"HTTP/1.1 200 OK\r\n"), p::HTTP);
    // The middle of a body: tshark shows it as a TCP segment.
    assert_eq!(over_tcp(80, 50000, b"<html><body>"), p::TCP);
    assert_eq!(over_tcp(50000, 22, b"SSH-2.0-OpenSSH_9.6\r\n"), p::SSH);
    assert_eq!(over_tcp(22, 50000, b"SSH-2.0-OpenSSH_9.6\r\n"), p::SSHV2);
    assert_eq!(over_tcp(50000, 22, &[0, 0, 0, 0x2c, 6, 0x1e]), p::SSHV2);
    let smb = [&[0, 0, 0, 0x40][..], b"\xffSMB", &[0; 8]].concat();
    assert_eq!(over_tcp(50000, 445, &smb), p::SMB);
    let smb2 = [&[0, 0, 0, 0x40][..], b"\xfeSMB", &[0; 8]].concat();
    assert_eq!(over_tcp(445, 50000, &smb2), p::SMB2);
    let bgp = [[0xff; 16].as_slice(), &[0, 19, 4]].concat();
    assert_eq!(over_tcp(179, 50000, &bgp), p::BGP);
    assert_eq!(over_tcp(50000, 6000, &[1, 2, 3]), p::X11);
    assert_eq!(over_tcp(50000, 9999, &[1, 2, 3]), p::TCP);
}

#[test]
fn tls_versions() {
    let record = |kind: u8, version: [u8; 2], body: &[u8]| {
        [
            &[kind][..],
            &version,
            &(body.len() as u16).to_be_bytes(),
            body,
        ]
        .concat()
    };
    let client_hello = record(22, [3, 1], &[1, 0, 0, 2, 3, 3]);
    assert_eq!(over_tcp(50000, 443, &client_hello), p::TLSV1);
    assert_eq!(
        over_tcp(50000, 8443, &record(23, [3, 3], &[9; 30])),
        p::TLSV1_2
    );
    assert_eq!(
        over_tcp(50000, 443, &record(23, [3, 2], &[9; 30])),
        p::TLSV1_1
    );
    assert_eq!(over_tcp(50000, 443, &record(21, [3, 0], &[9; 2])), p::SSLV3);
    // A ServerHello selecting TLS 1.3 in supported_versions.
    let mut hello = vec![2, 0, 0, 0, 3, 3];
    hello.extend([0; 32]);
    hello.extend([0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4]);
    let len = (hello.len() - 4) as u32;
    hello[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
    let frame = [record(22, [3, 3], &hello), record(20, [3, 3], &[1])].concat();
    assert_eq!(over_tcp(443, 50000, &frame), p::TLSV1_3);
    // Without the extension the legacy version counts.
    hello.truncate(42);
    hello[1..4].copy_from_slice(&[0, 0, 38]);
    assert_eq!(
        over_tcp(443, 50000, &record(22, [3, 3], &hello)),
        p::TLSV1_2
    );
    // Not a record start: a TCP segment.
    assert_eq!(over_tcp(443, 50000, &[0x17, 0x99, 1, 2, 3]), p::TCP);
}

#[test]
fn udp_applications() {
    assert_eq!(over_udp(50000, 53, &[0; 12]), p::DNS);
    assert_eq!(over_udp(5353, 5353, &[0; 12]), p::MDNS);
    assert_eq!(over_udp(50000, 5355, &[0; 12]), p::LLMNR);
    assert_eq!(over_udp(137, 137, &[0; 12]), p::NBNS);
    assert_eq!(over_udp(50000, 1900, b"M-SEARCH * HTTP/1.1\r\n"), p::SSDP);
    assert_eq!(over_udp(123, 123, &[0x23; 48]), p::NTP);
    assert_eq!(over_udp(546, 547, &[1, 0, 0, 0]), p::DHCPV6);
    assert_eq!(over_udp(50000, 8001, &[1, 2, 3]), p::UDP);
    // QUIC: long header by version, short header on 443.
    let initial = [&[0xc3, 0, 0, 0, 1, 8][..], &[7; 8], &[0, 0, 0x44, 0xd0]].concat();
    assert_eq!(over_udp(50000, 443, &initial), p::QUIC);
    assert_eq!(over_udp(50000, 4433, &initial), p::QUIC);
    assert_eq!(over_udp(443, 50000, &[0x40, 1, 2, 3]), p::QUIC);
    assert_eq!(
        over_udp(50000, 443, &[0xc3, b'Q', b'0', b'4', b'6', 8]),
        p::GQUIC
    );
    assert_eq!(over_udp(4433, 50000, &[0x40, 1, 2, 3]), p::UDP);
}

#[test]
fn dhcp_or_bootp() {
    let mut bootp = vec![1, 1, 6, 0];
    bootp.resize(236, 0);
    bootp.extend([0x63, 0x82, 0x53, 0x63]);
    let mut dhcp = bootp.clone();
    dhcp.extend([53, 1, 1, 255]);
    assert_eq!(over_udp(68, 67, &dhcp), p::DHCP);
    bootp.push(255);
    assert_eq!(over_udp(68, 67, &bootp), p::BOOTP);
    // Options cut off by the snapshot length before End: tshark stays at
    // BOOTP even though the message type was seen.
    let mut long = dhcp.clone();
    long.pop();
    long.extend([12, 10]);
    long.extend(b"hostname-x");
    long.push(255);
    let full = ipv4(17, &udp(68, 67, &long));
    assert_eq!(name(linktype::RAW, &full), p::DHCP);
    assert_eq!(name(linktype::RAW, &full[..full.len() - 5]), p::BOOTP);
}

#[test]
fn unknown_link_types_still_give_a_record() {
    let pkt = run(147, &[1, 2, 3]);
    assert_eq!(
        (pkt.protocol, pkt.src, pkt.dst),
        (p::NONE, Addr::None, Addr::None)
    );
    assert_eq!(name(231, &[1, 2, 3]).to_string(), "D-Bus");
}
