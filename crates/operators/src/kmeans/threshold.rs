//! The anomaly threshold: the `threshold` option and its rules, and the
//! window of recent distances a quantile threshold is computed over.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

fn given() -> bool {
    true
}

/// The `threshold` option: exactly one of its keys.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    /// A fixed distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// A quantile of recent distances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    /// The n-th largest distance in warmup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farthest: Option<usize>,
    /// Whether the pipeline gave it (false for the default): in score
    /// mode, a given `value` replaces the model's threshold.
    #[serde(skip, default = "given")]
    pub given: bool,
}

impl ThresholdSpec {
    /// The rule, when exactly one key is given.
    pub fn rule(&self) -> Option<Threshold> {
        match (self.value, self.quantile, self.farthest) {
            (Some(v), None, None) => Some(Threshold::Value(v)),
            (None, Some(q), None) => Some(Threshold::Quantile(q)),
            (None, None, Some(n)) => Some(Threshold::Farthest(n)),
            _ => None,
        }
    }
}

/// The anomaly threshold rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// A fixed distance.
    Value(f64),
    /// A quantile of recent distances.
    Quantile(f64),
    /// The n-th largest distance in warmup.
    Farthest(usize),
}

/// The recent distances of a quantile threshold, per epoch: (records,
/// their largest distances, descending), newest last. Epochs are kept
/// while the newer ones hold fewer than [`recent_cap`] records.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Recent {
    epochs: VecDeque<(u64, Vec<f64>)>,
}

impl Recent {
    pub(super) fn push(&mut self, records: u64, top: Vec<f64>, q: f64) {
        if records == 0 {
            return;
        }
        self.epochs.push_back((records, top));
        let cap = recent_cap(q) as u64;
        let mut total: u64 = self.epochs.iter().map(|e| e.0).sum();
        while let Some(&(oldest, _)) = self.epochs.front() {
            if self.epochs.len() > 1 && total - oldest >= cap {
                total -= oldest;
                self.epochs.pop_front();
            } else {
                break;
            }
        }
    }

    /// The `q` quantile (nearest rank) of the recent distances: exact
    /// while no epoch holds more than twice [`recent_cap`] records (each
    /// keeps its [`kept`] largest), the smallest kept distance otherwise.
    pub(super) fn quantile(&self, q: f64) -> f64 {
        let n: u64 = self.epochs.iter().map(|e| e.0).sum();
        if n == 0 {
            return 0.0;
        }
        // Rank from the top: the m-th largest.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let m = (n - rank + 1) as usize;
        let mut all: Vec<f64> = self
            .epochs
            .iter()
            .flat_map(|e| e.1.iter().copied())
            .collect();
        all.sort_by(|a, b| b.total_cmp(a));
        all.get(m.min(all.len()).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    }
}

/// The recent records a quantile threshold looks at: `max(1000, 20 / (1 - q))`.
fn recent_cap(q: f64) -> usize {
    let n = 20.0 / (1.0 - q).max(1e-6);
    (n.ceil() as usize).clamp(1000, 1_000_000)
}

/// The largest distances kept per epoch (and sent per worker) for a
/// quantile threshold: enough for the exact quantile of up to three times
/// [`recent_cap`] records.
pub(super) fn kept(q: f64) -> usize {
    ((1.0 - q).max(0.0) * 3.0 * recent_cap(q) as f64).ceil() as usize + 1
}

/// The `n` largest of `values`, descending.
pub(super) fn largest(mut values: Vec<f64>, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if values.len() > n {
        values.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
        values.truncate(n);
    }
    values.sort_by(|a, b| b.total_cmp(a));
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_threshold_is_the_nearest_rank_of_the_recent_epochs() {
        let q = 0.9;
        let mut recent = Recent::default();
        // 1000 records with distances 1..=1000, over 4 epochs.
        for e in 0..4u64 {
            let d: Vec<f64> = (1..=250).map(|i| (e * 250 + i) as f64).collect();
            recent.push(250, largest(d, kept(q)), q);
        }
        // Nearest rank: the 900th smallest of 1..=1000.
        assert_eq!(recent.quantile(q), 900.0);
        // 1000 more, smaller: the old epochs drop out once the newer ones
        // hold recent_cap (1000) records.
        for _ in 0..4u64 {
            let d: Vec<f64> = (1..=250).map(|i| i as f64 / 1000.0).collect();
            recent.push(250, largest(d, kept(q)), q);
        }
        assert_eq!(recent.epochs.len(), 4);
        assert_eq!(recent.quantile(q), 0.225);
    }
}
