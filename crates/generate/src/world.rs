//! The hosts and the payloads they exchange: built once per run from the
//! seed, read-only while packets are written.

use crate::frame::{sum16, Dir, ETH_IP4, ETH_IP6};
use crate::rng::{cumulative, Rng};
use std::fmt::Write as _;

/// A host (or a multicast group, or the broadcast address).
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub(crate) mac: [u8; 6],
    pub(crate) v4: Option<[u8; 4]>,
    pub(crate) v6: Option<[u8; 16]>,
    /// On the LAN (else behind the gateway's MAC).
    pub(crate) lan: bool,
    pub(crate) ttl: u8,
    /// Windows-style ping data.
    pub(crate) windows: bool,
    pub(crate) v4_txt: String,
    pub(crate) v6_txt: String,
    pub(crate) mac_txt: String,
}

fn mac_text(mac: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Host {
    fn new(mac: [u8; 6], v4: Option<[u8; 4]>, v6: Option<[u8; 16]>, lan: bool, ttl: u8) -> Host {
        Host {
            mac,
            v4,
            v6,
            lan,
            ttl,
            windows: ttl == 128,
            v4_txt: v4
                .map(|a| std::net::Ipv4Addr::from(a).to_string())
                .unwrap_or_default(),
            v6_txt: v6
                .map(|a| std::net::Ipv6Addr::from(a).to_string())
                .unwrap_or_default(),
            mac_txt: mac_text(&mac),
        }
    }
}

/// A payload with its checksum partial sum.
#[derive(Clone, Debug)]
pub(crate) struct Payload {
    pub(crate) bytes: Vec<u8>,
    pub(crate) sum: u64,
}

impl Payload {
    fn new(bytes: Vec<u8>) -> Payload {
        let sum = sum16(&bytes);
        Payload { bytes, sum }
    }
}

/// A TLS 1.2 handshake: ClientHello, ServerHello + CCS + Finished, the
/// client's CCS + Finished.
#[derive(Clone, Debug)]
pub(crate) struct Hello {
    pub(crate) client: Payload,
    pub(crate) server: Payload,
    pub(crate) finish: Payload,
}

/// Host indices of the fixed roles.
pub(crate) const GATEWAY: usize = 0;
pub(crate) const BROADCAST: usize = 1;
pub(crate) const MDNS4: usize = 2;
pub(crate) const MDNS6: usize = 3;
pub(crate) const SSDP: usize = 4;
pub(crate) const NAS: usize = 5;
pub(crate) const TV: usize = 6;
pub(crate) const PRINTER: usize = 7;
pub(crate) const FLOOD_DST: usize = 8;
pub(crate) const FIRST_CLIENT: usize = 9;
pub(crate) const CLIENTS: usize = 200;

pub(crate) const DOMAIN_BASES: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "contoso.com",
    "fabrikam.net",
    "northwind.io",
    "adatum.org",
    "litware.dev",
    "tailspin.tv",
    "woodgrove.bank",
    "proseware.cloud",
    "wingtip.app",
    "fourthcoffee.co",
    "lucernepub.news",
];
pub(crate) const DOMAIN_SUBS: &[&str] = &[
    "www",
    "api",
    "cdn",
    "static",
    "img",
    "login",
    "mail",
    "update",
    "telemetry",
    "assets",
    "video",
    "push",
    "ws",
    "m",
];
const MDNS_SERVICES: &[&str] = &[
    "_googlecast._tcp.local",
    "_airplay._tcp.local",
    "_spotify-connect._tcp.local",
    "_raop._tcp.local",
    "_companion-link._tcp.local",
    "_hap._tcp.local",
    "_ipp._tcp.local",
    "_printer._tcp.local",
];
const MDNS_INSTANCES: &[&str] = &[
    "Living-Room-TV",
    "Kitchen-Speaker",
    "Office-Printer",
    "Bedroom-Display",
    "Apple-TV",
    "NAS",
];
const SSDP_ST: &[&str] = &[
    "urn:dial-multiscreen-org:service:dial:1",
    "ssdp:all",
    "upnp:rootdevice",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:MediaRenderer:1",
];
const SERVER_TTLS: &[u8] = &[52, 53, 54, 55, 56, 57, 58, 113, 116, 117, 118, 119, 120];
const CIPHERS: &[u8] = &[
    0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x13, 0xc0, 0x14,
    0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35,
];

/// DNS query types used.
pub(crate) const QTYPES: [(u16, &str); 3] = [(1, "A"), (28, "AAAA"), (65, "HTTPS")];

/// Everything fixed for a run.
pub(crate) struct World {
    pub(crate) hosts: Vec<Host>,
    /// Clients: host indices, and their Zipf popularity.
    pub(crate) clients: Vec<usize>,
    pub(crate) client_cum: Vec<f64>,
    /// Devices that announce themselves (mDNS, SSDP).
    pub(crate) devices: Vec<usize>,
    pub(crate) srv4: Vec<usize>,
    pub(crate) srv4_cum: Vec<f64>,
    pub(crate) srv6: Vec<usize>,
    pub(crate) srv6_cum: Vec<f64>,
    pub(crate) ntp: Vec<usize>,
    pub(crate) domains: Vec<String>,
    pub(crate) domain_cum: Vec<f64>,
    /// Per domain: the IPv4 and IPv6 server it resolves to.
    pub(crate) domain_v4: Vec<usize>,
    pub(crate) domain_v6: Vec<usize>,
    /// Per domain and query type: the question section.
    pub(crate) dns_question: Vec<[Payload; 3]>,
    /// Per domain: question + answer for A and AAAA.
    pub(crate) dns_answer: Vec<[Payload; 2]>,
    pub(crate) tls_full: Vec<Payload>,
    pub(crate) tls_tail: Vec<Payload>,
    pub(crate) tls_req: Vec<Payload>,
    pub(crate) hellos: Vec<Hello>,
    pub(crate) quic_big: Vec<Payload>,
    pub(crate) quic_small: Vec<Payload>,
    pub(crate) quic_init: Vec<Payload>,
    pub(crate) quic_server_init: Vec<Payload>,
    pub(crate) quic_hs: Vec<Payload>,
    /// mDNS messages and their Info text.
    pub(crate) mdns: Vec<(Payload, String)>,
    pub(crate) ssdp_search: Vec<Payload>,
    /// Per announcing device: its three NOTIFYs.
    pub(crate) ssdp_notify: Vec<(usize, [Payload; 3])>,
    pub(crate) ping_linux: Payload,
    pub(crate) ping_windows: Payload,
    pub(crate) ping_flood: Payload,
}

pub(crate) fn qname(name: &str, out: &mut Vec<u8>) {
    for part in name.split('.') {
        out.push(part.len() as u8);
        out.extend_from_slice(part.as_bytes());
    }
    out.push(0);
}

fn random_mac(rng: &mut Rng) -> [u8; 6] {
    let mut m = [0x0e, 0, 0, 0, 0, 0];
    rng.fill(&mut m[1..]);
    m
}

fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    rng.fill(&mut v);
    v
}

fn zipf(n: usize, s: f64) -> Vec<f64> {
    cumulative((0..n).map(|i| 1.0 / ((i + 1) as f64).powf(s)))
}

impl World {
    pub(crate) fn new(rng: &mut Rng) -> World {
        let mut hosts = Vec::new();
        let v6 = |tail: [u16; 4], prefix: [u16; 4]| -> [u8; 16] {
            let mut a = [0u8; 16];
            for (i, w) in prefix.iter().chain(tail.iter()).enumerate() {
                a[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
            }
            a
        };
        let lan6 = [0x2001, 0xdb8, 1, 0];
        hosts.push(Host::new(
            [0x0e, 0, 0, 0, 0, 1],
            Some([192, 168, 1, 1]),
            Some(v6([0, 0, 0, 1], lan6)),
            true,
            64,
        ));
        let mut bcast = Host::new([0xff; 6], None, None, true, 64);
        bcast.mac_txt = "Broadcast".into();
        hosts.push(bcast);
        hosts.push(Host::new(
            [1, 0, 0x5e, 0, 0, 0xfb],
            Some([224, 0, 0, 251]),
            None,
            true,
            255,
        ));
        hosts.push(Host::new(
            [0x33, 0x33, 0, 0, 0, 0xfb],
            None,
            Some(v6([0, 0, 0, 0xfb], [0xff02, 0, 0, 0])),
            true,
            255,
        ));
        hosts.push(Host::new(
            [1, 0, 0x5e, 0x7f, 0xff, 0xfa],
            Some([239, 255, 255, 250]),
            None,
            true,
            4,
        ));
        let m = random_mac(rng);
        hosts.push(Host::new(
            m,
            Some([192, 168, 1, 5]),
            Some(v6([0, 0, 0, 5], lan6)),
            true,
            64,
        ));
        let m = random_mac(rng);
        hosts.push(Host::new(
            m,
            Some([192, 168, 1, 10]),
            Some(v6([0, 0, 0, 0x10], lan6)),
            true,
            64,
        ));
        let m = random_mac(rng);
        hosts.push(Host::new(m, Some([192, 168, 1, 6]), None, true, 64));
        hosts.push(Host::new(
            [0; 6],
            Some([198, 51, 100, 250]),
            None,
            false,
            57,
        ));
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let six = (i % 10 < 3).then(|| v6([rng.u16(), rng.u16(), rng.u16(), rng.u16()], lan6));
            let ttl = if rng.chance(0.55) { 128 } else { 64 };
            let mac = random_mac(rng);
            clients.push(hosts.len());
            hosts.push(Host::new(
                mac,
                Some([192, 168, 1, 20 + i as u8]),
                six,
                true,
                ttl,
            ));
        }
        let mut pool4: Vec<[u8; 4]> = (1..250)
            .map(|i| [198, 51, 100, i])
            .chain((1..255).map(|i| [203, 0, 113, i]))
            .chain((1..255).map(|i| [192, 0, 2, i]))
            .filter(|a| {
                *a != [198, 51, 100, 250]
                    && !(a[..3] == [203, 0, 113] && (123..=125).contains(&a[3]))
            })
            .collect();
        let mut srv4 = Vec::new();
        for _ in 0..160 {
            let a = pool4.swap_remove(rng.below(pool4.len()));
            let ttl = SERVER_TTLS[rng.below(SERVER_TTLS.len())];
            srv4.push(hosts.len());
            hosts.push(Host::new([0; 6], Some(a), None, false, ttl));
        }
        let mut srv6 = Vec::new();
        for _ in 0..40 {
            let a = v6(
                [0, 0, 0, (rng.u16() & 0xfff) + 1],
                [0x2001, 0xdb8, 0xff, rng.u16()],
            );
            let ttl = SERVER_TTLS[rng.below(SERVER_TTLS.len())];
            srv6.push(hosts.len());
            hosts.push(Host::new([0; 6], None, Some(a), false, ttl));
        }
        let mut ntp = Vec::new();
        for i in [123u8, 124, 125] {
            ntp.push(hosts.len());
            hosts.push(Host::new([0; 6], Some([203, 0, 113, i]), None, false, 54));
        }
        let mut domains: Vec<String> = DOMAIN_BASES
            .iter()
            .flat_map(|b| DOMAIN_SUBS.iter().map(move |s| format!("{s}.{b}")))
            .collect();
        for i in (1..domains.len()).rev() {
            domains.swap(i, rng.below(i + 1));
        }
        let client_cum = zipf(clients.len(), 0.8);
        let srv4_cum = zipf(srv4.len(), 1.1);
        let srv6_cum = zipf(srv6.len(), 1.1);
        let domain_cum = zipf(domains.len(), 0.9);
        let domain_v4: Vec<usize> = domains.iter().map(|_| srv4[rng.pick(&srv4_cum)]).collect();
        let domain_v6: Vec<usize> = domains.iter().map(|_| srv6[rng.pick(&srv6_cum)]).collect();
        let mut dns_question = Vec::new();
        let mut dns_answer = Vec::new();
        for (d, name) in domains.iter().enumerate() {
            let q = |qtype: u16| {
                let mut v = Vec::new();
                qname(name, &mut v);
                v.extend_from_slice(&qtype.to_be_bytes());
                v.extend_from_slice(&1u16.to_be_bytes());
                v
            };
            dns_question.push(QTYPES.map(|(t, _)| Payload::new(q(t))));
            let mut a = q(1);
            a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
            a.extend_from_slice(&hosts[domain_v4[d]].v4.unwrap_or_default());
            let mut aaaa = q(28);
            aaaa.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 1, 0x2c, 0, 16]);
            aaaa.extend_from_slice(&hosts[domain_v6[d]].v6.unwrap_or_default());
            dns_answer.push([Payload::new(a), Payload::new(aaaa)]);
        }
        let record = |rng: &mut Rng, n: usize| {
            let mut p = vec![0x17, 3, 3];
            p.extend_from_slice(&((n - 5) as u16).to_be_bytes());
            p.extend(bytes(rng, n - 5));
            Payload::new(p)
        };
        let tls_full = (0..24).map(|_| record(rng, 1448)).collect();
        let tls_tail = (41..1448)
            .step_by(23)
            .flat_map(|n| [n, n])
            .map(|n| record(rng, n))
            .collect();
        let tls_req = [
            39, 46, 53, 85, 92, 118, 150, 230, 301, 410, 512, 640, 777, 905,
        ]
        .iter()
        .flat_map(|&n| [n, n, n])
        .map(|n| record(rng, n))
        .collect();
        let hellos = (0..32)
            .map(|i| hello(rng, &domains[i % domains.len()]))
            .collect();
        let quic_big = (1180..1352)
            .step_by(8)
            .flat_map(|n| [n, n])
            .map(|n| Payload::new(bytes(rng, n)))
            .collect();
        let quic_small = (22..64)
            .step_by(4)
            .flat_map(|n| [n, n])
            .map(|n| Payload::new(bytes(rng, n)))
            .collect();
        let quic_init = (0..8)
            .map(|_| Payload::new(bytes(rng, 1200 - 22)))
            .collect();
        let quic_server_init = (0..8)
            .map(|_| Payload::new(bytes(rng, 1200 - 20)))
            .collect();
        let quic_hs = [52, 60, 66, 74]
            .iter()
            .map(|&n| Payload::new(bytes(rng, n)))
            .collect();
        let mut mdns = Vec::new();
        for svc in MDNS_SERVICES {
            let mut qn = Vec::new();
            qname(svc, &mut qn);
            for qu in [false, true] {
                let mut p = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
                p.extend_from_slice(&qn);
                p.extend_from_slice(&[0, 12]);
                p.extend_from_slice(&(if qu { 0x8001u16 } else { 1 }).to_be_bytes());
                let info = format!(
                    "Standard query 0x0000 PTR {svc}, \"{}\" question",
                    if qu { "QU" } else { "QM" }
                );
                mdns.push((Payload::new(p), info));
            }
            let inst = MDNS_INSTANCES[rng.below(MDNS_INSTANCES.len())];
            let mut rd = vec![inst.len() as u8];
            rd.extend_from_slice(inst.as_bytes());
            rd.extend_from_slice(&[0xc0, 0x0c]);
            let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
            p.extend_from_slice(&qn);
            p.extend_from_slice(&[0, 12, 0, 1, 0, 0, 0x11, 0x94]);
            p.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            p.extend_from_slice(&rd);
            mdns.push((
                Payload::new(p),
                format!("Standard query response 0x0000 PTR {inst}.{svc}"),
            ));
        }
        let ssdp_search = SSDP_ST
            .iter()
            .map(|st| {
                Payload::new(
                    format!(
                        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\nUSER-AGENT: Chromium/120.0.6099.109 Windows\r\n\r\n"
                    )
                    .into_bytes(),
                )
            })
            .collect();
        let devices: Vec<usize> = [NAS, TV, PRINTER]
            .into_iter()
            .chain(clients[..12].iter().copied())
            .collect();
        let ssdp_notify = devices[..3]
            .iter()
            .map(|&dev| {
                let uuid = format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    rng.u32(),
                    rng.u16(),
                    rng.u16(),
                    rng.u16(),
                    rng.u64() >> 16
                );
                let ip = hosts[dev].v4_txt.clone();
                let nts = ["upnp:rootdevice".to_string(), format!("uuid:{uuid}"), "urn:schemas-upnp-org:device:MediaServer:1".to_string()];
                let p = nts.map(|nt| {
                    Payload::new(format!(
                        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://{ip}:49152/description.xml\r\nNT: {nt}\r\nNTS: ssdp:alive\r\nSERVER: Linux/5.10 UPnP/1.0 MiniDLNA/1.3.0\r\nUSN: uuid:{uuid}::{nt}\r\n\r\n"
                    ).into_bytes())
                });
                (dev, p)
            })
            .collect();
        World {
            hosts,
            clients,
            client_cum,
            devices,
            srv4,
            srv4_cum,
            srv6,
            srv6_cum,
            ntp,
            domains,
            domain_cum,
            domain_v4,
            domain_v6,
            dns_question,
            dns_answer,
            tls_full,
            tls_tail,
            tls_req,
            hellos,
            quic_big,
            quic_small,
            quic_init,
            quic_server_init,
            quic_hs,
            mdns,
            ssdp_search,
            ssdp_notify,
            ping_linux: Payload::new((0x10..0x38).collect()),
            ping_windows: Payload::new(b"abcdefghijklmnopqrstuvwabcdefghi".to_vec()),
            ping_flood: Payload::new((0..1000).map(|i| i as u8).collect()),
        }
    }

    /// Adds a host (attack targets) and returns its index.
    pub(crate) fn add_host(&mut self, mac: [u8; 6], v4: [u8; 4], lan: bool) -> usize {
        self.hosts.push(Host::new(mac, Some(v4), None, lan, 64));
        self.hosts.len() - 1
    }

    /// Index of the LAN host with this IPv4 address, if any.
    pub(crate) fn lan_host(&self, v4: [u8; 4]) -> Option<usize> {
        self.hosts
            .iter()
            .position(|h| h.lan && h.v4 == Some(v4) && h.mac[0] & 1 == 0)
    }

    /// A client, by popularity.
    pub(crate) fn client(&self, rng: &mut Rng) -> usize {
        self.clients[rng.pick(&self.client_cum)]
    }

    /// A server for a client; true if over IPv6.
    pub(crate) fn server_for(&self, rng: &mut Rng, client: usize) -> (usize, bool) {
        if self.hosts[client].v6.is_some() && rng.chance(0.5) {
            (self.srv6[rng.pick(&self.srv6_cum)], true)
        } else {
            (self.srv4[rng.pick(&self.srv4_cum)], false)
        }
    }

    /// The constant headers of packets from `a` to `b`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dir(
        &self,
        rng: &mut Rng,
        a: usize,
        b: usize,
        v6: bool,
        proto: u8,
        sport: u16,
        dport: u16,
        ttl: Option<u8>,
    ) -> Dir {
        let (ha, hb) = (&self.hosts[a], &self.hosts[b]);
        let gw = self.hosts[GATEWAY].mac;
        let smac = if ha.lan { ha.mac } else { gw };
        let dmac = if hb.lan { hb.mac } else { gw };
        let mut d = Dir {
            v6,
            ttl: ttl.unwrap_or(ha.ttl),
            df: true,
            proto,
            sport,
            dport,
            ipid: rng.u16(),
            flow: rng.u32() & 0xf_ffff,
            src_host: a as u16,
            dst_host: b as u16,
            ..Dir::default()
        };
        d.eth[..6].copy_from_slice(&dmac);
        d.eth[6..12].copy_from_slice(&smac);
        if v6 {
            d.eth[12..14].copy_from_slice(&ETH_IP6);
            d.src = ha.v6.unwrap_or_default();
            d.dst = hb.v6.unwrap_or_default();
        } else {
            d.eth[12..14].copy_from_slice(&ETH_IP4);
            d.src[..4].copy_from_slice(&ha.v4.unwrap_or_default());
            d.dst[..4].copy_from_slice(&hb.v4.unwrap_or_default());
        }
        d
    }
}

fn hello(rng: &mut Rng, sni: &str) -> Hello {
    let sid = bytes(rng, 32);
    let sn = sni.as_bytes();
    let mut ext = Vec::new();
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&((sn.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((sn.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
    ext.extend_from_slice(sn);
    ext.extend_from_slice(&[
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, // supported_groups
        0x00, 0x23, 0x00, 0x00, // session_ticket
        0x00, 0x0d, 0x00, 0x10, 0x00, 0x0e, 0x04, 0x03, 0x05, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05,
        0x01, 0x08, 0x05, 0x08, 0x06, // signature_algorithms
        0xff, 0x01, 0x00, 0x01, 0x00, // renegotiation_info
    ]);
    let fixed = 4 + 2 + 32 + 1 + 32 + 2 + CIPHERS.len() + 2 + 2 + ext.len() + 4;
    if fixed < 512 {
        let pad = 512 - fixed;
        ext.extend_from_slice(&[0x00, 0x15]);
        ext.extend_from_slice(&(pad as u16).to_be_bytes());
        ext.extend(std::iter::repeat_n(0u8, pad));
    }
    let mut body = vec![3, 3];
    body.extend(bytes(rng, 32));
    body.push(32);
    body.extend_from_slice(&sid);
    body.extend_from_slice(&(CIPHERS.len() as u16).to_be_bytes());
    body.extend_from_slice(CIPHERS);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let handshake = |kind: u8, body: &[u8]| {
        let mut h = vec![kind];
        h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        h.extend_from_slice(body);
        h
    };
    let record = |kind: u8, version: u8, body: &[u8]| {
        let mut r = vec![kind, 3, version];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    };
    let client = record(22, 1, &handshake(1, &body));
    let mut sbody = vec![3, 3];
    sbody.extend(bytes(rng, 32));
    sbody.push(32);
    sbody.extend_from_slice(&sid);
    sbody.extend_from_slice(&[0xc0, 0x2f, 0x00, 0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]);
    let mut server = record(22, 3, &handshake(2, &sbody));
    server.extend(record(20, 3, &[1]));
    server.extend(record(22, 3, &bytes(rng, 40)));
    let mut finish = record(20, 3, &[1]);
    finish.extend(record(22, 3, &bytes(rng, 40)));
    Hello {
        client: Payload::new(client),
        server: Payload::new(server),
        finish: Payload::new(finish),
    }
}
