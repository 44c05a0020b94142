//! Principal component analysis for `kmeans` (`pca: N`): fitted once on
//! the warmup sample, then a fixed projection of every record's features
//! onto the `N` directions of largest variance (after standardizing each
//! feature), so that k-means runs in fewer dimensions. The eigenvectors of
//! the covariance matrix come from the cyclic Jacobi method: exact enough
//! for the few dozen dimensions of a feature vector, deterministic, and no
//! LAPACK.

use serde::{Deserialize, Serialize};

/// A fitted projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// Input dimensions.
    pub d: usize,
    /// Output dimensions.
    pub n: usize,
    /// Per input dimension, the warmup mean.
    pub mean: Vec<f64>,
    /// Per input dimension, 1 / standard deviation (1 for a constant one).
    pub scale: Vec<f64>,
    /// `n` rows of `d`: the components, by decreasing variance.
    pub components: Vec<f64>,
    /// The variance along each component.
    pub variances: Vec<f64>,
}

impl Pca {
    /// Fits `n` components on `data` (rows of `d`); an error when `n` is
    /// not between 1 and `d` or there are fewer than two rows.
    pub fn fit(data: &[f64], d: usize, n: usize) -> Result<Pca, String> {
        if n == 0 || n > d {
            return Err(format!(
                "pca: {n} components from {d} feature slots; give 1 to {d}"
            ));
        }
        let rows = data.len() / d.max(1);
        if rows < 2 {
            return Err("pca: needs at least two warmup records".into());
        }
        let mut mean = vec![0.0; d];
        for row in data.chunks_exact(d) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        for m in &mut mean {
            *m /= rows as f64;
        }
        let mut var = vec![0.0; d];
        for row in data.chunks_exact(d) {
            for j in 0..d {
                var[j] += (row[j] - mean[j]).powi(2);
            }
        }
        let scale: Vec<f64> = var
            .iter()
            .map(|v| {
                let sd = (v / (rows - 1) as f64).sqrt();
                if sd > 1e-12 && sd.is_finite() {
                    1.0 / sd
                } else {
                    1.0
                }
            })
            .collect();
        // Covariance of the standardized features (their correlation).
        let mut cov = vec![0.0; d * d];
        let mut z = vec![0.0; d];
        for row in data.chunks_exact(d) {
            for j in 0..d {
                z[j] = (row[j] - mean[j]) * scale[j];
            }
            for a in 0..d {
                for b in a..d {
                    cov[a * d + b] += z[a] * z[b];
                }
            }
        }
        for a in 0..d {
            for b in a..d {
                let v = cov[a * d + b] / (rows - 1) as f64;
                cov[a * d + b] = v;
                cov[b * d + a] = v;
            }
        }
        let (values, vectors) = jacobi_eigen(cov, d);
        let mut order: Vec<usize> = (0..d).collect();
        // Decreasing variance; ties by index, so the result is deterministic.
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let mut components = Vec::with_capacity(n * d);
        let mut variances = Vec::with_capacity(n);
        for &i in order.iter().take(n) {
            // Column i of `vectors`, with a fixed sign: its largest entry
            // positive.
            let col: Vec<f64> = (0..d).map(|r| vectors[r * d + i]).collect();
            let sign = col
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m })
                .signum();
            let sign = if sign == 0.0 { 1.0 } else { sign };
            components.extend(col.iter().map(|x| x * sign));
            variances.push(values[i].max(0.0));
        }
        Ok(Pca {
            d,
            n,
            mean,
            scale,
            components,
            variances,
        })
    }

    /// Projects `x` (`d` values) into `out` (`n` values).
    pub fn project(&self, x: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate().take(self.n) {
            let comp = &self.components[i * self.d..(i + 1) * self.d];
            *o = comp
                .iter()
                .zip(x)
                .zip(self.mean.iter().zip(&self.scale))
                .map(|((c, x), (m, s))| c * (x - m) * s)
                .sum();
        }
    }

    /// Checks a loaded projection's sizes and values.
    pub fn check(&self) -> Result<(), String> {
        let ok = self.n >= 1
            && self.n <= self.d
            && self.mean.len() == self.d
            && self.scale.len() == self.d
            && self.components.len() == self.n * self.d
            && self.variances.len() == self.n
            && self
                .mean
                .iter()
                .chain(&self.scale)
                .chain(&self.components)
                .all(|x| x.is_finite());
        if ok {
            Ok(())
        } else {
            Err("pca: the saved projection's sizes or values are inconsistent".into())
        }
    }
}

/// Eigenvalues and eigenvectors (columns of a `d x d` row-major matrix) of
/// the symmetric matrix `a`, by cyclic Jacobi rotations.
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| ((p + 1)..d).map(move |q| (p, q)))
            .map(|(p, q)| a[p * d + q].powi(2))
            .sum();
        let scale: f64 = (0..d)
            .map(|i| a[i * d + i].powi(2))
            .sum::<f64>()
            .max(1e-300);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..d {
            for q in (p + 1)..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * d + p], a[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_component_follows_correlated_features() {
        // x1 ~ x0, x2 independent noise of smaller spread.
        let mut data = Vec::new();
        let mut s = 7u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for _ in 0..2000 {
            let t = rnd() * 10.0;
            data.extend([t, 2.0 * t + rnd() * 0.1, rnd()]);
        }
        let p = Pca::fit(&data, 3, 2).expect("fit");
        // Standardized, x0 and x1 are nearly equal: the first component is
        // about (1, 1, 0) / sqrt 2, with almost two units of variance.
        let c0 = &p.components[0..3];
        assert!((c0[0] - c0[1]).abs() < 0.01, "{c0:?}");
        assert!(c0[2].abs() < 0.05, "{c0:?}");
        assert!(
            p.variances[0] > 1.9 && p.variances[0] < 2.1,
            "{:?}",
            p.variances
        );
        // Orthonormal components.
        let c1 = &p.components[3..6];
        let dot: f64 = c0.iter().zip(c1).map(|(a, b)| a * b).sum();
        let n0: f64 = c0.iter().map(|a| a * a).sum();
        assert!(dot.abs() < 1e-9 && (n0 - 1.0).abs() < 1e-9);
        // Projections of the warmup have those variances.
        let mut out = [0.0; 2];
        let mut sum2 = 0.0;
        for row in data.chunks_exact(3) {
            p.project(row, &mut out);
            sum2 += out[0] * out[0];
        }
        assert!((sum2 / 1999.0 - p.variances[0]).abs() < 1e-6);
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(Pca::fit(&[1.0, 2.0, 3.0, 4.0], 2, 3).is_err());
        assert!(Pca::fit(&[1.0, 2.0], 2, 1).is_err());
        assert!(Pca::fit(&[1.0, 2.0, 3.0, 4.0], 2, 0).is_err());
    }
}
