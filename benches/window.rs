//! `window` operator throughput: packets per second through the notebook's
//! 10 ms windows per (src, dst, protocol), and 1 s windows per src, on 1
//! and 2 workers, packets in memory (decoding is measured by `decode`).
//!
//! `cargo bench --bench window [-- FILE]`: FILE defaults to the 1M-packet
//! capture generated once into target/bench-data/ (see `common.rs`). Each
//! worker feeds every `peers`-th packet at the Timely time the pcap source
//! would use (1 s ticks, watermark = newest ts - 1 s), at most four ticks
//! ahead of the output; best of 3 runs. Prints `BENCH` lines for
//! benches/run-all.sh.

#[path = "common.rs"]
mod common;
use netanom_operators::WindowConfig;

fn main() {
    let path = common::capture();
    let packets = common::packets(&path);
    let n = packets.len() as f64;
    println!("{}: {} packets", path.display(), packets.len());
    for (label, key, yaml) in [
        (
            "10ms src,dst,protocol",
            "window_10ms",
            "size: 10ms\ngroup_by: [src, dst, protocol]",
        ),
        ("1s src", "window_1s_src", "size: 1s\ngroup_by: [src]"),
    ] {
        let config: WindowConfig = serde_yaml::from_str(yaml).expect("config");
        for workers in [1, 2] {
            let mut best = f64::MAX;
            let mut rows = 0;
            for _ in 0..3 {
                let (secs, r, _late) = common::feed(&packets, &config, workers);
                best = best.min(secs);
                rows = r;
            }
            println!(
                "{label:<24} workers {workers}: {best:.3} s, {:.2} M packets/s, {rows} rows",
                n / best / 1e6
            );
            println!("BENCH {key}_w{workers} {:.0} packets/s", n / best);
        }
    }
}
