//! A small, fast PRNG (xoshiro256**, seeded by SplitMix64): the same seed
//! gives the same traffic on every platform and Rust version, which `rand`
//! does not promise across its major versions.

/// xoshiro256** state.
#[derive(Clone, Debug)]
pub(crate) struct Rng([u64; 4]);

impl Rng {
    /// A generator seeded from `seed` (any value, 0 included).
    pub(crate) fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    /// 64 random bits.
    #[inline]
    pub(crate) fn u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// 32 random bits.
    #[inline]
    pub(crate) fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    /// 16 random bits.
    #[inline]
    pub(crate) fn u16(&mut self) -> u16 {
        (self.u64() >> 48) as u16
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) (n > 0; 0 gives 0).
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (((self.u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in [lo, hi].
    #[inline]
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    /// A client port in 49152..=65535, skipping ports tshark dissects as
    /// something else whatever the payload (54328: Elasticsearch discovery).
    #[inline]
    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        loop {
            let p = self.range(49152, 65535) as u16;
            if p != 54328 {
                return p;
            }
        }
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponentially distributed with mean `mean`.
    #[inline]
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Pareto-distributed (scale 1, shape `alpha`).
    #[inline]
    pub(crate) fn pareto(&mut self, alpha: f64) -> f64 {
        (1.0 - self.f64()).powf(-1.0 / alpha)
    }

    /// `n` random bytes into `out`.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// An index drawn from cumulative weights `cum` (last = total).
    #[inline]
    pub(crate) fn pick(&mut self, cum: &[f64]) -> usize {
        let total = cum.last().copied().unwrap_or(0.0);
        let x = self.f64() * total;
        cum.partition_point(|&c| c <= x)
            .min(cum.len().saturating_sub(1))
    }
}

/// Cumulative sums of `weights`, for [`Rng::pick`].
pub(crate) fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_values_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            assert_eq!(a.u64(), b.u64());
        }
        let mut c = Rng::new(8);
        assert_ne!(Rng::new(7).u64(), c.u64());
        for _ in 0..10_000 {
            let x = a.f64();
            assert!((0.0..1.0).contains(&x));
            assert!(a.below(10) < 10);
            let r = a.range(5, 7);
            assert!((5..=7).contains(&r));
        }
        let cum = cumulative([1.0, 0.0, 3.0]);
        let mut seen = [0usize; 3];
        for _ in 0..4000 {
            seen[a.pick(&cum)] += 1;
        }
        assert_eq!(seen[1], 0, "a zero weight is never picked");
        assert!(seen[2] > 2 * seen[0], "{seen:?}");
    }
}
