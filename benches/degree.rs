//! `degree` operator throughput: edges (packets) per second through the
//! differential-dataflow degree computation, 1 s tumbling windows, on 1 and
//! 2 workers, packets in memory (decoding is measured by `decode`).
//!
//! `cargo bench --bench degree [-- FILE]`: FILE defaults to the 1M-packet
//! capture generated once into target/bench-data/ (see `common.rs`). Each
//! worker feeds every `peers`-th packet at the Timely time the pcap source
//! would use (1 s ticks, 1 s out-of-order allowance), at most four ticks
//! ahead of the output (like the engine's flow control); best of 3 runs,
//! timed from the dataflow's start to its end.

#[path = "common.rs"]
mod common;
use netanom_operators::DegreeConfig;

fn main() {
    let path = common::capture();
    let packets = common::packets(&path);
    let n = packets.len() as f64;
    println!("{}: {} packets", path.display(), packets.len());
    for (label, yaml) in [
        ("window 1s", "window: 1s"),
        ("window 1s, min_count 11", "window: 1s\nmin_count: 11"),
        ("window all", "window: all"),
    ] {
        let config: DegreeConfig = serde_yaml::from_str(yaml).expect("config");
        for workers in [1, 2] {
            let mut best = f64::MAX;
            let mut rows = 0;
            for _ in 0..3 {
                let (secs, r, late) = common::feed(&packets, &config, workers);
                assert_eq!(late, 0, "late packets: the benchmark feeds them wrong");
                best = best.min(secs);
                rows = r;
            }
            println!(
                "{label:<26} workers {workers}: {best:.3} s, {:.2} M edges/s, {rows} rows",
                n / best / 1e6
            );
        }
    }
}
