//! The fast path of CSV lines: values written into a fixed-size slice with
//! two-digit tables, no per-value `Vec` growth checks and no `fmt` (which
//! costs about 1,700 instructions per IPv6 address). Anything that does not
//! fit makes the whole line fall back to the general path, so the bytes
//! are always those of [`crate::write`]'s value-by-value encoding.

use crate::field::{Field, Value};
use crate::{Addr, Ts, WindowRecord};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Room for one line on the fast path.
pub(crate) const LINE_MAX: usize = 320;

/// "00" to "99".
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Each octet's decimal text, left-aligned in four bytes, and its length
/// in the fourth: an IPv4 address is four copies and four additions.
const OCTETS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let (h, d, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            [b'0' + h, b'0' + d, b'0' + u, 3]
        } else if i >= 10 {
            [b'0' + d, b'0' + u, 0, 2]
        } else {
            [b'0' + u, 0, 0, 1]
        };
        i += 1;
    }
    t
};

/// A line being written into `buf`; `full` once something did not fit.
pub(crate) struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
    full: bool,
}

impl<'a> Line<'a> {
    /// A line written from the start of `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a mut [u8]) -> Line<'a> {
        Line {
            buf,
            len: 0,
            full: false,
        }
    }

    /// The length written, or `None` if the line did not fit.
    #[inline]
    pub(crate) fn finish(self) -> Option<usize> {
        (!self.full).then_some(self.len)
    }

    /// The next `n` bytes, or `None` (and the line marked full).
    #[inline]
    fn take(&mut self, n: usize) -> Option<&mut [u8]> {
        let end = self.len + n;
        match self.buf.get_mut(self.len..end) {
            Some(slot) => {
                self.len = end;
                Some(slot)
            }
            None => {
                self.full = true;
                None
            }
        }
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.full = true,
        }
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        if let Some(slot) = self.take(b.len()) {
            slot.copy_from_slice(b);
        }
    }

    /// Decimal digits of `n`.
    #[inline]
    fn u64(&mut self, n: u64) {
        // Counts of one and flags of zero are most values.
        if n < 10 {
            self.byte(b'0' + n as u8);
            return;
        }
        let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
        if let Some(slot) = self.take(digits) {
            fill_digits(slot, n);
        }
    }

    /// One CSV value, as `write::write_csv_value` writes it. Inlined into
    /// the line's loop, so that the record's `get` and this match fold into
    /// one dispatch per field (a call per value cost a third of the time).
    #[inline(always)]
    pub(crate) fn csv_value(&mut self, value: Value<'_>) {
        match value {
            Value::Null => {}
            Value::Bool(b) => self.bytes(if b { b"true" } else { b"false" }),
            Value::U64(v) => self.u64(v),
            Value::F64(v) => self.f64(v),
            Value::Ts(t) => self.ts(t),
            Value::Addr(a) => self.addr(a),
            Value::Protocol(p) => self.csv_text(p.name()),
            Value::Flags(f) => {
                if let Some(slot) = self.take(6) {
                    slot[0] = b'0';
                    slot[1] = b'x';
                    for (i, d) in slot[2..].iter_mut().enumerate() {
                        *d = HEX[usize::from(f >> (12 - 4 * i) & 0xf)];
                    }
                }
            }
            Value::Str(s) => self.csv_text(s),
        }
    }

    /// Text, quoted as RFC 4180 asks when it holds a separator.
    #[inline]
    fn csv_text(&mut self, s: &str) {
        if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.byte(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    self.byte(b'"');
                }
                self.byte(b);
            }
            self.byte(b'"');
        } else {
            self.bytes(s.as_bytes());
        }
    }

    fn f64(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        // Whole numbers print as integers, as `{}` does (`v.fract()`
        // would call libm's `trunc`; a round trip through i64 is exact
        // below 1e15).
        if v.abs() < 1e15 && (v as i64) as f64 == v {
            if v < 0.0 {
                self.byte(b'-');
            }
            self.u64(v.abs() as u64);
            return;
        }
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(v);
        // ryu writes exponents only outside [1e-5, 1e16); window averages
        // and ratios are inside, and skip the scan.
        let plain = (1e-5..1e15).contains(&v.abs());
        if !plain && text.contains('e') {
            // ryu writes exponents where `{}` does not.
            self.bytes(v.to_string().as_bytes());
        } else {
            self.bytes(text.as_bytes());
        }
    }

    /// Decimal seconds with nine decimals, as [`Ts::write_to`]. Rows of
    /// one window share its bounds: the last few texts are kept per
    /// thread and copied instead of formatted again.
    #[inline]
    fn ts(&mut self, t: Ts) {
        let cached = TS_TEXT.with(|cache| {
            let cache = cache.borrow();
            let hit = cache.entries.iter().find(|e| e.ts == t.0 && e.len > 0)?;
            let len = usize::from(hit.len);
            // All 24 bytes at once where there is room (a fixed-size copy,
            // no `memcpy` call), then cut to the text's length.
            if let Some(slot) = self.buf.get_mut(self.len..self.len + hit.text.len()) {
                slot.copy_from_slice(&hit.text);
                self.len += len;
            } else if let Some(slot) = self.take(len) {
                slot.copy_from_slice(&hit.text[..len]);
            }
            Some(())
        });
        if cached.is_some() {
            return;
        }
        let start = self.len;
        self.ts_digits(t);
        if self.full {
            // Possibly cut short: not a text to reuse.
            return;
        }
        if let Some(text) = self.buf.get(start..self.len) {
            TS_TEXT.with(|cache| cache.borrow_mut().insert(t.0, text));
        }
    }

    fn ts_digits(&mut self, t: Ts) {
        if t.0 < 0 {
            self.byte(b'-');
        }
        let abs = t.0.unsigned_abs();
        let ns = Ts::NANOS_PER_SEC as u64;
        self.u64(abs / ns);
        if let Some(slot) = self.take(10) {
            slot[0] = b'.';
            fill_digits(&mut slot[1..], abs % ns);
        }
    }

    #[inline]
    fn addr(&mut self, a: Addr) {
        match a {
            Addr::None => {}
            Addr::V4(ip) => self.ipv4(ip),
            Addr::V6(ip) => self.ipv6(ip),
            Addr::Mac(m) if m == crate::addr::BROADCAST => self.bytes(b"Broadcast"),
            Addr::Mac(m) => {
                if let Some(slot) = self.take(17) {
                    for (i, byte) in m.iter().enumerate() {
                        slot[3 * i] = HEX[usize::from(byte >> 4)];
                        slot[3 * i + 1] = HEX[usize::from(byte & 0xf)];
                        if i < 5 {
                            slot[3 * i + 2] = b':';
                        }
                    }
                }
            }
            Addr::Name(id) => self.csv_text(id.text()),
        }
    }

    /// Dotted decimal, each octet copied from [`OCTETS`] into a slot of
    /// the widest text (15 bytes), then cut to length.
    #[inline]
    fn ipv4(&mut self, ip: Ipv4Addr) {
        let start = self.len;
        let Some(slot) = self.buf.get_mut(start..start + 16) else {
            // Near the end of the buffer: byte by byte (may mark it full).
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    self.byte(b'.');
                }
                self.u64(u64::from(octet));
            }
            return;
        };
        let mut at = 0;
        for (i, octet) in ip.octets().into_iter().enumerate() {
            let text = &OCTETS[usize::from(octet)];
            slot[at..at + 4].copy_from_slice(text);
            at += usize::from(text[3]);
            if i < 3 {
                slot[at] = b'.';
                at += 1;
            }
        }
        self.len = start + at;
    }

    /// RFC 5952 text, as `Ipv6Addr`'s `Display`: IPv4-mapped addresses as
    /// `::ffff:a.b.c.d`, the longest run (the first of equal ones) of two
    /// or more zero groups as `::`, lowercase hex without leading zeros.
    fn ipv6(&mut self, ip: Ipv6Addr) {
        if let Some(v4) = ip.to_ipv4_mapped() {
            self.bytes(b"::ffff:");
            self.ipv4(v4);
            return;
        }
        let segments = ip.segments();
        let (mut best_start, mut best_len) = (0, 0);
        let (mut start, mut len) = (0, 0);
        for (i, &s) in segments.iter().enumerate() {
            if s == 0 {
                if len == 0 {
                    start = i;
                }
                len += 1;
                if len > best_len {
                    (best_start, best_len) = (start, len);
                }
            } else {
                len = 0;
            }
        }
        if best_len > 1 {
            self.hex_groups(&segments[..best_start]);
            self.bytes(b"::");
            self.hex_groups(&segments[best_start + best_len..]);
        } else {
            self.hex_groups(&segments);
        }
    }

    #[inline]
    fn hex_groups(&mut self, groups: &[u16]) {
        for (i, &g) in groups.iter().enumerate() {
            if i > 0 {
                self.byte(b':');
            }
            let digits = if g == 0 {
                1
            } else {
                (16 - g.leading_zeros() as usize).div_ceil(4)
            };
            if let Some(slot) = self.take(digits) {
                for (j, d) in slot.iter_mut().enumerate() {
                    *d = HEX[usize::from(g >> (4 * (digits - 1 - j)) & 0xf)];
                }
            }
        }
    }
}

/// A window record's CSV line, when `fields` are the window layout
/// ([`WindowRecord::fields`]: bounds, group fields, aggregates): the
/// aggregates are written straight from the record, not field by field
/// through [`Value`] (a third of the instructions of the quick start's
/// output, which is most of its rows).
#[inline]
pub(crate) fn window_line(r: &WindowRecord, fields: &[Field], buf: &mut [u8]) -> Option<usize> {
    let aggregates = WindowRecord::AGGREGATES;
    let groups = fields.len().checked_sub(2 + aggregates.len())?;
    if fields[..2] != [Field::WindowStart, Field::WindowEnd] || fields[2 + groups..] != *aggregates
    {
        return None;
    }
    let mut line = Line::new(buf);
    line.ts(r.window_start);
    line.byte(b',');
    line.ts(r.window_end);
    for &field in &fields[2..2 + groups] {
        line.byte(b',');
        line.csv_value(r.key.get(field));
    }
    line.byte(b',');
    line.u64(r.count);
    line.byte(b',');
    line.u64(r.bytes);
    line.byte(b',');
    line.f64(r.len_avg());
    line.byte(b',');
    line.u64(r.len_max.into());
    line.byte(b',');
    line.f64(r.local_anomaly());
    for n in [
        r.distinct_srcs,
        r.distinct_dsts,
        r.distinct_sports,
        r.distinct_dports,
    ] {
        line.byte(b',');
        line.u64(n.into());
    }
    line.byte(b',');
    line.u64(r.syn_count);
    line.byte(b'\n');
    line.finish()
}

thread_local! {
    static TS_TEXT: std::cell::RefCell<TsCache> = const {
        std::cell::RefCell::new(TsCache {
            entries: [TsText { ts: 0, len: 0, text: [0; 24] }; 4],
            next: 0,
        })
    };
}

/// Recently written timestamps and their text (round robin).
struct TsCache {
    entries: [TsText; 4],
    next: usize,
}

/// One timestamp's text (`len == 0`: empty entry).
#[derive(Clone, Copy)]
struct TsText {
    ts: i64,
    len: u8,
    text: [u8; 24],
}

impl TsCache {
    fn insert(&mut self, ts: i64, text: &[u8]) {
        let Some(len) = u8::try_from(text.len())
            .ok()
            .filter(|&n| usize::from(n) <= 24)
        else {
            return;
        };
        let slot = &mut self.entries[self.next % self.entries.len()];
        slot.ts = ts;
        slot.len = len;
        slot.text[..text.len()].copy_from_slice(text);
        self.next = self.next.wrapping_add(1);
    }
}

/// Fills `slot` with the last `slot.len()` decimal digits of `n`
/// (zero-padded on the left).
#[inline]
fn fill_digits(slot: &mut [u8], mut n: u64) {
    let mut i = slot.len();
    while i >= 2 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        slot[i - 2] = PAIRS[pair];
        slot[i - 1] = PAIRS[pair + 1];
        i -= 2;
    }
    if i == 1 {
        slot[0] = b'0' + (n % 10) as u8;
    }
}
