//! Event time.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The Timely timestamp of a pipeline: event time in nanoseconds, floored
/// to the pipeline's tick (the greatest common divisor of its window sizes
/// and slides) and clamped at zero. Records carry their exact [`Ts`].
pub type Time = u64;

/// Floors an event time to a multiple of `tick` nanoseconds (clamped at 0).
pub fn to_time(ts: Ts, tick: u64) -> Time {
    let t = ts.0.max(0) as u64;
    if tick <= 1 {
        t
    } else {
        t - t % tick
    }
}

/// A point in event time: nanoseconds since the Unix epoch for captures,
/// or since whatever origin a CSV export's Time column uses ("as given").
///
/// Printed as decimal seconds with nine decimals, the way tshark prints
/// `frame.time_epoch`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ts(pub i64);

impl Ts {
    /// Nanoseconds in a second.
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// A timestamp from whole seconds and nanoseconds within the second
    /// (saturating far outside any capture's range).
    pub fn from_parts(secs: i64, nanos: i64) -> Ts {
        Ts(secs
            .saturating_mul(Self::NANOS_PER_SEC)
            .saturating_add(nanos))
    }

    /// Nanoseconds since the origin.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Parses decimal seconds (`1709294400.000050`, `-0.5`, `12`), exactly,
    /// to the nanosecond (digits past the ninth decimal are truncated).
    pub fn parse_seconds(text: &str) -> Option<Ts> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos: i64 = 0;
        for (i, b) in frac.bytes().take(9).enumerate() {
            nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
        }
        // In i128: the most negative time has no positive counterpart.
        let total = i128::from(secs) * i128::from(Self::NANOS_PER_SEC) + i128::from(nanos);
        i64::try_from(if negative { -total } else { total })
            .ok()
            .map(Ts)
    }

    /// Appends the decimal-seconds form to `out`.
    #[inline]
    pub fn write_to(self, out: &mut Vec<u8>) {
        if self.0 < 0 {
            out.push(b'-');
        }
        let abs = self.0.unsigned_abs();
        let ns = Self::NANOS_PER_SEC as u64;
        crate::write::push_u64(out, abs / ns);
        out.push(b'.');
        let mut frac = abs % ns;
        let mut digits = [b'0'; 9];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        out.extend_from_slice(&digits);
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let ns = Self::NANOS_PER_SEC as u64;
        write!(f, "{sign}{}.{:09}", abs / ns, abs % ns)
    }
}

impl fmt::Debug for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ts({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!(
            Ts::parse_seconds("1709294400.000050"),
            Some(Ts(1_709_294_400_000_050_000))
        );
        assert_eq!(
            Ts::parse_seconds("0.000079")
                .map(|t| t.to_string())
                .as_deref(),
            Some("0.000079000")
        );
        assert_eq!(Ts::parse_seconds("-1.5"), Some(Ts(-1_500_000_000)));
        assert_eq!(Ts(-1).to_string(), "-0.000000001");
        assert_eq!(Ts::parse_seconds("12"), Some(Ts(12_000_000_000)));
        for t in [
            Ts(0),
            Ts(-1),
            Ts(1_709_294_400_000_050_000),
            Ts(i64::MIN),
            Ts(i64::MAX),
        ] {
            let mut out = Vec::new();
            t.write_to(&mut out);
            assert_eq!(String::from_utf8_lossy(&out), t.to_string());
        }
        assert_eq!(Ts::parse_seconds("1.1234567891"), Some(Ts(1_123_456_789)));
        for bad in ["", ".", "abc", "1.2.3", "1e5", "99999999999999999999"] {
            assert_eq!(Ts::parse_seconds(bad), None, "{bad}");
        }
    }
}
