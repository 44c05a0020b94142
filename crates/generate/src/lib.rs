//! Synthetic, labelled network traffic for tests and benchmarks: a LAN of
//! a few hundred hosts talking TLS, QUIC, DNS, mDNS, SSDP, NTP, ARP and
//! ICMP, with attacks injected at chosen times (vertical SYN scan,
//! horizontal SYN sweep, ICMP echo flood, DNS exfiltration-like bursts).
//!
//! Output: a pcap or pcapng capture (Ethernet, microsecond timestamps,
//! correct checksums), optionally the Wireshark CSV export of the same
//! packets (`"No.","Time","Source","Destination","Protocol","Length","Info"`,
//! what the `csv` source reads) and a labels file (`No.,label`, one line
//! per packet). The same [`Options`] always give the same bytes.
//!
//! Frames are written straight into the output buffer from per-flow header
//! templates and payload pools built once: no allocation per packet.
//!
//! ```
//! let opts = netanom_generate::Options { packets: 1000, ..Default::default() };
//! let mut pcap = Vec::new();
//! let summary = netanom_generate::generate(&opts, &mut pcap, None, None).unwrap();
//! assert_eq!(summary.packets, 1000);
//! assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
//! ```
#![deny(missing_docs)]

mod attacks;
mod frame;
mod rng;
mod traffic;
mod world;

use frame::{Head, HEAD_AT};
use std::io::{self, Write};
use traffic::{Info, Pkt, Shown};

/// The protocols generated, named like Wireshark's Protocol column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP without application data.
    Tcp,
    /// A TLS ClientHello (record version 1.0).
    Tls1,
    /// TLS 1.2 records.
    Tls12,
    /// QUIC (IETF, version 1).
    Quic,
    /// DNS.
    Dns,
    /// Multicast DNS.
    Mdns,
    /// SSDP.
    Ssdp,
    /// NTP.
    Ntp,
    /// ARP.
    Arp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmp6,
}

impl Proto {
    /// Every protocol, in [`Proto::index`] order.
    pub const ALL: [Proto; 11] = [
        Proto::Tcp,
        Proto::Tls1,
        Proto::Tls12,
        Proto::Quic,
        Proto::Dns,
        Proto::Mdns,
        Proto::Ssdp,
        Proto::Ntp,
        Proto::Arp,
        Proto::Icmp,
        Proto::Icmp6,
    ];

    /// Wireshark's name (`TLSv1.2`, `MDNS`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Tls1 => "TLSv1",
            Proto::Tls12 => "TLSv1.2",
            Proto::Quic => "QUIC",
            Proto::Dns => "DNS",
            Proto::Mdns => "MDNS",
            Proto::Ssdp => "SSDP",
            Proto::Ntp => "NTP",
            Proto::Arp => "ARP",
            Proto::Icmp => "ICMP",
            Proto::Icmp6 => "ICMPv6",
        }
    }

    /// Position in [`Proto::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A packet's ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// Ordinary traffic.
    Normal,
    /// Vertical SYN scan: one host, many ports (and the victim's replies).
    VerticalScan,
    /// Horizontal SYN sweep: one port, many hosts (and their replies).
    HorizontalScan,
    /// ICMP echo flood (requests and replies).
    IcmpFlood,
    /// DNS queries with long random names, and their responses.
    DnsExfiltration,
}

impl Label {
    /// Every label, in [`Label::index`] order.
    pub const ALL: [Label; 5] = [
        Label::Normal,
        Label::VerticalScan,
        Label::HorizontalScan,
        Label::IcmpFlood,
        Label::DnsExfiltration,
    ];

    /// The name in the labels file.
    pub fn name(self) -> &'static str {
        match self {
            Label::Normal => "normal",
            Label::VerticalScan => "vscan",
            Label::HorizontalScan => "hscan",
            Label::IcmpFlood => "icmp_flood",
            Label::DnsExfiltration => "dns_exfil",
        }
    }

    /// Position in [`Label::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An attack to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttackKind {
    /// 192.168.1.77 SYN-scans 1000 ports of 192.168.1.5 in 2 s.
    VerticalScan,
    /// 192.168.1.66 sends SYNs to port 445 of 1016 addresses in 3 s.
    HorizontalScan,
    /// 192.168.1.99 sends 3000 1042-byte echo requests to 198.51.100.250
    /// in 1 s.
    IcmpFlood,
    /// 192.168.1.88 sends 1500 TXT queries for long random names to the
    /// resolver in 3 s.
    DnsExfiltration,
}

impl AttackKind {
    /// The names accepted by [`AttackKind::parse`]: the labels' names.
    pub const NAMES: [&'static str; 4] = ["vscan", "hscan", "icmp_flood", "dns_exfil"];

    /// By name (`vscan`, `hscan`, `icmp_flood`, `dns_exfil`).
    pub fn parse(name: &str) -> Option<AttackKind> {
        Some(match name {
            "vscan" => AttackKind::VerticalScan,
            "hscan" => AttackKind::HorizontalScan,
            "icmp_flood" => AttackKind::IcmpFlood,
            "dns_exfil" => AttackKind::DnsExfiltration,
            _ => return None,
        })
    }
}

/// When an attack starts, after the first packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// Seconds.
    Seconds(f64),
    /// A fraction (0..1) of the capture's expected duration.
    Fraction(f64),
}

/// Capture file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// libpcap, microsecond timestamps, Ethernet.
    #[default]
    Pcap,
    /// pcapng: one section, one Ethernet interface (µs), enhanced packet
    /// blocks.
    Pcapng,
}

/// The CSV export's Time column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CsvTime {
    /// Seconds since the first packet (Wireshark's default).
    #[default]
    Relative,
    /// Seconds since the Unix epoch (the pcap's timestamps).
    Epoch,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Packets to write, exactly.
    pub packets: u64,
    /// Random seed.
    pub seed: u64,
    /// Capture format.
    pub format: Format,
    /// Mean packets per second of event time.
    pub rate: f64,
    /// The first packet's time, in seconds since the Unix epoch.
    pub start: u64,
    /// Attacks and their start times.
    pub attacks: Vec<(AttackKind, At)>,
    /// The CSV export's Time column.
    pub csv_time: CsvTime,
}

/// The four attacks at 20%, 40%, 60% and 80% of the capture.
pub fn default_attacks() -> Vec<(AttackKind, At)> {
    vec![
        (AttackKind::VerticalScan, At::Fraction(0.2)),
        (AttackKind::HorizontalScan, At::Fraction(0.4)),
        (AttackKind::IcmpFlood, At::Fraction(0.6)),
        (AttackKind::DnsExfiltration, At::Fraction(0.8)),
    ]
}

impl Default for Options {
    fn default() -> Self {
        Options {
            packets: 100_000,
            seed: 1,
            format: Format::Pcap,
            rate: 20_000.0,
            start: 1_709_294_400, // 2024-03-01T12:00:00Z
            attacks: default_attacks(),
            csv_time: CsvTime::Relative,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets written.
    pub packets: u64,
    /// Frame bytes written (sum of frame lengths).
    pub frame_bytes: u64,
    /// Microseconds from the first packet to the last.
    pub duration_us: u64,
    /// Packets per [`Proto`] (indexed by [`Proto::index`]).
    pub protocols: [u64; 11],
    /// Packets per [`Label`] (indexed by [`Label::index`]).
    pub labels: [u64; 5],
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// Writing an output failed.
    #[error("write error: {0}")]
    Io(#[from] io::Error),
}

/// Concurrent conversations of normal traffic.
const POOL: usize = 64;

/// Writes `opts.packets` packets to `capture` (and the CSV export and
/// labels, when given). Buffer the writers: the capture is written in
/// pieces of one frame or less.
pub fn generate(
    opts: &Options,
    mut capture: impl Write,
    mut csv: Option<&mut dyn Write>,
    mut labels: Option<&mut dyn Write>,
) -> Result<Summary, GenerateError> {
    if !(opts.rate.is_finite() && (1.0..=1e9).contains(&opts.rate)) {
        return Err(GenerateError::Options(format!(
            "rate must be from 1 to 1e9 packets/s, not {}",
            opts.rate
        )));
    }
    let mut rng = rng::Rng::new(opts.seed);
    let mut world = world::World::new(&mut rng);
    let gap = 1e6 / opts.rate;
    let duration = (opts.packets as f64 * gap) as u64;
    // pcap timestamps are 32-bit seconds: the capture (with room for the
    // randomness of the gaps) must end before 2106.
    let end = opts.start as f64 + 2.0 * duration as f64 / 1e6 + 3600.0;
    if end >= f64::from(u32::MAX) {
        return Err(GenerateError::Options(format!(
            "start {} and {} packets at {} packets/s run past 2106, the end of 32-bit pcap time",
            opts.start, opts.packets, opts.rate
        )));
    }
    let mut planned = Vec::new();
    for &(kind, at) in &opts.attacks {
        let t = match at {
            At::Seconds(s) if s.is_finite() && s >= 0.0 => (s * 1e6) as u64,
            At::Fraction(f) if (0.0..=1.0).contains(&f) => (f * duration as f64) as u64,
            _ => return Err(GenerateError::Options(format!("bad attack time {at:?}"))),
        };
        planned.push((kind, t));
    }
    let mut attacks = attacks::Attacks::new(&mut world, opts.seed, &planned, duration);
    let world = world;
    let w = &world;
    let mix = traffic::mix();
    let mut flows: Vec<traffic::Flow> = (0..POOL)
        .map(|_| traffic::start(w, &mut rng, &mix))
        .collect();
    let base_us = opts.start.saturating_mul(1_000_000);
    let pcapng = opts.format == Format::Pcapng;
    if pcapng {
        let mut shb = Vec::with_capacity(48);
        for v in [0x0A0D_0D0Au32, 28, 0x1A2B_3C4D] {
            shb.extend_from_slice(&v.to_le_bytes());
        }
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes());
        for v in [1u32, 20] {
            shb.extend_from_slice(&v.to_le_bytes());
        }
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        for v in [262_144u32, 20] {
            shb.extend_from_slice(&v.to_le_bytes());
        }
        capture.write_all(&shb)?;
    } else {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        for v in [0u32, 0, 262_144, 1] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        capture.write_all(&h)?;
    }
    if let Some(c) = csv.as_mut() {
        c.write_all(
            b"\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n",
        )?;
    }
    if let Some(l) = labels.as_mut() {
        l.write_all(b"No.,label\n")?;
    }
    let mut head = Head::new();
    let mut summary = Summary::default();
    let (mut tn, mut last) = (0u64, None::<u64>);
    let mut n = 0u64;
    let exfil_key = attacks.key();
    while n < opts.packets {
        let (pkt, t) = match attacks.next_time() {
            Some(ta) if ta <= tn => match attacks.next(w, &mut head) {
                Some(p) => (p, ta),
                None => continue,
            },
            _ => {
                let i = rng.below(POOL);
                match flows[i].next(w, &mut rng, &mut head, base_us + tn) {
                    Some(p) => {
                        let t = tn;
                        tn = tn.saturating_add(1 + rng.exp(gap - 1.0) as u64);
                        (p, t)
                    }
                    None => {
                        flows[i] = traffic::start(w, &mut rng, &mix);
                        continue;
                    }
                }
            }
        };
        // Strictly increasing times.
        let t = match last {
            Some(l) if t <= l => l + 1,
            _ => t,
        };
        last = Some(t);
        n += 1;
        let len = head.len + pkt.payload.len();
        let abs = base_us + t;
        if pcapng {
            let pad = (4 - len % 4) % 4;
            let block = (32 + len + pad) as u32;
            let rec = &mut head.buf[HEAD_AT - 28..HEAD_AT];
            let fields = [
                6u32,
                block,
                0,
                (abs >> 32) as u32,
                abs as u32,
                len as u32,
                len as u32,
            ];
            for (k, v) in fields.iter().enumerate() {
                rec[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
            }
            capture.write_all(&head.buf[HEAD_AT - 28..HEAD_AT + head.len])?;
            capture.write_all(pkt.payload)?;
            let mut tail = [0u8; 8];
            tail[pad..pad + 4].copy_from_slice(&block.to_le_bytes());
            capture.write_all(&tail[..pad + 4])?;
        } else {
            let rec = &mut head.buf[HEAD_AT - 16..HEAD_AT];
            let fields = [
                (abs / 1_000_000) as u32,
                (abs % 1_000_000) as u32,
                len as u32,
                len as u32,
            ];
            for (k, v) in fields.iter().enumerate() {
                rec[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
            }
            capture.write_all(&head.buf[HEAD_AT - 16..HEAD_AT + head.len])?;
            capture.write_all(pkt.payload)?;
        }
        summary.frame_bytes += len as u64;
        summary.protocols[pkt.proto.index()] += 1;
        summary.labels[pkt.label.index()] += 1;
        if let Some(c) = csv.as_mut() {
            let shown = match opts.csv_time {
                CsvTime::Relative => t,
                CsvTime::Epoch => abs,
            };
            csv_row(c, w, exfil_key, n, shown, len, &pkt)?;
        }
        if let Some(l) = labels.as_mut() {
            writeln!(l, "{n},{}", pkt.label.name())?;
        }
    }
    summary.packets = n;
    summary.duration_us = last.unwrap_or(0);
    capture.flush()?;
    if let Some(c) = csv.as_mut() {
        c.flush()?;
    }
    if let Some(l) = labels.as_mut() {
        l.flush()?;
    }
    Ok(summary)
}

fn tcp_flags(flags: u8) -> &'static str {
    match flags {
        0x02 => "SYN",
        0x12 => "SYN, ACK",
        0x10 => "ACK",
        0x18 => "PSH, ACK",
        0x11 => "FIN, ACK",
        0x14 => "RST, ACK",
        0x04 => "RST",
        _ => "",
    }
}

#[allow(clippy::too_many_arguments)]
fn csv_row(
    c: &mut dyn Write,
    w: &world::World,
    key: u64,
    n: u64,
    t_us: u64,
    len: usize,
    p: &Pkt<'_>,
) -> io::Result<()> {
    let text = |host: u16| {
        let h = &w.hosts[usize::from(host)];
        match p.shown {
            Shown::V4 => h.v4_txt.as_str(),
            Shown::V6 => h.v6_txt.as_str(),
            Shown::Mac => h.mac_txt.as_str(),
        }
    };
    write!(
        c,
        "\"{n}\",\"{}.{:06}\",\"{}\",\"{}\",\"{}\",\"{len}\",\"",
        t_us / 1_000_000,
        t_us % 1_000_000,
        text(p.src),
        text(p.dst),
        p.proto.name()
    )?;
    let (sp, dp) = (p.sport, p.dport);
    match p.info {
        Info::Tcp {
            flags,
            seq,
            ack,
            win,
            len,
        } => {
            write!(c, "{sp} \u{2192} {dp} [{}] Seq={seq}", tcp_flags(flags))?;
            if flags & frame::ACK != 0 {
                write!(c, " Ack={ack}")?;
            }
            write!(c, " Win={win} Len={len}")?;
            if flags & frame::SYN != 0 {
                c.write_all(b" MSS=1460")?;
            }
        }
        Info::ClientHello => c.write_all(b"Client Hello")?,
        Info::ServerHello => {
            c.write_all(b"Server Hello, Change Cipher Spec, Encrypted Handshake Message")?
        }
        Info::Finished => c.write_all(b"Change Cipher Spec, Encrypted Handshake Message")?,
        Info::AppData => c.write_all(b"Application Data")?,
        Info::QuicInitial { dcid } => write!(c, "Initial, DCID={dcid:016x}")?,
        Info::QuicServerInitial { scid } => write!(c, "Initial, SCID={scid:016x}")?,
        Info::QuicHandshake { dcid } => write!(c, "Handshake, DCID={dcid:016x}")?,
        Info::QuicShort { dcid: Some(d) } => write!(c, "Protected Payload (KP0), DCID={d:016x}")?,
        Info::QuicShort { dcid: None } => c.write_all(b"Protected Payload (KP0)")?,
        Info::DnsQuery { id, qtype, domain } => write!(
            c,
            "Standard query 0x{id:04x} {} {}",
            world::QTYPES[usize::from(qtype)].1,
            w.domains[usize::from(domain)]
        )?,
        Info::DnsResponse {
            id,
            qtype,
            domain,
            rcode,
        } => {
            let (q, name) = (usize::from(qtype), &w.domains[usize::from(domain)]);
            let qs = world::QTYPES[q].1;
            if rcode != 0 {
                write!(
                    c,
                    "Standard query response 0x{id:04x} No such name {qs} {name}"
                )?;
            } else if q == 0 {
                let a = &w.hosts[w.domain_v4[usize::from(domain)]].v4_txt;
                write!(c, "Standard query response 0x{id:04x} {qs} {name} A {a}")?;
            } else if q == 1 {
                let a = &w.hosts[w.domain_v6[usize::from(domain)]].v6_txt;
                write!(c, "Standard query response 0x{id:04x} {qs} {name} AAAA {a}")?;
            } else {
                write!(c, "Standard query response 0x{id:04x} {qs} {name}")?;
            }
        }
        Info::Mdns { index } => {
            // Wireshark's quotes, doubled inside a CSV field.
            let info = &w.mdns[usize::from(index)].1;
            for (i, part) in info.split('"').enumerate() {
                if i > 0 {
                    c.write_all(b"\"\"")?;
                }
                c.write_all(part.as_bytes())?;
            }
        }
        Info::SsdpSearch => c.write_all(b"M-SEARCH * HTTP/1.1 ")?,
        Info::SsdpNotify => c.write_all(b"NOTIFY * HTTP/1.1 ")?,
        Info::NtpClient => c.write_all(b"NTP Version 4, client")?,
        Info::NtpServer => c.write_all(b"NTP Version 4, server")?,
        Info::ArpWho { target, sender } => write!(
            c,
            "Who has {}? Tell {}",
            w.hosts[usize::from(target)].v4_txt,
            w.hosts[usize::from(sender)].v4_txt
        )?,
        Info::ArpIsAt { host } => {
            let h = &w.hosts[usize::from(host)];
            write!(c, "{} is at {}", h.v4_txt, h.mac_txt)?
        }
        Info::Echo {
            request,
            id,
            seq,
            ttl,
        } => {
            let kind = if request { "request" } else { "reply  " };
            if p.proto == Proto::Icmp6 {
                write!(
                    c,
                    "Echo (ping) {} id=0x{id:04x}, seq={seq}, hop limit={ttl}",
                    kind.trim_end()
                )?
            } else {
                write!(
                    c,
                    "Echo (ping) {kind}  id=0x{id:04x}, seq={seq}/{}, ttl={ttl}",
                    seq.swap_bytes()
                )?
            }
        }
        Info::ExfilQuery { id, index } | Info::ExfilResponse { id, index } => {
            let mut name = [0u8; 96];
            let len = attacks::exfil_name(key, index, &mut name);
            let kind = if matches!(p.info, Info::ExfilQuery { .. }) {
                "query"
            } else {
                "query response"
            };
            write!(c, "Standard {kind} 0x{id:04x} TXT ")?;
            c.write_all(&name[..len])?;
        }
    }
    c.write_all(b"\"\n")
}
