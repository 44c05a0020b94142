//! The numeric core of `kmeans`, without Timely: batch k-means (greedy
//! k-means++ seeding, then Lloyd), online standardization, scoring, and
//! Spark StreamingKMeans-style mini-batch updates with forgetting.
//!
//! Points are rows of a flat `&[f64]` (`n * d` values). Every choice is
//! deterministic: a [`SplitMix64`] generator seeded by the user, ties
//! decided by the lowest centroid index, batch sums taken in input order.
//! The streaming statistics of an epoch ([`Partial`]) are fixed-point
//! integers, so partials of any split of the records over workers merge
//! to the same bits, and so does the updated model.

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

/// Fixed-point scale of accumulated standardized values (2^32, the shift
/// in [`Partial::add`]): a
/// standardized coordinate is kept to 2^-32 of a standard deviation.
const FIXED_SCALE: f64 = 4_294_967_296.0;

/// 1 / [`FIXED_SCALE`] (a power of two: multiplying by it is exact).
const FIXED_INV: f64 = 1.0 / FIXED_SCALE;

/// Standardized coordinates beyond this (2^32 standard deviations) are
/// clamped before they are accumulated, so that sums cannot overflow.
const FIXED_CLAMP: f64 = 4_294_967_296.0;

/// `v` in fixed point (truncated toward zero; 0 for NaN). Deterministic:
/// the same `v` always gives the same integer, whatever worker converts it.
#[inline]
fn fixed(v: f64) -> i128 {
    let s = v * FIXED_SCALE;
    if s.abs() < 9.0e18 {
        s as i64 as i128
    } else {
        s as i128
    }
}

/// One epoch's contribution to the model, from one worker or merged from
/// several: per centroid the records assigned and the sum of their
/// standardized coordinates, and per dimension the sum of the squared
/// standardized coordinates. Standardized means with the model the epoch
/// was scored with, which is the same on every worker.
///
/// The sums are integers (fixed point, [`FIXED_SCALE`]): merging is exact
/// and associative, so partials merged in any grouping and order give the
/// same bits, and the model does not depend on how records were spread
/// over workers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    k: usize,
    d: usize,
    counts: Vec<u64>,
    sums: Vec<i128>,
    squares: Vec<i128>,
    n: u64,
}

impl Partial {
    /// An empty partial for `model`.
    pub fn new(model: &Model) -> Partial {
        Partial::with_shape(model.k, model.d)
    }

    fn with_shape(k: usize, d: usize) -> Partial {
        Partial {
            k,
            d,
            counts: vec![0; k],
            sums: vec![0; k * d],
            squares: vec![0; d],
            n: 0,
        }
    }

    /// Records added.
    pub fn records(&self) -> u64 {
        self.n
    }

    /// Adds `other` (exact). An error when the two were made for models
    /// of different shapes.
    pub fn merge(&mut self, other: &Partial) -> Result<(), String> {
        if (self.k, self.d) != (other.k, other.d) {
            return Err(format!(
                "partial statistics of k = {}, d = {} cannot merge into k = {}, d = {}",
                other.k, other.d, self.k, self.d
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.wrapping_add(*b);
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a = a.wrapping_add(*b);
        }
        for (a, b) in self.squares.iter_mut().zip(&other.squares) {
            *a = a.wrapping_add(*b);
        }
        self.n = self.n.wrapping_add(other.n);
        Ok(())
    }

    /// Adds one standardized point `z` assigned to centroid `j`.
    #[inline]
    fn add(&mut self, j: usize, z: &[f64]) {
        let d = self.d;
        self.counts[j] += 1;
        self.n += 1;
        for ((s, q), z) in self.sums[j * d..(j + 1) * d]
            .iter_mut()
            .zip(self.squares.iter_mut())
            .zip(z)
        {
            let v = z * FIXED_SCALE;
            if v.abs() < 4.0e18 {
                // |zq| < 2^62: its square (exact, then scaled) fits, and is
                // the square of the value as kept, so a batch of equal
                // points has no spread from rounding.
                let zq = i128::from(v as i64);
                *s = s.wrapping_add(zq);
                *q = q.wrapping_add((zq * zq) >> 32);
            } else {
                let z = z.clamp(-FIXED_CLAMP, FIXED_CLAMP);
                *s = s.wrapping_add(fixed(z));
                *q = q.wrapping_add(fixed(z * z));
            }
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

    /// Scores raw point `x` (`scratch` is a buffer of [`Model::dims`],
    /// left holding the standardized point) and adds it to `partial`:
    /// (cluster, distance).
    #[inline]
    pub fn score_and_add(
        &self,
        x: &[f64],
        scratch: &mut [f64],
        partial: &mut Partial,
    ) -> (usize, f64) {
        self.standardize(x, scratch);
        let (j, dist) = self.nearest(scratch);
        partial.add(j, scratch);
        (j, dist)
    }

    /// Folds the merged statistics of an epoch into the model, Spark
    /// StreamingKMeans style: the old weights are multiplied by `discount`
    /// (in `(0, 1]`) before the batch is added; a centroid whose weight
    /// falls below 1e-8 of the largest is replaced by splitting the
    /// largest. The standardization moments are merged too (Chan et al.).
    /// `partial` must have been made for this model ([`Partial::new`]);
    /// one of another shape changes nothing.
    pub fn update(&mut self, partial: &Partial, discount: f64) {
        let d = self.d;
        if (partial.k, partial.d) != (self.k, d) {
            return;
        }
        let a = if discount.is_finite() {
            discount.clamp(0.0, 1.0)
        } else {
            1.0
        };
        // Back from standardized units: x = mean + z * sd.
        let sd: Vec<f64> = self.inv_sd.iter().map(|s| 1.0 / s).collect();
        for j in 0..self.k {
            let old = self.weights[j] * a;
            let m = partial.counts[j] as f64;
            let total = old + m;
            if m > 0.0 && total > 0.0 {
                let sums = &partial.sums[j * d..(j + 1) * d];
                let centers = &mut self.centers[j * d..(j + 1) * d];
                for (((c, z), mean), sd) in centers.iter_mut().zip(sums).zip(&self.mean).zip(&sd) {
                    let sum = m * mean + *z as f64 * FIXED_INV * sd;
                    *c = (*c * old + sum) / total;
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
        // Standardization: merge the batch's moments (Chan et al.), in
        // raw units shifted by the old mean.
        if partial.n > 0 {
            let nb = partial.n as f64;
            let n = self.n * a;
            let total = n + nb;
            for (t, sd) in sd.iter().enumerate() {
                let z1: i128 =
                    (0..self.k).fold(0i128, |acc, j| acc.wrapping_add(partial.sums[j * d + t]));
                let s1 = z1 as f64 * FIXED_INV * sd;
                let s2 = partial.squares[t] as f64 * FIXED_INV * sd * sd;
                let mean_b = self.mean[t] + s1 / nb;
                let m2_b = (s2 - s1 * s1 / nb).max(0.0);
                let delta = mean_b - self.mean[t];
                self.mean[t] += delta * nb / total;
                self.m2[t] = self.m2[t] * a + m2_b + delta * delta * n * nb / total;
            }
            self.n = total;
        }
        self.refresh_scale();
        self.refresh_centers();
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
        let mut batch = Partial::new(&m);
        let mut scratch = vec![0.0; 2];
        for _ in 0..10 {
            m.score_and_add(&[100.0, 100.0], &mut scratch, &mut batch);
        }
        m.update(&batch, 0.0);
        // With full forgetting, one centroid sits at (100, 100), the others died
        // and were split from the largest.
        assert!(m.weights().iter().all(|w| *w > 0.0));
        m.standardize(&[100.0, 100.0], &mut scratch);
        let (_, dist) = m.nearest(&scratch);
        assert!(dist < 1e-6, "{dist}");
    }

    /// Points around three centres in `d` dimensions, far apart in scale.
    fn cloud(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..n * d)
            .map(|i| {
                let c = (i / d) % 3;
                (c as f64) * 7.0 + rng.next_f64() * (1.0 + (i % d) as f64 * 100.0)
            })
            .collect()
    }

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
    }

    #[test]
    fn partials_merged_in_any_grouping_equal_one_pass() {
        let d = 7;
        let train = cloud(300, d, 1);
        let model = Model::train(&train, d, 4, 2, 2, 50).unwrap_or_else(|e| panic!("{e}"));
        let data = cloud(2000, d, 9);
        let mut scratch = vec![0.0; d];
        // One pass over every point.
        let mut whole = Partial::new(&model);
        for x in data.chunks_exact(d) {
            model.score_and_add(x, &mut scratch, &mut whole);
        }
        // The same points over 5 "workers" by a pseudo-random assignment,
        // merged left to right, right to left, and as a tree.
        let mut rng = SplitMix64::new(77);
        let mut parts = vec![Partial::new(&model); 5];
        for x in data.chunks_exact(d) {
            let w = (rng.next_u64() % 5) as usize;
            model.score_and_add(x, &mut scratch, &mut parts[w]);
        }
        let mut forward = Partial::new(&model);
        for p in &parts {
            forward.merge(p).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut backward = Partial::new(&model);
        for p in parts.iter().rev() {
            backward.merge(p).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut left = parts[0].clone();
        left.merge(&parts[3]).unwrap_or_else(|e| panic!("{e}"));
        let mut right = parts[4].clone();
        right.merge(&parts[1]).unwrap_or_else(|e| panic!("{e}"));
        right.merge(&parts[2]).unwrap_or_else(|e| panic!("{e}"));
        right.merge(&left).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forward, whole);
        assert_eq!(backward, whole);
        assert_eq!(right, whole);
        assert_eq!(whole.records(), 2000);
        // The updated models agree (to the bit, well within 1e-12).
        let mut a = model.clone();
        a.update(&whole, 0.7);
        let mut b = model.clone();
        b.update(&right, 0.7);
        let (pa, pb) = (a.parts(), b.parts());
        for (x, y) in pa
            .centers
            .iter()
            .chain(&pa.mean)
            .chain(&pa.variance)
            .chain(&pa.weights)
            .zip(
                pb.centers
                    .iter()
                    .chain(&pb.mean)
                    .chain(&pb.variance)
                    .chain(&pb.weights),
            )
        {
            assert!(rel_close(*x, *y, 1e-12), "{x} vs {y}");
        }
        // A partial of another shape is refused, not merged.
        let other = Partial::with_shape(3, d);
        assert!(whole.clone().merge(&other).is_err());
    }

    #[test]
    fn the_fixed_point_update_matches_a_plain_float_update() {
        // The update from fixed-point sums equals the textbook one (raw
        // sums in f64) to about 1e-9 of a standard deviation.
        let d = 3;
        let train = cloud(200, d, 3);
        let model = Model::train(&train, d, 3, 1, 2, 50).unwrap_or_else(|e| panic!("{e}"));
        let data = cloud(500, d, 4);
        let mut scratch = vec![0.0; d];
        let mut p = Partial::new(&model);
        let mut sums = vec![0.0; 3 * d];
        let mut counts = [0.0f64; 3];
        for x in data.chunks_exact(d) {
            let (j, _) = model.score_and_add(x, &mut scratch, &mut p);
            counts[j] += 1.0;
            for t in 0..d {
                sums[j * d + t] += x[t];
            }
        }
        let mut m = model.clone();
        m.update(&p, 1.0);
        let before = model.parts();
        let after = m.parts();
        for j in 0..3 {
            let old = before.weights[j];
            for t in 0..d {
                let want = if counts[j] > 0.0 {
                    (before.centers[j * d + t] * old + sums[j * d + t]) / (old + counts[j])
                } else {
                    before.centers[j * d + t]
                };
                let sd = after.variance[t].sqrt();
                assert!(
                    (after.centers[j * d + t] - want).abs() <= 1e-9 * sd.max(1.0),
                    "centre {j}/{t}: {} vs {want}",
                    after.centers[j * d + t]
                );
            }
        }
    }
}
