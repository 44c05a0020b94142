//! Frame headers written in place: Ethernet, IPv4/IPv6, TCP, UDP, ICMP,
//! ARP, with correct checksums. A payload is never copied here: its
//! checksum partial sum is computed once (payload pools) and added.

/// Where frame bytes start in [`Head::buf`]: room before it for the
/// capture record header (pcap 16 bytes, pcapng 28), so a record goes to
/// the writer in one piece.
pub(crate) const HEAD_AT: usize = 32;
/// Room for headers (and small payloads built in place).
pub(crate) const HEAD_LEN: usize = 320;

/// The header part of one frame (plus the record header room before it).
pub(crate) struct Head {
    /// `[..HEAD_AT]`: record header room; `[HEAD_AT..HEAD_AT + len]`: frame.
    pub(crate) buf: [u8; HEAD_LEN],
    /// Frame header bytes written.
    pub(crate) len: usize,
}

impl Head {
    pub(crate) fn new() -> Head {
        Head {
            buf: [0; HEAD_LEN],
            len: 0,
        }
    }

    /// The frame header bytes.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[HEAD_AT..HEAD_AT + self.len]
    }
}

/// Internet-checksum partial sum of `data` (big-endian 16-bit words, an odd
/// last byte padded with zero).
#[inline]
pub(crate) fn sum16(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// The checksum field for a partial sum.
#[inline]
pub(crate) fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet types.
pub(crate) const ETH_IP4: [u8; 2] = [0x08, 0x00];
pub(crate) const ETH_IP6: [u8; 2] = [0x86, 0xdd];
pub(crate) const ETH_ARP: [u8; 2] = [0x08, 0x06];

/// IP protocol numbers.
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
pub(crate) const ICMP: u8 = 1;
pub(crate) const ICMP6: u8 = 58;

/// TCP flags.
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

/// One direction of a conversation: everything constant in its headers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Dir {
    /// Destination MAC, source MAC, ethertype.
    pub(crate) eth: [u8; 14],
    /// IPv6 (else IPv4).
    pub(crate) v6: bool,
    /// Source and destination addresses (IPv4 in the first 4 bytes).
    pub(crate) src: [u8; 16],
    pub(crate) dst: [u8; 16],
    /// TTL / hop limit.
    pub(crate) ttl: u8,
    /// Don't-fragment bit (IPv4).
    pub(crate) df: bool,
    /// IP protocol.
    pub(crate) proto: u8,
    /// Ports (0 for ICMP).
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    /// Next IPv4 identification.
    pub(crate) ipid: u16,
    /// IPv6 flow label.
    pub(crate) flow: u32,
    /// Host indices (for the CSV's Source and Destination).
    pub(crate) src_host: u16,
    pub(crate) dst_host: u16,
}

impl Dir {
    /// Pseudo-header partial sum for an L4 length.
    #[inline]
    fn pseudo(&self, l4_len: usize) -> u64 {
        let n = if self.v6 { 16 } else { 4 };
        sum16(&self.src[..n]) + sum16(&self.dst[..n]) + u64::from(self.proto) + l4_len as u64
    }

    /// Ethernet + IP headers for an L4 segment of `l4_len` bytes; returns
    /// the offset of the L4 header in `head.buf`.
    #[inline]
    fn ip(&mut self, head: &mut Head, l4_len: usize) -> usize {
        let b = &mut head.buf;
        let at = HEAD_AT;
        b[at..at + 14].copy_from_slice(&self.eth);
        let ip = at + 14;
        if self.v6 {
            let first = 0x6000_0000u32 | (self.flow & 0xf_ffff);
            b[ip..ip + 4].copy_from_slice(&first.to_be_bytes());
            b[ip + 4..ip + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            b[ip + 6] = self.proto;
            b[ip + 7] = self.ttl;
            b[ip + 8..ip + 24].copy_from_slice(&self.src);
            b[ip + 24..ip + 40].copy_from_slice(&self.dst);
            ip + 40
        } else {
            self.ipid = self.ipid.wrapping_add(1);
            let total = (20 + l4_len) as u16;
            b[ip] = 0x45;
            b[ip + 1] = 0;
            b[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
            b[ip + 4..ip + 6].copy_from_slice(&self.ipid.to_be_bytes());
            b[ip + 6..ip + 8].copy_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
            b[ip + 8] = self.ttl;
            b[ip + 9] = self.proto;
            b[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
            b[ip + 12..ip + 16].copy_from_slice(&self.src[..4]);
            b[ip + 16..ip + 20].copy_from_slice(&self.dst[..4]);
            let ck = fold(sum16(&b[ip..ip + 20]));
            b[ip + 10..ip + 12].copy_from_slice(&ck.to_be_bytes());
            ip + 20
        }
    }

    /// A TCP segment's headers; the payload (`pay_len` bytes, partial sum
    /// `pay_sum`) follows in the record. TCP options are at most 20 bytes.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn tcp(
        &mut self,
        head: &mut Head,
        seq: u32,
        ack: u32,
        flags: u8,
        win: u16,
        opts: &[u8],
        pay_len: usize,
        pay_sum: u64,
    ) {
        let hl = 20 + opts.len();
        let l4_len = hl + pay_len;
        let t = self.ip(head, l4_len);
        let b = &mut head.buf;
        b[t..t + 2].copy_from_slice(&self.sport.to_be_bytes());
        b[t + 2..t + 4].copy_from_slice(&self.dport.to_be_bytes());
        b[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        b[t + 8..t + 12].copy_from_slice(&ack.to_be_bytes());
        b[t + 12] = ((hl / 4) as u8) << 4;
        b[t + 13] = flags;
        b[t + 14..t + 16].copy_from_slice(&win.to_be_bytes());
        b[t + 16..t + 20].copy_from_slice(&[0, 0, 0, 0]);
        b[t + 20..t + hl].copy_from_slice(opts);
        let ck = fold(self.pseudo(l4_len) + sum16(&b[t..t + hl]) + pay_sum);
        b[t + 16..t + 18].copy_from_slice(&ck.to_be_bytes());
        head.len = t + hl - HEAD_AT;
    }

    /// A UDP datagram's headers plus `inline` payload bytes written in
    /// place (`inline.len()` must be even when a pool payload follows);
    /// then `pay_len` more payload bytes of partial sum `pay_sum`.
    #[inline]
    pub(crate) fn udp(&mut self, head: &mut Head, inline: &[u8], pay_len: usize, pay_sum: u64) {
        let l4_len = 8 + inline.len() + pay_len;
        let u = self.ip(head, l4_len);
        let b = &mut head.buf;
        b[u..u + 2].copy_from_slice(&self.sport.to_be_bytes());
        b[u + 2..u + 4].copy_from_slice(&self.dport.to_be_bytes());
        b[u + 4..u + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        b[u + 6..u + 8].copy_from_slice(&[0, 0]);
        b[u + 8..u + 8 + inline.len()].copy_from_slice(inline);
        let end = u + 8 + inline.len();
        let mut ck = fold(self.pseudo(l4_len) + sum16(&b[u..end]) + pay_sum);
        if ck == 0 {
            ck = 0xffff;
        }
        b[u + 6..u + 8].copy_from_slice(&ck.to_be_bytes());
        head.len = end - HEAD_AT;
    }

    /// An ICMP(v6) echo request or reply header; the data follows.
    #[inline]
    pub(crate) fn echo(
        &mut self,
        head: &mut Head,
        kind: u8,
        ident: u16,
        seq: u16,
        pay_len: usize,
        pay_sum: u64,
    ) {
        let l4_len = 8 + pay_len;
        let i = self.ip(head, l4_len);
        let b = &mut head.buf;
        b[i] = kind;
        b[i + 1] = 0;
        b[i + 2..i + 4].copy_from_slice(&[0, 0]);
        b[i + 4..i + 6].copy_from_slice(&ident.to_be_bytes());
        b[i + 6..i + 8].copy_from_slice(&seq.to_be_bytes());
        let pseudo = if self.v6 { self.pseudo(l4_len) } else { 0 };
        let ck = fold(pseudo + sum16(&b[i..i + 8]) + pay_sum);
        b[i + 2..i + 4].copy_from_slice(&ck.to_be_bytes());
        head.len = i + 8 - HEAD_AT;
    }
}

/// An ARP request (`op` 1) or reply (2), padded to 60 bytes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn arp(
    head: &mut Head,
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
) {
    let b = &mut head.buf[HEAD_AT..HEAD_AT + 60];
    b[0..6].copy_from_slice(&eth_dst);
    b[6..12].copy_from_slice(&eth_src);
    b[12..14].copy_from_slice(&ETH_ARP);
    b[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 0]);
    b[20..22].copy_from_slice(&op.to_be_bytes());
    b[22..28].copy_from_slice(&sha);
    b[28..32].copy_from_slice(&spa);
    b[32..38].copy_from_slice(&tha);
    b[38..42].copy_from_slice(&tpa);
    b[42..60].fill(0);
    head.len = 60;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_verify_to_zero() {
        let mut d = Dir {
            eth: [0; 14],
            src: [192, 168, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [192, 168, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ttl: 64,
            proto: TCP,
            sport: 50000,
            dport: 443,
            ..Dir::default()
        };
        d.eth[12..14].copy_from_slice(&ETH_IP4);
        let payload = b"hello, world!!";
        let mut head = Head::new();
        d.tcp(
            &mut head,
            1,
            2,
            ACK | PSH,
            500,
            &[2, 4, 5, 0xb4],
            payload.len(),
            sum16(payload),
        );
        let frame: Vec<u8> = [head.bytes(), payload].concat();
        // IPv4 header sums to 0xffff.
        assert_eq!(fold(sum16(&frame[14..34])), 0);
        // TCP: pseudo-header + segment sums to 0xffff.
        let seg = &frame[34..];
        let pseudo = sum16(&frame[26..34]) + 6 + seg.len() as u64;
        assert_eq!(fold(pseudo + sum16(seg)), 0);
    }
}
