//! The [`Record`] trait and the CSV and JSON Lines encodings sinks write.

use crate::field::{Field, Value};
use crate::{RecordKind, Ts};
use std::cmp::Ordering;
use std::io::Write;

/// What every record kind offers sinks and generic operators.
pub trait Record: Clone + std::fmt::Debug + Send + 'static {
    /// The kind, for config validation.
    const KIND: RecordKind;

    /// The value of `field` ([`Value::Null`] for fields the kind lacks).
    fn get(&self, field: Field) -> Value<'_>;

    /// The record's own event time (a packet's `ts`, a window's end).
    fn event_time(&self) -> Ts;

    /// A total order that sinks use so that output does not depend on the
    /// number of workers.
    fn sort_cmp(&self, other: &Self) -> Ordering;
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

fn write_csv_value(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => write_csv_text(s, out),
        Value::Addr(a) if matches!(a, crate::Addr::Name(_)) => write_csv_text(&a.to_string(), out),
        Value::Protocol(p) => write_csv_text(p.name(), out),
        other => write_plain(other, out),
    }
}

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
fn write_plain(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::U64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::F64(v) if v.is_finite() => {
            let _ = write!(out, "{v}");
        }
        Value::F64(_) => {}
        Value::Ts(t) => t.write_to(out),
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
