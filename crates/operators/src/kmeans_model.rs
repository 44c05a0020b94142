//! The numeric core of `kmeans`, without Timely: batch k-means (greedy
//! k-means++ seeding, then Lloyd), online standardization, scoring, and
//! Spark StreamingKMeans-style mini-batch updates with forgetting.
//!
//! Points are rows of a flat `&[f64]` (`n * d` values). Every choice is
//! deterministic: a [`SplitMix64`] generator seeded by the user, ties
//! decided by the lowest centroid index, sums taken in input order.

/// A small deterministic random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`: the same seed gives the same sequence.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Squared Euclidean distance (four accumulators, so it vectorizes).
#[inline]
pub fn dist2(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..4 {
            let t = x[i] - y[i];
            acc[i] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Dot product (four accumulators).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..4 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// The nearest of `centers` (rows of `d`) to `x` by exact distance, ties
/// to the lowest index: (index, squared distance).
fn nearest_exact(x: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centers.chunks_exact(d).enumerate() {
        let s = dist2(x, c);
        if s < best.1 {
            best = (j, s);
        }
    }
    best
}

/// The result of batch k-means.
#[derive(Clone, Debug)]
pub struct Fit {
    /// `k * d` centroid coordinates.
    pub centers: Vec<f64>,
    /// Sum of squared distances of the points to their nearest centroid.
    pub cost: f64,
    /// Points per centroid.
    pub counts: Vec<f64>,
}

/// Batch k-means on `n = data.len() / d` points: `n_init` runs of greedy
/// k-means++ seeding followed by Lloyd iterations (at most `max_iter`, or
/// until no assignment changes), keeping the run of lowest cost. Errors
/// when there are fewer points than `k` or the dimensions are empty.
pub fn fit(
    data: &[f64],
    d: usize,
    k: usize,
    seed: u64,
    n_init: usize,
    max_iter: usize,
) -> Result<Fit, String> {
    if d == 0 || k == 0 {
        return Err("k-means needs k >= 1 and at least one feature".into());
    }
    let n = data.len() / d;
    if n < k {
        return Err(format!(
            "{n} records to train on, fewer than k = {k}: k-means++ needs at least k"
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mut best: Option<Fit> = None;
    for _ in 0..n_init.max(1) {
        let centers = kmeans_pp(data, d, k, &mut rng);
        let fit = lloyd(data, d, k, centers, max_iter.max(1));
        if best.as_ref().is_none_or(|b| fit.cost < b.cost) {
            best = Some(fit);
        }
    }
    best.ok_or_else(|| "k-means found no solution".into())
}

/// Greedy k-means++ (as scikit-learn): each new centroid is the best of
/// `2 + ln k` candidates drawn with probability proportional to D².
fn kmeans_pp(data: &[f64], d: usize, k: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let n = data.len() / d;
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = (rng.next_u64() % n as u64) as usize;
    centers.extend_from_slice(&data[first * d..(first + 1) * d]);
    let mut closest: Vec<f64> = data
        .chunks_exact(d)
        .map(|x| dist2(x, &centers[..d]))
        .collect();
    let mut candidate_closest = vec![0.0; n];
    let mut best_closest = vec![0.0; n];
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(usize, f64)> = None;
        for _ in 0..trials {
            let pick = if total > 0.0 {
                let target = rng.next_f64() * total;
                let mut acc = 0.0;
                let mut idx = n - 1;
                for (i, c) in closest.iter().enumerate() {
                    acc += c;
                    if acc > target {
                        idx = i;
                        break;
                    }
                }
                idx
            } else {
                (rng.next_u64() % n as u64) as usize
            };
            let cand = &data[pick * d..(pick + 1) * d];
            let mut pot = 0.0;
            for (i, x) in data.chunks_exact(d).enumerate() {
                let v = closest[i].min(dist2(x, cand));
                candidate_closest[i] = v;
                pot += v;
            }
            if best.is_none_or(|(_, p)| pot < p) {
                best = Some((pick, pot));
                std::mem::swap(&mut best_closest, &mut candidate_closest);
            }
        }
        if let Some((pick, _)) = best {
            centers.extend_from_slice(&data[pick * d..(pick + 1) * d]);
            std::mem::swap(&mut closest, &mut best_closest);
        }
    }
    centers
}

/// Lloyd iterations from `centers`. An empty cluster takes the point
/// farthest from its centroid.
fn lloyd(data: &[f64], d: usize, k: usize, mut centers: Vec<f64>, max_iter: usize) -> Fit {
    let n = data.len() / d;
    let mut labels = vec![usize::MAX; n];
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0.0; k];
    for _ in 0..max_iter {
        let mut changed = false;
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0.0);
        let mut far = (0usize, -1.0f64);
        for (i, x) in data.chunks_exact(d).enumerate() {
            let (j, s) = nearest_exact(x, &centers, d);
            if labels[i] != j {
                labels[i] = j;
                changed = true;
            }
            if s > far.1 {
                far = (i, s);
            }
            counts[j] += 1.0;
            for (t, v) in sums[j * d..(j + 1) * d].iter_mut().zip(x) {
                *t += v;
            }
        }
        if !changed {
            break;
        }
        for j in 0..k {
            if counts[j] > 0.0 {
                for t in 0..d {
                    centers[j * d + t] = sums[j * d + t] / counts[j];
                }
            } else {
                centers[j * d..(j + 1) * d].copy_from_slice(&data[far.0 * d..(far.0 + 1) * d]);
            }
        }
    }
    // The cost and counts of the final centers.
    let mut cost = 0.0;
    counts.iter_mut().for_each(|c| *c = 0.0);
    for x in data.chunks_exact(d) {
        let (j, s) = nearest_exact(x, &centers, d);
        cost += s;
        counts[j] += 1.0;
    }
    Fit {
        centers,
        cost,
        counts,
    }
}

/// 1 / standard deviation, or 1 for a constant (or broken) feature.
fn inv_sd(variance: f64) -> f64 {
    let sd = variance.sqrt();
    if sd.is_finite() && sd > 1e-12 {
        1.0 / sd
    } else {
        1.0
    }
}

/// A model's parameters, as saved (`kmeans` `model_path`).
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    /// Number of centroids.
    pub k: usize,
    /// Feature dimensions.
    pub d: usize,
    /// `k * d` centroid coordinates, in raw (not standardized) units.
    pub centers: Vec<f64>,
    /// The weight (decayed count) of each centroid.
    pub weights: Vec<f64>,
    /// Per feature, the standardization mean.
    pub mean: Vec<f64>,
    /// Per feature, the standardization variance.
    pub variance: Vec<f64>,
    /// The (decayed) number of records behind the mean and variance.
    pub n: f64,
}

/// One epoch's contribution to the model: per-centroid sums and counts,
/// and the moments of the features (shifted by the model's mean).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    sums: Vec<f64>,
    counts: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
    n: f64,
}

impl Batch {
    /// An empty batch for `model`.
    pub fn new(model: &Model) -> Batch {
        Batch {
            sums: vec![0.0; model.k * model.d],
            counts: vec![0.0; model.k],
            s1: vec![0.0; model.d],
            s2: vec![0.0; model.d],
            n: 0.0,
        }
    }
}

/// A k-means model: centroids in raw feature space, their weights, and a
/// running standardization (distances are taken on standardized features).
/// It serializes whole and exactly (checkpoints), derived fields included.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Model {
    d: usize,
    k: usize,
    centers: Vec<f64>,
    weights: Vec<f64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    n: f64,
    // Derived: 1 / standard deviation, standardized centers, their norms.
    inv_sd: Vec<f64>,
    scaled: Vec<f64>,
    norms: Vec<f64>,
}

impl Model {
    /// Standardizes `data` (rows of `d`), fits `k` centroids with [`fit`],
    /// and returns the model with the standardized distance of every
    /// training point.
    pub fn train(
        data: &[f64],
        d: usize,
        k: usize,
        seed: u64,
        n_init: usize,
        max_iter: usize,
    ) -> Result<Model, String> {
        if d == 0 {
            return Err("no features".into());
        }
        let n = data.len() / d;
        if n == 0 {
            return Err("no records to train on".into());
        }
        let mut mean = vec![0.0; d];
        for x in data.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut m2 = vec![0.0; d];
        for x in data.chunks_exact(d) {
            for t in 0..d {
                let dv = x[t] - mean[t];
                m2[t] += dv * dv;
            }
        }
        let mut model = Model {
            d,
            k,
            centers: vec![0.0; k * d],
            weights: vec![0.0; k],
            mean,
            m2,
            n: n as f64,
            inv_sd: vec![1.0; d],
            scaled: vec![0.0; k * d],
            norms: vec![0.0; k],
        };
        model.refresh_scale();
        let standardized: Vec<f64> = data
            .chunks_exact(d)
            .flat_map(|x| {
                x.iter()
                    .zip(&model.mean)
                    .zip(&model.inv_sd)
                    .map(|((v, m), s)| (v - m) * s)
            })
            .collect();
        let fitted = fit(&standardized, d, k, seed, n_init, max_iter)?;
        for j in 0..k {
            for t in 0..d {
                model.centers[j * d + t] =
                    fitted.centers[j * d + t] / model.inv_sd[t] + model.mean[t];
            }
        }
        model.weights = fitted.counts;
        model.refresh_centers();
        Ok(model)
    }

    /// Feature dimensions.
    pub fn dims(&self) -> usize {
        self.d
    }

    /// Number of centroids.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The weight (decayed count) of each centroid.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The model's parameters, to save it.
    pub fn parts(&self) -> Parts {
        Parts {
            k: self.k,
            d: self.d,
            centers: self.centers.clone(),
            weights: self.weights.clone(),
            mean: self.mean.clone(),
            variance: (0..self.d).map(|t| self.variance(t)).collect(),
            n: self.n,
        }
    }

    /// A model from saved parameters; an error (never a panic) when their
    /// sizes disagree or a value is not finite or negative where it must
    /// not be. The standardization uses the saved variances as they are,
    /// so a model saved and loaded scores exactly like the original.
    pub fn from_parts(p: Parts) -> Result<Model, String> {
        let Parts {
            k,
            d,
            centers,
            weights,
            mean,
            variance,
            n,
        } = p;
        if k == 0 || d == 0 {
            return Err("k and the number of features must be at least 1".into());
        }
        if k.checked_mul(d) != Some(centers.len()) {
            return Err(format!(
                "{} centroid coordinates, expected k ({k}) x {d} features",
                centers.len()
            ));
        }
        if weights.len() != k {
            return Err(format!("{} weights, expected k = {k}", weights.len()));
        }
        if mean.len() != d || variance.len() != d {
            return Err(format!(
                "{} means and {} variances, expected {d}",
                mean.len(),
                variance.len()
            ));
        }
        let all_finite = centers.iter().chain(&mean).all(|v| v.is_finite());
        if !all_finite {
            return Err("a centroid or mean is not a finite number".into());
        }
        if !weights
            .iter()
            .chain(&variance)
            .chain([&n])
            .all(|v| v.is_finite() && *v >= 0.0)
        {
            return Err("a weight, variance or record count is negative or not finite".into());
        }
        let inv_sd = variance.iter().map(|v| inv_sd(*v)).collect();
        let m2 = variance.iter().map(|v| v * n).collect();
        let mut model = Model {
            d,
            k,
            centers,
            weights,
            mean,
            m2,
            n,
            inv_sd,
            scaled: vec![0.0; k * d],
            norms: vec![0.0; k],
        };
        model.refresh_centers();
        Ok(model)
    }

    /// The variance of feature `t` (0 before any record).
    fn variance(&self, t: usize) -> f64 {
        if self.n > 0.0 {
            self.m2[t] / self.n
        } else {
            0.0
        }
    }

    fn refresh_scale(&mut self) {
        for t in 0..self.d {
            self.inv_sd[t] = inv_sd(self.variance(t));
        }
    }

    fn refresh_centers(&mut self) {
        let d = self.d;
        for j in 0..self.k {
            for t in 0..d {
                self.scaled[j * d + t] = (self.centers[j * d + t] - self.mean[t]) * self.inv_sd[t];
            }
            let c = &self.scaled[j * d..(j + 1) * d];
            self.norms[j] = dot(c, c);
        }
    }

    /// Standardizes `x` into `out` (both of length [`Model::dims`]).
    #[inline]
    pub fn standardize(&self, x: &[f64], out: &mut [f64]) {
        for (((o, v), m), s) in out.iter_mut().zip(x).zip(&self.mean).zip(&self.inv_sd) {
            *o = (v - m) * s;
        }
    }

    /// The nearest centroid of a standardized point and the distance to it.
    /// The argmin uses |c|² - 2 x·c; the distance is then taken exactly.
    /// Ties go to the lowest index.
    #[inline]
    pub fn nearest(&self, xs: &[f64]) -> (usize, f64) {
        let d = self.d;
        let mut best = (0usize, f64::INFINITY);
        for (j, c) in self.scaled.chunks_exact(d).enumerate() {
            let s = self.norms[j] - 2.0 * dot(xs, c);
            if s < best.1 {
                best = (j, s);
            }
        }
        let j = best.0;
        (j, dist2(xs, &self.scaled[j * d..(j + 1) * d]).sqrt())
    }

    /// Scores raw point `x` (`scratch` is a buffer of [`Model::dims`]) and
    /// adds it to `batch`: (cluster, distance).
    #[inline]
    pub fn score_and_add(&self, x: &[f64], scratch: &mut [f64], batch: &mut Batch) -> (usize, f64) {
        self.standardize(x, scratch);
        let (j, dist) = self.nearest(scratch);
        let d = self.d;
        batch.counts[j] += 1.0;
        for (s, v) in batch.sums[j * d..(j + 1) * d].iter_mut().zip(x) {
            *s += v;
        }
        for (((s1, s2), v), m) in batch
            .s1
            .iter_mut()
            .zip(&mut batch.s2)
            .zip(x)
            .zip(&self.mean)
        {
            let dv = v - m;
            *s1 += dv;
            *s2 += dv * dv;
        }
        batch.n += 1.0;
        (j, dist)
    }

    /// Folds `batch` into the model, Spark StreamingKMeans style: the old
    /// weights are multiplied by `discount` (in `(0, 1]`) before the batch
    /// is added; a centroid whose weight falls below 1e-8 of the largest is
    /// replaced by splitting the largest. The standardization moments are
    /// merged too. Clears `batch`.
    pub fn update(&mut self, batch: &mut Batch, discount: f64) {
        let d = self.d;
        let a = if discount.is_finite() {
            discount.clamp(0.0, 1.0)
        } else {
            1.0
        };
        for j in 0..self.k {
            let old = self.weights[j] * a;
            let m = batch.counts[j];
            let total = old + m;
            if m > 0.0 && total > 0.0 {
                for t in 0..d {
                    let c = &mut self.centers[j * d + t];
                    *c = (*c * old + batch.sums[j * d + t]) / total;
                }
            }
            self.weights[j] = total;
        }
        // Dying clusters: split the largest (Spark's rule).
        for _ in 1..self.k {
            let (mut large, mut small) = (0, 0);
            for j in 0..self.k {
                if self.weights[j] > self.weights[large] {
                    large = j;
                }
                if self.weights[j] < self.weights[small] {
                    small = j;
                }
            }
            if large != small && self.weights[small] < 1e-8 * self.weights[large] {
                let w = (self.weights[large] + self.weights[small]) / 2.0;
                self.weights[large] = w;
                self.weights[small] = w;
                for t in 0..d {
                    let x = self.centers[large * d + t];
                    let p = 1e-14 * x.abs().max(1.0);
                    self.centers[large * d + t] = x + p;
                    self.centers[small * d + t] = x - p;
                }
            } else {
                break;
            }
        }
        // Standardization: merge the batch's moments (Chan et al.).
        if batch.n > 0.0 {
            let nb = batch.n;
            let n = self.n * a;
            let total = n + nb;
            for t in 0..d {
                let mean_b = self.mean[t] + batch.s1[t] / nb;
                let m2_b = (batch.s2[t] - batch.s1[t] * batch.s1[t] / nb).max(0.0);
                let delta = mean_b - self.mean[t];
                self.mean[t] += delta * nb / total;
                self.m2[t] = self.m2[t] * a + m2_b + delta * delta * n * nb / total;
            }
            self.n = total;
        }
        self.refresh_scale();
        self.refresh_centers();
        batch.sums.iter_mut().for_each(|v| *v = 0.0);
        batch.counts.iter_mut().for_each(|v| *v = 0.0);
        batch.s1.iter_mut().for_each(|v| *v = 0.0);
        batch.s2.iter_mut().for_each(|v| *v = 0.0);
        batch.n = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<f64> {
        let mut rng = SplitMix64::new(7);
        let mut data = Vec::new();
        for c in [[0.0, 0.0], [10.0, 10.0], [0.0, 10.0]] {
            for _ in 0..50 {
                data.push(c[0] + rng.next_f64());
                data.push(c[1] + rng.next_f64());
            }
        }
        data
    }

    #[test]
    fn same_seed_same_model_and_blobs_found() {
        let data = blobs();
        let a = fit(&data, 2, 3, 1, 3, 100).map(|f| f.centers);
        let b = fit(&data, 2, 3, 1, 3, 100).map(|f| f.centers);
        assert_eq!(a, b);
        let f = fit(&data, 2, 3, 1, 3, 100).unwrap_or_else(|e| panic!("{e}"));
        // Uniform [0,1)² noise: cost about 150 * 2/12 = 25.
        assert!(f.cost < 40.0, "cost {}", f.cost);
        assert_eq!(f.counts, vec![50.0, 50.0, 50.0]);
    }

    #[test]
    fn too_few_points_is_an_error() {
        assert!(fit(&[1.0, 2.0], 1, 3, 0, 1, 10).is_err());
        assert!(Model::train(&[], 2, 1, 0, 1, 10).is_err());
    }

    #[test]
    fn parts_round_trip_scores_identically_and_bad_parts_are_errors() {
        let data = blobs();
        let m = Model::train(&data, 2, 3, 1, 3, 100).unwrap_or_else(|e| panic!("{e}"));
        let back = Model::from_parts(m.parts()).unwrap_or_else(|e| panic!("{e}"));
        let (mut a, mut b) = (vec![0.0; 2], vec![0.0; 2]);
        for x in data.chunks_exact(2).chain([[50.0, -3.0].as_slice()]) {
            m.standardize(x, &mut a);
            back.standardize(x, &mut b);
            assert_eq!(m.nearest(&a), back.nearest(&b));
        }
        let mut p = m.parts();
        p.centers.pop();
        assert!(Model::from_parts(p).is_err());
        let mut p = m.parts();
        p.variance[0] = f64::NAN;
        assert!(Model::from_parts(p).is_err());
        let mut p = m.parts();
        p.k = usize::MAX;
        assert!(Model::from_parts(p).is_err());
    }

    #[test]
    fn update_moves_centers_and_splits_dead_clusters() {
        let data = blobs();
        let mut m = Model::train(&data, 2, 3, 1, 3, 100).unwrap_or_else(|e| panic!("{e}"));
        let mut batch = Batch::new(&m);
        let mut scratch = vec![0.0; 2];
        for _ in 0..10 {
            m.score_and_add(&[100.0, 100.0], &mut scratch, &mut batch);
        }
        m.update(&mut batch, 0.0);
        // With full forgetting, one centroid sits at (100, 100), the others died
        // and were split from the largest.
        assert!(m.weights().iter().all(|w| *w > 0.0));
        m.standardize(&[100.0, 100.0], &mut scratch);
        let (_, dist) = m.nearest(&scratch);
        assert!(dist < 1e-6, "{dist}");
    }
}
