//! `file`: writes records to one CSV or JSON Lines file.

use crate::gather::{gather_encoded, GatherSink};
use netanom_records::checkpoint::Checkpoints;
use netanom_records::doc::ConfigProblem;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::write::{csv_header, csv_row, json_row};
use netanom_records::{Field, Record, Time};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// Writes every record of its inputs to one file, gathered from all
/// workers in a deterministic order (by event time, then by the record's
/// fields), so the file is byte-identical whatever the number of workers.
/// The file is written under a temporary name (`PATH.partial`) and renamed
/// to `path` when the run completes: a reader never sees half a file.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Output file; parent directories are created.
    pub path: PathBuf,
    /// `csv` or `jsonl`; by default from the extension (`.jsonl`, `.json`,
    /// `.ndjson` give jsonl, anything else csv).
    #[serde(default)]
    #[describe(ty = "csv | jsonl")]
    pub format: Option<Format>,
    /// Write only records whose `anomaly` field is true (scored records
    /// from `kmeans`); other kinds have no such field and write nothing.
    #[serde(default)]
    pub only_anomalies: bool,
    /// Every worker (of every process) writes its own records to its own
    /// part, `PATH.partN` (N: the worker's index among all workers, from
    /// 0), instead of gathering everything into one file; each part is in
    /// event-time, then key order. Parts of an earlier run with more
    /// workers are removed.
    #[serde(default)]
    pub parallel: bool,
}

/// An output encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl FileConfig {
    /// The encoding: `format`, or guessed from the extension.
    pub fn format(&self) -> Format {
        self.format
            .unwrap_or_else(|| match self.path.extension().and_then(|e| e.to_str()) {
                Some("jsonl" | "json" | "ndjson") => Format::Jsonl,
                _ => Format::Csv,
            })
    }

    /// Checks the path.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(ConfigProblem::at("path", "path: must not be empty"));
        } else if self.path.is_dir() {
            problems.push(ConfigProblem::at(
                "path",
                format!(
                    "path: `{}` is a directory; expected a file name",
                    self.path.display()
                ),
            ));
        }
        problems
    }

    /// Builds the sink on `input`, whose records have columns `fields`.
    /// With `checkpoints`, the file is resumed at its committed length and
    /// its progress is reported for checkpoints.
    pub fn build<'s, R: Record + ExchangeData>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        fields: Vec<Field>,
        stats: Arc<Stats>,
        checkpoints: Option<Arc<Checkpoints>>,
    ) -> crate::Consumed<'s> {
        if self.parallel {
            let (format, only) = (self.format(), self.only_anomalies);
            return crate::parts::build(name, input, &self.path, format, only, fields, stats);
        }
        let component = stats.component(name);
        let writer = if input.scope().index() == 0 {
            let committed = checkpoints
                .as_ref()
                .and_then(|c| c.sink_resume(name))
                .map(|s| s.offset);
            match Writer::open(&self.path, self.format(), &fields, committed) {
                Ok(w) => {
                    if let Some(c) = &checkpoints {
                        let file = w.out.get_ref().try_clone().ok();
                        c.sink_open(name, self.path.clone(), file, w.len);
                    }
                    Some(w)
                }
                Err(e) => {
                    stats.fail(format!("{name}: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let format = self.format();
        let only_anomalies = self.only_anomalies;
        let sink = FileSink {
            id: name.to_owned(),
            writer,
            stats,
            component,
            resume_before: checkpoints.as_ref().map_or(0, |c| c.resume_before()),
            checkpoints,
        };
        gather_encoded(
            input,
            name,
            move |record: &R, out: &mut Vec<u8>| {
                // A filtered-out record encodes to nothing.
                if only_anomalies
                    && record.get(Field::Anomaly) != netanom_records::Value::Bool(true)
                {
                    return;
                }
                match format {
                    Format::Csv => csv_row(record, &fields, out),
                    Format::Jsonl => json_row(record, &fields, out),
                }
            },
            sink,
        )
    }
}

/// The file sink on worker 0.
struct FileSink {
    id: String,
    writer: Option<Writer>,
    stats: Arc<Stats>,
    component: Arc<ComponentStats>,
    checkpoints: Option<Arc<Checkpoints>>,
    resume_before: Time,
}

impl FileSink {
    fn failed(&mut self, e: std::io::Error) {
        self.stats.fail(format!("{}: {e}", self.id));
        self.writer = None;
    }
}

impl GatherSink for FileSink {
    fn wants(&mut self, time: Time) -> bool {
        time >= self.resume_before
            && self
                .checkpoints
                .as_ref()
                .and_then(|c| c.cut())
                .is_none_or(|cut| time < cut)
    }

    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write(bytes) {
                self.failed(e);
                return;
            }
            ComponentStats::add(&self.component.records_out, 1);
        }
    }

    fn time_done(&mut self, time: Time) {
        let (Some(c), Some(w)) = (&self.checkpoints, self.writer.as_mut()) else {
            return;
        };
        // A checkpoint may commit these rows: they must be in the file.
        match w.flush() {
            Ok(()) => c.sink_wrote(&self.id, time, w.len),
            Err(e) => self.failed(e),
        }
    }

    fn progress(&mut self, before: Option<Time>) {
        if let (Some(c), Some(_)) = (&self.checkpoints, &self.writer) {
            c.sink_progress(&self.id, before.unwrap_or(Time::MAX));
        }
    }

    fn done(&mut self) {
        if let Some(w) = self.writer.take() {
            if let Err(e) = w.finish() {
                self.stats.fail(format!("{}: {e}", self.id));
            }
        }
    }
}

/// `PATH.partial`.
fn partial_name(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    PathBuf::from(tmp)
}

/// A file being written under its temporary name.
pub(crate) struct Writer {
    out: std::io::BufWriter<File>,
    /// Starts writeback as the file grows (`None`: synced at the end only).
    syncer: Option<crate::syncer::Syncer>,
    tmp: PathBuf,
    path: PathBuf,
    /// Bytes written so far (the file's length once flushed).
    len: u64,
}

impl Writer {
    /// Creates the file, or with `committed` (a checkpoint's length)
    /// reopens the earlier run's file (finished or not) cut to that length.
    fn open(
        path: &Path,
        format: Format,
        fields: &[Field],
        committed: Option<u64>,
    ) -> std::io::Result<Writer> {
        match committed {
            Some(len) => Writer::resume(path, len),
            None => Writer::create(path, format, fields),
        }
    }

    fn resume(path: &Path, committed: u64) -> std::io::Result<Writer> {
        let tmp = partial_name(path);
        let found = if tmp.exists() { &tmp } else { path };
        let problem = |what: String| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "cannot resume `{}` from the checkpoint: {what}; move state_dir away to start over",
                    found.display()
                ),
            )
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(found)
            .map_err(|e| problem(e.to_string()))?;
        let len = file.metadata().map_err(|e| problem(e.to_string()))?.len();
        if len < committed {
            return Err(problem(format!(
                "it has {len} bytes but the checkpoint committed {committed}: it was changed"
            )));
        }
        // Rows after the committed length were written after the last
        // checkpoint: the resumed run writes them again.
        file.set_len(committed)
            .map_err(|e| problem(e.to_string()))?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(committed))
            .map_err(|e| problem(e.to_string()))?;
        if *found != tmp {
            std::fs::rename(found, &tmp).map_err(|e| problem(e.to_string()))?;
        }
        Ok(Writer {
            syncer: crate::syncer::Syncer::start(&file, committed),
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: path.to_owned(),
            len: committed,
        })
    }

    pub(crate) fn create(path: &Path, format: Format, fields: &[Field]) -> std::io::Result<Writer> {
        let with_path = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(with_path)?;
        }
        let tmp = partial_name(path);
        let file = File::create(&tmp).map_err(with_path)?;
        let mut writer = Writer {
            syncer: crate::syncer::Syncer::start(&file, 0),
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: path.to_owned(),
            len: 0,
        };
        if format == Format::Csv {
            let mut header = Vec::new();
            csv_header(fields, &mut header);
            writer.write(&header).map_err(with_path)?;
        }
        // The header is part of every checkpoint's committed length.
        writer.flush().map_err(with_path)?;
        Ok(writer)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes).map_err(|e| self.error(e))?;
        self.len += bytes.len() as u64;
        if let Some(syncer) = &mut self.syncer {
            syncer.wrote(self.len);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush().map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(
            e.kind(),
            format!("cannot write `{}`: {e}", self.tmp.display()),
        )
    }

    /// Flushes, syncs and renames to the final name.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.out.flush().map_err(|e| self.error(e))?;
        if let Some(syncer) = self.syncer.take() {
            syncer.finish().map_err(|e| self.error(e))?;
        }
        self.out.get_ref().sync_all().map_err(|e| self.error(e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot rename `{}` to `{}`: {e}",
                    self.tmp.display(),
                    self.path.display()
                ),
            )
        })
    }
}
