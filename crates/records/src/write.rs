//! The [`Record`] trait and the CSV and JSON Lines encodings sinks write.

use crate::field::{Field, Value};
use crate::{RecordKind, Ts};
use std::io::Write;

/// What every record kind offers sinks and generic operators.
pub trait Record: Clone + std::fmt::Debug + Send + 'static {
    /// The kind, for config validation.
    const KIND: RecordKind;

    /// The value of `field` ([`Value::Null`] for fields the kind lacks).
    fn get(&self, field: Field) -> Value<'_>;

    /// The record's own event time (a packet's `ts`, a window's end).
    fn event_time(&self) -> Ts;

    /// Appends the record's sort key: sinks write records in the byte
    /// order of their keys, so output does not depend on the number of
    /// workers. Records with equal keys must be equal.
    fn sort_key(&self, out: &mut Vec<u8>);

    /// Writes the CSV line of `fields`, newline included, into the start
    /// of `buf` by a path made for this kind, and returns its length.
    /// `None` when the kind has no such path for these fields, or the line
    /// does not fit: the generic encoding then runs, and must give the
    /// same bytes.
    #[inline]
    fn csv_line(&self, _fields: &[Field], _buf: &mut [u8]) -> Option<usize> {
        None
    }
}

/// Appends a CSV header line for `fields`.
pub fn csv_header(fields: &[Field], out: &mut Vec<u8>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(field.name().as_bytes());
    }
    out.push(b'\n');
}

/// Appends one CSV line (RFC 4180 quoting where needed).
#[inline]
pub fn csv_row<R: Record>(record: &R, fields: &[Field], out: &mut Vec<u8>) {
    // Most lines are short: written in place into a zeroed stretch of
    // `out` (no per-value length checks or `memcpy` calls), and cut to
    // length. A line that does not fit takes the general path.
    let start = out.len();
    out.resize(start + crate::line::LINE_MAX, 0);
    if let Some(n) = record.csv_line(fields, &mut out[start..]) {
        out.truncate(start + n);
        return;
    }
    let mut line = crate::line::Line::new(&mut out[start..]);
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.byte(b',');
        }
        line.csv_value(record.get(*field));
    }
    line.byte(b'\n');
    let written = line.finish();
    match written {
        Some(n) => out.truncate(start + n),
        None => {
            out.truncate(start);
            csv_row_slow(record, fields, out);
        }
    }
}

/// [`csv_row`] by the general path, value by value.
fn csv_row_slow<R: Record>(record: &R, fields: &[Field], out: &mut Vec<u8>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_csv_value(record.get(*field), out);
    }
    out.push(b'\n');
}

/// Appends one JSON object and a newline.
pub fn json_row<R: Record>(record: &R, fields: &[Field], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(field.name().as_bytes());
        out.extend_from_slice(b"\":");
        write_json_value(record.get(*field), out);
    }
    out.extend_from_slice(b"}\n");
}

#[inline]
fn write_csv_value(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => write_csv_text(s, out),
        Value::Addr(a) if matches!(a, crate::Addr::Name(_)) => write_csv_text(&a.to_string(), out),
        Value::Protocol(p) => write_csv_text(p.name(), out),
        other => write_plain(other, out),
    }
}

#[inline]
fn write_csv_text(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Values whose text needs no quoting in CSV.
#[inline]
fn write_plain(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::U64(v) => push_u64(out, v),
        Value::F64(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => {
            // Whole numbers print as integers, as `{}` does.
            if v < 0.0 {
                out.push(b'-');
            }
            push_u64(out, v.abs() as u64);
        }
        Value::F64(v) if v.is_finite() => {
            // ryu is several times faster than `{}`; it writes exponents
            // where `{}` does not, so those few values take the slow path.
            let mut buf = ryu::Buffer::new();
            let text = buf.format_finite(v);
            if text.contains('e') {
                let _ = write!(out, "{v}");
            } else {
                out.extend_from_slice(text.as_bytes());
            }
        }
        Value::F64(_) => {}
        Value::Ts(t) => t.write_to(out),
        Value::Addr(crate::Addr::V4(ip)) => {
            for (i, octet) in ip.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(*octet));
            }
        }
        Value::Addr(a) => {
            let _ = write!(out, "{a}");
        }
        Value::Protocol(p) => out.extend_from_slice(p.name().as_bytes()),
        Value::Flags(f) => {
            let _ = write!(out, "0x{f:04x}");
        }
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
    }
}

/// Appends the decimal digits of `n`.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    // Digits are written in place: a `memcpy` call costs more than the
    // handful of bytes it would copy.
    let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let start = out.len();
    out.resize(start + digits, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn write_json_value(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::F64(v) if !v.is_finite() => out.extend_from_slice(b"null"),
        Value::Bool(_) | Value::U64(_) | Value::F64(_) | Value::Ts(_) => write_plain(value, out),
        Value::Str(s) => write_json_string(s, out),
        Value::Addr(a) if a.is_none() => out.extend_from_slice(b"null"),
        Value::Addr(a) => write_json_string(&a.to_string(), out),
        Value::Protocol(p) => write_json_string(p.name(), out),
        Value::Flags(f) => write_json_string(&format!("0x{f:04x}"), out),
    }
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Addr, Packet, Protocol};

    fn packet() -> Packet {
        Packet {
            ts: Ts(1_500_000_000),
            src: "10.0.0.1".parse().unwrap_or_default(),
            dst: Addr::None,
            sport: Some(1234),
            dport: None,
            protocol: Protocol::new("TCP"),
            length: 60,
            tcp_flags: Some(0x12),
            info: "a \"quoted\", text".into(),
        }
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        csv_header(Packet::FIELDS, &mut out);
        csv_row(&packet(), Packet::FIELDS, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "ts,src,dst,sport,dport,protocol,length,tcp_flags,info\n\
             1.500000000,10.0.0.1,,1234,,TCP,60,0x0012,\"a \"\"quoted\"\", text\"\n"
        );
    }

    #[test]
    fn fast_paths_print_like_display() {
        for v in [0u64, 7, 10, 99, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(String::from_utf8_lossy(&out), v.to_string());
        }
        for f in [
            0.0,
            66.0,
            -3.0,
            0.5,
            1.0 / 3.0,
            1e20,
            123456.25,
            1.5e-7,
            2.0 / 3.0e6,
            987.654321,
        ] {
            let mut out = Vec::new();
            write_plain(Value::F64(f), &mut out);
            assert_eq!(String::from_utf8_lossy(&out), f.to_string());
        }
        for a in ["0.0.0.0", "255.255.255.255", "10.20.3.4"] {
            let mut out = Vec::new();
            write_plain(Value::Addr(a.parse().unwrap_or_default()), &mut out);
            assert_eq!(String::from_utf8_lossy(&out), a);
        }
    }

    #[test]
    fn fast_lines_equal_the_general_path() {
        use crate::{GroupKey, WindowRecord};
        let addrs: Vec<Addr> = [
            "",
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:0:1:0:0:1",
            "2001:0:0:1:0:0:0:1",
            "fe80::1:0:0:0",
            "::ffff:10.1.2.3",
            "::10.1.2.3",
            "1:2:3:4:5:6:7:8",
            "1:0:3:0:5:0:7:0",
            "ff:ff:ff:ff:ff:ff",
            "0e:53:67:6d:a4:19",
            "some host, \"quoted\"",
            "plain-name",
        ]
        .iter()
        .map(|t| Addr::parse_lenient(t))
        .collect();
        let protocols = [
            Protocol::new("TCP"),
            Protocol::new(""),
            Protocol::new("BFD Control"),
            Protocol::new("odd,\"name\""),
        ];
        let long = Protocol::new(&"x".repeat(400));
        let mut n = 0u64;
        for (i, &src) in addrs.iter().enumerate() {
            for &dst in addrs.iter().skip(i % 3) {
                for &protocol in protocols.iter().chain(std::iter::once(&long)) {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let r = WindowRecord {
                        window_start: Ts((n >> 3) as i64 - (1 << 59)),
                        window_end: Ts((n >> 5) as i64),
                        key: GroupKey {
                            src,
                            dst,
                            protocol,
                            sport: (n & 1 == 0).then_some((n >> 7) as u16),
                            dport: Some((n >> 23) as u16),
                        },
                        count: (n >> 40) % 7 + 1,
                        bytes: n >> (n % 64),
                        len_max: (n >> 30) as u32,
                        distinct_srcs: (n >> 50) as u32,
                        distinct_dsts: 0,
                        distinct_sports: 1,
                        distinct_dports: u32::MAX,
                        syn_count: n,
                    };
                    use crate::Field as F;
                    // The window layouts (the kind's own line) and one
                    // that is not (the generic line).
                    let layouts = [
                        WindowRecord::fields(&[F::Src, F::Dst, F::Protocol, F::Sport, F::Dport]),
                        WindowRecord::fields(&[F::Dport, F::Src]),
                        WindowRecord::fields(&[]),
                        vec![F::Count, F::WindowEnd, F::Src],
                    ];
                    for fields in &layouts {
                        let (mut fast, mut slow) = (b"prefix".to_vec(), b"prefix".to_vec());
                        csv_row(&r, fields, &mut fast);
                        csv_row_slow(&r, fields, &mut slow);
                        assert_eq!(
                            String::from_utf8_lossy(&fast),
                            String::from_utf8_lossy(&slow)
                        );
                    }
                    let p = Packet {
                        ts: r.window_start,
                        src,
                        dst,
                        sport: r.key.sport,
                        dport: r.key.dport,
                        protocol,
                        length: r.len_max,
                        tcp_flags: r.key.sport,
                        info: format!("info {n}, \"x\"").into(),
                    };
                    let (mut fast, mut slow) = (Vec::new(), Vec::new());
                    csv_row(&p, Packet::FIELDS, &mut fast);
                    csv_row_slow(&p, Packet::FIELDS, &mut slow);
                    assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&slow)
                    );
                }
            }
        }
    }

    #[test]
    fn cached_timestamps_print_like_fresh_ones() {
        let mut n = 3u64;
        let mut seen = Vec::new();
        for i in 0..5000 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Repeats (cache hits), neighbours and extremes.
            let t = match i % 5 {
                0 => Ts((n >> 1) as i64),
                1 => Ts(-((n >> 2) as i64)),
                2 => seen.get((n % 7) as usize).copied().unwrap_or(Ts(i64::MIN)),
                3 => Ts(i64::MAX - (n % 3) as i64),
                _ => Ts(1_700_000_000_010_000_000 + (n % 4) as i64 * 10_000_000),
            };
            seen.insert(0, t);
            seen.truncate(8);
            let mut buf = [0u8; 64];
            let mut line = crate::line::Line::new(&mut buf);
            line.csv_value(Value::Ts(t));
            let len = line.finish().unwrap_or(0);
            let want = t.to_string();
            assert_eq!(String::from_utf8_lossy(&buf[..len]), want);
            // Cached or not, a text either fits whole or marks the line
            // full, whatever room is left.
            for room in want.len().saturating_sub(2)..want.len() + 26 {
                let mut buf = vec![0u8; room];
                let mut line = crate::line::Line::new(&mut buf);
                line.csv_value(Value::Ts(t));
                match line.finish() {
                    Some(n) => assert_eq!(String::from_utf8_lossy(&buf[..n]), want),
                    None => assert!(room < want.len(), "{want} in {room}"),
                }
            }
        }
    }

    #[test]
    fn ipv4_and_whole_floats_print_like_std() {
        let mut n = 11u64;
        for i in 0..20_000u32 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ip = std::net::Ipv4Addr::from(
                (n >> 16) as u32 & if i % 3 == 0 { 0x0f0f_0f0f } else { !0 },
            );
            // Every buffer length, so the slot near the end is exercised.
            let size = 7 + (i as usize % 20);
            let mut buf = vec![0u8; size];
            let mut line = crate::line::Line::new(&mut buf);
            line.csv_value(Value::Addr(Addr::V4(ip)));
            if let Some(len) = line.finish() {
                assert_eq!(String::from_utf8_lossy(&buf[..len]), ip.to_string());
            } else {
                assert!(ip.to_string().len() > size, "{ip} fits in {size}");
            }
            let f = match i % 4 {
                0 => (n % 100_000) as f64,
                1 => -((n % 1000) as f64),
                2 => f64::from_bits(n >> 2),
                _ => (n % 1000) as f64 / 7.0,
            };
            let mut buf = [0u8; 512];
            let mut line = crate::line::Line::new(&mut buf);
            line.csv_value(Value::F64(f));
            let len = line.finish().unwrap_or(0);
            let want = if f.is_finite() {
                f.to_string()
            } else {
                String::new()
            };
            assert_eq!(String::from_utf8_lossy(&buf[..len]), want, "{f:?}");
        }
    }

    #[test]
    fn ipv6_prints_like_std() {
        let mut n = 7u64;
        for i in 0..20_000u32 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut segments = [0u16; 8];
            for (j, s) in segments.iter_mut().enumerate() {
                // Mostly zeros, to make runs of every length.
                let bits = (n >> (j * 8)) as u16;
                *s = if bits.is_multiple_of(3) { bits } else { 0 };
            }
            if i % 7 == 0 {
                segments[..5].fill(0);
                segments[5] = 0xffff;
            }
            let ip = std::net::Ipv6Addr::from(segments);
            let mut buf = [0u8; 64];
            let mut line = crate::line::Line::new(&mut buf);
            line.csv_value(Value::Addr(Addr::V6(ip)));
            let n = line.finish().unwrap_or(0);
            assert_eq!(String::from_utf8_lossy(&buf[..n]), ip.to_string());
        }
    }

    #[test]
    fn json_escapes_and_nulls() {
        let mut out = Vec::new();
        json_row(&packet(), Packet::FIELDS, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"ts\":1.500000000,\"src\":\"10.0.0.1\",\"dst\":null,\"sport\":1234,\"dport\":null,\
             \"protocol\":\"TCP\",\"length\":60,\"tcp_flags\":\"0x0012\",\"info\":\"a \\\"quoted\\\", text\"}\n"
        );
    }
}
