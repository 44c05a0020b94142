//! Bounds-checked reads from frame bytes: every accessor returns `None` (or an
//! empty slice) instead of panicking when the frame is too short.

/// Checked accessors on a byte slice.
pub(crate) trait Bytes {
    /// The byte at `i`.
    fn u8_at(&self, i: usize) -> Option<u8>;
    /// The big-endian `u16` at `i`.
    fn be16(&self, i: usize) -> Option<u16>;
    /// The little-endian `u16` at `i`.
    fn le16(&self, i: usize) -> Option<u16>;
    /// The big-endian `u32` at `i`.
    fn be32(&self, i: usize) -> Option<u32>;
    /// The little-endian `u32` at `i`.
    fn le32(&self, i: usize) -> Option<u32>;
    /// `N` bytes starting at `i`, copied.
    fn arr<const N: usize>(&self, i: usize) -> Option<[u8; N]>;
    /// Everything from `i` on (empty when `i` is past the end).
    fn from(&self, i: usize) -> &[u8];
    /// At most the first `n` bytes.
    fn upto(&self, n: usize) -> &[u8];
}

impl Bytes for [u8] {
    #[inline(always)]
    fn u8_at(&self, i: usize) -> Option<u8> {
        self.get(i).copied()
    }

    #[inline(always)]
    fn be16(&self, i: usize) -> Option<u16> {
        self.arr(i).map(u16::from_be_bytes)
    }

    #[inline(always)]
    fn le16(&self, i: usize) -> Option<u16> {
        self.arr(i).map(u16::from_le_bytes)
    }

    #[inline(always)]
    fn be32(&self, i: usize) -> Option<u32> {
        self.arr(i).map(u32::from_be_bytes)
    }

    #[inline(always)]
    fn le32(&self, i: usize) -> Option<u32> {
        self.arr(i).map(u32::from_le_bytes)
    }

    #[inline(always)]
    fn arr<const N: usize>(&self, i: usize) -> Option<[u8; N]> {
        let end = i.checked_add(N)?;
        self.get(i..end)?.try_into().ok()
    }

    #[inline(always)]
    fn from(&self, i: usize) -> &[u8] {
        self.get(i..).unwrap_or(&[])
    }

    #[inline(always)]
    fn upto(&self, n: usize) -> &[u8] {
        self.get(..n).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Bytes;

    #[test]
    fn reads_stay_in_bounds() {
        let d: &[u8] = &[1, 2, 3];
        assert_eq!(d.be16(1), Some(0x0203));
        assert_eq!(d.le16(0), Some(0x0201));
        assert_eq!(d.be16(2), None);
        assert_eq!(d.be32(usize::MAX - 1), None);
        assert_eq!(d.from(5), &[] as &[u8]);
        assert_eq!(d.upto(9), d);
        assert_eq!(d.upto(1), &[1]);
    }
}
