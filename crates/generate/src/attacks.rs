//! Injected attacks: a schedule of packets, each built when its time comes.

use crate::frame::{self, Dir, Head, ACK, RST, SYN};
use crate::rng::Rng;
use crate::traffic::{bare, Info, Pkt};
use crate::world::{self, World};
use crate::{AttackKind, Label, Proto};

/// Ports a vertical scan finds open on its victim.
const OPEN: &[u16] = &[22, 80, 139, 443, 445, 5000, 8080];
/// nmap's first ports.
const WELL_KNOWN: &[u16] = &[
    1, 7, 9, 13, 21, 22, 23, 25, 26, 37, 53, 79, 80, 81, 88, 106, 110, 111, 113, 119, 135, 139,
    143, 144, 179, 199, 389, 427, 443, 444, 445, 465, 513, 514, 515, 543, 544, 548, 554, 587, 631,
    646, 873, 990, 993, 995, 1025, 1026, 1027, 1028, 1029, 1110, 1433, 1720, 1723, 1755, 1900,
    2000, 2001, 2049, 2121, 2717, 3000, 3128, 3306, 3389, 3986, 4899, 5000, 5009, 5051, 5060, 5101,
    5190, 5357, 5432, 5631, 5666, 5800, 5900, 6000, 6001, 6646, 7070, 8000, 8008, 8009, 8080, 8081,
    8443, 8888, 9100, 9999, 10000, 32768, 49152, 49153, 49154, 49155, 49156, 49157,
];
/// The vertical scanner (192.168.1.77), the sweeper (192.168.1.66), the
/// flooder (192.168.1.99), the exfiltrating host (192.168.1.88): client
/// indices.
const VSCANNER: usize = 57;
const HSCANNER: usize = 46;
const FLOODER: usize = 79;
const EXFIL: usize = 68;
/// The sweep's port.
const SWEEP_PORT: u16 = 445;
const SCAN_OPTS: [u8; 4] = [2, 4, 5, 0xb4];

#[derive(Clone, Copy, Debug)]
enum Ev {
    VSyn(u16),
    VSynAck(u16),
    VRst(u16),
    VRstAck(u16),
    HSyn(u16),
    HSynAck(u16),
    HRst(u16),
    HRstAck(u16),
    FloodReq(u16),
    FloodRep(u16),
    ExfilQuery(u32),
    ExfilResponse(u32),
}

#[derive(Clone, Copy, Debug)]
struct Event {
    t: u64,
    ev: Ev,
}

/// The attack schedule of a run.
pub(crate) struct Attacks {
    events: Vec<Event>,
    next: usize,
    rng: Rng,
    key: u64,
    /// Hosts swept by the horizontal scan.
    targets: Vec<u16>,
    v_fwd: Dir,
    v_back: Dir,
    h_sport: u16,
    f_fwd: Dir,
    f_back: Dir,
    f_id: u16,
    x_fwd: Dir,
    x_back: Dir,
}

/// A 64-bit mix of a key and two numbers (SplitMix64's finalizer).
fn mix(key: u64, a: u64, b: u64) -> u64 {
    let mut z = key ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The exfiltration query name for burst index `i`, as text.
pub(crate) fn exfil_name(key: u64, i: u32, out: &mut [u8; 96]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut at = 0;
    for (part, words) in [(0u64, 4u64), (8, 2)] {
        for w in 0..words {
            let v = mix(key, u64::from(i), part + w);
            for k in 0..8 {
                out[at] = HEX[((v >> (4 * k)) & 15) as usize];
                at += 1;
            }
        }
        out[at] = b'.';
        at += 1;
    }
    let suffix = b"t.tunnel.example.net";
    out[at..at + suffix.len()].copy_from_slice(suffix);
    at + suffix.len()
}

/// Full-size attacks (captures of a minute and more); shorter captures
/// get proportionally fewer packets over a shorter span.
fn scaled(full: usize, scale: f64) -> usize {
    ((full as f64 * scale) as usize).max(10)
}

impl Attacks {
    /// Plans `attacks` (kind, start in µs after the first packet) for a
    /// capture of about `duration_us`.
    pub(crate) fn new(
        w: &mut World,
        seed: u64,
        attacks: &[(AttackKind, u64)],
        duration_us: u64,
    ) -> Attacks {
        let mut rng = Rng::new(seed ^ 0xa77a_c4ed);
        let key = rng.u64();
        let scale = (duration_us as f64 / 60e6).min(1.0);
        let client = |i: usize| w.clients[i];
        let (vs, hs, fl, ex) = (
            client(VSCANNER),
            client(HSCANNER),
            client(FLOODER),
            client(EXFIL),
        );
        let v_sport = rng.range(40000, 65000) as u16;
        let h_sport = rng.range(40000, 65000) as u16;
        let mut v_fwd = w.dir(
            &mut rng,
            vs,
            world::NAS,
            false,
            frame::TCP,
            v_sport,
            0,
            Some(rng_ttl(key)),
        );
        v_fwd.df = false;
        let v_back = w.dir(
            &mut rng,
            world::NAS,
            vs,
            false,
            frame::TCP,
            0,
            v_sport,
            None,
        );
        let f_fwd = w.dir(
            &mut rng,
            fl,
            world::FLOOD_DST,
            false,
            frame::ICMP,
            0,
            0,
            None,
        );
        let f_back = w.dir(
            &mut rng,
            world::FLOOD_DST,
            fl,
            false,
            frame::ICMP,
            0,
            0,
            None,
        );
        let x_sport = rng.ephemeral_port();
        let x_fwd = w.dir(
            &mut rng,
            ex,
            world::GATEWAY,
            false,
            frame::UDP,
            x_sport,
            53,
            None,
        );
        let x_back = w.dir(
            &mut rng,
            world::GATEWAY,
            ex,
            false,
            frame::UDP,
            53,
            x_sport,
            None,
        );
        let mut targets = Vec::new();
        let mut events = Vec::new();
        for &(kind, t0) in attacks {
            match kind {
                AttackKind::VerticalScan => {
                    let n = scaled(1000, scale);
                    let span = 2e6 * scale.max(0.01);
                    let mut ports: Vec<u16> = WELL_KNOWN.iter().copied().take(n).collect();
                    while ports.len() < n {
                        let p = if rng.chance(0.9) {
                            rng.range(1, 10000)
                        } else {
                            rng.range(10001, 65535)
                        } as u16;
                        if !ports.contains(&p) {
                            ports.push(p);
                        }
                    }
                    for i in (1..ports.len()).rev() {
                        ports.swap(i, rng.below(i + 1));
                    }
                    for port in ports {
                        let mut t = t0 + (rng.f64() * span) as u64;
                        events.push(Event {
                            t,
                            ev: Ev::VSyn(port),
                        });
                        t += 150 + rng.below(400) as u64;
                        if OPEN.contains(&port) {
                            events.push(Event {
                                t,
                                ev: Ev::VSynAck(port),
                            });
                            t += 40 + rng.below(80) as u64;
                            events.push(Event {
                                t,
                                ev: Ev::VRst(port),
                            });
                        } else {
                            events.push(Event {
                                t,
                                ev: Ev::VRstAck(port),
                            });
                        }
                    }
                }
                AttackKind::HorizontalScan => {
                    if targets.is_empty() {
                        // The LAN, then three remote /24s behind the gateway.
                        for net in [[192u8, 168, 1], [10, 0, 0], [10, 0, 1], [10, 0, 2]] {
                            for last in 1..=254u8 {
                                let a = [net[0], net[1], net[2], last];
                                let h = match w.lan_host(a) {
                                    Some(h) => h,
                                    None => {
                                        let lan = net[0] == 192;
                                        w.add_host([0x0e, 0xde, 0xad, net[1], net[2], last], a, lan)
                                    }
                                };
                                if h != hs {
                                    targets.push(h as u16);
                                }
                            }
                        }
                    }
                    let n = scaled(targets.len(), scale).min(targets.len());
                    let span = 3e6 * scale.max(0.01);
                    for (i, &target) in targets.iter().enumerate().take(n) {
                        let mut t = t0 + (i as f64 * span / n as f64) as u64;
                        events.push(Event {
                            t,
                            ev: Ev::HSyn(i as u16),
                        });
                        let target = usize::from(target);
                        if target < world::FIRST_CLIENT + world::CLIENTS {
                            // An existing host answers.
                            t += 200 + rng.below(600) as u64;
                            if target == world::NAS || target == world::PRINTER {
                                events.push(Event {
                                    t,
                                    ev: Ev::HSynAck(i as u16),
                                });
                                t += 40 + rng.below(80) as u64;
                                events.push(Event {
                                    t,
                                    ev: Ev::HRst(i as u16),
                                });
                            } else {
                                events.push(Event {
                                    t,
                                    ev: Ev::HRstAck(i as u16),
                                });
                            }
                        }
                    }
                }
                AttackKind::IcmpFlood => {
                    let n = scaled(3000, scale);
                    let span = 1e6 * scale.max(0.01);
                    for i in 0..n {
                        let t = t0 + (i as f64 * span / n as f64) as u64;
                        let seq = (i + 1) as u16;
                        events.push(Event {
                            t,
                            ev: Ev::FloodReq(seq),
                        });
                        if rng.chance(0.95) {
                            let r = t + 12_000 + rng.below(3000) as u64;
                            events.push(Event {
                                t: r,
                                ev: Ev::FloodRep(seq),
                            });
                        }
                    }
                }
                AttackKind::DnsExfiltration => {
                    let n = scaled(1500, scale);
                    let span = 3e6 * scale.max(0.01);
                    for i in 0..n {
                        let t = t0 + (i as f64 * span / n as f64) as u64;
                        let i = i as u32;
                        events.push(Event {
                            t,
                            ev: Ev::ExfilQuery(i),
                        });
                        let r = t + 2000 + rng.below(18_000) as u64;
                        events.push(Event {
                            t: r,
                            ev: Ev::ExfilResponse(i),
                        });
                    }
                }
            }
        }
        events.sort_by_key(|e| e.t);
        Attacks {
            events,
            next: 0,
            key,
            f_id: rng.u16(),
            rng,
            targets,
            v_fwd,
            v_back,
            h_sport,
            f_fwd,
            f_back,
            x_fwd,
            x_back,
        }
    }

    /// The time of the next attack packet (µs after the first packet).
    #[inline]
    pub(crate) fn next_time(&self) -> Option<u64> {
        self.events.get(self.next).map(|e| e.t)
    }

    /// Builds the next attack packet.
    pub(crate) fn next<'w>(&mut self, w: &'w World, head: &mut Head) -> Option<Pkt<'w>> {
        let Event { ev, .. } = *self.events.get(self.next)?;
        self.next += 1;
        let key = self.key;
        let seq_of = |a: u64| mix(key, a, 7) as u32;
        let pkt = match ev {
            Ev::VSyn(port) => {
                self.v_fwd.dport = port;
                let mut p = bare(
                    &mut self.v_fwd,
                    head,
                    seq_of(port.into()),
                    0,
                    SYN,
                    1024,
                    &SCAN_OPTS,
                    (0, 0),
                    1024,
                );
                p.label = Label::VerticalScan;
                p
            }
            Ev::VSynAck(port) => {
                self.v_back.sport = port;
                let ack = seq_of(port.into()).wrapping_add(1);
                let mut p = bare(
                    &mut self.v_back,
                    head,
                    seq_of(u64::from(port) << 20),
                    ack,
                    SYN | ACK,
                    64240,
                    &SCAN_OPTS,
                    (0, 1),
                    64240,
                );
                p.label = Label::VerticalScan;
                p
            }
            Ev::VRst(port) => {
                self.v_fwd.dport = port;
                let mut p = bare(
                    &mut self.v_fwd,
                    head,
                    seq_of(port.into()).wrapping_add(1),
                    0,
                    RST,
                    0,
                    &[],
                    (1, 0),
                    0,
                );
                p.label = Label::VerticalScan;
                p
            }
            Ev::VRstAck(port) => {
                self.v_back.sport = port;
                let ack = seq_of(port.into()).wrapping_add(1);
                let mut p = bare(&mut self.v_back, head, 0, ack, RST | ACK, 0, &[], (1, 1), 0);
                p.label = Label::VerticalScan;
                p
            }
            Ev::HSyn(i) | Ev::HSynAck(i) | Ev::HRst(i) | Ev::HRstAck(i) => {
                let target = usize::from(self.targets[usize::from(i)]);
                let hs = w.clients[HSCANNER];
                let seq = seq_of(u64::from(i) << 32);
                let mut p = match ev {
                    Ev::HSyn(_) | Ev::HRst(_) => {
                        let mut d = w.dir(
                            &mut self.rng,
                            hs,
                            target,
                            false,
                            frame::TCP,
                            self.h_sport,
                            SWEEP_PORT,
                            Some(48),
                        );
                        d.df = false;
                        if matches!(ev, Ev::HSyn(_)) {
                            bare(&mut d, head, seq, 0, SYN, 1024, &SCAN_OPTS, (0, 0), 1024)
                        } else {
                            bare(&mut d, head, seq.wrapping_add(1), 0, RST, 0, &[], (1, 0), 0)
                        }
                    }
                    _ => {
                        let mut d = w.dir(
                            &mut self.rng,
                            target,
                            hs,
                            false,
                            frame::TCP,
                            SWEEP_PORT,
                            self.h_sport,
                            None,
                        );
                        if matches!(ev, Ev::HSynAck(_)) {
                            let isn = seq_of(u64::from(i) << 40);
                            bare(
                                &mut d,
                                head,
                                isn,
                                seq.wrapping_add(1),
                                SYN | ACK,
                                64240,
                                &SCAN_OPTS,
                                (0, 1),
                                64240,
                            )
                        } else {
                            bare(
                                &mut d,
                                head,
                                0,
                                seq.wrapping_add(1),
                                RST | ACK,
                                0,
                                &[],
                                (1, 1),
                                0,
                            )
                        }
                    }
                };
                p.label = Label::HorizontalScan;
                p
            }
            Ev::FloodReq(seq) | Ev::FloodRep(seq) => {
                let data = &w.ping_flood;
                let request = matches!(ev, Ev::FloodReq(_));
                let (d, kind) = if request {
                    (&mut self.f_fwd, 8)
                } else {
                    (&mut self.f_back, 0)
                };
                d.echo(head, kind, self.f_id, seq, data.bytes.len(), data.sum);
                let info = Info::Echo {
                    request,
                    id: self.f_id,
                    seq,
                    ttl: d.ttl,
                };
                let mut p = Pkt::ip(d, &data.bytes, Proto::Icmp, info);
                p.label = Label::IcmpFlood;
                p
            }
            Ev::ExfilQuery(i) | Ev::ExfilResponse(i) => {
                let mut name = [0u8; 96];
                let n = exfil_name(key, i, &mut name);
                let id = mix(key, u64::from(i), 99) as u16;
                let query = matches!(ev, Ev::ExfilQuery(_));
                let mut m = [0u8; 200];
                m[..2].copy_from_slice(&id.to_be_bytes());
                m[2..4].copy_from_slice(if query { &[1, 0] } else { &[0x81, 0x80] });
                m[5] = 1;
                m[7] = u8::from(!query);
                let mut at = 12;
                for label in name[..n].split(|&b| b == b'.') {
                    m[at] = label.len() as u8;
                    m[at + 1..at + 1 + label.len()].copy_from_slice(label);
                    at += 1 + label.len();
                }
                m[at..at + 5].copy_from_slice(&[0, 0, 16, 0, 1]);
                at += 5;
                if !query {
                    m[at..at + 12].copy_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 0, 0, 3]);
                    m[at + 12..at + 15].copy_from_slice(&[2, b'o', b'k']);
                    at += 15;
                }
                let d = if query {
                    &mut self.x_fwd
                } else {
                    &mut self.x_back
                };
                d.udp(head, &m[..at], 0, 0);
                let info = if query {
                    Info::ExfilQuery { id, index: i }
                } else {
                    Info::ExfilResponse { id, index: i }
                };
                let mut p = Pkt::ip(d, &[], Proto::Dns, info);
                p.label = Label::DnsExfiltration;
                p
            }
        };
        Some(pkt)
    }

    /// The exfiltration key (for the CSV's Info).
    pub(crate) fn key(&self) -> u64 {
        self.key
    }
}

fn rng_ttl(key: u64) -> u8 {
    37 + (key % 23) as u8
}
