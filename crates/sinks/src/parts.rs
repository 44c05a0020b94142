//! `file` with `parallel: true`: every worker (of every process) writes its
//! own records to its own part file, `PATH.partN` (N = the worker's index
//! among all workers), with no gathering on worker 0. Within a part,
//! records are in event-time order, then in key order, like the gathered
//! file; which records land in which part depends on the number of
//! workers, the parts' union does not.

use crate::file::{Format, Writer};
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::write::{csv_row, json_row};
use netanom_records::{Field, Record, Time};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::Stream;

/// The part file of worker `index`: `PATH.partN`.
pub fn part_path(path: &Path, index: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".part{index}"));
    PathBuf::from(name)
}

/// Removes part files of an earlier run with more workers (`PATH.partN`
/// for N >= `peers`), so the parts on disk are this run's.
fn remove_stale_parts(path: &Path, peers: usize) {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{}.part", base.to_string_lossy());
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = name
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n >= peers);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Builds the parallel file sink on `input`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build<'s, R: Record + timely::ExchangeData>(
    name: &str,
    input: Stream<'s, Time, Vec<R>>,
    path: &Path,
    format: Format,
    only_anomalies: bool,
    fields: Vec<Field>,
    stats: Arc<Stats>,
) -> crate::Consumed<'s> {
    let component = stats.component(name);
    let (index, peers) = (input.scope().index(), input.scope().peers());
    if index == 0 {
        remove_stale_parts(path, peers);
    }
    let part = part_path(path, index);
    let mut writer = match Writer::create(&part, format, &fields) {
        Ok(w) => Some(w),
        Err(e) => {
            stats.fail(format!("{name}: {e}"));
            None
        }
    };
    let id = name.to_owned();
    let mut pending: BTreeMap<Time, Vec<R>> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut text = Vec::new();
    crate::terminal(input, Pipeline, name, move |(handle, frontier)| {
        handle.for_each(|cap, batch| {
            let time = cap.least().copied().unwrap_or_default();
            pending.entry(time).or_default().append(batch);
        });
        while let Some(entry) = pending.first_entry() {
            if frontier.less_equal(entry.key()) {
                break;
            }
            let records = entry.remove();
            // Key order within the time, as the gathered file has.
            keys.clear();
            let mut ends = Vec::with_capacity(records.len());
            for r in &records {
                r.sort_key(&mut keys);
                ends.push(keys.len());
            }
            let key = |i: usize| &keys[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
            let mut order: Vec<usize> = (0..records.len()).collect();
            order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
            text.clear();
            let mut written = 0u64;
            for i in order {
                let record = &records[i];
                if only_anomalies
                    && record.get(Field::Anomaly) != netanom_records::Value::Bool(true)
                {
                    continue;
                }
                match format {
                    Format::Csv => csv_row(record, &fields, &mut text),
                    Format::Jsonl => json_row(record, &fields, &mut text),
                }
                written += 1;
            }
            if let Some(w) = writer.as_mut() {
                if let Err(e) = w.write(&text) {
                    stats.fail(format!("{id}: {e}"));
                    writer = None;
                } else {
                    ComponentStats::add(&component.records_out, written);
                }
            }
        }
        if frontier.is_empty() && pending.is_empty() {
            if let Some(w) = writer.take() {
                if let Err(e) = w.finish() {
                    stats.fail(format!("{id}: {e}"));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_and_stale_parts() {
        let dir = std::env::temp_dir().join(format!("netanom-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("flows.csv");
        assert_eq!(part_path(&path, 3), dir.join("flows.csv.part3"));
        for i in 0..4 {
            std::fs::write(part_path(&path, i), "x").expect("write part");
        }
        std::fs::write(dir.join("flows.csv.partial"), "x").expect("write");
        remove_stale_parts(&path, 2);
        assert!(part_path(&path, 0).exists() && part_path(&path, 1).exists());
        assert!(!part_path(&path, 2).exists() && !part_path(&path, 3).exists());
        assert!(dir.join("flows.csv.partial").exists(), "not a part file");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
