//! Byte strings that sort records: memcmp order of the keys is the order
//! sinks write records in, so that workers can sort their own records and
//! one writer only merges.

use crate::{Addr, Protocol, Ts};

/// Appends a timestamp (order-preserving: sign bit flipped, big-endian).
#[inline]
pub fn ts(out: &mut Vec<u8>, t: Ts) {
    out.extend_from_slice(&((t.0 as u64) ^ (1 << 63)).to_be_bytes());
}

/// Appends an address: kind, then bytes (names end with a 0 byte).
#[inline]
pub fn addr(out: &mut Vec<u8>, a: Addr) {
    match a {
        Addr::None => out.push(0),
        Addr::V4(v) => {
            out.push(1);
            out.extend_from_slice(&v.octets());
        }
        Addr::V6(v) => {
            out.push(2);
            out.extend_from_slice(&v.octets());
        }
        Addr::Mac(m) => {
            out.push(3);
            out.extend_from_slice(&m);
        }
        Addr::Name(_) => {
            out.push(4);
            text(out, &a.to_string());
        }
    }
}

/// Appends a protocol name.
#[inline]
pub fn protocol(out: &mut Vec<u8>, p: Protocol) {
    text(out, p.name());
}

/// Appends text, terminated by a 0 byte (so "ab" < "abc").
#[inline]
pub fn text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Appends an optional port (absent first).
#[inline]
pub fn port(out: &mut Vec<u8>, p: Option<u16>) {
    match p {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
}

/// Appends a number.
#[inline]
pub fn u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_is_value_order() {
        let enc = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = Vec::new();
            f(&mut v);
            v
        };
        assert!(enc(&|o| ts(o, Ts(-5))) < enc(&|o| ts(o, Ts(3))));
        assert!(enc(&|o| ts(o, Ts(3))) < enc(&|o| ts(o, Ts(300))));
        let a: Addr = "10.0.0.2".parse().unwrap_or_default();
        let b: Addr = "10.0.0.10".parse().unwrap_or_default();
        assert!(enc(&|o| addr(o, a)) < enc(&|o| addr(o, b)));
        assert!(enc(&|o| text(o, "ab")) < enc(&|o| text(o, "abc")));
        assert!(enc(&|o| port(o, None)) < enc(&|o| port(o, Some(0))));
    }
}
