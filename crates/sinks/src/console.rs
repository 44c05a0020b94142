//! `console`: a readable summary on standard output at the end of a run.

use crate::gather::gather_sorted;
use netanom_records::field::Value;
use netanom_records::{Field, Record, RecordKind, Time};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// Prints a summary table of its input when the run ends: for packets, the
/// totals, the protocols and the top talkers; for windows, the number of
/// windows and groups and the busiest windows.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Rows per table.
    #[serde(default = "default_top")]
    pub top: usize,
}

fn default_top() -> usize {
    10
}

impl ConsoleConfig {
    fn top(&self) -> usize {
        self.top.max(1)
    }

    /// Builds the sink on `input`.
    pub fn build<'s, R: Record + ExchangeData>(&self, name: &str, input: Stream<'s, Time, Vec<R>>) {
        let summary = std::rc::Rc::new(std::cell::RefCell::new(Summary::default()));
        let done = summary.clone();
        let top = self.top();
        let title = name.to_owned();
        gather_sorted(
            input,
            name,
            move |_time, records: &mut Vec<R>| {
                let mut s = summary.borrow_mut();
                for r in records.iter() {
                    s.add(r);
                }
            },
            move || {
                let text = done.borrow().render(&title, R::KIND, top);
                let mut stdout = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error.
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            },
        );
    }
}

#[derive(Default)]
struct Summary {
    records: u64,
    bytes: u64,
    first: Option<String>,
    last: Option<String>,
    by_protocol: HashMap<String, (u64, u64)>,
    by_src: HashMap<String, (u64, u64)>,
    windows: HashMap<String, u64>,
    busiest: Vec<(u64, String)>,
}

fn text(v: Value<'_>) -> String {
    match v {
        Value::Null => String::new(),
        Value::Str(s) => s.to_owned(),
        Value::Addr(a) => a.to_string(),
        Value::Protocol(p) => p.to_string(),
        Value::Ts(t) => t.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F64(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Flags(f) => format!("0x{f:04x}"),
    }
}

fn number(v: Value<'_>) -> u64 {
    match v {
        Value::U64(n) => n,
        _ => 0,
    }
}

impl Summary {
    fn add<R: Record>(&mut self, r: &R) {
        self.records += 1;
        match R::KIND {
            RecordKind::Packet => {
                let len = number(r.get(Field::Length));
                self.bytes += len;
                let ts = text(r.get(Field::Ts));
                if self.first.is_none() {
                    self.first = Some(ts.clone());
                }
                self.last = Some(ts);
                let p = self
                    .by_protocol
                    .entry(text(r.get(Field::Protocol)))
                    .or_default();
                p.0 += 1;
                p.1 += len;
                let s = self.by_src.entry(text(r.get(Field::Src))).or_default();
                s.0 += 1;
                s.1 += len;
            }
            RecordKind::Window => {
                let count = number(r.get(Field::Count));
                self.bytes += number(r.get(Field::Bytes));
                *self
                    .windows
                    .entry(text(r.get(Field::WindowStart)))
                    .or_default() += 1;
                let label = format!(
                    "{} {} {} {}",
                    text(r.get(Field::WindowStart)),
                    text(r.get(Field::Src)),
                    text(r.get(Field::Dst)),
                    text(r.get(Field::Protocol))
                );
                self.busiest.push((count, label));
                if self.busiest.len() > 4096 {
                    self.trim_busiest(64);
                }
            }
        }
    }

    fn trim_busiest(&mut self, keep: usize) {
        self.busiest
            .sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.busiest.truncate(keep);
    }

    fn render(&self, title: &str, kind: RecordKind, top: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {title} ==");
        match kind {
            RecordKind::Packet => {
                let _ = writeln!(out, "packets: {}  bytes: {}", self.records, self.bytes);
                if let (Some(first), Some(last)) = (&self.first, &self.last) {
                    let _ = writeln!(out, "time: {first} .. {last}");
                }
                table(&mut out, "protocol", &self.by_protocol, top);
                table(&mut out, "top talkers (src)", &self.by_src, top);
            }
            RecordKind::Window => {
                let _ = writeln!(
                    out,
                    "window records: {}  windows: {}  bytes: {}",
                    self.records,
                    self.windows.len(),
                    self.bytes
                );
                let mut busiest = self.busiest.clone();
                busiest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                let _ = writeln!(
                    out,
                    "{:>10}  busiest windows (start src dst protocol)",
                    "packets"
                );
                for (count, label) in busiest.iter().take(top) {
                    let _ = writeln!(out, "{count:>10}  {label}");
                }
            }
        }
        out
    }
}

fn table(out: &mut String, title: &str, rows: &HashMap<String, (u64, u64)>, top: usize) {
    let mut rows: Vec<_> = rows.iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
    let _ = writeln!(out, "{:>10} {:>12}  {title}", "packets", "bytes");
    for (name, (packets, bytes)) in rows.iter().take(top) {
        let name = if name.is_empty() {
            "(none)"
        } else {
            name.as_str()
        };
        let _ = writeln!(out, "{packets:>10} {bytes:>12}  {name}");
    }
    if rows.len() > top {
        let (p, b) = rows[top..]
            .iter()
            .fold((0, 0), |acc, (_, (p, b))| (acc.0 + p, acc.1 + b));
        let _ = writeln!(out, "{p:>10} {b:>12}  ({} others)", rows.len() - top);
    }
}
