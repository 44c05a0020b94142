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
use netanom_records::stats::Stats;
use netanom_records::{Packet, Time, WindowRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use timely::dataflow::operators::vec::Input;
use timely::dataflow::operators::{Inspect, Probe};

const TICK: u64 = 1_000_000_000;

fn run(packets: &[Packet], config: &WindowConfig, workers: usize) -> (f64, u64) {
    let rows = Arc::new(AtomicU64::new(0));
    let parts = Arc::new(common::split(packets, workers));
    let started = Instant::now();
    let (p, c, r) = (parts, config.clone(), rows.clone());
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let stats = Stats::new();
        let r = r.clone();
        let (mut input, probe) = worker.dataflow::<Time, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Packet>();
            let out = c.build("window", stream, TICK, stats.component("window"));
            let probe = out
                .inspect(move |_: &WindowRecord| {
                    r.fetch_add(1, Ordering::Relaxed);
                })
                .probe()
                .0;
            (input, probe)
        });
        for (time, packet) in &p[index % peers] {
            let time = (*time).max(*input.time());
            if time > *input.time() {
                input.advance_to(time);
                worker.step_while(|| probe.less_than(&time.saturating_sub(4 * TICK)));
            }
            input.send(packet.clone());
        }
        drop(input);
        while worker.step_or_park(None) {}
    })
    .expect("timely runs");
    (
        started.elapsed().as_secs_f64(),
        rows.load(Ordering::Relaxed),
    )
}

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
                let (secs, r) = run(&packets, &config, workers);
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
