//! `pcap`: pcap and pcapng capture files.

use crate::driver::{file_source, RecordReader, Spec, Step};
use crate::options::{default_out_of_order, Split};
use crate::SourceContext;
use netanom_capture::{CaptureError, CaptureReader, ErrorKind, Next};
use netanom_records::doc::ConfigProblem;
use netanom_records::stats::BadInput;
use netanom_records::{Duration, Packet, Time, Ts};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use timely::dataflow::{Scope, Stream};

/// Reads pcap and pcapng capture files (format found by magic number, not
/// by extension): both byte orders, micro- and nanosecond pcap, pcapng with
/// several sections and interfaces. Every frame becomes one packet record,
/// named like Wireshark's Protocol column. A damaged record is counted and
/// reported with its file and byte offset, and reading goes on where the
/// format allows; a file cut short is reported as truncated.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct PcapConfig {
    /// A file, a directory (every file in it, by name) or a glob
    /// (`captures/*.pcap*`).
    pub path: PathBuf,
    /// How far a packet's time may fall behind the newest time before it in
    /// the same file and still count in its window.
    #[serde(default = "default_out_of_order")]
    pub out_of_order: Duration,
    /// When to split a file over workers: `auto` (files of 32 MiB and
    /// more), `always`, `never`.
    #[serde(default)]
    #[describe(ty = "auto | always | never")]
    pub split: Split,
}

impl PcapConfig {
    /// Checks that the path names files, and that a single named file is
    /// a capture.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match crate::files::expand(&self.path) {
            Err(e) => vec![ConfigProblem::at("path", format!("path: {e}"))],
            Ok(files) if files.len() == 1 && files[0] == self.path => {
                match CaptureReader::open(&self.path) {
                    Err(e) if matches!(e.kind, ErrorKind::NotACapture | ErrorKind::Io) => {
                        vec![ConfigProblem::at("path", format!("path: {e}"))]
                    }
                    _ => Vec::new(),
                }
            }
            Ok(_) => Vec::new(),
        }
    }

    /// Builds the source.
    pub fn build<'s>(
        &self,
        scope: Scope<'s, Time>,
        ctx: &SourceContext,
    ) -> Stream<'s, Time, Vec<Packet>> {
        let spec = Spec::new(&self.path, self.split, self.out_of_order, ctx);
        file_source::<PcapReader>(scope, ctx.id, spec, (), ctx.stats.component(ctx.id))
    }
}

/// Reads one capture file and dissects the frames asked for.
pub(crate) struct PcapReader {
    inner: CaptureReader,
}

/// A capture error as a bad-input report.
pub(crate) fn bad_input(e: CaptureError) -> BadInput {
    let kind = match e.kind {
        ErrorKind::Io => "io",
        ErrorKind::NotACapture => "not_a_capture",
        ErrorKind::Incomplete | ErrorKind::Truncated => "truncated",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::TooLarge => "too_large",
    };
    BadInput {
        file: e.file,
        offset: e.offset,
        line: None,
        kind: kind.to_owned(),
        message: e.message,
    }
}

impl RecordReader for PcapReader {
    type Options = ();

    fn open(_: &(), path: &Path) -> Result<PcapReader, BadInput> {
        CaptureReader::open(path)
            .map(|inner| PcapReader { inner })
            .map_err(bad_input)
    }

    fn next(&mut self, decode: bool, packet: &mut Packet) -> Step {
        match self.inner.next() {
            Next::Frame(frame) => {
                let ts = Ts(frame.ts);
                if decode {
                    packet.ts = ts;
                    packet.length = frame.orig_len;
                    packet.info.clear();
                    netanom_dissect::dissect(frame.linktype, frame.data, packet);
                }
                Step::Record(ts)
            }
            Next::Skipped(e) => Step::Bad(bad_input(e)),
            Next::End { partial: 0 } => Step::End(None),
            Next::End { partial } => {
                Step::End(Some(bad_input(self.inner.truncated_error(partial))))
            }
            Next::Fatal(e) => Step::Fatal(bad_input(e)),
        }
    }
}
