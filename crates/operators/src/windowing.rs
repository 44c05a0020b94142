//! The event-time rules every windowed operator shares: which windows
//! contain a timestamp, and at which Timely time a window is emitted. One
//! place, so that window, degree and motif agree on lateness.

use netanom_records::time::to_time;
use netanom_records::{Time, Ts};

/// Most windows one timestamp may fall in: `size` at most this many
/// `slide`s. Each packet costs work per window it is in, and
/// [`for_each_window_start`] holds them on the stack.
pub const MAX_OVERLAP: u64 = 64;

/// The validation message when `size` and `slide` (nanoseconds) make more
/// than [`MAX_OVERLAP`] windows overlap; `what` names the size option.
pub(crate) fn overlap_problem(what: &str, size: u64, slide: u64) -> Option<String> {
    (slide > 0 && size.div_ceil(slide) > MAX_OVERLAP).then(|| {
        format!(
            "slide: at most {MAX_OVERLAP} windows may overlap ({what} at most {MAX_OVERLAP} \
             slides); {what} {} with slide {} puts each packet in {} windows",
            netanom_records::Duration(size),
            netanom_records::Duration(slide),
            size.div_ceil(slide)
        )
    })
}

/// Calls `f(start)` for each window `[k*slide, k*slide + size)` that
/// contains `ts`, earliest first (one window when `slide == size`). Sizes
/// and slides are in nanoseconds and positive, and `size` is at most
/// [`MAX_OVERLAP`] slides (validation checks it).
pub(crate) fn for_each_window_start(size: i64, slide: i64, ts: Ts, mut f: impl FnMut(Ts)) {
    let t = ts.0;
    if slide == size {
        f(Ts(t.div_euclid(size).saturating_mul(size)));
        return;
    }
    // The last window starting at or before t, then back while it covers t.
    let mut start = t.div_euclid(slide).saturating_mul(slide);
    let mut starts = [0i64; MAX_OVERLAP as usize];
    let mut n = 0;
    while start.saturating_add(size) > t && n < starts.len() {
        starts[n] = start;
        n += 1;
        start = start.saturating_sub(slide);
    }
    for &s in starts[..n].iter().rev() {
        f(Ts(s));
    }
}

/// The Timely time a window ending at `end` is emitted at: the first
/// multiple of `tick` at or after its end. A record sent at that time or
/// later is late for the window.
pub(crate) fn emit_time(end: Ts, tick: u64) -> Time {
    let tick = tick.max(1);
    to_time(end, 1).div_ceil(tick).saturating_mul(tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_is_the_first_tick_at_or_after_the_end() {
        assert_eq!(emit_time(Ts(10_000_000), 1_000_000_000), 1_000_000_000);
        assert_eq!(emit_time(Ts(1_000_000_000), 1_000_000_000), 1_000_000_000);
        assert_eq!(emit_time(Ts(1_000_000_001), 1_000_000_000), 2_000_000_000);
        assert_eq!(emit_time(Ts(-5), 1_000_000_000), 0);
    }
}

/// Window assignment against a naive model: every window start that is a
/// multiple of `slide` whose `[start, start + size)` holds the timestamp,
/// found by trying every candidate, in exact (i128) arithmetic.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn naive(size: i64, slide: i64, t: i64) -> Vec<i64> {
        let (size, slide, t) = (i128::from(size), i128::from(slide), i128::from(t));
        let last = t.div_euclid(slide);
        (last - size / slide - 2..=last)
            .map(|k| k * slide)
            .filter(|s| *s <= t && t < s + size)
            .filter_map(|s| i64::try_from(s).ok())
            .collect()
    }

    fn assigned(size: i64, slide: i64, t: i64) -> Vec<i64> {
        let mut out = Vec::new();
        for_each_window_start(size, slide, Ts(t), |s| out.push(s.0));
        out
    }

    /// (size, slide) with size at most MAX_OVERLAP slides, as validation
    /// allows; tumbling windows often.
    fn sizes() -> impl Strategy<Value = (i64, i64)> {
        (
            1i64..=2_000_000_000,
            1i64..=MAX_OVERLAP as i64,
            any::<u64>(),
            any::<bool>(),
        )
            .prop_map(|(slide, n, r, tumbling)| {
                if tumbling {
                    (slide, slide)
                } else {
                    // Any size that n slides cover and n - 1 do not.
                    (slide * (n - 1) + 1 + (r % slide as u64) as i64, slide)
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_timestamp_is_in_exactly_the_windows_that_hold_it(
            (size, slide) in sizes(),
            t in prop_oneof![-10_000_000_000i64..10_000_000_000, any::<i64>().prop_map(|t| t / 4)],
        ) {
            let want = naive(size, slide, t);
            prop_assert_eq!(assigned(size, slide, t), want.clone());
            // floor(size/slide) or ceil(size/slide) windows, by phase.
            let n = want.len() as i64;
            prop_assert!(n >= size / slide && n <= (size + slide - 1) / slide, "{} windows", n);
        }

        #[test]
        fn overlap_is_refused_exactly_above_the_limit(size in 1u64..1_000_000, slide in 1u64..1_000_000) {
            prop_assert_eq!(
                overlap_problem("size", size, slide).is_some(),
                size.div_ceil(slide) > MAX_OVERLAP
            );
        }
    }
}
