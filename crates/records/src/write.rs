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
pub fn csv_row<R: Record>(record: &R, fields: &[Field], out: &mut Vec<u8>) {
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
