//! The event-time rules every windowed operator shares: which windows
//! contain a timestamp, and at which Timely time a window is emitted. One
//! place, so that window, degree and motif agree on lateness.

use netanom_records::time::to_time;
use netanom_records::{Time, Ts};

/// Calls `f(start)` for each window `[k*slide, k*slide + size)` that
/// contains `ts`, earliest first (one window when `slide == size`). Sizes
/// and slides are in nanoseconds and positive.
pub(crate) fn for_each_window_start(size: i64, slide: i64, ts: Ts, mut f: impl FnMut(Ts)) {
    let t = ts.0;
    if slide == size {
        f(Ts(t.div_euclid(size).saturating_mul(size)));
        return;
    }
    // The last window starting at or before t, then back while it covers t.
    let mut start = t.div_euclid(slide).saturating_mul(slide);
    let mut starts = [0i64; 64];
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
