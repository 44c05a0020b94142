//! `csv`: Wireshark's "Export Packet Dissections as CSV" files, and the
//! notebook's layout.

use crate::driver::{file_source, RecordReader, Spec, Step};
use crate::options::{default_out_of_order, Split};
use crate::SourceContext;
use netanom_records::doc::ConfigProblem;
use netanom_records::stats::BadInput;
use netanom_records::{Addr, Duration, Packet, Protocol, Time, Ts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use timely::dataflow::{Scope, Stream};

/// Reads CSV exports of packet lists: Wireshark's
/// (`"No.","Time","Source","Destination","Protocol","Length","Info"`) or the
/// notebook's (`n,Time,Source,Destination,Protocol,Length`). Columns are
/// found by their header names; `columns` maps any other header. `Time` is
/// decimal seconds as given (relative or epoch) or a date and time
/// (`2024-03-01 12:00:00.000050`, UTC). A row that cannot be read is
/// counted and reported with its line number, and reading goes on.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// A file, a directory (every file in it) or a glob (`exports/*.csv`).
    pub path: PathBuf,
    /// Header names for record fields, overriding the built-in names: keys
    /// among ts, src, dst, protocol, length, info, sport, dport, tcp_flags.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// How far a row's time may fall behind the newest time before it in
    /// the same file and still count in its window.
    #[serde(default = "default_out_of_order")]
    pub out_of_order: Duration,
    /// When to split a file over workers: `auto` (files of 32 MiB and
    /// more), `always`, `never`.
    #[serde(default)]
    #[describe(ty = "auto | always | never")]
    pub split: Split,
    /// Keep the Info column in packet records (it can hold addresses).
    #[serde(default = "yes")]
    pub info: bool,
}

fn yes() -> bool {
    true
}

/// Record fields a CSV column can fill, with the header names found by
/// default (compared case-insensitively).
const COLUMN_NAMES: &[(&str, &[&str])] = &[
    (
        "ts",
        &[
            "time",
            "ts",
            "frame.time_epoch",
            "frame.time_relative",
            "_ws.col.time",
        ],
    ),
    (
        "src",
        &["source", "src", "_ws.col.source", "_ws.col.def_src"],
    ),
    (
        "dst",
        &[
            "destination",
            "dst",
            "_ws.col.destination",
            "_ws.col.def_dst",
        ],
    ),
    ("protocol", &["protocol", "_ws.col.protocol"]),
    ("length", &["length", "frame.len", "_ws.col.length"]),
    ("info", &["info", "_ws.col.info"]),
    (
        "sport",
        &[
            "source port",
            "src port",
            "srcport",
            "sport",
            "tcp.srcport",
            "udp.srcport",
        ],
    ),
    (
        "dport",
        &[
            "destination port",
            "dest port",
            "dstport",
            "dport",
            "tcp.dstport",
            "udp.dstport",
        ],
    ),
    ("tcp_flags", &["tcp_flags", "tcp.flags", "tcp flags"]),
];
const REQUIRED: &[&str] = &["ts", "src", "dst", "protocol", "length"];

/// Longest line accepted; a longer one is reported and skipped.
pub const MAX_LINE: usize = 1 << 20;

impl CsvConfig {
    /// Checks the path and column names.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Err(e) = crate::files::expand(&self.path) {
            problems.push(ConfigProblem::at("path", format!("path: {e}")));
        }
        for key in self.columns.keys() {
            if !COLUMN_NAMES.iter().any(|(k, _)| k == key) {
                problems.push(ConfigProblem::at(
                    "columns",
                    format!(
                        "columns: unknown field `{key}`; expected any of {}",
                        COLUMN_NAMES
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        problems
    }

    /// Builds the source.
    pub fn build<'s>(
        &self,
        scope: Scope<'s, Time>,
        ctx: &SourceContext,
    ) -> Stream<'s, Time, Vec<Packet>> {
        let spec = Spec::new(&self.path, self.split, self.out_of_order, ctx);
        let columns = Columns {
            overrides: self.columns.clone(),
            keep_info: self.info,
            redact: ctx.redact,
        };
        file_source::<CsvReader>(scope, ctx.id, spec, columns, ctx.stats.component(ctx.id))
    }
}

/// The column settings of a CSV source.
#[derive(Clone, Debug, Default)]
pub(crate) struct Columns {
    overrides: BTreeMap<String, String>,
    keep_info: bool,
    /// Reports do not quote the file's text (anonymization is on).
    redact: bool,
}

/// A value found in the input, as a report shows it: quoted, or only its
/// length when the pipeline anonymizes (the value may hold an address).
/// Long values are cut to their first [`SHOWN_CHARS`] characters.
fn shown(text: &str, redact: bool) -> String {
    if redact {
        format!("{} bytes, not shown: anonymization is on", text.len())
    } else {
        format!("`{}`", cut(text))
    }
}

/// Most characters of the input a report quotes.
const SHOWN_CHARS: usize = 200;

/// `text`, or its first [`SHOWN_CHARS`] characters and `...`.
fn cut(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Column positions found in a header line.
#[derive(Clone, Debug, Default)]
struct Layout {
    ts: usize,
    src: usize,
    dst: usize,
    protocol: usize,
    length: usize,
    info: Option<usize>,
    sport: Option<usize>,
    dport: Option<usize>,
    tcp_flags: Option<usize>,
    width: usize,
}

impl Layout {
    fn from_header(header: &[String], columns: &Columns) -> Result<Layout, String> {
        let find = |field: &str| -> Option<usize> {
            if let Some(name) = columns.overrides.get(field) {
                return header.iter().position(|h| h.trim() == name.trim());
            }
            let names = COLUMN_NAMES
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, n)| *n)?;
            header
                .iter()
                .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        };
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|f| find(f).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "header has no column for {}; expected Wireshark's \"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\" or a `columns` mapping (header: {})",
                missing.join(", "),
                if columns.redact {
                    format!("{} columns, not shown: anonymization is on", header.len())
                } else {
                    cut(&header.join(","))
                }
            ));
        }
        Ok(Layout {
            ts: find("ts").unwrap_or(0),
            src: find("src").unwrap_or(0),
            dst: find("dst").unwrap_or(0),
            protocol: find("protocol").unwrap_or(0),
            length: find("length").unwrap_or(0),
            info: if columns.keep_info {
                find("info")
            } else {
                None
            },
            sport: find("sport"),
            dport: find("dport"),
            tcp_flags: find("tcp_flags"),
            width: header.len(),
        })
    }
}

/// Reads one CSV file.
pub(crate) struct CsvReader {
    name: String,
    input: BufReader<Box<dyn Read + Send>>,
    line: Vec<u8>,
    fields: Fields,
    layout: Layout,
    line_no: u64,
    offset: u64,
    redact: bool,
}

impl CsvReader {
    fn bad(&self, kind: &str, message: String) -> BadInput {
        BadInput {
            file: self.name.clone(),
            offset: self.offset,
            line: Some(self.line_no),
            kind: kind.to_owned(),
            message,
        }
    }

    /// Reads the next line into `self.line` (without the line end).
    /// `Ok(false)` at the end; an over-long line is an error.
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.line.clear();
        let mut too_long = false;
        loop {
            let available = self.input.fill_buf()?;
            if available.is_empty() {
                if self.line.is_empty() && !too_long {
                    return Ok(None);
                }
                break;
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let n = chunk.len();
            if self.line.len() + n <= MAX_LINE {
                self.line.extend_from_slice(chunk);
            } else {
                too_long = true;
            }
            self.input.consume(n);
            self.offset += n as u64;
            if done {
                break;
            }
        }
        self.line_no += 1;
        while matches!(self.line.last(), Some(b'\n' | b'\r')) {
            self.line.pop();
        }
        Ok(Some(!too_long))
    }

    fn parse_row(&mut self, decode: bool, packet: &mut Packet) -> Result<Ts, String> {
        let text = std::str::from_utf8(&self.line).map_err(|e| format!("not UTF-8 text: {e}"))?;
        self.fields.split(text)?;
        let layout = &self.layout;
        if self.fields.len() < layout.width {
            return Err(format!(
                "expected {} fields, found {}",
                layout.width,
                self.fields.len()
            ));
        }
        let field = |i: usize| self.fields.get(i);
        let redact = self.redact;
        let ts = parse_time(field(layout.ts)).ok_or_else(|| {
            format!(
                "Time: expected seconds or a date and time, found {}",
                shown(field(layout.ts), redact)
            )
        })?;
        if !decode {
            return Ok(ts);
        }
        let length = field(layout.length).trim().parse::<u32>().map_err(|_| {
            format!(
                "Length: expected a whole number, found {}",
                shown(field(layout.length), redact)
            )
        })?;
        let port = |col: Option<usize>, name: &str| -> Result<Option<u16>, String> {
            match col.map(field).map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => text
                    .split(',')
                    .next()
                    .unwrap_or(text)
                    .parse::<u16>()
                    .map(Some)
                    .map_err(|_| {
                        format!(
                            "{name}: expected a port number, found {}",
                            shown(text, redact)
                        )
                    }),
            }
        };
        let sport = port(layout.sport, "source port")?;
        let dport = port(layout.dport, "destination port")?;
        let tcp_flags = match layout.tcp_flags.map(field).map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                u16::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|_| {
                    format!(
                        "tcp flags: expected hex like 0x0012, found {}",
                        shown(text, redact)
                    )
                })?,
            ),
        };
        // Names are interned for the whole run: past the interner's
        // limits a row with a new one is reported, not kept.
        let name = |what: &str, text: &str, full: netanom_records::intern::Full| {
            format!("{what} {}: {full}", shown(text.trim(), redact))
        };
        let (src_text, dst_text) = (field(layout.src), field(layout.dst));
        let src = Addr::try_parse_lenient(src_text).map_err(|e| name("source", src_text, e))?;
        let dst =
            Addr::try_parse_lenient(dst_text).map_err(|e| name("destination", dst_text, e))?;
        let protocol_text = field(layout.protocol);
        let protocol = protocol(protocol_text).map_err(|e| name("protocol", protocol_text, e))?;
        *packet = Packet {
            ts,
            src,
            dst,
            sport,
            dport,
            protocol,
            length,
            tcp_flags,
            info: layout.info.map(|i| field(i).into()).unwrap_or_default(),
        };
        Ok(ts)
    }
}

/// Protocol names repeat on every row: remember the last few lookups.
fn protocol(name: &str) -> Result<Protocol, netanom_records::intern::Full> {
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<(String, Protocol)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let name = name.trim();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, p)) = cache.iter().find(|(n, _)| n == name) {
            return Ok(*p);
        }
        let p = Protocol::try_new(name)?;
        if cache.len() >= 64 {
            cache.remove(0);
        }
        cache.push((name.to_owned(), p));
        Ok(p)
    })
}

/// The fields of one CSV line, unescaped into one reused buffer (no
/// allocation per field or row).
#[derive(Debug, Default)]
struct Fields {
    text: String,
    ends: Vec<usize>,
}

impl Fields {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or("")
    }

    /// Splits one line (RFC 4180 quoting within the line). Delimiters are
    /// ASCII, so every slice below falls on a character boundary.
    fn split(&mut self, line: &str) -> Result<(), String> {
        self.text.clear();
        self.ends.clear();
        let bytes = line.as_bytes();
        let mut i = 0;
        loop {
            if bytes.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    let Some(k) = line[i..].find('"') else {
                        return Err("a quoted field is not closed on its line".into());
                    };
                    self.text.push_str(&line[i..i + k]);
                    i += k + 1;
                    if bytes.get(i) == Some(&b'"') {
                        self.text.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
                self.ends.push(self.text.len());
                match bytes.get(i) {
                    None => return Ok(()),
                    Some(b',') => i += 1,
                    Some(_) => {
                        let c = line[i..].chars().next().unwrap_or(' ');
                        return Err(format!("unexpected `{c}` after a quoted field"));
                    }
                }
            } else {
                match line[i..].find(',') {
                    None => {
                        self.text.push_str(&line[i..]);
                        self.ends.push(self.text.len());
                        return Ok(());
                    }
                    Some(k) => {
                        self.text.push_str(&line[i..i + k]);
                        self.ends.push(self.text.len());
                        i += k + 1;
                    }
                }
            }
        }
    }

    fn to_vec(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.get(i).to_owned()).collect()
    }
}

/// Decimal seconds, or `YYYY-MM-DD HH:MM:SS[.fraction]` (UTC).
fn parse_time(text: &str) -> Option<Ts> {
    let text = text.trim();
    if let Some(ts) = Ts::parse_seconds(text) {
        return Some(ts);
    }
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    // Years beyond 9999 would overflow the day arithmetic below, and are
    // far outside what nanoseconds since 1970 hold anyway.
    let year: i64 = d.next()?.parse().ok().filter(|y| (0..=9999).contains(y))?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let time = time.trim_end_matches('Z');
    let mut t = time.splitn(3, ':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let seconds = Ts::parse_seconds(t.next()?)?;
    if !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..61_000_000_000).contains(&seconds.0)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60;
    Some(Ts(secs
        .checked_mul(Ts::NANOS_PER_SEC)?
        .checked_add(seconds.0)?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl RecordReader for CsvReader {
    type Options = Columns;

    fn open(columns: &Columns, path: &Path) -> Result<CsvReader, BadInput> {
        let name = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(file) => CsvReader::from_reader(columns, name, Box::new(file)),
            Err(e) => Err(BadInput {
                file: name,
                offset: 0,
                line: Some(1),
                kind: "io".to_owned(),
                message: format!("cannot open: {e}"),
            }),
        }
    }

    fn next(&mut self, decode: bool, packet: &mut Packet) -> Step {
        self.next_row(decode, packet)
    }
}

impl CsvReader {
    /// Reads the header of `input` (named `name` in reports).
    fn from_reader(
        columns: &Columns,
        name: String,
        input: Box<dyn Read + Send>,
    ) -> Result<CsvReader, BadInput> {
        let bad = |message: String, kind: &str| BadInput {
            file: name.clone(),
            offset: 0,
            line: Some(1),
            kind: kind.to_owned(),
            message,
        };
        let mut reader = CsvReader {
            name: name.clone(),
            input: BufReader::with_capacity(1 << 20, input),
            line: Vec::new(),
            fields: Fields::default(),
            layout: Layout::default(),
            line_no: 0,
            offset: 0,
            redact: columns.redact,
        };
        // The header is the first non-empty line; a UTF-8 BOM is skipped.
        loop {
            match reader.read_line() {
                Err(e) => return Err(bad(format!("cannot read: {e}"), "io")),
                Ok(None) => {
                    return Err(bad(
                        "empty file: expected a CSV header line".into(),
                        "bad_header",
                    ))
                }
                Ok(Some(false)) => {
                    return Err(bad(
                        format!("header line longer than {MAX_LINE} bytes"),
                        "bad_header",
                    ))
                }
                Ok(Some(true)) => {}
            }
            if reader.line.starts_with(&[0xef, 0xbb, 0xbf]) {
                reader.line.drain(..3);
            }
            if !reader.line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let header = String::from_utf8_lossy(&reader.line).into_owned();
        let mut fields = Fields::default();
        fields
            .split(&header)
            .map_err(|e| bad(format!("header: {e}"), "bad_header"))?;
        let names = fields.to_vec();
        reader.layout = Layout::from_header(&names, columns).map_err(|e| BadInput {
            line: Some(reader.line_no),
            ..bad(e, "bad_header")
        })?;
        Ok(reader)
    }

    fn next_row(&mut self, decode: bool, packet: &mut Packet) -> Step {
        loop {
            let start = self.offset;
            match self.read_line() {
                Err(e) => return Step::Fatal(self.bad("io", format!("cannot read: {e}"))),
                Ok(None) => return Step::End(None),
                Ok(Some(false)) => {
                    let mut bad = self.bad("bad_row", format!("line longer than {MAX_LINE} bytes"));
                    bad.offset = start;
                    return Step::Bad(bad);
                }
                Ok(Some(true)) => {}
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return match self.parse_row(decode, packet) {
                Ok(ts) => Step::Record(ts),
                Err(message) => {
                    let mut bad = self.bad("bad_row", message);
                    bad.offset = start;
                    Step::Bad(bad)
                }
            };
        }
    }
}

/// Reads CSV text from memory as the source reads a file (default
/// columns, Info kept): every row as a packet or a bad-input report, in
/// order, then the report that ended reading, if any. The entry point of
/// the fuzz target and of the regression tests that replay its findings.
pub fn read_bytes(bytes: &[u8]) -> Vec<Result<Packet, BadInput>> {
    let mut reader = match default_reader(Box::new(std::io::Cursor::new(bytes.to_vec()))) {
        Ok(reader) => reader,
        Err(bad) => return vec![Err(bad)],
    };
    let mut out = Vec::new();
    let mut packet = Packet::default();
    loop {
        match reader.next_row(true, &mut packet) {
            Step::Record(_) => out.push(Ok(packet.clone())),
            Step::Bad(bad) => out.push(Err(bad)),
            Step::End(None) => return out,
            Step::End(Some(bad)) | Step::Fatal(bad) => {
                out.push(Err(bad));
                return out;
            }
        }
    }
}

/// Parses CSV text as the source parses a file (default columns, Info
/// kept) and only counts: returns the rows read as packets and the rows
/// reported as bad (a report that ends reading included). No packet is
/// kept, so this measures the parser alone (the `csv_parse` benchmark).
/// Errors: the header cannot be read, or reading failed.
pub fn count_rows(input: impl Read + Send + 'static) -> Result<(u64, u64), BadInput> {
    let mut reader = default_reader(Box::new(input))?;
    let (mut rows, mut bad) = (0, 0);
    let mut packet = Packet::default();
    loop {
        match reader.next_row(true, &mut packet) {
            Step::Record(_) => rows += 1,
            Step::Bad(_) => bad += 1,
            Step::End(None) => return Ok((rows, bad)),
            Step::End(Some(_)) => return Ok((rows, bad + 1)),
            Step::Fatal(report) => return Err(report),
        }
    }
}

/// A reader of `input` with the default columns, Info kept, named
/// `input.csv` in reports.
fn default_reader(input: Box<dyn Read + Send>) -> Result<CsvReader, BadInput> {
    let columns = Columns {
        overrides: BTreeMap::new(),
        keep_info: true,
        redact: false,
    };
    CsvReader::from_reader(&columns, "input.csv".into(), input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        let mut f = Fields::default();
        assert!(f.split(r#""1","0.5","a ""b"", c",,x"#).is_ok());
        assert_eq!(f.to_vec(), vec!["1", "0.5", "a \"b\", c", "", "x"]);
        assert!(f.split("a,b,").is_ok());
        assert_eq!(f.to_vec(), vec!["a", "b", ""]);
        assert!(f.split("").is_ok());
        assert_eq!(f.to_vec(), vec![""]);
        assert!(f.split("\"é\",ü→,\"\"").is_ok());
        assert_eq!(f.to_vec(), vec!["é", "ü→", ""]);
        assert!(f.split(r#""open"#).is_err());
        assert!(f.split(r#""a"b"#).is_err());
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("0.000079"), Some(Ts(79_000)));
        assert_eq!(
            parse_time("2024-03-01 12:00:00.000050"),
            Some(Ts(1_709_294_400_000_050_000))
        );
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(Ts(1_000_000_000)));
        assert_eq!(parse_time("2024-13-01 00:00:00"), None);
        assert_eq!(parse_time("9223372036854775807-01-01 00:00:00"), None);
        assert_eq!(shown(&"é".repeat(1000), false).chars().count(), 205);
        assert_eq!(shown("10.0.0.1", false), "`10.0.0.1`");
        assert_eq!(parse_time("-9223372036854775807-03-01 00:00:00"), None);
        assert_eq!(parse_time("9999-12-31 23:59:59"), None, "past 2262");
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn finds_columns_by_header() {
        let header: Vec<String> = [
            "No.",
            "Time",
            "Source",
            "Destination",
            "Protocol",
            "Length",
            "Info",
        ]
        .map(String::from)
        .to_vec();
        let cols = Columns {
            overrides: BTreeMap::new(),
            keep_info: true,
            redact: false,
        };
        let l = Layout::from_header(&header, &cols).unwrap_or_default();
        assert_eq!(
            (l.ts, l.src, l.dst, l.protocol, l.length, l.info),
            (1, 2, 3, 4, 5, Some(6))
        );
        let notebook: Vec<String> = ["n", "Time", "Source", "Destination", "Protocol", "Length"]
            .map(String::from)
            .to_vec();
        let l = Layout::from_header(&notebook, &cols).unwrap_or_default();
        assert_eq!((l.ts, l.length, l.info), (1, 5, None));
        let odd: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let err = Layout::from_header(&odd, &cols).err().unwrap_or_default();
        assert!(err.contains("ts, src, dst, protocol, length"), "{err}");
    }

    #[test]
    fn counts_rows_as_read_bytes_reads_them() {
        let text = "\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n\
                    \"1\",\"0.5\",\"10.0.0.1\",\"10.0.0.2\",\"TCP\",\"60\",\"x\"\n\
                    \n\
                    \"2\",\"soon\",\"10.0.0.1\",\"10.0.0.2\",\"TCP\",\"60\",\"x\"\n\
                    \"3\",\"0.7\",\"10.0.0.2\",\"10.0.0.1\",\"UDP\",\"80\",\"\"\n";
        let read = read_bytes(text.as_bytes());
        let good = read.iter().filter(|r| r.is_ok()).count() as u64;
        assert_eq!((good, read.len() as u64 - good), (2, 1));
        let counted = count_rows(std::io::Cursor::new(text.as_bytes().to_vec()));
        assert_eq!(counted.ok(), Some((2, 1)));
        let empty = count_rows(std::io::Cursor::new(Vec::new()));
        assert!(empty.is_err_and(|bad| bad.kind == "bad_header"));
    }
}

/// Sink output read back: a packet written by the file sink's CSV encoder
/// (`records::write`) and read by this source is the same packet.
#[cfg(test)]
mod round_trip {
    use super::*;
    use netanom_records::write::{csv_header, csv_row};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn addr() -> impl Strategy<Value = Addr> {
        prop_oneof![
            Just(Addr::None),
            any::<u32>().prop_map(|a| Addr::V4(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| Addr::V6(Ipv6Addr::from(a))),
            any::<[u8; 6]>().prop_map(Addr::Mac),
            "[a-z][a-z0-9-]{0,12}(\\.[a-z]{2,5})?"
                .prop_map(|n| Addr::Name(netanom_records::NameId::intern(&n))),
        ]
    }

    fn packet() -> impl Strategy<Value = Packet> {
        (
            (any::<i64>(), addr(), addr()),
            (any::<Option<u16>>(), any::<Option<u16>>()),
            "[A-Za-z][A-Za-z0-9.]{0,8}",
            (any::<u32>(), any::<Option<u16>>()),
            // Any text but line ends: the source reads one row per line.
            "[^\r\n]{0,40}",
        )
            .prop_map(
                |((ts, src, dst), (sport, dport), protocol, (length, tcp_flags), info)| Packet {
                    ts: Ts(ts),
                    src,
                    dst,
                    sport,
                    dport,
                    protocol: Protocol::new(&protocol),
                    length,
                    tcp_flags,
                    info: info.into(),
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn packets_written_as_csv_read_back_equal(packets in proptest::collection::vec(packet(), 1..8)) {
            let mut text = Vec::new();
            csv_header(Packet::FIELDS, &mut text);
            for p in &packets {
                csv_row(p, Packet::FIELDS, &mut text);
            }
            let back: Vec<Packet> = read_bytes(&text)
                .into_iter()
                .map(|r| r.map_err(|bad| format!("{}: {}", bad.line.unwrap_or(0), bad.message)))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&text))))?;
            prop_assert_eq!(back, packets, "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn the_earliest_time_reads_back() {
        let p = Packet {
            ts: Ts(i64::MIN),
            ..Packet::default()
        };
        let mut text = Vec::new();
        csv_header(Packet::FIELDS, &mut text);
        csv_row(&p, Packet::FIELDS, &mut text);
        let back = read_bytes(&text);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].as_ref().map(|p| p.ts).ok(), Some(Ts(i64::MIN)));
    }
}
