//! `anonymize` inner loop, one thread (= one worker): Crypto-PAn with the
//! per-worker caches, addresses in memory.
//!
//! `cargo bench --bench anonymize [-- FILE]`. Workloads, best of 5 passes,
//! each pass starting with empty caches:
//! - capture: the packets of FILE (default: the 1M-packet capture of
//!   `cargo bench --bench decode`, generated once with
//!   ../shared/tools/gen_pcap.py into target/bench-data/), src and dst
//!   rewritten as the operator does;
//! - zipf: 10M addresses, Zipf-distributed over 100k IPv4 hosts in 2,000
//!   /16s plus 10% IPv6 over 20k hosts in 1,000 /64s (a large site);
//! - uniform: 2M uniformly random IPv4 addresses (a worst case: every
//!   address new, every /16 cold at first);
//! - uncached: the same, without caches (32 AES blocks per address).

#[path = "common.rs"]
mod common;
use common::capture;
use netanom_operators::anonymize::{anonymize_addr, Anonymize, Spec};
use netanom_operators::cryptopan::{Anonymizer, CryptoPan};
use netanom_records::Addr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

const KEY: [u8; 32] = *b"netanom benchmark key, 32 bytes!";

/// SplitMix64: deterministic, no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Zipf(1) over 0..n, by inverting the harmonic CDF approximately.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let h = (n as f64).ln() + 0.577;
        ((u * h).exp() - 1.0).clamp(0.0, (n - 1) as f64) as u64
    }
}

fn zipf_addresses(count: usize) -> Vec<Addr> {
    let mut rng = Rng(42);
    let prefixes16: Vec<u32> = (0..2000)
        .map(|_| (rng.next() as u32) & 0xffff_0000)
        .collect();
    let hosts4: Vec<Ipv4Addr> = (0..100_000)
        .map(|_| {
            let p = prefixes16[rng.zipf(prefixes16.len() as u64) as usize];
            Ipv4Addr::from(p | (rng.next() as u32 & 0xffff))
        })
        .collect();
    let prefixes64: Vec<u128> = (0..1000)
        .map(|_| (0x2000u128 << 112) | (u128::from(rng.next()) << 64 & (!0u128 >> 4)))
        .collect();
    let hosts6: Vec<Ipv6Addr> = (0..20_000)
        .map(|_| {
            let p = prefixes64[rng.zipf(prefixes64.len() as u64) as usize];
            Ipv6Addr::from((p & !(u128::from(u64::MAX))) | u128::from(rng.next()))
        })
        .collect();
    (0..count)
        .map(|_| {
            if rng.next() < u64::MAX / 10 {
                Addr::V6(hosts6[rng.zipf(hosts6.len() as u64) as usize])
            } else {
                Addr::V4(hosts4[rng.zipf(hosts4.len() as u64) as usize])
            }
        })
        .collect()
}

fn best_of_5(mut pass: impl FnMut() -> (u64, f64)) -> (u64, f64) {
    (0..5)
        .map(|_| pass())
        .fold((0, f64::MAX), |(_, b), (n, t)| (n, b.min(t)))
}

fn report(name: &str, (n, secs): (u64, f64)) {
    println!(
        "{name:<34} {n:>9} addresses in {secs:.3} s: {:>6.1} M addresses/s",
        n as f64 / secs / 1e6
    );
}

fn main() {
    let path = capture();
    let mut base = common::packets(&path);
    let ips = base
        .iter()
        .map(|p| u64::from(p.src.is_ip()) + u64::from(p.dst.is_ip()))
        .sum::<u64>();
    println!(
        "capture: {} ({} packets, {ips} IP addresses)",
        path.display(),
        base.len()
    );
    let spec = Spec {
        src: true,
        dst: true,
        redact_info: true,
    };
    report(
        "capture (operator loop, src+dst)",
        best_of_5(|| {
            let mut batch = base.clone();
            let start = Instant::now();
            let mut anon = Anonymizer::new(&KEY);
            for p in batch.iter_mut() {
                p.anonymize(&spec, &mut anon);
            }
            let secs = start.elapsed().as_secs_f64();
            std::hint::black_box(&batch);
            (ips, secs)
        }),
    );
    base.clear();

    let zipf = zipf_addresses(10_000_000);
    report(
        "zipf (100k v4 + 20k v6 hosts)",
        best_of_5(|| {
            let start = Instant::now();
            let mut anon = Anonymizer::new(&KEY);
            let mut sum = 0u64;
            for &a in &zipf {
                if let Addr::V4(v) = anonymize_addr(a, &mut anon) {
                    sum = sum.wrapping_add(u64::from(u32::from(v)));
                }
            }
            std::hint::black_box(sum);
            (zipf.len() as u64, start.elapsed().as_secs_f64())
        }),
    );

    let mut rng = Rng(7);
    let uniform: Vec<u32> = (0..2_000_000).map(|_| rng.next() as u32).collect();
    report(
        "uniform random IPv4 (worst case)",
        best_of_5(|| {
            let start = Instant::now();
            let mut anon = Anonymizer::new(&KEY);
            let sum = uniform
                .iter()
                .fold(0u32, |s, &a| s.wrapping_add(anon.anonymize_u32(a)));
            std::hint::black_box(sum);
            (uniform.len() as u64, start.elapsed().as_secs_f64())
        }),
    );
    let pan = CryptoPan::new(&KEY);
    report(
        "uniform random IPv4, no cache",
        best_of_5(|| {
            let start = Instant::now();
            let sum = uniform[..500_000]
                .iter()
                .fold(0u32, |s, &a| s.wrapping_add(pan.anonymize_u32(a)));
            std::hint::black_box(sum);
            (500_000, start.elapsed().as_secs_f64())
        }),
    );
}
