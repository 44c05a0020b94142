//! Unit tests on hand-built captures.
#![allow(clippy::unwrap_used)]

use super::*;
use std::cell::RefCell;
use std::rc::Rc;

// ---------------------------------------------------------------- builders

fn put16(v: &mut Vec<u8>, big: bool, x: u16) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}
fn put32(v: &mut Vec<u8>, big: bool, x: u32) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}
fn put64(v: &mut Vec<u8>, big: bool, x: u64) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}

/// A pcap file: `magic` is the native-order magic number.
struct Pcap {
    big: bool,
    modified: bool,
    bytes: Vec<u8>,
}

impl Pcap {
    fn new(big: bool, magic: u32, linktype_field: u32) -> Pcap {
        let mut bytes = Vec::new();
        put32(&mut bytes, big, magic);
        put16(&mut bytes, big, 2);
        put16(&mut bytes, big, 4);
        put32(&mut bytes, big, 0);
        put32(&mut bytes, big, 0);
        put32(&mut bytes, big, 65535);
        put32(&mut bytes, big, linktype_field);
        Pcap {
            big,
            modified: magic == 0xa1b2_cd34,
            bytes,
        }
    }
    fn rec(mut self, sec: u32, frac: u32, data: &[u8], orig: u32) -> Pcap {
        let big = self.big;
        put32(&mut self.bytes, big, sec);
        put32(&mut self.bytes, big, frac);
        put32(&mut self.bytes, big, data.len() as u32);
        put32(&mut self.bytes, big, orig);
        if self.modified {
            self.bytes.extend_from_slice(&[0; 8]);
        }
        self.bytes.extend_from_slice(data);
        self
    }
}

/// A little-endian µs pcap of three records, "first" to "third".
fn three_records() -> Pcap {
    Pcap::new(false, 0xa1b2_c3d4, 1)
        .rec(1, 1, b"first", 5)
        .rec(2, 2, b"second", 6)
        .rec(3, 3, b"third", 5)
}

/// A pcapng file under construction.
struct Ng {
    big: bool,
    bytes: Vec<u8>,
}

fn pad4(v: &mut Vec<u8>) {
    while v.len() & 3 != 0 {
        v.push(0);
    }
}

impl Ng {
    fn new(big: bool) -> Ng {
        Ng {
            big,
            bytes: Vec::new(),
        }
        .shb(big)
    }
    fn block(mut self, btype: u32, body: &[u8]) -> Ng {
        let big = self.big;
        let len = 12 + body.len() as u32;
        put32(&mut self.bytes, big, btype);
        put32(&mut self.bytes, big, len);
        self.bytes.extend_from_slice(body);
        put32(&mut self.bytes, big, len);
        self
    }
    fn shb(mut self, big: bool) -> Ng {
        self.big = big;
        let mut body = Vec::new();
        put32(&mut body, big, PCAPNG_BOM);
        put16(&mut body, big, 1);
        put16(&mut body, big, 0);
        put64(&mut body, big, u64::MAX);
        self.block(PCAPNG_SHB, &body)
    }
    /// IDB with options (code, value).
    fn idb(self, linktype: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> Ng {
        let big = self.big;
        let mut body = Vec::new();
        put16(&mut body, big, linktype);
        put16(&mut body, big, 0);
        put32(&mut body, big, snaplen);
        for (code, val) in opts {
            put16(&mut body, big, *code);
            put16(&mut body, big, val.len() as u16);
            body.extend_from_slice(val);
            pad4(&mut body);
        }
        if !opts.is_empty() {
            put32(&mut body, big, 0);
        }
        self.block(PCAPNG_IDB, &body)
    }
    fn epb(self, iface: u32, raw: u64, data: &[u8], orig: u32) -> Ng {
        let big = self.big;
        let mut body = Vec::new();
        put32(&mut body, big, iface);
        put32(&mut body, big, (raw >> 32) as u32);
        put32(&mut body, big, raw as u32);
        put32(&mut body, big, data.len() as u32);
        put32(&mut body, big, orig);
        body.extend_from_slice(data);
        pad4(&mut body);
        self.block(PCAPNG_EPB, &body)
    }
    fn pb(self, iface: u16, raw: u64, data: &[u8], orig: u32) -> Ng {
        let big = self.big;
        let mut body = Vec::new();
        put16(&mut body, big, iface);
        put16(&mut body, big, 0);
        put32(&mut body, big, (raw >> 32) as u32);
        put32(&mut body, big, raw as u32);
        put32(&mut body, big, data.len() as u32);
        put32(&mut body, big, orig);
        body.extend_from_slice(data);
        pad4(&mut body);
        self.block(PCAPNG_PB, &body)
    }
    fn spb(self, data: &[u8], orig: u32) -> Ng {
        let big = self.big;
        let mut body = Vec::new();
        put32(&mut body, big, orig);
        body.extend_from_slice(data);
        pad4(&mut body);
        self.block(PCAPNG_SPB, &body)
    }
    fn raw(mut self, bytes: &[u8]) -> Ng {
        self.bytes.extend_from_slice(bytes);
        self
    }
}

// ---------------------------------------------------------------- reading

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    F {
        ts: i64,
        lt: u32,
        orig: u32,
        data: Vec<u8>,
        off: u64,
        iface: u32,
    },
    Skip(ErrorKind, u64),
    End(u64),
    Fatal(ErrorKind, u64),
}

fn events<R: Read>(r: &mut CaptureReader<R>) -> Vec<Ev> {
    let mut out = Vec::new();
    loop {
        let ev = match r.next() {
            Next::Frame(f) => Ev::F {
                ts: f.ts,
                lt: f.linktype,
                orig: f.orig_len,
                data: f.data.to_vec(),
                off: f.offset,
                iface: f.interface,
            },
            Next::Skipped(e) => Ev::Skip(e.kind, e.offset),
            Next::End { partial } => Ev::End(partial),
            Next::Fatal(e) => Ev::Fatal(e.kind, e.offset),
        };
        let stop = matches!(ev, Ev::End(_) | Ev::Fatal(..));
        out.push(ev);
        if stop {
            return out;
        }
        assert!(out.len() < 1_000_000, "reader does not stop");
    }
}

fn read(bytes: &[u8]) -> Vec<Ev> {
    let mut r = CaptureReader::new(bytes, "mem").unwrap();
    events(&mut r)
}

fn frames(evs: &[Ev]) -> Vec<(i64, u32, u32, Vec<u8>, u32)> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::F {
                ts,
                lt,
                orig,
                data,
                iface,
                ..
            } => Some((*ts, *lt, *orig, data.clone(), *iface)),
            _ => None,
        })
        .collect()
}

fn new_err(bytes: &[u8]) -> CaptureError {
    CaptureReader::new(bytes, "mem").unwrap_err()
}

/// A `Read` over a shared, growing buffer (a file being written).
#[derive(Clone)]
struct Growing {
    data: Rc<RefCell<Vec<u8>>>,
    pos: usize,
    chunk: usize,
}

impl Read for Growing {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let data = self.data.borrow();
        let n = out.len().min(data.len() - self.pos).min(self.chunk);
        out[..n].copy_from_slice(&data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

// ---------------------------------------------------------------- pcap

#[test]
fn pcap_both_byte_orders() {
    for big in [false, true] {
        let f = Pcap::new(big, 0xa1b2_c3d4, 1)
            .rec(1_600_000_000, 123_456, b"abcdef", 60)
            .rec(1_600_000_001, 999_999, b"", 0)
            .rec(u32::MAX, 7, b"xyz", 3);
        let evs = read(&f.bytes);
        assert_eq!(
            evs,
            vec![
                Ev::F {
                    ts: 1_600_000_000_123_456_000,
                    lt: 1,
                    orig: 60,
                    data: b"abcdef".to_vec(),
                    off: 24,
                    iface: 0
                },
                Ev::F {
                    ts: 1_600_000_001_999_999_000,
                    lt: 1,
                    orig: 0,
                    data: vec![],
                    off: 46,
                    iface: 0
                },
                Ev::F {
                    ts: 4_294_967_295_000_007_000,
                    lt: 1,
                    orig: 3,
                    data: b"xyz".to_vec(),
                    off: 62,
                    iface: 0
                },
                Ev::End(0),
            ],
            "big endian: {big}"
        );
        let r = CaptureReader::new(&f.bytes[..], "mem").unwrap();
        assert_eq!(r.format(), Format::Pcap);
    }
}

#[test]
fn pcap_nanosecond_magic() {
    for big in [false, true] {
        let f = Pcap::new(big, 0xa1b2_3c4d, 113).rec(1_418_145_369, 924_505_488, b"q", 1);
        assert_eq!(
            frames(&read(&f.bytes)),
            vec![(1_418_145_369_924_505_488, 113, 1, b"q".to_vec(), 0)]
        );
    }
}

#[test]
fn pcap_modified_format() {
    for big in [false, true] {
        let f = Pcap::new(big, 0xa1b2_cd34, 1)
            .rec(10, 5, b"hello", 5)
            .rec(11, 6, b"w", 1);
        let evs = read(&f.bytes);
        assert_eq!(
            frames(&evs),
            vec![
                (10_000_005_000, 1, 5, b"hello".to_vec(), 0),
                (11_000_006_000, 1, 1, b"w".to_vec(), 0)
            ]
        );
        assert_eq!(evs.last(), Some(&Ev::End(0)));
    }
}

#[test]
fn pcap_linktype_upper_bits_dropped() {
    let f = Pcap::new(false, 0xa1b2_c3d4, 0x3000_0001).rec(1, 0, b"x", 1);
    assert_eq!(frames(&read(&f.bytes))[0].1, 1);
}

#[test]
fn pcap_huge_claimed_length_is_fatal() {
    let mut f = Pcap::new(false, 0xa1b2_c3d4, 1).rec(1, 0, b"ok", 2);
    put32(&mut f.bytes, false, 1);
    put32(&mut f.bytes, false, 0);
    put32(&mut f.bytes, false, 3_000_000_000);
    put32(&mut f.bytes, false, 3_000_000_000);
    f.bytes.extend_from_slice(&[0; 100]);
    let mut r = CaptureReader::new(&f.bytes[..], "x.pcap").unwrap();
    assert!(matches!(r.next(), Next::Frame(_)));
    match r.next() {
        Next::Fatal(e) => {
            assert_eq!(e.kind, ErrorKind::TooLarge);
            assert_eq!(e.offset, 42);
            assert_eq!(
                e.to_string(),
                "x.pcap: offset 42: record claims 3000000000 captured bytes (limit 16777216)"
            );
        }
        other => panic!("{other:?}"),
    }
    // Sticky, and no progress.
    assert!(matches!(r.next(), Next::Fatal(e) if e.offset == 42));
    assert_eq!(r.offset(), 42);
}

#[test]
fn pcap_record_over_snaplen_and_incl_over_orig() {
    let big = vec![0x5a; 80_066];
    let f = Pcap::new(false, 0xa1b2_c3d4, 1)
        .rec(1, 0, &big, 80_066)
        .rec(2, 0, b"abcd", 2);
    let fr = frames(&read(&f.bytes));
    assert_eq!(fr.len(), 2);
    assert_eq!(fr[0].3.len(), 80_066);
    assert_eq!((fr[1].2, fr[1].3.len()), (2, 4));
}

#[test]
fn record_larger_than_buffer() {
    let huge: Vec<u8> = (0..3 * DEFAULT_BUF + 17).map(|i| i as u8).collect();
    let f = Pcap::new(false, 0xa1b2_c3d4, 1)
        .rec(1, 0, b"before", 6)
        .rec(2, 0, &huge, huge.len() as u32)
        .rec(3, 0, b"after", 5);
    let fr = frames(&read(&f.bytes));
    assert_eq!(fr.len(), 3);
    assert_eq!(fr[1].3, huge);
    assert_eq!(fr[2].3, b"after");
    let n = Ng::new(false)
        .idb(1, 0, &[])
        .epb(0, 1, &huge, 1)
        .epb(0, 2, b"after", 5);
    let fr = frames(&read(&n.bytes));
    assert_eq!(fr.len(), 2);
    assert_eq!(fr[0].3, huge);
    // Exactly MAX_RECORD captured bytes is accepted, one more is not.
    let max = vec![1u8; MAX_RECORD];
    let f = Pcap::new(false, 0xa1b2_c3d4, 1).rec(1, 0, &max, 1);
    assert_eq!(frames(&read(&f.bytes))[0].3.len(), MAX_RECORD);
    let mut f = Pcap::new(false, 0xa1b2_c3d4, 1);
    put32(&mut f.bytes, false, 1);
    put32(&mut f.bytes, false, 0);
    put32(&mut f.bytes, false, MAX_RECORD as u32 + 1);
    put32(&mut f.bytes, false, 1);
    assert_eq!(read(&f.bytes), vec![Ev::Fatal(ErrorKind::TooLarge, 24)]);
}

#[test]
fn pcap_header_errors() {
    assert_eq!(new_err(b"").kind, ErrorKind::Incomplete);
    assert_eq!(new_err(b"\xd4\xc3").kind, ErrorKind::Incomplete);
    let f = Pcap::new(false, 0xa1b2_c3d4, 1);
    let e = new_err(&f.bytes[..12]);
    assert_eq!(e.kind, ErrorKind::Incomplete);
    assert!(e.message.contains("12 of 24"), "{e}");
    let e = new_err(b"\x06\x00\x00\x00 and then some");
    assert_eq!(e.kind, ErrorKind::NotACapture);
    assert_eq!(e.offset, 0);
    let mut v = f.bytes.clone();
    v[4] = 1;
    assert_eq!(new_err(&v).kind, ErrorKind::Corrupt);
}

#[test]
fn pcap_truncated_then_continues() {
    let f = three_records();
    let all = read(&f.bytes);
    for cut in 24..f.bytes.len() {
        for chunk in [1, 7, usize::MAX] {
            let data = Rc::new(RefCell::new(f.bytes[..cut].to_vec()));
            let g = Growing {
                data: data.clone(),
                pos: 0,
                chunk,
            };
            let mut r = CaptureReader::new(g, "g").unwrap();
            let mut evs = events(&mut r);
            let partial = match evs.pop() {
                Some(Ev::End(p)) => p,
                other => panic!("{other:?}"),
            };
            assert_eq!(r.offset() + partial, cut as u64);
            data.borrow_mut().extend_from_slice(&f.bytes[cut..]);
            evs.extend(events(&mut r));
            assert_eq!(evs, all, "cut at {cut}, chunk {chunk}");
        }
    }
}

#[test]
fn truncated_error_message() {
    let f = Pcap::new(false, 0xa1b2_c3d4, 1).rec(1, 1, b"first", 5);
    let mut r = CaptureReader::new(&f.bytes[..f.bytes.len() - 2], "t.pcap").unwrap();
    match r.next() {
        Next::End { partial } => {
            assert_eq!(partial, 19);
            let e = r.truncated_error(partial);
            assert_eq!(e.kind, ErrorKind::Truncated);
            assert_eq!(e.offset, 24);
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- pcapng

#[test]
fn pcapng_both_byte_orders_and_sections() {
    let n = Ng::new(false)
        .idb(1, 0, &[])
        .idb(113, 0, &[(9, vec![9])])
        .epb(1, 1_500_000_000_123_456_789, b"ns", 2)
        .epb(0, 1_500_000_000_123_456, b"us", 2)
        .shb(true)
        .idb(0, 0, &[])
        .epb(0, 42, b"be", 9)
        .shb(false)
        .idb(101, 0, &[(9, vec![3])])
        .epb(0, 5, b"ms", 2);
    let mut r = CaptureReader::new(&n.bytes[..], "mem").unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    let mut got = Vec::new();
    loop {
        let (ts, lt, iface) = match r.next() {
            Next::Frame(f) => (f.ts, f.linktype, f.interface),
            Next::End { partial: 0 } => break,
            other => panic!("{other:?}"),
        };
        got.push((ts, lt, iface, r.section()));
    }
    assert_eq!(
        got,
        vec![
            (1_500_000_000_123_456_789, 113, 1, 0),
            (1_500_000_000_123_456_000, 1, 0, 0),
            (42_000, 0, 0, 1),
            (5_000_000, 101, 0, 2),
        ]
    );
}

#[test]
fn pcapng_big_endian_first_section() {
    let n = Ng::new(true).idb(1, 0, &[]).epb(0, 1_000_000, b"abc", 3);
    assert_eq!(
        frames(&read(&n.bytes)),
        vec![(1_000_000_000, 1, 3, b"abc".to_vec(), 0)]
    );
}

#[test]
fn pcapng_tsresol_powers_of_two_and_ten() {
    let cases: &[(u8, u64, i64)] = &[
        (0x80 | 10, 1536, 1_500_000_000),  // 2^-10 s
        (0x80, 3, 3_000_000_000),          // 2^0 s
        (0x80 | 30, 1 << 29, 500_000_000), // 2^-30 s
        (0x80 | 127, u64::MAX, 0),         // 2^-127 s
        (0, 7, 7_000_000_000),             // 1 s
        (3, 1_234, 1_234_000_000),         // ms
        (9, 987_654_321, 987_654_321),     // ns
        (12, 5_000_000_007, 5_000_000),    // ps
        (60, u64::MAX, 0),                 // absurd
        (6, u64::MAX, i64::MAX),           // saturates
    ];
    for &(res, raw, want) in cases {
        let n = Ng::new(false)
            .idb(1, 0, &[(9, vec![res])])
            .epb(0, raw, b"", 0);
        assert_eq!(
            frames(&read(&n.bytes))[0].0,
            want,
            "tsresol {res:#x} raw {raw}"
        );
    }
}

#[test]
fn pcapng_tsoffset() {
    for big in [false, true] {
        let off = |s: i64| {
            if big {
                s.to_be_bytes().to_vec()
            } else {
                s.to_le_bytes().to_vec()
            }
        };
        let n = Ng::new(big)
            .idb(1, 0, &[(14, off(100)), (9, vec![9])])
            .idb(1, 0, &[(14, off(-5))])
            .idb(1, 0, &[(14, off(i64::MIN))])
            .epb(0, 1, b"", 0)
            .epb(1, 1, b"", 0)
            .epb(2, 1, b"", 0);
        let ts: Vec<i64> = frames(&read(&n.bytes)).iter().map(|f| f.0).collect();
        assert_eq!(ts, vec![100_000_000_001, -4_999_999_000, i64::MIN]);
    }
}

#[test]
fn pcapng_spb_pb_and_skipped_blocks() {
    let n = Ng::new(false)
        .spb(b"", 0) // no interface yet: skipped
        .idb(1, 4, &[])
        .spb(b"abcdef", 6) // before any timestamp: ts 0, cut to snaplen 4
        .block(4, &[0; 8]) // NRB
        .epb(0, 2_000_000, b"e", 1)
        .block(5, &[0; 12]) // ISB
        .block(0x0000_0BAD, &[1, 2, 3, 4]) // custom
        .block(0x4000_0BAD, &[1, 2, 3, 4]) // custom, do not copy
        .block(0x8000_0001, &[]) // local use
        .block(0x0000_000A, &[0; 4]) // DSB
        .spb(b"xy", 2)
        .pb(0, 3_000_000, b"pb", 2);
    let evs = read(&n.bytes);
    assert_eq!(evs[0], Ev::Skip(ErrorKind::Corrupt, 28));
    assert_eq!(
        frames(&evs),
        vec![
            (0, 1, 6, b"abcd".to_vec(), 0),
            (2_000_000_000, 1, 1, b"e".to_vec(), 0),
            (2_000_000_000, 1, 2, b"xy".to_vec(), 0),
            (3_000_000_000, 1, 2, b"pb".to_vec(), 0),
        ]
    );
    assert_eq!(evs.last(), Some(&Ev::End(0)));
}

#[test]
fn pcapng_damaged_body_is_skipped() {
    let mut bad_cap = Ng::new(false).idb(1, 0, &[]).epb(0, 1, b"abcd", 4);
    // Claim 100 captured bytes in a block with room for 4.
    let at = bad_cap.bytes.len() - 4 - 4 - 4 - 4;
    bad_cap.bytes[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
    let n = bad_cap
        .epb(7, 1, b"no such interface", 1)
        .block(PCAPNG_EPB, &[0; 8]) // body too short
        .block(PCAPNG_IDB, &[0; 4]) // damaged IDB: interface 1 unusable
        .epb(1, 1, b"on damaged", 1)
        .epb(0, 2, b"fine", 4);
    let evs = read(&n.bytes);
    let skips = evs
        .iter()
        .filter(|e| matches!(e, Ev::Skip(ErrorKind::Corrupt, _)))
        .count();
    assert_eq!(skips, 5, "{evs:?}");
    assert_eq!(frames(&evs), vec![(2_000, 1, 4, b"fine".to_vec(), 0)]);
    assert_eq!(evs[0], Ev::Skip(ErrorKind::Corrupt, 48));
}

#[test]
fn pcapng_idb_with_bad_option_keeps_interface() {
    let mut n = Ng::new(false).idb(1, 0, &[(9, vec![9]), (2, b"eth0".to_vec())]);
    // The if_name option (after header 8 + fixed 8 + tsresol option 8) claims 200 bytes.
    let at = 28 + 8 + 8 + 8 + 2;
    n.bytes[at..at + 2].copy_from_slice(&200u16.to_le_bytes());
    let n = n.epb(0, 5, b"x", 1);
    let evs = read(&n.bytes);
    assert_eq!(evs[0], Ev::Skip(ErrorKind::Corrupt, 28));
    assert_eq!(frames(&evs), vec![(5, 1, 1, b"x".to_vec(), 0)]);
}

#[test]
fn pcapng_framing_errors_are_fatal() {
    let good = Ng::new(false).idb(1, 0, &[]);
    let at = good.bytes.len() as u64;
    // Trailer mismatch.
    let mut n = good.raw(&[]).epb(0, 1, b"abcd", 4);
    let last = n.bytes.len() - 4;
    n.bytes[last] ^= 0x40;
    let evs = read(&n.bytes);
    assert_eq!(evs, vec![Ev::Fatal(ErrorKind::Corrupt, at)]);
    // Too large.
    let mut n = Ng::new(false).idb(1, 0, &[]);
    put32(&mut n.bytes, false, PCAPNG_EPB);
    put32(&mut n.bytes, false, 0xFFFF_FFF0);
    assert_eq!(read(&n.bytes), vec![Ev::Fatal(ErrorKind::TooLarge, at)]);
    // Too short, not a multiple of 4.
    for len in [0u32, 8, 13] {
        let mut n = Ng::new(false).idb(1, 0, &[]);
        put32(&mut n.bytes, false, PCAPNG_EPB);
        put32(&mut n.bytes, false, len);
        n.bytes.extend_from_slice(&[0; 32]);
        assert_eq!(read(&n.bytes), vec![Ev::Fatal(ErrorKind::Corrupt, at)]);
    }
    // A later SHB with a bad byte-order magic.
    let mut n = Ng::new(false).shb(false);
    n.bytes[28 + 8] = 0;
    assert_eq!(read(&n.bytes), vec![Ev::Fatal(ErrorKind::Corrupt, 28)]);
}

#[test]
fn pcapng_header_errors() {
    let n = Ng::new(false);
    for cut in 0..n.bytes.len() {
        assert_eq!(
            new_err(&n.bytes[..cut]).kind,
            ErrorKind::Incomplete,
            "{cut}"
        );
    }
    assert!(CaptureReader::new(&n.bytes[..], "m").is_ok());
    for (major, minor, ok) in [
        (1, 0, true),
        (1, 2, true),
        (1, 1, false),
        (0, 1, false),
        (2, 0, false),
    ] {
        let mut v = n.bytes.clone();
        v[12..14].copy_from_slice(&(major as u16).to_le_bytes());
        v[14..16].copy_from_slice(&(minor as u16).to_le_bytes());
        let r = CaptureReader::new(&v[..], "m");
        assert_eq!(r.is_ok(), ok, "{major}.{minor}");
        if let Err(e) = r {
            assert_eq!(e.kind, ErrorKind::Corrupt);
        }
    }
    let mut v = n.bytes.clone();
    v[8] = 0x11;
    assert_eq!(new_err(&v).kind, ErrorKind::Corrupt);
    let mut v = n.bytes.clone();
    v[27] = 1;
    assert_eq!(new_err(&v).kind, ErrorKind::Corrupt);
}

#[test]
fn pcapng_truncated_then_continues() {
    let n = Ng::new(false)
        .idb(1, 0, &[])
        .epb(0, 1, b"first", 5)
        .block(4, &[0; 8])
        .idb(113, 0, &[(9, vec![9])])
        .spb(b"spb", 3)
        .shb(true)
        .idb(0, 0, &[])
        .epb(0, 2, b"second", 6);
    let all = read(&n.bytes);
    assert_eq!(frames(&all).len(), 3);
    for cut in 28..n.bytes.len() {
        for chunk in [1, 5, usize::MAX] {
            let data = Rc::new(RefCell::new(n.bytes[..cut].to_vec()));
            let g = Growing {
                data: data.clone(),
                pos: 0,
                chunk,
            };
            let mut r = CaptureReader::new(g, "g").unwrap();
            let mut evs = events(&mut r);
            let partial = match evs.pop() {
                Some(Ev::End(p)) => p,
                other => panic!("{other:?}"),
            };
            assert_eq!(r.offset() + partial, cut as u64, "cut {cut}");
            data.borrow_mut().extend_from_slice(&n.bytes[cut..]);
            evs.extend(events(&mut r));
            assert_eq!(evs, all, "cut at {cut}, chunk {chunk}");
        }
    }
}

// ---------------------------------------------------------------- robustness

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn mutated_inputs_never_panic() {
    let pcap = Pcap::new(false, 0xa1b2_c3d4, 1)
        .rec(1, 1, b"first", 5)
        .rec(2, 2, b"second", 6)
        .rec(3, 3, &[7; 300], 400)
        .bytes;
    let ng = Ng::new(false)
        .idb(1, 0, &[(9, vec![0x85]), (14, vec![1; 8])])
        .epb(0, 1, b"first", 5)
        .block(4, &[0; 8])
        .spb(b"spb", 3)
        .pb(0, 9, b"pb", 2)
        .shb(true)
        .idb(0, 0, &[])
        .epb(0, 2, b"second", 6)
        .bytes;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for base in [&pcap, &ng] {
        for _ in 0..3000 {
            let mut v = base.to_vec();
            let edits = 1 + rng.next() % 4;
            for _ in 0..edits {
                let i = (rng.next() as usize) % v.len();
                match rng.next() % 3 {
                    0 => v[i] = rng.next() as u8,
                    1 => v[i] ^= 0x80,
                    _ => v.truncate(i.max(1)),
                }
            }
            if let Ok(mut r) = CaptureReader::new(&v[..], "fuzz") {
                let evs = events(&mut r);
                assert!(evs.len() <= v.len());
            }
        }
    }
}

#[test]
fn damaged_length_in_short_file_does_not_allocate_it() {
    // A pcap record and a pcapng block claiming almost MAX_RECORD bytes, in
    // files of a few bytes: End{partial}, and the buffer stays small.
    let mut f = Pcap::new(false, 0xa1b2_c3d4, 1);
    put32(&mut f.bytes, false, 1);
    put32(&mut f.bytes, false, 0);
    put32(&mut f.bytes, false, MAX_RECORD as u32 - 8);
    put32(&mut f.bytes, false, 1);
    f.bytes.extend_from_slice(&[0; 10]);
    let mut r = CaptureReader::new(&f.bytes[..], "m").unwrap();
    assert!(matches!(r.next(), Next::End { partial: 26 }));
    assert_eq!(r.buf.len(), DEFAULT_BUF);
    let mut n = Ng::new(false).idb(1, 0, &[]);
    put32(&mut n.bytes, false, PCAPNG_EPB);
    put32(&mut n.bytes, false, MAX_RECORD as u32 - 4);
    n.bytes.extend_from_slice(&[0; 10]);
    let mut r = CaptureReader::new(&n.bytes[..], "m").unwrap();
    assert!(matches!(r.next(), Next::End { partial: 18 }));
    assert_eq!(r.buf.len(), DEFAULT_BUF);
}

#[test]
fn reader_errors_are_fatal_with_offset() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let f = Pcap::new(false, 0xa1b2_c3d4, 1).rec(1, 0, b"abcd", 4).bytes;
            let n = out.len().min(self.0).min(f.len());
            out[..n].copy_from_slice(&f[..n]);
            self.0 = 0;
            Ok(n)
        }
    }
    let mut r = CaptureReader::new(Failing(30), "f").unwrap();
    match r.next() {
        Next::Fatal(e) => {
            assert_eq!(e.kind, ErrorKind::Io);
            assert_eq!(e.offset, 30);
            assert!(e.message.contains("disk on fire"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        CaptureReader::new(Failing(0), "f").unwrap_err().kind,
        ErrorKind::Io
    );
    let e = CaptureReader::open(Path::new("/nonexistent/x.pcap")).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::Io, 0));
    assert!(e
        .to_string()
        .starts_with("/nonexistent/x.pcap: offset 0: cannot open"));
}

// ---------------------------------------------------------------- mapped files

/// A file in the temporary directory, removed on drop.
pub(crate) struct TempFile(pub(crate) std::path::PathBuf);

impl TempFile {
    pub(crate) fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("netanom-capture-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
    pub(crate) fn append(&self, bytes: &[u8]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap();
        f.write_all(bytes).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn mapped_file_gives_the_frames_of_the_bytes_and_follows_growth() {
    let f = three_records();
    let ng = Ng::new(false)
        .shb(false)
        .idb(1, 0, &[])
        .epb(0, 7, b"packet", 6)
        .spb(b"simple", 6);
    for bytes in [f.bytes, ng.bytes] {
        let all = read(&bytes);
        let file = TempFile::new("whole", &bytes);
        let mut r = CaptureReader::open(&file.0).unwrap();
        assert!(
            matches!(r.buf, Bytes::Mapped(_)),
            "a regular file is mapped"
        );
        assert_eq!(events(&mut r), all);
        // Written in two steps, cut anywhere after the header.
        let header = if bytes[0] == 0x0a { 28 } else { 24 };
        for cut in header..bytes.len() {
            let file = TempFile::new("growing", &bytes[..cut]);
            let mut r = CaptureReader::open(&file.0).unwrap();
            let mut evs = events(&mut r);
            let partial = match evs.pop() {
                Some(Ev::End(p)) => p,
                other => panic!("{other:?}"),
            };
            assert_eq!(r.offset() + partial, cut as u64);
            file.append(&bytes[cut..]);
            evs.extend(events(&mut r));
            assert_eq!(evs, all, "cut at {cut}");
        }
    }
}

#[test]
fn mapped_file_larger_than_a_window() {
    // 70 MiB of records of every size up to 9000 bytes: the mapping moves
    // on several times, with records across its ends.
    let mut f = Pcap::new(false, 0xa1b2_c3d4, 1);
    let mut sizes = Vec::new();
    let mut n = 0usize;
    let mut i = 0u32;
    while n < 70 << 20 {
        let len = (i as usize * 7919) % 9001;
        let data: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
        f = f.rec(i, 0, &data, len as u32);
        sizes.push(len);
        n += 16 + len;
        i += 1;
    }
    let file = TempFile::new("large", &f.bytes);
    let mut r = CaptureReader::open(&file.0).unwrap();
    let mut offset = 24u64;
    for (i, &len) in sizes.iter().enumerate() {
        match r.next() {
            Next::Frame(frame) => {
                assert_eq!(frame.offset, offset, "record {i}");
                assert_eq!(frame.data.len(), len, "record {i}");
                assert!(frame
                    .data
                    .iter()
                    .enumerate()
                    .all(|(j, &b)| b == (j as u32 ^ i as u32) as u8));
            }
            other => panic!("record {i}: {other:?}"),
        }
        offset += 16 + len as u64;
    }
    assert!(matches!(r.next(), Next::End { partial: 0 }));
}

#[test]
fn mapped_file_cut_short_while_read_is_reported_not_a_crash() {
    // Three pages' worth of records, cut to one page after the first few
    // are read: what follows is gone, and the reader says so.
    let mut f = Pcap::new(false, 0xa1b2_c3d4, 1);
    for i in 0..200u32 {
        f = f.rec(i, 0, &[i as u8; 100], 100);
    }
    let file = TempFile::new("cut", &f.bytes);
    let mut r = CaptureReader::open(&file.0).unwrap();
    for _ in 0..3 {
        assert!(matches!(r.next(), Next::Frame(_)));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file.0)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let mut frames = 3;
    let err = loop {
        match r.next() {
            Next::Frame(_) => frames += 1,
            Next::Fatal(e) => break e,
            other => panic!("{other:?}"),
        }
        assert!(frames < 200, "the cut was not noticed");
    };
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(
        err.message.contains("file shrank while being read"),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with(&format!("{}: offset ", file.0.display())));
    // Later calls repeat the error.
    assert!(matches!(r.next(), Next::Fatal(_)));
}
