//! `file`: writes records to one CSV or JSON Lines file.

use crate::gather::gather_encoded;
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
    pub fn build<'s, R: Record + ExchangeData>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        fields: Vec<Field>,
        stats: Arc<Stats>,
    ) -> crate::Consumed<'s> {
        if self.parallel {
            let (format, only) = (self.format(), self.only_anomalies);
            return crate::parts::build(name, input, &self.path, format, only, fields, stats);
        }
        let component = stats.component(name);
        let writer = if input.scope().index() == 0 {
            match Writer::create(&self.path, self.format(), &fields) {
                Ok(w) => Some(w),
                Err(e) => {
                    stats.fail(format!("{name}: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let writer = std::rc::Rc::new(std::cell::RefCell::new(writer));
        let on_done_writer = writer.clone();
        let fail_stats = stats.clone();
        let done_stats = stats;
        let id = name.to_owned();
        let done_id = id.clone();
        let format = self.format();
        let only_anomalies = self.only_anomalies;
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
            move |bytes: &[u8]| {
                if bytes.is_empty() {
                    return;
                }
                let mut slot = writer.borrow_mut();
                if let Some(w) = slot.as_mut() {
                    if let Err(e) = w.write(bytes) {
                        fail_stats.fail(format!("{id}: {e}"));
                        *slot = None;
                        return;
                    }
                    ComponentStats::add(&component.records_out, 1);
                }
            },
            move || {
                if let Some(w) = on_done_writer.borrow_mut().take() {
                    if let Err(e) = w.finish() {
                        done_stats.fail(format!("{done_id}: {e}"));
                    }
                }
            },
        )
    }
}

/// A file being written under its temporary name.
pub(crate) struct Writer {
    out: std::io::BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl Writer {
    pub(crate) fn create(path: &Path, format: Format, fields: &[Field]) -> std::io::Result<Writer> {
        let with_path = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(with_path)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(with_path)?;
        let mut writer = Writer {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: path.to_owned(),
        };
        if format == Format::Csv {
            let mut header = Vec::new();
            csv_header(fields, &mut header);
            writer.out.write_all(&header).map_err(with_path)?;
        }
        Ok(writer)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes).map_err(|e| self.error(e))
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
