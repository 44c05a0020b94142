//! Per-operator throughput, with criterion. Every input is generated in
//! memory (`netanom-generate`, seed 1: 200,000 packets with the four
//! default attacks, and their Wireshark CSV export), so the figures do not
//! depend on the disk. Groups, each reporting elements per second
//! (`thrpt:`):
//!
//! - `decode`: the pcap source's inner loop on one thread: read the
//!   capture from memory (`netanom-capture`), dissect and classify each
//!   frame (`netanom-dissect`). Packets/s.
//! - `csv_parse`: the csv source's row parser on the CSV export (every row
//!   parsed into a packet, nothing kept). Rows/s.
//! - `anonymize`: Crypto-PAn with the per-worker caches, one thread, each
//!   pass from empty caches. `capture`: the packets' src and dst rewritten
//!   as the operator does; `zipf`: 10M addresses, Zipf-distributed over
//!   100k IPv4 hosts in 2,000 /16s plus 10% IPv6 over 20k hosts in 1,000
//!   /64s (a large site); `uniform`: 2M uniformly random IPv4 addresses
//!   (worst case: every address new); `uncached`: 500k of them without
//!   caches (32 AES blocks per address). Addresses/s.
//! - `window`: the notebook's 10 ms windows per (src, dst, protocol) and 1
//!   s windows per src, on 1 and 2 workers. Packets/s.
//! - `degree`: the differential-dataflow degree computation in 1 s
//!   windows (also with `min_count: 11`) and over the whole run, on 1 and
//!   2 workers. Packets (edges)/s.
//! - `kmeans`: per-worker k-means work (k = 23, 40 dimensions), one
//!   thread: score each record and add it to the worker's partial
//!   statistics; per 10,000-record epoch merge 4 partials and update the
//!   model (decay 0.9). 200,000 records; training on 5,000 points stays
//!   outside the measurement. Records/s.
//! - `prometheus`: the prometheus sink's per-batch update on 1 and 2
//!   workers, with its endpoint started on 127.0.0.1 (any free port):
//!   `packets` feeds the packets into its packet input; `packets+flows`
//!   also feeds the records of a 10 ms window per (src, dst, protocol) of
//!   those packets (computed beforehand: 126k records) into its window
//!   input; `harness only` feeds the packets to no sink, the cost of the
//!   feeding itself. Packets/s.
//!
//! `window`, `degree` and `prometheus` run Timely dataflows: each worker
//! feeds its share of the packets (every `workers`-th) at the Timely time
//! the pcap source would use (1 s ticks, watermark = newest ts - 1 s), at
//! most four ticks ahead of the output; a measurement runs from the
//! dataflow's start to its end (see `benches/common.rs`).
//!
//! `cargo bench --bench operators` runs everything (about 2 minutes on 2
//! cores); `cargo bench --bench operators -- window` one group (the
//! argument is a regular expression on the ids, `group/name[/workers]`);
//! `-- --test` runs each benchmark once.

mod common;

use common::{Harness, Measured, Prometheus, Shares};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion,
    SamplingMode, Throughput,
};
use netanom_capture::{CaptureReader, Next};
use netanom_operators::anonymize::{anonymize_addr, Anonymize, Spec};
use netanom_operators::cryptopan::{Anonymizer, CryptoPan};
use netanom_operators::kmeans_model::{Model, Partial, SplitMix64};
use netanom_operators::{DegreeConfig, WindowConfig};
use netanom_records::{Addr, Packet};
use netanom_sinks::prometheus::{Exporter, PrometheusConfig, Topology};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Packets generated (rows of the CSV export).
const PACKETS: u64 = 200_000;

/// The generated inputs, made on first use.
fn inputs() -> &'static common::Inputs {
    static INPUTS: OnceLock<common::Inputs> = OnceLock::new();
    INPUTS.get_or_init(|| common::generate(PACKETS))
}

/// The inputs' packets, dissected.
fn packets() -> &'static [Packet] {
    static PACKETS: OnceLock<Vec<Packet>> = OnceLock::new();
    PACKETS.get_or_init(|| common::packets(&inputs().pcap))
}

/// A group of ten samples of a fixed number of passes each (flat sampling:
/// a pass takes tens to hundreds of milliseconds), counting `elements`
/// per pass.
fn group<'c>(c: &'c mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(elements));
    group
}

fn decode(c: &mut Criterion) {
    let inputs = inputs();
    let mut group = group(c, "decode", inputs.packets);
    group.bench_function("read+dissect+classify", |b| {
        b.iter(|| {
            let mut reader =
                CaptureReader::new(&inputs.pcap[..], "generated.pcap").expect("read the capture");
            let mut packet = Packet::default();
            let (mut frames, mut checksum) = (0u64, 0u64);
            loop {
                match reader.next() {
                    Next::Frame(f) => {
                        frames += 1;
                        packet.length = f.orig_len;
                        netanom_dissect::dissect(f.linktype, f.data, &mut packet);
                        checksum = checksum.wrapping_add(u64::from(packet.sport.unwrap_or(0)));
                    }
                    Next::Skipped(_) => {}
                    Next::End { .. } | Next::Fatal(_) => break,
                }
            }
            assert_eq!(frames, inputs.packets, "frames read");
            checksum
        })
    });
    group.finish();
}

fn csv_parse(c: &mut Criterion) {
    let inputs = inputs();
    let csv: Arc<[u8]> = inputs.csv.as_slice().into();
    let mut group = group(c, "csv_parse", inputs.packets);
    group.bench_function("wireshark export", |b| {
        b.iter(|| {
            let counted = netanom_sources::csv::count_rows(std::io::Cursor::new(csv.clone()));
            assert_eq!(counted.ok(), Some((inputs.packets, 0)), "rows, bad rows");
        })
    });
    group.finish();
}

const KEY: [u8; 32] = *b"netanom benchmark key, 32 bytes!";

/// Deterministic random numbers (the k-means model's SplitMix64), and a
/// Zipf draw.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Zipf(1) over 0..n, by inverting the harmonic CDF approximately.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let h = (n as f64).ln() + 0.577;
        ((u * h).exp() - 1.0).clamp(0.0, (n - 1) as f64) as u64
    }
}

fn zipf_addresses(count: usize) -> Vec<Addr> {
    let mut rng = Rng::new(42);
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

fn anonymize(c: &mut Criterion) {
    let packets = packets();
    let ips = packets
        .iter()
        .map(|p| u64::from(p.src.is_ip()) + u64::from(p.dst.is_ip()))
        .sum::<u64>();
    let spec = Spec {
        src: true,
        dst: true,
        redact_info: true,
    };
    let mut group = group(c, "anonymize", ips);
    group.bench_function("capture src+dst", |b| {
        b.iter_batched(
            || packets.to_vec(),
            |mut batch| {
                let mut anon = Anonymizer::new(&KEY);
                for p in batch.iter_mut() {
                    p.anonymize(&spec, &mut anon);
                }
                batch
            },
            BatchSize::PerIteration,
        )
    });

    let zipf = zipf_addresses(10_000_000);
    group.throughput(Throughput::Elements(zipf.len() as u64));
    group.bench_function("zipf", |b| {
        b.iter(|| {
            let mut anon = Anonymizer::new(&KEY);
            let mut sum = 0u64;
            for &a in &zipf {
                if let Addr::V4(v) = anonymize_addr(a, &mut anon) {
                    sum = sum.wrapping_add(u64::from(u32::from(v)));
                }
            }
            sum
        })
    });
    drop(zipf);

    let mut rng = Rng::new(7);
    let uniform: Vec<u32> = (0..2_000_000).map(|_| rng.next() as u32).collect();
    group.throughput(Throughput::Elements(uniform.len() as u64));
    group.bench_function("uniform", |b| {
        b.iter(|| {
            let mut anon = Anonymizer::new(&KEY);
            uniform
                .iter()
                .fold(0u32, |s, &a| s.wrapping_add(anon.anonymize_u32(a)))
        })
    });
    let pan = CryptoPan::new(&KEY);
    let uncached = &uniform[..500_000];
    group.throughput(Throughput::Elements(uncached.len() as u64));
    group.bench_function("uncached", |b| {
        b.iter(|| {
            uncached
                .iter()
                .fold(0u32, |s, &a| s.wrapping_add(pan.anonymize_u32(a)))
        })
    });
    group.finish();
}

/// `op` fed with `shares` by the harness, `iters` times; checks that the
/// harness fed no packet late and, when `rows` is set, that `op` had
/// output.
fn runs<O: Measured>(iters: u64, shares: &Shares, op: &O, rows: bool) -> Duration {
    (0..iters)
        .map(|_| {
            let run = common::feed(shares, op);
            assert_eq!(run.late, 0, "late packets: the harness feeds them wrong");
            assert!(!rows || run.rows > 0, "no output");
            run.elapsed
        })
        .sum()
}

/// Benchmarks `op` on 1 and 2 workers as `name` in `group`.
fn on_workers<O: Measured>(group: &mut BenchmarkGroup<WallTime>, name: &str, op: &O, rows: bool) {
    for workers in [1, 2] {
        let shares = common::split(packets(), workers);
        let id = BenchmarkId::new(name, workers_label(workers));
        group.bench_function(id, |b| {
            b.iter_custom(|iters| runs(iters, &shares, op, rows))
        });
    }
}

fn workers_label(workers: usize) -> String {
    match workers {
        1 => "1 worker".to_owned(),
        n => format!("{n} workers"),
    }
}

/// The 10 ms windows of the notebook: per (src, dst, protocol).
const FLOWS: &str = "size: 10ms\ngroup_by: [src, dst, protocol]";

fn window(c: &mut Criterion) {
    let mut group = group(c, "window", packets().len() as u64);
    for (name, yaml) in [
        ("10ms src,dst,protocol", FLOWS),
        ("1s src", "size: 1s\ngroup_by: [src]"),
    ] {
        let config: WindowConfig = serde_yaml::from_str(yaml).expect("window config");
        on_workers(&mut group, name, &config, true);
    }
    group.finish();
}

fn degree(c: &mut Criterion) {
    let mut group = group(c, "degree", packets().len() as u64);
    for (name, yaml) in [
        ("1s", "window: 1s"),
        ("1s, min_count 11", "window: 1s\nmin_count: 11"),
        ("all", "window: all"),
    ] {
        let config: DegreeConfig = serde_yaml::from_str(yaml).expect("degree config");
        on_workers(&mut group, name, &config, true);
    }
    group.finish();
}

/// Dimensions and clusters of the k-means benchmark.
const D: usize = 40;
const K: usize = 23;

/// `n` points around `centers` (K of them): roughly normal noise.
fn points(n: usize, rng: &mut SplitMix64, centers: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * D);
    for _ in 0..n {
        let c = (rng.next_u64() % K as u64) as usize;
        for t in 0..D {
            // Roughly normal noise: the sum of four uniforms.
            let noise: f64 = (0..4).map(|_| rng.next_f64()).sum::<f64>() - 2.0;
            out.push(centers[c * D + t] + noise);
        }
    }
    out
}

fn kmeans(c: &mut Criterion) {
    const RECORDS: usize = 200_000;
    const EPOCH: usize = 10_000;
    let mut rng = SplitMix64::new(42);
    let centers: Vec<f64> = (0..K * D).map(|_| rng.next_f64() * 20.0).collect();
    let train = points(5_000, &mut rng, &centers);
    let model = Model::train(&train, D, K, 1, 10, 300).expect("train");
    let data = points(RECORDS, &mut rng, &centers);
    let mut group = group(c, "kmeans", RECORDS as u64);
    group.bench_function("score+update", |b| {
        b.iter(|| {
            let mut m = model.clone();
            let mut scratch = vec![0.0; D];
            let mut checksum = 0.0;
            for chunk in data.chunks(EPOCH * D) {
                let mut partial = Partial::new(&m);
                for x in chunk.chunks_exact(D) {
                    let (j, dist) = m.score_and_add(x, &mut scratch, &mut partial);
                    checksum += dist + j as f64;
                }
                let mut merged = Partial::new(&m);
                merged.merge(&partial).expect("same shape");
                for _ in 0..3 {
                    merged.merge(&Partial::new(&m)).expect("same shape");
                }
                m.update(&merged, 0.9);
            }
            checksum
        })
    });
    group.finish();
}

fn prometheus(c: &mut Criterion) {
    let config = PrometheusConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..PrometheusConfig::default()
    };
    let topology = Topology {
        sources: vec!["capture".to_owned()],
        operators: vec![("flows".to_owned(), vec!["capture".to_owned()])],
        workers: 2,
    };
    let stats = netanom_records::stats::Stats::new();
    let exporter =
        Exporter::start("metrics", &config, topology, stats).expect("start the exporter");
    let flows: WindowConfig = serde_yaml::from_str(FLOWS).expect("window config");
    let flows = common::flows(packets(), &flows);
    let counted: u64 = flows.iter().map(|(_, flow)| flow.count).sum();
    assert_eq!(counted, PACKETS, "packets in the flows");
    let mut group = group(c, "prometheus", packets().len() as u64);
    // Runs fed to the sink: all, and those with flows.
    let (runs_all, runs_flows) = (Cell::new(0), Cell::new(0));
    for (name, with_flows) in [("packets", false), ("packets+flows", true)] {
        let sink = Prometheus {
            config: config.clone(),
            exporter: exporter.clone(),
            flows: with_flows,
        };
        for workers in [1, 2] {
            let mut shares = common::split(packets(), workers);
            if with_flows {
                shares = common::with_flows(shares, &flows);
            }
            let id = BenchmarkId::new(name, workers_label(workers));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    runs_all.set(runs_all.get() + iters);
                    if with_flows {
                        runs_flows.set(runs_flows.get() + iters);
                    }
                    runs(iters, &shares, &sink, false)
                })
            });
        }
    }
    on_workers(&mut group, "harness only", &Harness, true);
    group.finish();
    // The sink counted every packet of every run, in its packet and its
    // window metrics.
    let text = String::from_utf8(exporter.render().expect("render")).expect("UTF-8");
    for (metric, runs) in [
        ("netanom_packets_total", runs_all),
        ("netanom_window_packets_total", runs_flows),
    ] {
        assert_eq!(total(&text, metric), runs.get() * PACKETS, "{metric}");
    }
    exporter.stop();
}

/// The sum of the series of `metric` in the text format.
fn total(text: &str, metric: &str) -> u64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

criterion_group! {
    name = operators;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    targets = decode, csv_parse, anonymize, window, degree, kmeans, prometheus
}
criterion_main!(operators);
