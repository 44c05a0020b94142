//! Crypto-PAn: prefix-preserving IP address anonymization (Xu, Fan, Ammar,
//! Moon, 2002), for IPv4 and IPv6. Pure: no Timely, no I/O.
//!
//! The 32-byte key is an AES-128 key followed by 16 pad bytes; the pad
//! block is `AES(pad bytes)`. Bit `i` of the result is bit `i` of the
//! address XOR the first bit of `AES(first i bits of the address, then
//! the pad's bits)`: it depends only on the address's first `i` bits, so
//! two addresses that share a prefix of `n` bits are mapped to two that
//! share exactly `n` bits. IPv4 uses the first 32 bits of the 128-bit
//! block, like the reference implementation; IPv6 all 128 (like the Go
//! and Python implementations).
//!
//! [`CryptoPan`] computes one address from scratch (32 or 128 AES blocks,
//! encrypted as one batch so the AES instructions pipeline).
//! [`Anonymizer`] adds the per-worker caches that make it fast on real
//! traffic: every IPv4 /16 prefix's result, recent full addresses, and
//! recent IPv6 /64 prefixes.
//!
//! Uses the `aes` crate 0.9 (RustCrypto, `cipher` 0.5 API), which picks
//! AES-NI or ARMv8 AES at run time and falls back to a constant-time
//! software implementation.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Block};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Bytes in a Crypto-PAn key.
pub const KEY_LEN: usize = 32;

/// A key that cannot be used. Messages never contain key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Neither 32 raw bytes nor 64 hex characters.
    Length(usize),
    /// 64 characters, one of which (1-based) is not a hex digit.
    NotHex(usize),
    /// 32 bytes that are all hex digits: almost surely a 16-byte key
    /// written in hex, which is too short.
    HexTooShort,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Length(n) => write!(
                f,
                "a key is 32 raw bytes or 64 hex characters; found {n} {}",
                if *n == 1 { "byte" } else { "bytes" }
            ),
            KeyError::NotHex(i) => write!(
                f,
                "a key of 64 characters must be hex; character {i} is not a hex digit"
            ),
            KeyError::HexTooShort => f.write_str(
                "found 32 hex characters (a 16-byte key); a key is 32 raw bytes or 64 hex characters",
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Reads a key: exactly 32 raw bytes, or 64 hex characters (surrounding
/// whitespace, such as a final newline, ignored).
pub fn parse_key(bytes: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
    if bytes.len() == KEY_LEN {
        if bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(KeyError::HexTooShort);
        }
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(bytes);
        return Ok(key);
    }
    let text = bytes.trim_ascii();
    if text.len() != 2 * KEY_LEN {
        return Err(KeyError::Length(bytes.len()));
    }
    let mut key = [0u8; KEY_LEN];
    for (i, byte) in key.iter_mut().enumerate() {
        let hi = hex_digit(text[2 * i]).ok_or(KeyError::NotHex(2 * i + 1))?;
        let lo = hex_digit(text[2 * i + 1]).ok_or(KeyError::NotHex(2 * i + 2))?;
        *byte = (hi << 4) | lo;
    }
    Ok(key)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Crypto-PAn with one key, without caches.
#[derive(Clone)]
pub struct CryptoPan {
    cipher: Aes128,
    /// The pad block, as a big-endian number.
    pad: u128,
}

// No key material in debug output.
impl fmt::Debug for CryptoPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CryptoPan(<key>)")
    }
}

/// Most blocks encrypted in one batch (one IPv4 address).
const BATCH: usize = 32;

impl CryptoPan {
    /// Sets up the cipher and the pad from a 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> CryptoPan {
        let mut aes_key = [0u8; 16];
        aes_key.copy_from_slice(&key[..16]);
        let cipher = Aes128::new(&aes_key.into());
        let mut pad_in = [0u8; 16];
        pad_in.copy_from_slice(&key[16..]);
        let mut block = Block::from(pad_in);
        cipher.encrypt_block(&mut block);
        let pad: [u8; 16] = block.into();
        CryptoPan {
            cipher,
            pad: u128::from_be_bytes(pad),
        }
    }

    /// The one-time-pad bits `from..to` (bit 0 = most significant) for the
    /// left-aligned 128-bit address `a`; other bits are zero.
    fn flips(&self, a: u128, from: u32, to: u32) -> u128 {
        let mut result = 0u128;
        let mut blocks = [Block::default(); BATCH];
        let mut start = from;
        while start < to {
            let n = (to - start).min(BATCH as u32);
            for (k, block) in blocks.iter_mut().take(n as usize).enumerate() {
                let i = start + k as u32;
                // The first i bits of the address, then the pad's.
                let mask = prefix_mask(i);
                let input = (a & mask) | (self.pad & !mask);
                *block = Block::from(input.to_be_bytes());
            }
            self.cipher.encrypt_blocks(&mut blocks[..n as usize]);
            for (k, block) in blocks.iter().take(n as usize).enumerate() {
                let i = start + k as u32;
                result |= u128::from(block[0] >> 7) << (127 - i);
            }
            start += n;
        }
        result
    }

    /// Anonymizes an IPv4 address (as a number).
    pub fn anonymize_u32(&self, a: u32) -> u32 {
        let wide = u128::from(a) << 96;
        a ^ ((self.flips(wide, 0, 32) >> 96) as u32)
    }

    /// Anonymizes an IPv4 address.
    pub fn anonymize_v4(&self, a: Ipv4Addr) -> Ipv4Addr {
        Ipv4Addr::from(self.anonymize_u32(u32::from(a)))
    }

    /// Anonymizes an IPv6 address (as a number).
    pub fn anonymize_u128(&self, a: u128) -> u128 {
        a ^ self.flips(a, 0, 128)
    }

    /// Anonymizes an IPv6 address.
    pub fn anonymize_v6(&self, a: Ipv6Addr) -> Ipv6Addr {
        Ipv6Addr::from(self.anonymize_u128(u128::from(a)))
    }
}

/// The first `bits` bits set.
fn prefix_mask(bits: u32) -> u128 {
    if bits == 0 {
        0
    } else {
        !0u128 << (128 - bits.min(128))
    }
}

/// log2 of the recent-IPv4-address cache's entries (direct-mapped).
const V4_RECENT_BITS: u32 = 14;
/// log2 of the recent-IPv6-address cache's entries.
const V6_RECENT_BITS: u32 = 12;
/// log2 of the IPv6 /64 prefix cache's entries.
const V6_PREFIX_BITS: u32 = 10;
/// Marks a computed entry of the IPv4 /16 table.
const V4_HI_DONE: u32 = 1 << 16;

/// Crypto-PAn with per-worker caches. The mapping is exactly
/// [`CryptoPan`]'s; the caches only save work. Memory: about 1.3 MB.
pub struct Anonymizer {
    pan: CryptoPan,
    /// Per IPv4 /16: the anonymized first 16 bits, `| V4_HI_DONE` once
    /// computed (0 = not yet).
    v4_hi: Box<[u32]>,
    /// Recent IPv4 addresses: `original << 32 | anonymized`; 0 = empty.
    v4_recent: Box<[u64]>,
    /// Recent IPv6 addresses: (original, anonymized); (0, 0) = empty.
    v6_recent: Box<[(u128, u128)]>,
    /// Recent IPv6 /64 prefixes: (original, anonymized, filled).
    v6_prefix: Box<[(u64, u64, bool)]>,
}

impl fmt::Debug for Anonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Anonymizer(<key>)")
    }
}

impl Anonymizer {
    /// Empty caches for `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Anonymizer {
        Anonymizer {
            pan: CryptoPan::new(key),
            v4_hi: vec![0u32; 1 << 16].into_boxed_slice(),
            v4_recent: vec![0u64; 1 << V4_RECENT_BITS].into_boxed_slice(),
            v6_recent: vec![(0u128, 0u128); 1 << V6_RECENT_BITS].into_boxed_slice(),
            v6_prefix: vec![(0u64, 0u64, false); 1 << V6_PREFIX_BITS].into_boxed_slice(),
        }
    }

    /// The uncached algorithm.
    pub fn uncached(&self) -> &CryptoPan {
        &self.pan
    }

    /// Anonymizes an IPv4 address (as a number).
    #[inline]
    pub fn anonymize_u32(&mut self, a: u32) -> u32 {
        let slot = (a.wrapping_mul(0x9E37_79B1) >> (32 - V4_RECENT_BITS)) as usize;
        let entry = self.v4_recent.get(slot).copied().unwrap_or(0);
        if entry != 0 && (entry >> 32) as u32 == a {
            return entry as u32;
        }
        let out = self.compute_u32(a);
        if let Some(e) = self.v4_recent.get_mut(slot) {
            *e = (u64::from(a) << 32) | u64::from(out);
        }
        out
    }

    fn compute_u32(&mut self, a: u32) -> u32 {
        let hi = (a >> 16) as usize;
        let cached = self.v4_hi.get(hi).copied().unwrap_or(0);
        let hi_flips = if cached & V4_HI_DONE != 0 {
            cached & 0xffff
        } else {
            let wide = u128::from(a) << 96;
            let flips = (self.pan.flips(wide, 0, 16) >> 112) as u32;
            if let Some(e) = self.v4_hi.get_mut(hi) {
                *e = flips | V4_HI_DONE;
            }
            flips
        };
        let wide = u128::from(a) << 96;
        let lo_flips = (self.pan.flips(wide, 16, 32) >> 96) as u32;
        a ^ (hi_flips << 16) ^ lo_flips
    }

    /// Anonymizes an IPv6 address (as a number).
    pub fn anonymize_u128(&mut self, a: u128) -> u128 {
        let folded = (a as u64) ^ ((a >> 64) as u64);
        let slot = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - V6_RECENT_BITS)) as usize;
        if let Some(&(orig, anon)) = self.v6_recent.get(slot) {
            if orig == a && (orig, anon) != (0, 0) {
                return anon;
            }
        }
        let prefix = (a >> 64) as u64;
        let pslot = (prefix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - V6_PREFIX_BITS)) as usize;
        let hi_flips = match self.v6_prefix.get(pslot) {
            Some(&(p, flips, true)) if p == prefix => flips,
            _ => {
                let flips = (self.pan.flips(a, 0, 64) >> 64) as u64;
                if let Some(e) = self.v6_prefix.get_mut(pslot) {
                    *e = (prefix, flips, true);
                }
                flips
            }
        };
        let out = a ^ (u128::from(hi_flips) << 64) ^ self.pan.flips(a, 64, 128);
        if let Some(e) = self.v6_recent.get_mut(slot) {
            *e = (a, out);
        }
        out
    }

    /// Anonymizes an IPv4 address.
    pub fn anonymize_v4(&mut self, a: Ipv4Addr) -> Ipv4Addr {
        Ipv4Addr::from(self.anonymize_u32(u32::from(a)))
    }

    /// Anonymizes an IPv6 address.
    pub fn anonymize_v6(&mut self, a: Ipv6Addr) -> Ipv6Addr {
        Ipv6Addr::from(self.anonymize_u128(u128::from(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans_model::SplitMix64;

    /// The published key (../shared/cryptopan-vectors.tsv).
    const KEY_HEX: &str = "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202";

    /// The reference implementation's sample trace, and IPv6 rows that
    /// agree with the Go and Python implementations
    /// (../shared/cryptopan-vectors.tsv; copied so the test runs alone).
    const VECTORS: &[(&str, &str)] = &[
        ("128.11.68.132", "135.242.180.132"),
        ("129.118.74.4", "134.136.186.123"),
        ("130.132.252.244", "133.68.164.234"),
        ("141.223.7.43", "141.167.8.160"),
        ("141.233.145.108", "141.129.237.235"),
        ("152.163.225.39", "151.140.114.167"),
        ("156.29.3.236", "147.225.12.42"),
        ("165.247.96.84", "162.9.99.234"),
        ("166.107.77.190", "160.132.178.185"),
        ("192.102.249.13", "252.138.62.131"),
        ("24.5.0.80", "100.9.15.210"),
        ("4.3.88.225", "124.60.155.63"),
        ("63.195.241.44", "95.179.238.44"),
        ("64.14.118.196", "0.255.183.58"),
        ("64.34.154.117", "0.221.154.117"),
        ("207.33.151.131", "241.1.233.131"),
        ("10.185.25.118", "117.161.29.118"),
        ("::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"),
        ("2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"),
        ("fe80::1", "cf7f:c0e:1fc3:da1c:70:b18e:f7f3:2101"),
        (
            "2001:db8:85a3::8a2e:370:7334",
            "4401:2bc:867e:e401:fdff:85b2:fb57:7ccb",
        ),
    ];

    fn key() -> [u8; KEY_LEN] {
        parse_key(KEY_HEX.as_bytes()).expect("the published key parses")
    }

    fn check(raw: &str, want: &str, pan: &CryptoPan, cached: &mut Anonymizer) {
        if let Ok(v4) = raw.parse::<Ipv4Addr>() {
            let want: Ipv4Addr = want.parse().expect("vector");
            assert_eq!(pan.anonymize_v4(v4), want, "{raw}");
            assert_eq!(cached.anonymize_v4(v4), want, "{raw} (cached)");
        } else {
            let v6: Ipv6Addr = raw.parse().expect("vector");
            let want: Ipv6Addr = want.parse().expect("vector");
            assert_eq!(pan.anonymize_v6(v6), want, "{raw}");
            assert_eq!(cached.anonymize_v6(v6), want, "{raw} (cached)");
        }
    }

    #[test]
    fn published_vectors() {
        let pan = CryptoPan::new(&key());
        let mut cached = Anonymizer::new(&key());
        // Twice: the second round is served by the caches.
        for _ in 0..2 {
            for (raw, want) in VECTORS {
                check(raw, want, &pan, &mut cached);
            }
        }
    }

    /// The shared file, when present beside the repository: every pair.
    #[test]
    fn shared_vector_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/cryptopan-vectors.tsv"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} not present");
            return;
        };
        let mut key_hex = None;
        let mut pairs = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            match (cols.next(), cols.next()) {
                (Some("key"), Some(k)) => key_hex = Some(k.trim().to_owned()),
                (Some("raw"), _) => {}
                (Some(raw), Some(anon)) => pairs.push((raw.to_owned(), anon.trim().to_owned())),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        let key = parse_key(key_hex.expect("a key line").as_bytes()).expect("key");
        let pan = CryptoPan::new(&key);
        let mut cached = Anonymizer::new(&key);
        assert!(pairs.len() >= 20, "{} pairs", pairs.len());
        for (raw, want) in &pairs {
            check(raw, want, &pan, &mut cached);
        }
    }

    #[test]
    fn shared_prefix_length_is_preserved() {
        let pan = CryptoPan::new(&key());
        let mut cached = Anonymizer::new(&key());
        let mut rng = SplitMix64::new(7);
        for _ in 0..2000 {
            // a random address, and another sharing exactly `n` bits
            let a = rng.next_u64() as u32;
            let n = (rng.next_u64() % 33) as u32;
            let b = if n == 32 {
                a
            } else {
                let flipped = a ^ (1u32 << (31 - n));
                let keep = if n == 31 { !0 } else { !0u32 << (31 - n) };
                (flipped & keep) | (rng.next_u64() as u32 & !keep)
            };
            assert_eq!((a ^ b).leading_zeros(), n);
            let (x, y) = (pan.anonymize_u32(a), pan.anonymize_u32(b));
            assert_eq!((x ^ y).leading_zeros(), n, "{a:#x} {b:#x}");
            assert_eq!(cached.anonymize_u32(a), x);
            assert_eq!(cached.anonymize_u32(b), y);
        }
        for _ in 0..300 {
            let a = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
            let n = (rng.next_u64() % 129) as u32;
            let b = if n == 128 {
                a
            } else {
                let flipped = a ^ (1u128 << (127 - n));
                let keep = !0u128 << (127 - n);
                let noise = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                (flipped & keep) | (noise & !keep)
            };
            assert_eq!((a ^ b).leading_zeros(), n);
            let (x, y) = (pan.anonymize_u128(a), pan.anonymize_u128(b));
            assert_eq!((x ^ y).leading_zeros(), n, "{a:#x} {b:#x}");
            assert_eq!(cached.anonymize_u128(a), x);
            assert_eq!(cached.anonymize_u128(b), y);
        }
    }

    #[test]
    fn caches_agree_under_collisions() {
        // Many addresses in few /16s and /64s: slots are reused.
        let pan = CryptoPan::new(&key());
        let mut cached = Anonymizer::new(&key());
        let mut rng = SplitMix64::new(11);
        for _ in 0..50_000 {
            let a = 0x0a00_0000 | (rng.next_u64() as u32 & 0x0003_ffff);
            assert_eq!(cached.anonymize_u32(a), pan.anonymize_u32(a));
        }
        for _ in 0..3000 {
            let a = (0x2001_0db8u128 << 96) | u128::from(rng.next_u64() & 0x3_ffff_ffff);
            assert_eq!(cached.anonymize_u128(a), pan.anonymize_u128(a));
        }
        // The all-zero addresses, which look like empty cache entries.
        for _ in 0..2 {
            assert_eq!(cached.anonymize_u32(0), pan.anonymize_u32(0));
            assert_eq!(cached.anonymize_u128(0), pan.anonymize_u128(0));
        }
    }

    #[test]
    fn keys_parse_strictly_and_errors_hide_the_key() {
        let k = key();
        let mut file = KEY_HEX.as_bytes().to_vec();
        file.push(b'\n');
        assert_eq!(parse_key(&file), Ok(k));
        assert_eq!(parse_key(KEY_HEX.to_uppercase().as_bytes()), Ok(k));
        // 32 raw bytes
        assert_eq!(parse_key(&k), Ok(k));
        assert_eq!(parse_key(b""), Err(KeyError::Length(0)));
        assert_eq!(
            parse_key(&KEY_HEX.as_bytes()[..63]),
            Err(KeyError::Length(63))
        );
        assert_eq!(
            parse_key(&KEY_HEX.as_bytes()[..32]),
            Err(KeyError::HexTooShort)
        );
        let mut bad = KEY_HEX.as_bytes().to_vec();
        bad[10] = b'g';
        let err = parse_key(&bad).expect_err("not hex");
        assert_eq!(err, KeyError::NotHex(11));
        for e in [err, KeyError::Length(63), KeyError::HexTooShort] {
            let text = e.to_string();
            assert!(!text.contains(&KEY_HEX[..8]), "{text}");
        }
        assert_eq!(format!("{:?}", CryptoPan::new(&k)), "CryptoPan(<key>)");
    }
}

/// Prefix preservation, the property Crypto-PAn exists for: two addresses
/// that share their first n bits map to addresses that share exactly
/// their first n bits, for any key, IPv4 and IPv6, cached or not.
#[cfg(test)]
mod prefix_properties {
    use super::*;
    use proptest::prelude::*;

    fn common_prefix_32(a: u32, b: u32) -> u32 {
        (a ^ b).leading_zeros()
    }

    fn common_prefix_128(a: u128, b: u128) -> u32 {
        (a ^ b).leading_zeros()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn v4_shared_prefix_length_is_kept(
            key in proptest::array::uniform32(any::<u8>()),
            a in any::<u32>(),
            // b shares a's first `keep` bits and differs right after them.
            keep in 0u32..=32,
            tail in any::<u32>(),
        ) {
            let b = if keep == 32 {
                a
            } else {
                let high = if keep == 0 { 0 } else { a & (u32::MAX << (32 - keep)) };
                let flipped = (!a) & (1u32 << (31 - keep));
                let low = if keep == 31 { 0 } else { tail & (u32::MAX >> (keep + 1)) };
                high | flipped | low
            };
            prop_assert_eq!(common_prefix_32(a, b), keep);
            let pan = CryptoPan::new(&key);
            let (x, y) = (pan.anonymize_u32(a), pan.anonymize_u32(b));
            prop_assert_eq!(common_prefix_32(x, y), keep, "{:08x} {:08x} -> {:08x} {:08x}", a, b, x, y);
            let mut cached = Anonymizer::new(&key);
            prop_assert_eq!(cached.anonymize_u32(a), x);
            prop_assert_eq!(cached.anonymize_u32(b), y);
        }

        #[test]
        fn v6_shared_prefix_length_is_kept(
            key in proptest::array::uniform32(any::<u8>()),
            a in any::<u128>(),
            keep in 0u32..=128,
            tail in any::<u128>(),
        ) {
            let b = if keep == 128 {
                a
            } else {
                let high = if keep == 0 { 0 } else { a & (u128::MAX << (128 - keep)) };
                let flipped = (!a) & (1u128 << (127 - keep));
                let low = if keep == 127 { 0 } else { tail & (u128::MAX >> (keep + 1)) };
                high | flipped | low
            };
            prop_assert_eq!(common_prefix_128(a, b), keep);
            let pan = CryptoPan::new(&key);
            let (x, y) = (pan.anonymize_u128(a), pan.anonymize_u128(b));
            prop_assert_eq!(common_prefix_128(x, y), keep, "{:032x} {:032x}", a, b);
            let mut cached = Anonymizer::new(&key);
            prop_assert_eq!(cached.anonymize_u128(a), x);
            prop_assert_eq!(cached.anonymize_u128(b), y);
        }
    }
}
