//! Normal traffic: conversations as small state machines, each giving its
//! next packet on demand (no allocation per packet).

use crate::frame::{self, Dir, Head, ACK, FIN, PSH, RST, SYN};
use crate::rng::Rng;
use crate::world::{self, World};
use crate::{Label, Proto};

/// TCP SYN options: MSS 1460, NOP, WS 8, NOP, NOP, SACK permitted.
pub(crate) const SYN_OPTS: [u8; 12] = [2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];

/// How the CSV's Source / Destination show an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shown {
    V4,
    V6,
    Mac,
}

/// What the CSV's Info column says about a packet.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Info {
    /// A TCP segment without application data shown: relative numbers.
    Tcp {
        flags: u8,
        seq: u32,
        ack: u32,
        win: u32,
        len: u32,
    },
    ClientHello,
    ServerHello,
    Finished,
    AppData,
    QuicInitial {
        dcid: u64,
    },
    QuicServerInitial {
        scid: u64,
    },
    QuicHandshake {
        dcid: u64,
    },
    QuicShort {
        dcid: Option<u64>,
    },
    DnsQuery {
        id: u16,
        qtype: u8,
        domain: u16,
    },
    DnsResponse {
        id: u16,
        qtype: u8,
        domain: u16,
        rcode: u8,
    },
    Mdns {
        index: u16,
    },
    SsdpSearch,
    SsdpNotify,
    NtpClient,
    NtpServer,
    ArpWho {
        target: u16,
        sender: u16,
    },
    ArpIsAt {
        host: u16,
    },
    Echo {
        request: bool,
        id: u16,
        seq: u16,
        ttl: u8,
    },
    ExfilQuery {
        id: u16,
        index: u32,
    },
    ExfilResponse {
        id: u16,
        index: u32,
    },
}

/// One packet's description; its header bytes are in a [`Head`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pkt<'w> {
    /// The payload after the header bytes.
    pub(crate) payload: &'w [u8],
    pub(crate) proto: Proto,
    pub(crate) label: Label,
    pub(crate) info: Info,
    pub(crate) src: u16,
    pub(crate) dst: u16,
    pub(crate) shown: Shown,
    /// Ports, for the CSV's TCP Info.
    pub(crate) sport: u16,
    pub(crate) dport: u16,
}

impl<'w> Pkt<'w> {
    pub(crate) fn ip(d: &Dir, payload: &'w [u8], proto: Proto, info: Info) -> Pkt<'w> {
        Pkt {
            payload,
            proto,
            label: Label::Normal,
            info,
            src: d.src_host,
            dst: d.dst_host,
            shown: if d.v6 { Shown::V6 } else { Shown::V4 },
            sport: d.sport,
            dport: d.dport,
        }
    }
}

/// A TCP segment with no payload.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bare<'w>(
    d: &mut Dir,
    head: &mut Head,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    opts: &[u8],
    rel: (u32, u32),
    win_shown: u32,
) -> Pkt<'w> {
    d.tcp(head, seq, ack, flags, win, opts, 0, 0);
    let info = Info::Tcp {
        flags,
        seq: rel.0,
        ack: rel.1,
        win: win_shown,
        len: 0,
    };
    Pkt::ip(d, &[], Proto::Tcp, info)
}

/// A conversation in progress.
pub(crate) enum Flow {
    Tls(Tls),
    Quic(Quic),
    Dns(Dns),
    Mdns(Simple),
    Ssdp(Simple),
    Ntp(Ntp),
    Arp {
        a: u16,
        b: u16,
        step: u8,
        reply: bool,
    },
    Icmp(Icmp),
    Done,
}

/// Flow kinds and their weights (new conversations per kind).
const MIX: [f64; 8] = [9.0, 5.5, 35.0, 20.0, 6.0, 4.5, 14.0, 2.2];

/// Starts a new conversation (held inline: no allocation).
pub(crate) fn start(w: &World, rng: &mut Rng, mix_cum: &[f64]) -> Flow {
    match rng.pick(mix_cum) {
        0 => Flow::Tls(Tls::new(w, rng)),
        1 => Flow::Quic(Quic::new(w, rng)),
        2 => Flow::Dns(Dns::new(w, rng)),
        3 => Flow::Mdns(Simple::mdns(w, rng)),
        4 => Flow::Ssdp(Simple::ssdp(w, rng)),
        5 => Flow::Ntp(Ntp::new(w, rng)),
        6 => arp(w, rng),
        _ => Flow::Icmp(Icmp::new(w, rng)),
    }
}

/// The cumulative mix weights.
pub(crate) fn mix() -> Vec<f64> {
    crate::rng::cumulative(MIX)
}

impl Flow {
    /// The conversation's next packet, or `None` when it is over.
    #[inline]
    pub(crate) fn next<'w>(
        &mut self,
        w: &'w World,
        rng: &mut Rng,
        head: &mut Head,
        now_us: u64,
    ) -> Option<Pkt<'w>> {
        match self {
            Flow::Tls(f) => f.next(w, rng, head),
            Flow::Quic(f) => f.next(w, rng, head),
            Flow::Dns(f) => f.next(w, rng, head),
            Flow::Mdns(f) => f.next_mdns(w, rng, head),
            Flow::Ssdp(f) => f.next_ssdp(w, head),
            Flow::Ntp(f) => f.next(head, now_us),
            Flow::Arp { a, b, step, reply } => {
                let (ha, hb) = (&w.hosts[usize::from(*a)], &w.hosts[usize::from(*b)]);
                let (pa, pb) = (ha.v4.unwrap_or_default(), hb.v4.unwrap_or_default());
                match *step {
                    0 => {
                        frame::arp(head, [0xff; 6], ha.mac, 1, ha.mac, pa, [0; 6], pb);
                        *step = if *reply { 1 } else { 2 };
                        Some(Pkt {
                            payload: &[],
                            proto: Proto::Arp,
                            label: Label::Normal,
                            info: Info::ArpWho {
                                target: *b,
                                sender: *a,
                            },
                            src: *a,
                            dst: world::BROADCAST as u16,
                            shown: Shown::Mac,
                            sport: 0,
                            dport: 0,
                        })
                    }
                    1 => {
                        frame::arp(head, ha.mac, hb.mac, 2, hb.mac, pb, ha.mac, pa);
                        *step = 2;
                        Some(Pkt {
                            payload: &[],
                            proto: Proto::Arp,
                            label: Label::Normal,
                            info: Info::ArpIsAt { host: *b },
                            src: *b,
                            dst: *a,
                            shown: Shown::Mac,
                            sport: 0,
                            dport: 0,
                        })
                    }
                    _ => None,
                }
            }
            Flow::Icmp(f) => f.next(w, head),
            Flow::Done => None,
        }
    }
}

fn arp(w: &World, rng: &mut Rng) -> Flow {
    let lan = |rng: &mut Rng| {
        let n = w.clients.len() + 3;
        match rng.below(n) {
            0 => world::NAS,
            1 => world::TV,
            2 => world::PRINTER,
            i => w.clients[i - 3],
        }
    };
    let (a, b) = if rng.chance(0.3) {
        (world::GATEWAY, lan(rng))
    } else {
        let a = w.client(rng);
        (
            a,
            if rng.chance(0.7) {
                world::GATEWAY
            } else {
                lan(rng)
            },
        )
    };
    if a == b {
        return Flow::Done;
    }
    Flow::Arp {
        a: a as u16,
        b: b as u16,
        step: 0,
        reply: rng.chance(0.9),
    }
}

/// TLS 1.2 over TCP 443: handshake, request/response exchanges, close.
pub(crate) struct Tls {
    c: Dir,
    s: Dir,
    ic: u32,
    is: u32,
    cs: u32,
    ss: u32,
    hello: usize,
    step: u8,
    nx: u32,
    k: u32,
    j: u32,
}

const CW: u16 = 1026;
const SW: u16 = 501;

impl Tls {
    fn new(w: &World, rng: &mut Rng) -> Tls {
        let c = w.client(rng);
        let (s, v6) = w.server_for(rng, c);
        let sp = rng.ephemeral_port();
        Tls {
            c: w.dir(rng, c, s, v6, frame::TCP, sp, 443, None),
            s: w.dir(rng, s, c, v6, frame::TCP, 443, sp, None),
            ic: rng.u32(),
            is: rng.u32(),
            cs: 1,
            ss: 1,
            hello: rng.below(w.hellos.len()),
            step: 0,
            nx: 1 + rng.exp(2.5) as u32,
            k: 0,
            j: 0,
        }
    }

    fn c_ack<'w>(&mut self, head: &mut Head) -> Pkt<'w> {
        let (seq, ack) = (self.ic.wrapping_add(self.cs), self.is.wrapping_add(self.ss));
        bare(
            &mut self.c,
            head,
            seq,
            ack,
            ACK,
            CW,
            &[],
            (self.cs, self.ss),
            u32::from(CW) * 256,
        )
    }

    fn data<'w>(
        &mut self,
        head: &mut Head,
        client: bool,
        p: &'w world::Payload,
        flags: u8,
        proto: Proto,
        info: Info,
    ) -> Pkt<'w> {
        let len = p.bytes.len() as u32;
        let (d, seq, ack, win) = if client {
            let r = (self.ic.wrapping_add(self.cs), self.is.wrapping_add(self.ss));
            self.cs += len;
            (&mut self.c, r.0, r.1, CW)
        } else {
            let r = (self.is.wrapping_add(self.ss), self.ic.wrapping_add(self.cs));
            self.ss += len;
            (&mut self.s, r.0, r.1, SW)
        };
        d.tcp(head, seq, ack, flags, win, &[], p.bytes.len(), p.sum);
        Pkt::ip(d, &p.bytes, proto, info)
    }

    fn next<'w>(&mut self, w: &'w World, rng: &mut Rng, head: &mut Head) -> Option<Pkt<'w>> {
        loop {
            let step = self.step;
            self.step += 1;
            return Some(match step {
                0 => {
                    if rng.chance(0.02) {
                        self.step = 50; // unanswered: two retransmissions
                    }
                    bare(
                        &mut self.c,
                        head,
                        self.ic,
                        0,
                        SYN,
                        64240,
                        &SYN_OPTS,
                        (0, 0),
                        64240,
                    )
                }
                50 | 51 => {
                    if step == 51 {
                        self.step = 99;
                    }
                    bare(
                        &mut self.c,
                        head,
                        self.ic,
                        0,
                        SYN,
                        64240,
                        &SYN_OPTS,
                        (0, 0),
                        64240,
                    )
                }
                1 => bare(
                    &mut self.s,
                    head,
                    self.is,
                    self.ic.wrapping_add(1),
                    SYN | ACK,
                    65535,
                    &SYN_OPTS,
                    (0, 1),
                    65535,
                ),
                2 => self.c_ack(head),
                3 => self.data(
                    head,
                    true,
                    &w.hellos[self.hello].client,
                    PSH | ACK,
                    Proto::Tls1,
                    Info::ClientHello,
                ),
                4 => {
                    let (seq, ack) = (self.is.wrapping_add(self.ss), self.ic.wrapping_add(self.cs));
                    bare(
                        &mut self.s,
                        head,
                        seq,
                        ack,
                        ACK,
                        SW,
                        &[],
                        (self.ss, self.cs),
                        u32::from(SW) * 256,
                    )
                }
                5 => self.data(
                    head,
                    false,
                    &w.hellos[self.hello].server,
                    PSH | ACK,
                    Proto::Tls12,
                    Info::ServerHello,
                ),
                6 => self.data(
                    head,
                    true,
                    &w.hellos[self.hello].finish,
                    PSH | ACK,
                    Proto::Tls12,
                    Info::Finished,
                ),
                7 => {
                    if self.nx == 0 {
                        self.step = 20;
                        continue;
                    }
                    self.nx -= 1;
                    self.k = 1 + ((rng.pareto(1.25) * 2.2) as u32).saturating_sub(2).min(600);
                    self.j = 0;
                    let p = &w.tls_req[rng.below(w.tls_req.len())];
                    self.data(head, true, p, PSH | ACK, Proto::Tls12, Info::AppData)
                }
                8 => {
                    let last = self.j + 1 == self.k;
                    let (p, flags) = if last {
                        (&w.tls_tail[rng.below(w.tls_tail.len())], PSH | ACK)
                    } else {
                        (&w.tls_full[rng.below(w.tls_full.len())], ACK)
                    };
                    let odd = self.j & 1 == 1;
                    self.j += 1;
                    self.step = if odd || last { 9 } else { 8 };
                    self.data(head, false, p, flags, Proto::Tls12, Info::AppData)
                }
                9 => {
                    self.step = if self.j >= self.k { 7 } else { 8 };
                    self.c_ack(head)
                }
                20 => {
                    let (seq, ack) = (self.ic.wrapping_add(self.cs), self.is.wrapping_add(self.ss));
                    if rng.chance(0.1) {
                        self.step = 99;
                        bare(
                            &mut self.c,
                            head,
                            seq,
                            ack,
                            RST | ACK,
                            0,
                            &[],
                            (self.cs, self.ss),
                            0,
                        )
                    } else {
                        let p = bare(
                            &mut self.c,
                            head,
                            seq,
                            ack,
                            FIN | ACK,
                            CW,
                            &[],
                            (self.cs, self.ss),
                            u32::from(CW) * 256,
                        );
                        self.cs += 1;
                        p
                    }
                }
                21 => {
                    let (seq, ack) = (self.is.wrapping_add(self.ss), self.ic.wrapping_add(self.cs));
                    let p = bare(
                        &mut self.s,
                        head,
                        seq,
                        ack,
                        FIN | ACK,
                        SW,
                        &[],
                        (self.ss, self.cs),
                        u32::from(SW) * 256,
                    );
                    self.ss += 1;
                    p
                }
                22 => {
                    self.step = 99;
                    self.c_ack(head)
                }
                _ => return None,
            });
        }
    }
}

/// QUIC on UDP 443: Initial, server Initial, Handshake, then 1-RTT
/// (short header) exchanges.
pub(crate) struct Quic {
    c: Dir,
    s: Dir,
    dcid: [u8; 8],
    scid: [u8; 8],
    step: u8,
    nx: u32,
    k: u32,
    j: u32,
}

impl Quic {
    fn new(w: &World, rng: &mut Rng) -> Quic {
        let c = w.client(rng);
        let (s, v6) = w.server_for(rng, c);
        let sp = rng.ephemeral_port();
        Quic {
            c: w.dir(rng, c, s, v6, frame::UDP, sp, 443, None),
            s: w.dir(rng, s, c, v6, frame::UDP, 443, sp, None),
            dcid: rng.u64().to_be_bytes(),
            scid: rng.u64().to_be_bytes(),
            step: 0,
            nx: 1 + rng.exp(2.0) as u32,
            k: 0,
            j: 0,
        }
    }

    fn next<'w>(&mut self, w: &'w World, rng: &mut Rng, head: &mut Head) -> Option<Pkt<'w>> {
        let scid = u64::from_be_bytes(self.scid);
        loop {
            let step = self.step;
            self.step += 1;
            return Some(match step {
                0 => {
                    let p = &w.quic_init[rng.below(w.quic_init.len())];
                    let mut h = [0u8; 22];
                    h[..6].copy_from_slice(&[0xc3, 0, 0, 0, 1, 8]);
                    h[6..14].copy_from_slice(&self.dcid);
                    h[16..18].copy_from_slice(&(0x4000 | (p.bytes.len() as u16 + 4)).to_be_bytes());
                    self.c.udp(head, &h, p.bytes.len(), p.sum);
                    Pkt::ip(
                        &self.c,
                        &p.bytes,
                        Proto::Quic,
                        Info::QuicInitial {
                            dcid: u64::from_be_bytes(self.dcid),
                        },
                    )
                }
                1 => {
                    let p = &w.quic_server_init[rng.below(w.quic_server_init.len())];
                    let mut h = [0u8; 20];
                    h[..7].copy_from_slice(&[0xc1, 0, 0, 0, 1, 0, 8]);
                    h[7..15].copy_from_slice(&self.scid);
                    h[16..18].copy_from_slice(&(0x4000 | (p.bytes.len() as u16 + 2)).to_be_bytes());
                    self.s.udp(head, &h, p.bytes.len(), p.sum);
                    Pkt::ip(
                        &self.s,
                        &p.bytes,
                        Proto::Quic,
                        Info::QuicServerInitial { scid },
                    )
                }
                2 => {
                    let p = &w.quic_hs[rng.below(w.quic_hs.len())];
                    let mut h = [0u8; 20];
                    h[..6].copy_from_slice(&[0xe2, 0, 0, 0, 1, 8]);
                    h[6..14].copy_from_slice(&self.scid);
                    h[15..17].copy_from_slice(&(0x4000 | (p.bytes.len() as u16 + 3)).to_be_bytes());
                    h[19] = 1;
                    self.c.udp(head, &h, p.bytes.len(), p.sum);
                    Pkt::ip(
                        &self.c,
                        &p.bytes,
                        Proto::Quic,
                        Info::QuicHandshake { dcid: scid },
                    )
                }
                3 => {
                    if self.nx == 0 {
                        return None;
                    }
                    self.nx -= 1;
                    self.k = 1 + ((rng.pareto(1.3) * 2.5) as u32).saturating_sub(2).min(500);
                    self.j = 0;
                    let p = if rng.chance(0.3) {
                        &w.quic_big[rng.below(w.quic_big.len())]
                    } else {
                        &w.quic_small[rng.below(w.quic_small.len())]
                    };
                    self.client_short(head, p, scid)
                }
                4 => {
                    let p = &w.quic_big[rng.below(w.quic_big.len())];
                    let odd = self.j & 1 == 1;
                    self.j += 1;
                    self.step = if odd {
                        5
                    } else if self.j >= self.k {
                        3
                    } else {
                        4
                    };
                    self.s.udp(head, &[0x40, 0], p.bytes.len(), p.sum);
                    Pkt::ip(
                        &self.s,
                        &p.bytes,
                        Proto::Quic,
                        Info::QuicShort { dcid: None },
                    )
                }
                5 => {
                    self.step = if self.j >= self.k { 3 } else { 4 };
                    let p = &w.quic_small[rng.below(w.quic_small.len())];
                    self.client_short(head, p, scid)
                }
                _ => continue,
            });
        }
    }

    fn client_short<'w>(&mut self, head: &mut Head, p: &'w world::Payload, scid: u64) -> Pkt<'w> {
        let mut h = [0u8; 10];
        h[0] = 0x40;
        h[1..9].copy_from_slice(&self.scid);
        self.c.udp(head, &h, p.bytes.len(), p.sum);
        Pkt::ip(
            &self.c,
            &p.bytes,
            Proto::Quic,
            Info::QuicShort { dcid: Some(scid) },
        )
    }
}

/// A DNS query to the gateway and (usually) its response.
pub(crate) struct Dns {
    c: Dir,
    s: Dir,
    domain: u16,
    id: u16,
    qtype: u8,
    step: u8,
}

impl Dns {
    fn new(w: &World, rng: &mut Rng) -> Dns {
        let c = w.client(rng);
        let v6 = w.hosts[c].v6.is_some() && rng.chance(0.3);
        let sp = rng.ephemeral_port();
        let x = rng.f64();
        Dns {
            c: w.dir(rng, c, world::GATEWAY, v6, frame::UDP, sp, 53, None),
            s: w.dir(rng, world::GATEWAY, c, v6, frame::UDP, 53, sp, None),
            domain: rng.pick(&w.domain_cum) as u16,
            id: rng.u16(),
            qtype: if x < 0.55 {
                0
            } else if x < 0.85 {
                1
            } else {
                2
            },
            step: 0,
        }
    }

    fn next<'w>(&mut self, w: &'w World, rng: &mut Rng, head: &mut Head) -> Option<Pkt<'w>> {
        let (d, q) = (usize::from(self.domain), usize::from(self.qtype));
        match self.step {
            0 => {
                self.step = if rng.chance(0.02) { 2 } else { 1 };
                let p = &w.dns_question[d][q];
                let mut h = [0u8; 12];
                h[..2].copy_from_slice(&self.id.to_be_bytes());
                h[2..6].copy_from_slice(&[1, 0, 0, 1]);
                self.c.udp(head, &h, p.bytes.len(), p.sum);
                let info = Info::DnsQuery {
                    id: self.id,
                    qtype: self.qtype,
                    domain: self.domain,
                };
                Some(Pkt::ip(&self.c, &p.bytes, Proto::Dns, info))
            }
            1 => {
                self.step = 2;
                let rcode = if rng.chance(0.03) { 3 } else { 0 };
                let answered = rcode == 0 && q < 2;
                let p = if answered {
                    &w.dns_answer[d][q]
                } else {
                    &w.dns_question[d][q]
                };
                let mut h = [0u8; 12];
                h[..2].copy_from_slice(&self.id.to_be_bytes());
                h[2..4].copy_from_slice(&(0x8180u16 | rcode as u16).to_be_bytes());
                h[5] = 1;
                h[7] = u8::from(answered);
                self.s.udp(head, &h, p.bytes.len(), p.sum);
                let info = Info::DnsResponse {
                    id: self.id,
                    qtype: self.qtype,
                    domain: self.domain,
                    rcode,
                };
                Some(Pkt::ip(&self.s, &p.bytes, Proto::Dns, info))
            }
            _ => None,
        }
    }
}

/// mDNS and SSDP: a few datagrams from one host to a multicast group.
pub(crate) struct Simple {
    d: Dir,
    left: u8,
    /// SSDP: the notifying device's index in `ssdp_notify`, or the
    /// M-SEARCH payload index (+ 100).
    which: usize,
}

impl Simple {
    fn mdns(w: &World, rng: &mut Rng) -> Simple {
        let h = if rng.chance(0.5) {
            w.devices[rng.below(w.devices.len())]
        } else {
            w.client(rng)
        };
        let v6 = w.hosts[h].v6.is_some() && rng.chance(0.5);
        let grp = if v6 { world::MDNS6 } else { world::MDNS4 };
        Simple {
            d: w.dir(rng, h, grp, v6, frame::UDP, 5353, 5353, Some(255)),
            left: 1 + u8::from(rng.chance(0.3)),
            which: 0,
        }
    }

    fn ssdp(w: &World, rng: &mut Rng) -> Simple {
        if rng.chance(0.35) {
            let i = rng.below(w.ssdp_notify.len());
            let dev = w.ssdp_notify[i].0;
            return Simple {
                d: w.dir(
                    rng,
                    dev,
                    world::SSDP,
                    false,
                    frame::UDP,
                    1900,
                    1900,
                    Some(4),
                ),
                left: 3,
                which: i,
            };
        }
        let c = w.client(rng);
        let sp = rng.ephemeral_port();
        Simple {
            d: w.dir(rng, c, world::SSDP, false, frame::UDP, sp, 1900, Some(4)),
            left: 1 + rng.below(3) as u8,
            which: 100 + rng.below(w.ssdp_search.len()),
        }
    }

    fn next_mdns<'w>(&mut self, w: &'w World, rng: &mut Rng, head: &mut Head) -> Option<Pkt<'w>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let i = rng.below(w.mdns.len());
        let p = &w.mdns[i].0;
        self.d.udp(head, &[], p.bytes.len(), p.sum);
        Some(Pkt::ip(
            &self.d,
            &p.bytes,
            Proto::Mdns,
            Info::Mdns { index: i as u16 },
        ))
    }

    fn next_ssdp<'w>(&mut self, w: &'w World, head: &mut Head) -> Option<Pkt<'w>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (p, info) = if self.which >= 100 {
            (&w.ssdp_search[self.which - 100], Info::SsdpSearch)
        } else {
            (
                &w.ssdp_notify[self.which].1[2 - usize::from(self.left)],
                Info::SsdpNotify,
            )
        };
        self.d.udp(head, &[], p.bytes.len(), p.sum);
        Some(Pkt::ip(&self.d, &p.bytes, Proto::Ssdp, info))
    }
}

/// An NTP client request and the server's reply.
pub(crate) struct Ntp {
    c: Dir,
    s: Dir,
    step: u8,
    sent: [u8; 8],
}

/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_EPOCH: u64 = 2_208_988_800;

fn ntp_ts(us: u64) -> [u8; 8] {
    let secs = (us / 1_000_000 + NTP_EPOCH) as u32;
    let frac = (((us % 1_000_000) << 32) / 1_000_000) as u32;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..].copy_from_slice(&frac.to_be_bytes());
    b
}

impl Ntp {
    fn new(w: &World, rng: &mut Rng) -> Ntp {
        let c = w.client(rng);
        let s = w.ntp[rng.below(w.ntp.len())];
        Ntp {
            c: w.dir(rng, c, s, false, frame::UDP, 123, 123, None),
            s: w.dir(rng, s, c, false, frame::UDP, 123, 123, None),
            step: 0,
            sent: [0; 8],
        }
    }

    fn next<'w>(&mut self, head: &mut Head, now_us: u64) -> Option<Pkt<'w>> {
        let mut m = [0u8; 48];
        match self.step {
            0 => {
                self.sent = ntp_ts(now_us);
                m[0] = 0x23;
                m[40..].copy_from_slice(&self.sent);
                self.step = 1;
                self.c.udp(head, &m, 0, 0);
                Some(Pkt::ip(&self.c, &[], Proto::Ntp, Info::NtpClient))
            }
            1 => {
                let now = ntp_ts(now_us);
                m[..4].copy_from_slice(&[0x24, 2, 3, 0xe9]);
                m[4..8].copy_from_slice(&0x0d2au32.to_be_bytes());
                m[8..12].copy_from_slice(&0x21u32.to_be_bytes());
                m[12..16].copy_from_slice(&[198, 51, 100, 1]);
                m[16..24].copy_from_slice(&now);
                m[24..32].copy_from_slice(&self.sent);
                m[32..40].copy_from_slice(&now);
                m[40..48].copy_from_slice(&now);
                self.step = 2;
                self.s.udp(head, &m, 0, 0);
                Some(Pkt::ip(&self.s, &[], Proto::Ntp, Info::NtpServer))
            }
            _ => None,
        }
    }
}

/// Echo requests and replies (ICMP or ICMPv6) to a server.
pub(crate) struct Icmp {
    c: Dir,
    s: Dir,
    id: u16,
    seq: u16,
    last: u16,
    reply_next: bool,
    windows: bool,
}

impl Icmp {
    fn new(w: &World, rng: &mut Rng) -> Icmp {
        let c = w.client(rng);
        let (s, v6) = w.server_for(rng, c);
        let proto = if v6 { frame::ICMP6 } else { frame::ICMP };
        Icmp {
            c: w.dir(rng, c, s, v6, proto, 0, 0, None),
            s: w.dir(rng, s, c, v6, proto, 0, 0, None),
            id: rng.u16(),
            seq: 1,
            last: 1 + rng.exp(1.0 / 0.3) as u16,
            reply_next: false,
            windows: w.hosts[c].windows,
        }
    }

    fn next<'w>(&mut self, w: &'w World, head: &mut Head) -> Option<Pkt<'w>> {
        if self.seq > self.last {
            return None;
        }
        let p = if self.windows {
            &w.ping_windows
        } else {
            &w.ping_linux
        };
        let v6 = self.c.v6;
        let proto = if v6 { Proto::Icmp6 } else { Proto::Icmp };
        let request = !self.reply_next;
        let (d, kind) = match (request, v6) {
            (true, false) => (&mut self.c, 8),
            (false, false) => (&mut self.s, 0),
            (true, true) => (&mut self.c, 128),
            (false, true) => (&mut self.s, 129),
        };
        d.echo(head, kind, self.id, self.seq, p.bytes.len(), p.sum);
        let info = Info::Echo {
            request,
            id: self.id,
            seq: self.seq,
            ttl: d.ttl,
        };
        let pkt = Pkt::ip(d, &p.bytes, proto, info);
        if !request {
            self.seq += 1;
        }
        self.reply_next = !self.reply_next;
        Some(pkt)
    }
}
