//! Bad input never panics and always gives the same record: random bytes
//! under every link type, and every corpus frame cut short and mutated.

use crate::support::{corpus_dir, frames};
use netanom_dissect::dissect;
use netanom_records::Packet;

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Every link type the dissector decodes, and some it does not.
const LINK_TYPES: &[u32] = &[
    0,
    1,
    9,
    12,
    14,
    50,
    101,
    104,
    105,
    107,
    108,
    113,
    127,
    129,
    192,
    228,
    229,
    239,
    242,
    253,
    258,
    276,
    147,
    231,
    65535,
    u32::MAX,
];

/// Dissects twice, into a fresh record and into one full of an earlier
/// frame's fields: both must agree.
fn check_deterministic(linktype: u32, data: &[u8], reused: &mut Packet) {
    let mut fresh = Packet::default();
    dissect(linktype, data, &mut fresh);
    dissect(linktype, data, reused);
    assert_eq!(&fresh, reused, "link type {linktype}, frame {data:02x?}");
}

#[test]
fn random_bytes_under_every_link_type() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut reused = Packet::default();
    for round in 0..20_000 {
        let len = match round % 4 {
            0 => rng.below(16),
            1 => rng.below(80),
            _ => rng.below(1600),
        };
        let mut data = rng.bytes(len);
        // Steer some frames past the first checks: plausible IP versions
        // and header lengths at the usual offsets.
        if round % 3 == 0 && data.len() > 20 {
            let at = [0usize, 4, 14, 16, 20][rng.below(5)];
            if let Some(b) = data.get_mut(at) {
                *b = if rng.below(2) == 0 { 0x45 } else { 0x60 };
            }
        }
        for &linktype in LINK_TYPES {
            check_deterministic(linktype, &data, &mut reused);
        }
    }
}

#[test]
fn crafted_nesting_is_bounded() {
    // IPv4-in-IPv4 nested far deeper than the dissector follows.
    let mut frame = Vec::new();
    for _ in 0..3000 {
        frame.extend([
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 4, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
    }
    let mut pkt = Packet::default();
    dissect(101, &frame, &mut pkt);
    // VLAN tags and MPLS labels without end.
    let vlans: Vec<u8> = [&[0u8; 12][..], &[0x81, 0x00].repeat(5000)].concat();
    dissect(1, &vlans, &mut pkt);
    let mpls: Vec<u8> = [&[0u8; 12][..], &[0x88, 0x47], &[0, 0, 0, 0].repeat(5000)].concat();
    dissect(1, &mpls, &mut pkt);
    // Ethernet bridged in LLC/SNAP in Ethernet, again and again.
    let mut bridged = Vec::new();
    for _ in 0..4000 {
        bridged.extend([0u8; 12]);
        bridged.extend([0x00, 0x40, 0xaa, 0xaa, 0x03, 0x00, 0x80, 0xc2, 0x00, 0x07]);
    }
    dissect(1, &bridged, &mut pkt);
    // GRE carrying Ethernet carrying IPv4 carrying GRE ...
    let mut gre = Vec::new();
    for _ in 0..2000 {
        gre.extend([0u8; 12]);
        gre.extend([
            0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, 47, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ]);
        gre.extend([0, 0, 0x65, 0x58]);
    }
    dissect(1, &gre, &mut pkt);
    // IPv6 extension headers chained up to the end of a jumbo frame.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
    v6.extend([0; 32]);
    for _ in 0..8000 {
        v6.extend([0, 0, 0, 0, 0, 0, 0, 0]);
    }
    dissect(101, &v6, &mut pkt);
}

#[test]
fn corpus_frames_cut_short_and_mutated() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: the capture corpus (../shared/corpus) is not there");
        return;
    };
    let mut rng = Rng(42);
    let mut reused = Packet::default();
    let mut files = 0;
    let mut checked = 0u64;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let Ok(frames) = frames::load(&path) else {
            continue; // not a capture (or one the test loader refuses)
        };
        files += 1;
        // Large files: a sample of frames is plenty.
        let step = (frames.len() / 400).max(1);
        for frame in frames.iter().step_by(step) {
            let data = &frame.data;
            // Every cut in the headers, some in the payload.
            for cut in 0..data.len().min(96) {
                check_deterministic(frame.linktype, &data[..cut], &mut reused);
            }
            for _ in 0..4 {
                let cut = rng.below(data.len() + 1);
                check_deterministic(frame.linktype, &data[..cut], &mut reused);
            }
            // Random byte changes in the headers, under the frame's own and
            // another link type.
            for _ in 0..16 {
                let mut mutated = data.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(mutated.len().clamp(1, 80));
                    if let Some(b) = mutated.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
                check_deterministic(frame.linktype, &mutated, &mut reused);
                let other = LINK_TYPES[rng.below(LINK_TYPES.len())];
                check_deterministic(other, &mutated, &mut reused);
                checked += 2;
            }
            checked += 100;
        }
    }
    eprintln!("{files} corpus files, about {checked} truncated or mutated frames dissected");
    assert!(files > 50);
}
