//! Capture file reading: pcap and pcapng, incrementally, with a file offset in
//! every error.
//!
//! [`CaptureReader`] recognises the format by its magic number (never by the
//! file name) and hands out one [`Frame`] per packet record, borrowing the
//! packet bytes from an internal read buffer (no per-frame allocation or
//! copy). It reads:
//!
//! - pcap in both byte orders, with microsecond (`a1b2c3d4`) or nanosecond
//!   (`a1b23c4d`) timestamps, and the Kuznetzov "modified" variant
//!   (`a1b2cd34`, 24-byte record headers);
//! - pcapng with any number of sections (each with its own byte order) and
//!   interfaces (each with its own link type, `if_tsresol` and
//!   `if_tsoffset`). Packets come from Enhanced Packet Blocks, Simple Packet
//!   Blocks and the obsolete Packet Block; every other block type is skipped.
//!
//! The reader never panics and never allocates more than about
//! [`MAX_RECORD`] bytes of buffer, whatever the input. When it runs out of
//! complete records it returns [`Next::End`]; if the file grows later (a
//! capture still being written), calling [`CaptureReader::next`] again carries
//! on where it stopped.
//!
//! ```no_run
//! use netanom_capture::{CaptureReader, Next};
//! # fn main() -> Result<(), netanom_capture::CaptureError> {
//! let mut reader = CaptureReader::open(std::path::Path::new("trace.pcap"))?;
//! loop {
//!     match reader.next() {
//!         Next::Frame(frame) => println!("{} {} bytes", frame.ts, frame.data.len()),
//!         Next::Skipped(err) => eprintln!("warning: {err}"),
//!         Next::End { partial: 0 } => break,
//!         Next::End { partial } => {
//!             eprintln!("{}", reader.truncated_error(partial));
//!             break;
//!         }
//!         Next::Fatal(err) => return Err(err),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

mod mapped;

/// Largest record (pcap: captured length) or block (pcapng: total block
/// length) the reader accepts: 16 MiB. A larger claim is reported as
/// [`ErrorKind::TooLarge`] instead of being allocated.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// Initial size of the read buffer. It grows (up to about [`MAX_RECORD`])
/// only for a record that does not fit.
const DEFAULT_BUF: usize = 1 << 19;

/// Most interfaces accepted in one pcapng section (an IDB is at least 20
/// bytes, so this bounds the interface table for hostile input).
const MAX_INTERFACES: usize = 1 << 16;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_PB: u32 = 0x0000_0002;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// The container format of a capture file, as recognised by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// libpcap format (any byte order, µs, ns or "modified" variant).
    Pcap,
    /// pcapng format.
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        })
    }
}

/// What kind of problem a [`CaptureError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The underlying reader failed.
    Io,
    /// The file does not start with a pcap or pcapng magic number.
    NotACapture,
    /// The file is too short to know yet (empty, or a partial file header):
    /// it may still be being written, so retrying later can succeed.
    Incomplete,
    /// The file ends in the middle of a record (see
    /// [`CaptureReader::truncated_error`]).
    Truncated,
    /// A header, record or block is inconsistent.
    Corrupt,
    /// A record or block claims more than [`MAX_RECORD`] bytes.
    TooLarge,
}

/// An error while reading a capture file, with the file name and the byte
/// offset of the header, record or block concerned.
///
/// Displayed as `"{file}: offset {offset}: {message}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: offset {offset}: {message}")]
pub struct CaptureError {
    /// The name given to the reader (normally the file path).
    pub file: String,
    /// Byte offset in the file of the header, record or block concerned.
    pub offset: u64,
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What was found and what was expected.
    pub message: String,
}

/// One packet record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Timestamp in nanoseconds since the Unix epoch. pcapng timestamps are
    /// resolved with the interface's `if_tsresol` and `if_tsoffset` and
    /// saturate at the `i64` limits. A Simple Packet Block has no timestamp:
    /// it gets the timestamp of the previous frame of the file (0 if there is
    /// none). Sub-second fields are used as found, even when out of range.
    pub ts: i64,
    /// LINKTYPE_* number. pcap: the low 16 bits of the header's link-type
    /// field (the FCS and reserved bits are dropped). pcapng: the link type
    /// of the packet's interface.
    pub linktype: u32,
    /// Length of the packet on the wire, as recorded (it may be smaller than
    /// `data.len()` in damaged files).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Byte offset of this record (pcap record header or pcapng block) in the
    /// file.
    pub offset: u64,
    /// pcapng: interface id within the current section. pcap: 0.
    pub interface: u32,
}

/// Result of [`CaptureReader::next`].
#[derive(Debug)]
#[must_use]
pub enum Next<'a> {
    /// A packet.
    Frame(Frame<'a>),
    /// A damaged record or block was skipped; calling `next()` again
    /// continues after it.
    Skipped(CaptureError),
    /// No more complete records for now. `partial` is the number of bytes of
    /// an incomplete record at the end of the file (0 = clean end). If the
    /// file grows later, calling `next()` again continues from here.
    End {
        /// Bytes of an incomplete record at the end (0 = clean end).
        partial: u64,
    },
    /// The rest of the file cannot be read. Every later call to `next()`
    /// returns the same error.
    Fatal(CaptureError),
}

/// pcapng timestamp units to nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsConv {
    /// `if_tsresol` 10^-n with n <= 9: multiply.
    Mul(u64),
    /// `if_tsresol` 10^-n with n > 9: divide.
    Div(u128),
    /// `if_tsresol` 2^-n: `raw * 10^9 >> n`.
    Shift(u32),
}

impl TsConv {
    fn from_tsresol(v: u8) -> TsConv {
        if v & 0x80 == 0 {
            let e = u32::from(v);
            if e <= 9 {
                TsConv::Mul(10u64.pow(9 - e))
            } else {
                TsConv::Div(10u128.checked_pow(e - 9).unwrap_or(u128::MAX))
            }
        } else {
            TsConv::Shift(u32::from(v & 0x7f))
        }
    }

    #[inline]
    fn to_ns(self, raw: u64, offset_ns: i128) -> i64 {
        let ns: i128 = match self {
            TsConv::Mul(m) => i128::from(raw) * i128::from(m),
            TsConv::Div(d) => (u128::from(raw) / d) as i128,
            TsConv::Shift(n) => ((u128::from(raw) * 1_000_000_000) >> n) as i128,
        };
        saturate(ns + offset_ns)
    }
}

#[inline]
fn saturate(v: i128) -> i64 {
    if v > i128::from(i64::MAX) {
        i64::MAX
    } else if v < i128::from(i64::MIN) {
        i64::MIN
    } else {
        v as i64
    }
}

/// One pcapng interface (from an IDB).
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    conv: TsConv,
    offset_ns: i128,
}

/// Position and metadata of the frame `next()` is about to return.
struct Meta {
    ts: i64,
    linktype: u32,
    orig_len: u32,
    start: usize,
    len: usize,
    offset: u64,
    interface: u32,
}

/// Outcome of trying to get a complete SHB into the buffer.
enum Shb {
    Done,
    Partial(u64),
}

/// Where a reader's bytes are: its own read buffer, or (files opened
/// with [`CaptureReader::open`]) the file itself, mapped.
enum Bytes {
    Read(Vec<u8>),
    Mapped(mapped::Window),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(v) => v,
            Bytes::Mapped(w) => w.bytes(),
        }
    }
}

/// Reads pcap and pcapng files record by record.
///
/// See the [crate documentation](crate) for the formats and behaviour.
pub struct CaptureReader<R: Read = File> {
    reader: R,
    name: String,
    /// The file's bytes from offset `base`.
    buf: Bytes,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    format: Format,
    /// Byte order of the pcap file or of the current pcapng section.
    big: bool,
    /// pcap: record header length (16, or 24 for the modified format).
    rec_hdr: usize,
    /// pcap: nanoseconds per sub-second unit (1000 or 1).
    frac_ns: i64,
    /// pcap: link type.
    linktype: u32,
    /// pcapng: interfaces of the current section.
    interfaces: Vec<Interface>,
    /// pcapng: number of sections seen, minus one.
    section: u32,
    /// Timestamp of the last frame (for SPBs).
    last_ts: i64,
    fatal: Option<CaptureError>,
}

impl<R: Read> fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("offset", &self.offset())
            .field("big_endian", &self.big)
            .field("section", &self.section)
            .field("interfaces", &self.interfaces.len())
            .finish_non_exhaustive()
    }
}

impl CaptureReader<File> {
    /// Opens a capture file and reads its file header (pcap) or first section
    /// header block (pcapng).
    ///
    /// A regular file is read through a mapping of it (on Linux), not
    /// copied by `read()`: only the bytes looked at are touched. If another
    /// program cuts the file short meanwhile, the reader reports it
    /// ([`ErrorKind::Io`], "file shrank while being read") instead of the
    /// process dying of SIGBUS.
    ///
    /// Errors: [`ErrorKind::Io`] if the file cannot be opened, otherwise as
    /// for [`CaptureReader::new`]. The path is the name used in errors.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        match File::open(path) {
            Ok(file) => {
                let bytes = match mapped::Window::open(&file) {
                    Some(window) => Bytes::Mapped(window),
                    None => Bytes::Read(vec![0; DEFAULT_BUF]),
                };
                CaptureReader::start(file, name, bytes)
            }
            Err(e) => Err(CaptureError {
                file: name,
                offset: 0,
                kind: ErrorKind::Io,
                message: format!("cannot open: {e}"),
            }),
        }
    }
}

impl<R: Read> CaptureReader<R> {
    /// Wraps a reader positioned at the start of a capture file, recognises
    /// the format by its magic number and reads the file header (pcap) or the
    /// first section header block (pcapng). `name` (normally the file path)
    /// is used in errors.
    ///
    /// Errors: [`ErrorKind::Incomplete`] if the input ends before the header
    /// is complete (an empty file included: retry later if the file is still
    /// being written); [`ErrorKind::NotACapture`] for an unknown magic number;
    /// [`ErrorKind::Corrupt`] for an unsupported version or an inconsistent
    /// header; [`ErrorKind::TooLarge`] for a section header block over
    /// [`MAX_RECORD`]; [`ErrorKind::Io`] if reading fails.
    pub fn new(reader: R, name: impl Into<String>) -> Result<Self, CaptureError> {
        CaptureReader::start(reader, name.into(), Bytes::Read(vec![0; DEFAULT_BUF]))
    }

    /// [`CaptureReader::new`] with the bytes read through `buf`.
    fn start(reader: R, name: String, buf: Bytes) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            reader,
            name,
            buf,
            pos: 0,
            end: 0,
            base: 0,
            format: Format::Pcap,
            big: false,
            rec_hdr: 16,
            frac_ns: 1000,
            linktype: 0,
            interfaces: Vec::new(),
            section: 0,
            last_ts: 0,
            fatal: None,
        };
        if !r.fill(4)? {
            let have = r.end;
            return Err(r.err(
                0,
                ErrorKind::Incomplete,
                format!("file has {have} bytes, at least 4 are needed to recognise the format"),
            ));
        }
        let magic = [r.buf[0], r.buf[1], r.buf[2], r.buf[3]];
        let (big, rec_hdr, frac_ns) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, 16, 1000),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, 16, 1000),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, 16, 1),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, 16, 1),
            [0x34, 0xcd, 0xb2, 0xa1] => (false, 24, 1000),
            [0xa1, 0xb2, 0xcd, 0x34] => (true, 24, 1000),
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                r.format = Format::PcapNg;
                return match r.read_shb()? {
                    Shb::Done => Ok(r),
                    Shb::Partial(have) => Err(r.err(
                        0,
                        ErrorKind::Incomplete,
                        format!("pcapng section header block cut short ({have} bytes so far)"),
                    )),
                };
            }
            _ => {
                return Err(r.err(
                    0,
                    ErrorKind::NotACapture,
                    format!(
                        "unknown magic number {:02x} {:02x} {:02x} {:02x} (expected a pcap or pcapng magic)",
                        magic[0], magic[1], magic[2], magic[3]
                    ),
                ))
            }
        };
        r.big = big;
        r.rec_hdr = rec_hdr;
        r.frac_ns = frac_ns;
        if !r.fill(24)? {
            let have = r.end;
            return Err(r.err(
                0,
                ErrorKind::Incomplete,
                format!("pcap file header cut short ({have} of 24 bytes)"),
            ));
        }
        let major = r.u16_at(4);
        let minor = r.u16_at(6);
        if major != 2 {
            return Err(r.err(
                0,
                ErrorKind::Corrupt,
                format!("unsupported pcap version {major}.{minor} (expected 2.x)"),
            ));
        }
        r.linktype = r.u32_at(20) & 0xffff;
        r.pos = 24;
        Ok(r)
    }

    /// The format of the file.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of the file consumed so far (the offset of the next record).
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The name used in errors (normally the file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// pcapng: index of the current section (0 for the first; it grows by one
    /// at every section header block). pcap: always 0. Interface ids in
    /// [`Frame::interface`] are relative to this section.
    pub fn section(&self) -> u32 {
        self.section
    }

    /// The error a caller reports when the file ends with `partial` bytes of
    /// an incomplete record ([`Next::End`] with `partial > 0`) and is not
    /// being written any more: kind [`ErrorKind::Truncated`], at the offset
    /// of the incomplete record.
    pub fn truncated_error(&self, partial: u64) -> CaptureError {
        self.err(
            self.offset(),
            ErrorKind::Truncated,
            format!("file cut short in the middle of a record ({partial} bytes of it present)"),
        )
    }

    /// Reads the next packet record.
    ///
    /// The returned [`Frame`] borrows the reader's buffer until the next call.
    #[inline]
    #[allow(clippy::should_implement_trait)] // a lending iterator, not an Iterator
    pub fn next(&mut self) -> Next<'_> {
        if let Some(e) = &self.fatal {
            return Next::Fatal(e.clone());
        }
        // The last frame's bytes may have been read after the file lost them.
        if let Some(fatal) = self.lost() {
            return fatal;
        }
        match self.format {
            Format::Pcap => self.next_pcap(),
            Format::PcapNg => self.next_pcapng(),
        }
    }

    #[inline]
    fn next_pcap(&mut self) -> Next<'_> {
        let hdr = self.rec_hdr;
        if self.end - self.pos < hdr {
            match self.fill(hdr) {
                Ok(true) => {}
                Ok(false) => return self.end_partial(),
                Err(e) => return self.fatal(e),
            }
        }
        let p = self.pos;
        let [sec, frac, incl, orig] = self.words::<4>(p);
        let incl = incl as usize;
        if incl > MAX_RECORD {
            let e = self.err(
                self.base + p as u64,
                ErrorKind::TooLarge,
                format!("record claims {incl} captured bytes (limit {MAX_RECORD})"),
            );
            return self.fatal(e);
        }
        let total = hdr + incl;
        if self.end - self.pos < total {
            match self.fill(total) {
                Ok(true) => {}
                Ok(false) => return self.end_partial(),
                Err(e) => return self.fatal(e),
            }
        }
        if let Some(fatal) = self.lost() {
            return fatal;
        }
        // `fill` may have moved the data: take the position again.
        let p = self.pos;
        self.pos = p + total;
        if let Bytes::Mapped(w) = &self.buf {
            w.prefetch(self.pos);
        }
        let ts = i64::from(sec) * 1_000_000_000 + i64::from(frac) * self.frac_ns;
        self.last_ts = ts;
        Next::Frame(Frame {
            ts,
            linktype: self.linktype,
            orig_len: orig,
            data: &self.buf[p + hdr..p + total],
            offset: self.base + p as u64,
            interface: 0,
        })
    }

    fn next_pcapng(&mut self) -> Next<'_> {
        let meta = loop {
            if self.end - self.pos < 8 {
                match self.fill(8) {
                    Ok(true) => {}
                    Ok(false) => return self.end_partial(),
                    Err(e) => return self.fatal(e),
                }
            }
            let p = self.pos;
            let [btype, len] = self.words::<2>(p);
            if btype == PCAPNG_SHB {
                match self.read_shb() {
                    Ok(Shb::Done) => {
                        self.section = self.section.saturating_add(1);
                        continue;
                    }
                    Ok(Shb::Partial(n)) => return Next::End { partial: n },
                    Err(e) => return self.fatal(e),
                }
            }
            let len = len as usize;
            let offset = self.base + p as u64;
            if len > MAX_RECORD {
                let e = self.err(
                    offset,
                    ErrorKind::TooLarge,
                    format!("block of type {btype:#010x} claims {len} bytes (limit {MAX_RECORD})"),
                );
                return self.fatal(e);
            }
            if len < 12 || len & 3 != 0 {
                let e = self.err(
                    offset,
                    ErrorKind::Corrupt,
                    format!(
                        "block of type {btype:#010x} claims length {len} (expected a multiple of 4, at least 12)"
                    ),
                );
                return self.fatal(e);
            }
            if self.end - self.pos < len {
                match self.fill(len) {
                    Ok(true) => {}
                    Ok(false) => return self.end_partial(),
                    Err(e) => return self.fatal(e),
                }
            }
            let p = self.pos;
            let trailer = self.u32_at(p + len - 4) as usize;
            if trailer != len {
                let e = self.err(
                    offset,
                    ErrorKind::Corrupt,
                    format!(
                        "block of type {btype:#010x}: trailing length {trailer} differs from leading length {len}"
                    ),
                );
                return self.fatal(e);
            }
            // The block is complete and framed consistently: consume it, so
            // that a body that fails to parse is skipped.
            self.pos = p + len;
            if let Bytes::Mapped(w) = &self.buf {
                w.prefetch(self.pos);
            }
            let body = p + 8;
            let body_len = len - 12;
            let parsed = match btype {
                PCAPNG_EPB => self.parse_epb(body, body_len, offset),
                PCAPNG_SPB => self.parse_spb(body, body_len, offset),
                PCAPNG_PB => self.parse_pb(body, body_len, offset),
                PCAPNG_IDB => match self.parse_idb(body, body_len, offset) {
                    Ok(()) => continue,
                    Err(e) => Err(e),
                },
                // NRB, ISB, DSB, custom and unknown blocks.
                _ => continue,
            };
            match parsed {
                Ok(meta) => break meta,
                Err(e) => return Next::Skipped(e),
            }
        };
        if let Some(fatal) = self.lost() {
            return fatal;
        }
        self.last_ts = meta.ts;
        Next::Frame(Frame {
            ts: meta.ts,
            linktype: meta.linktype,
            orig_len: meta.orig_len,
            data: &self.buf[meta.start..meta.start + meta.len],
            offset: meta.offset,
            interface: meta.interface,
        })
    }

    /// Reads a section header block at `self.pos` (its type already known or
    /// to be checked), sets the byte order and starts a new section.
    fn read_shb(&mut self) -> Result<Shb, CaptureError> {
        if !self.fill(12)? {
            return Ok(Shb::Partial((self.end - self.pos) as u64));
        }
        let p = self.pos;
        let offset = self.base + p as u64;
        let bom = [
            self.buf[p + 8],
            self.buf[p + 9],
            self.buf[p + 10],
            self.buf[p + 11],
        ];
        let big = if bom == PCAPNG_BOM.to_le_bytes() {
            false
        } else if bom == PCAPNG_BOM.to_be_bytes() {
            true
        } else {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "section header block has byte-order magic {:02x} {:02x} {:02x} {:02x} (expected 1a 2b 3c 4d in either byte order)",
                    bom[0], bom[1], bom[2], bom[3]
                ),
            ));
        };
        self.big = big;
        let len = self.u32_at(p + 4) as usize;
        if len > MAX_RECORD {
            return Err(self.err(
                offset,
                ErrorKind::TooLarge,
                format!("section header block claims {len} bytes (limit {MAX_RECORD})"),
            ));
        }
        if len < 28 || len & 3 != 0 {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "section header block claims length {len} (expected a multiple of 4, at least 28)"
                ),
            ));
        }
        if !self.fill(len)? {
            return Ok(Shb::Partial((self.end - self.pos) as u64));
        }
        let p = self.pos;
        let trailer = self.u32_at(p + len - 4) as usize;
        if trailer != len {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "section header block: trailing length {trailer} differs from leading length {len}"
                ),
            ));
        }
        let major = self.u16_at(p + 12);
        let minor = self.u16_at(p + 14);
        // Like libpcap: 1.0, and 1.2 (written by some old tools).
        if major != 1 || (minor != 0 && minor != 2) {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!("unsupported pcapng version {major}.{minor} (expected 1.0)"),
            ));
        }
        self.interfaces.clear();
        self.pos = p + len;
        Ok(Shb::Done)
    }

    fn parse_idb(&mut self, body: usize, body_len: usize, offset: u64) -> Result<(), CaptureError> {
        if body_len < 8 {
            // Keep the interface numbering of the section: later blocks
            // that use this interface are skipped.
            self.push_interface(Interface {
                linktype: u32::MAX,
                snaplen: 0,
                conv: TsConv::Mul(1000),
                offset_ns: 0,
            });
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "interface description block body is {body_len} bytes (expected at least 8)"
                ),
            ));
        }
        let linktype = u32::from(self.u16_at(body));
        let snaplen = self.u32_at(body + 4);
        let mut iface = Interface {
            linktype,
            snaplen,
            conv: TsConv::Mul(1000),
            offset_ns: 0,
        };
        let mut bad_option = None;
        let mut o = body + 8;
        let opt_end = body + body_len;
        while opt_end - o >= 4 {
            let code = self.u16_at(o);
            let olen = usize::from(self.u16_at(o + 2));
            if code == 0 {
                break;
            }
            let padded = (olen + 3) & !3;
            if padded > opt_end - o - 4 {
                bad_option = Some((o, code, olen));
                break;
            }
            let v = o + 4;
            match (code, olen) {
                (9, 1) => iface.conv = TsConv::from_tsresol(self.buf[v]),
                (14, 8) => {
                    let secs = self.u64_at(v) as i64;
                    iface.offset_ns = i128::from(secs) * 1_000_000_000;
                }
                _ => {}
            }
            o = v + padded;
        }
        let pushed = self.push_interface(iface);
        if let Some((o, code, olen)) = bad_option {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "interface description block: option {code} at offset {} claims {olen} bytes, past the end of the block (interface {} kept with the options before it)",
                    self.base + o as u64,
                    self.interfaces.len().saturating_sub(1)
                ),
            ));
        }
        if !pushed {
            return Err(self.err(
                offset,
                ErrorKind::Corrupt,
                format!("more than {MAX_INTERFACES} interfaces in one section: interface ignored"),
            ));
        }
        Ok(())
    }

    fn push_interface(&mut self, iface: Interface) -> bool {
        if self.interfaces.len() < MAX_INTERFACES {
            self.interfaces.push(iface);
            true
        } else {
            false
        }
    }

    #[inline]
    fn interface(&self, id: u32, offset: u64, what: &str) -> Result<Interface, CaptureError> {
        match self.interfaces.get(id as usize) {
            Some(i) if i.linktype != u32::MAX => Ok(*i),
            _ => Err(self.bad_interface(id, offset, what)),
        }
    }

    #[cold]
    fn bad_interface(&self, id: u32, offset: u64, what: &str) -> CaptureError {
        if (id as usize) < self.interfaces.len() {
            self.err(
                offset,
                ErrorKind::Corrupt,
                format!("{what} uses interface {id}, whose description block is damaged"),
            )
        } else {
            self.err(
                offset,
                ErrorKind::Corrupt,
                format!(
                    "{what} uses interface {id}, but the section has {} interface description blocks",
                    self.interfaces.len()
                ),
            )
        }
    }

    #[inline]
    fn parse_epb(&self, body: usize, body_len: usize, offset: u64) -> Result<Meta, CaptureError> {
        if body_len < 20 {
            return Err(self.short_body("enhanced packet block", body_len, 20, offset));
        }
        let [id, ts_hi, ts_lo, cap, orig] = self.words::<5>(body);
        let raw = (u64::from(ts_hi) << 32) | u64::from(ts_lo);
        let cap = cap as usize;
        if cap > body_len - 20 {
            return Err(self.cap_too_big("enhanced packet block", cap, body_len - 20, offset));
        }
        let iface = self.interface(id, offset, "enhanced packet block")?;
        Ok(Meta {
            ts: iface.conv.to_ns(raw, iface.offset_ns),
            linktype: iface.linktype,
            orig_len: orig,
            start: body + 20,
            len: cap,
            offset,
            interface: id,
        })
    }

    #[cold]
    fn short_body(&self, what: &str, body_len: usize, min: usize, offset: u64) -> CaptureError {
        self.err(
            offset,
            ErrorKind::Corrupt,
            format!("{what} body is {body_len} bytes (expected at least {min})"),
        )
    }

    #[cold]
    fn cap_too_big(&self, what: &str, cap: usize, room: usize, offset: u64) -> CaptureError {
        self.err(
            offset,
            ErrorKind::Corrupt,
            format!("{what} claims {cap} captured bytes, but the block has room for {room}"),
        )
    }

    fn parse_pb(&self, body: usize, body_len: usize, offset: u64) -> Result<Meta, CaptureError> {
        if body_len < 20 {
            return Err(self.short_body("packet block", body_len, 20, offset));
        }
        let id = u32::from(self.u16_at(body));
        let [_, ts_hi, ts_lo, cap, orig] = self.words::<5>(body);
        let raw = (u64::from(ts_hi) << 32) | u64::from(ts_lo);
        let cap = cap as usize;
        if cap > body_len - 20 {
            return Err(self.cap_too_big("packet block", cap, body_len - 20, offset));
        }
        let iface = self.interface(id, offset, "packet block")?;
        Ok(Meta {
            ts: iface.conv.to_ns(raw, iface.offset_ns),
            linktype: iface.linktype,
            orig_len: orig,
            start: body + 20,
            len: cap,
            offset,
            interface: id,
        })
    }

    fn parse_spb(&self, body: usize, body_len: usize, offset: u64) -> Result<Meta, CaptureError> {
        if body_len < 4 {
            return Err(self.short_body("simple packet block", body_len, 4, offset));
        }
        let orig = self.u32_at(body);
        let iface = self.interface(0, offset, "simple packet block")?;
        // Captured length: the original length, cut to the interface's
        // snaplen, and to what the block holds.
        let mut cap = (orig as usize).min(body_len - 4);
        if iface.snaplen != 0 {
            cap = cap.min(iface.snaplen as usize);
        }
        Ok(Meta {
            ts: self.last_ts,
            linktype: iface.linktype,
            orig_len: orig,
            start: body + 4,
            len: cap,
            offset,
            interface: 0,
        })
    }

    /// Makes at least `need` unconsumed bytes available in the buffer,
    /// reading as much as fits. Returns `Ok(false)` if the input ends first
    /// (what was read is kept, so a later call can continue).
    ///
    /// The buffer grows (by doubling, up to `need`, which callers keep below
    /// `MAX_RECORD + 24`) only when it is full of one incomplete record, so a
    /// damaged length in a short file does not allocate what it claims.
    fn fill(&mut self, need: usize) -> Result<bool, CaptureError> {
        if self.end - self.pos >= need {
            return Ok(true);
        }
        let buf = match &mut self.buf {
            Bytes::Read(buf) => buf,
            Bytes::Mapped(_) => return self.fill_mapped(need),
        };
        if self.pos + need > buf.len() && self.pos > 0 {
            // Move the unconsumed tail to the front.
            buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end - self.pos < need {
            if self.end == buf.len() {
                // Full, so `pos` is 0 and `need` exceeds the buffer.
                let new_len = buf.len().saturating_mul(2).min(need);
                buf.resize(new_len, 0);
            }
            match self.reader.read(&mut buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.end += n.min(buf.len() - self.end),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(self.err(
                        self.base + self.end as u64,
                        ErrorKind::Io,
                        format!("read error: {e}"),
                    ))
                }
            }
        }
        Ok(true)
    }

    /// [`CaptureReader::fill`] for a mapped file: looks at its length
    /// again, and moves the mapping on when the record reaches past it.
    fn fill_mapped(&mut self, need: usize) -> Result<bool, CaptureError> {
        let from = self.base + self.pos as u64;
        let Bytes::Mapped(window) = &mut self.buf else {
            return Ok(false);
        };
        let looked = window.advance(from, need);
        let (base, len, damaged) = (window.offset(), window.bytes().len(), window.damaged());
        if let Err(e) = looked {
            return Err(self.err(from, ErrorKind::Io, format!("read error: {e}")));
        }
        if damaged {
            return Err(self.shrunk_error());
        }
        // Not shrunk, so the file still has every byte up to `from`.
        self.base = base;
        self.pos = usize::try_from(from - base).unwrap_or(usize::MAX).min(len);
        self.end = len;
        Ok(self.end - self.pos >= need)
    }

    /// `Fatal` if the mapped file lost bytes while being read.
    #[inline(always)]
    fn lost(&mut self) -> Option<Next<'static>> {
        if !matches!(&self.buf, Bytes::Mapped(w) if w.damaged()) {
            return None;
        }
        let e = self.shrunk_error();
        Some(self.fatal(e))
    }

    #[cold]
    fn shrunk_error(&self) -> CaptureError {
        self.err(
            self.offset(),
            ErrorKind::Io,
            "file shrank while being read (cut short or rewritten by another program); \
             the rest of it is not read, and the packet before this offset may be damaged"
                .to_owned(),
        )
    }

    fn end_partial(&self) -> Next<'static> {
        Next::End {
            partial: (self.end - self.pos) as u64,
        }
    }

    fn fatal(&mut self, e: CaptureError) -> Next<'static> {
        self.fatal = Some(e.clone());
        Next::Fatal(e)
    }

    #[cold]
    fn err(&self, offset: u64, kind: ErrorKind, message: String) -> CaptureError {
        CaptureError {
            file: self.name.clone(),
            offset,
            kind,
            message,
        }
    }

    /// `N` consecutive u32 values from `p`, in the current byte order.
    #[inline(always)]
    fn words<const N: usize>(&self, p: usize) -> [u32; N] {
        let mut out = [0u32; N];
        if let Some(bytes) = self.buf.get(p..p + 4 * N) {
            for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                let b = [b[0], b[1], b[2], b[3]];
                *w = if self.big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
            }
        }
        out
    }

    #[inline(always)]
    fn u16_at(&self, p: usize) -> u16 {
        let b = [self.buf[p], self.buf[p + 1]];
        if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    #[inline(always)]
    fn u32_at(&self, p: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buf[p..p + 4]);
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    #[inline(always)]
    fn u64_at(&self, p: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[p..p + 8]);
        if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }
}

#[cfg(test)]
mod tests;
