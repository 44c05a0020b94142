//! `kmeans` per-worker work, one thread (= one worker): scoring each
//! record against k = 23 centroids in 40 dimensions (standardize, nearest
//! centroid, distance), adding it to the worker's partial statistics
//! (fixed-point sums), and per epoch what the trainer does with them:
//! merge the workers' partials and update the model (mini-batch, decay).
//!
//! `cargo bench --bench kmeans`. The model is trained on 5,000 points from
//! 23 Gaussian blobs; then 2M further points are scored in epochs of
//! 10,000 records, each followed by a merge of 4 partials (this worker's
//! and three empty ones standing for other workers) and `Model::update`
//! (decay 0.9). Best of 5 passes. The target is at least 1M records/s.

use netanom_operators::kmeans_model::{Model, Partial, SplitMix64};
use std::time::Instant;

const K: usize = 23;
const D: usize = 40;

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

fn main() {
    let mut rng = SplitMix64::new(42);
    let centers: Vec<f64> = (0..K * D).map(|_| rng.next_f64() * 20.0).collect();
    let train = points(5_000, &mut rng, &centers);
    let t = Instant::now();
    let mut model = Model::train(&train, D, K, 1, 10, 300).expect("train");
    println!(
        "train: 5000 points, k = {K}, d = {D}, n_init 10: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let n = 2_000_000;
    let epoch = 10_000;
    let data = points(n, &mut rng, &centers);
    let mut best = f64::INFINITY;
    let mut checksum = 0.0;
    for _ in 0..5 {
        let mut m = model.clone();
        let mut scratch = vec![0.0; D];
        let t = Instant::now();
        for chunk in data.chunks(epoch * D) {
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
        best = best.min(t.elapsed().as_secs_f64());
        model = m;
    }
    println!(
        "score + update: {n} records in {best:.3} s = {:.2} M records/s per worker (checksum {checksum:.3e})",
        n as f64 / best / 1e6
    );
}
