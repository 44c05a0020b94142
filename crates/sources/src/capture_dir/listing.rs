//! Which files of a capture directory to read, and in which order.
//!
//! Rotation schemes name files differently: tcpdump `-C` numbers them
//! (`cap.pcap`, `cap.pcap1`, ..., and with `-W` it reuses the names in a
//! ring), tcpdump `-G` uses strftime names, dumpcap's ring buffer writes
//! `name_00001_20240714120117.pcapng`. A file's [`Key`] orders it: with
//! `order: auto` (the default) by the timestamp of its first packet, then
//! by name in natural order (numbers compared as numbers), which handles
//! all of them, a reused ring name included; `name` orders by natural name
//! only, `mtime` by modification time.

use netanom_capture::{CaptureReader, Next};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// How the files of a directory are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// First packet's timestamp, then natural name order.
    #[default]
    Auto,
    /// Natural name order (`cap.pcap` < `cap.pcap2` < `cap.pcap10`).
    Name,
    /// Modification time, then natural name order.
    Mtime,
}

/// Where a file comes in the sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// First packet timestamp (`auto`; the modification time while the
    /// file has none), modification time (`mtime`), or 0 (`name`), in ns.
    pub ts: i64,
    /// The file name.
    pub name: String,
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ts
            .cmp(&other.ts)
            .then_with(|| natural_cmp(&self.name, &other.name))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares names with runs of digits compared as numbers.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                // Equal values: fewer leading zeros first, so the order is total.
                let ord = by_value.then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let n = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[n..]
}

/// A file of the directory as listed.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Its path.
    pub path: PathBuf,
    /// Its key.
    pub key: Key,
    /// Whether the key is final (`auto`: the file has a packet).
    pub settled: bool,
}

/// First-packet timestamps already read, by (name, inode, modification
/// time): a file that is not being written is read once.
pub type FirstTsCache = std::collections::HashMap<(String, u64, std::time::SystemTime), i64>;

/// Lists the files of `dir` whose names match `pattern`, in order. Hidden
/// files are skipped. Files that vanish while listing are left out.
pub fn list(
    dir: &Path,
    pattern: &glob::Pattern,
    order: Order,
    cache: &mut FirstTsCache,
) -> Result<Vec<Listed>, String> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list directory `{}`: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !pattern.matches(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let mut settled = true;
        let ts = match order {
            Order::Name => 0,
            Order::Mtime => mtime,
            Order::Auto => {
                let id = (
                    name.clone(),
                    meta.ino(),
                    meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                );
                seen.insert(id.clone());
                match cache.get(&id) {
                    Some(&ts) => ts,
                    None => match first_ts(&path) {
                        Some(ts) => {
                            cache.insert(id, ts);
                            ts
                        }
                        // No packet yet (a capture just started): it
                        // was created about when its packets will be.
                        None => {
                            settled = false;
                            mtime
                        }
                    },
                }
            }
        };
        files.push(Listed {
            path,
            key: Key { ts, name },
            settled,
        });
    }
    cache.retain(|id, _| seen.contains(id));
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

/// The timestamp of a capture file's first packet, if it has one yet.
pub fn first_ts(path: &Path) -> Option<i64> {
    let mut reader = CaptureReader::open(path).ok()?;
    loop {
        match reader.next() {
            Next::Frame(f) => return Some(f.ts),
            Next::Skipped(_) => continue,
            Next::End { .. } | Next::Fatal(_) => return None,
        }
    }
}

/// Bytes of a file's beginning that identify it.
pub const FINGERPRINT_BYTES: usize = 512;

/// A hash of the first `len` bytes of `path` (fewer if it is shorter:
/// then `None`).
pub fn fingerprint(path: &Path, len: usize) -> Option<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf).ok()?;
    Some(netanom_records::hash::stable_hash(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        v
    }

    #[test]
    fn rotation_names_sort_in_rotation_order() {
        // tcpdump -C
        assert_eq!(
            sorted(&["cap.pcap10", "cap.pcap2", "cap.pcap", "cap.pcap1"]),
            ["cap.pcap", "cap.pcap1", "cap.pcap2", "cap.pcap10"]
        );
        // dumpcap ring buffer
        assert_eq!(
            sorted(&[
                "ring_00010_20240714120301.pcapng",
                "ring_00009_20240714120259.pcapng"
            ]),
            [
                "ring_00009_20240714120259.pcapng",
                "ring_00010_20240714120301.pcapng"
            ]
        );
        // tcpdump -G strftime
        assert_eq!(
            sorted(&["t-20240714-120100.pcap", "t-20240714-115959.pcap"]),
            ["t-20240714-115959.pcap", "t-20240714-120100.pcap"]
        );
        assert_eq!(natural_cmp("a01", "a1"), Ordering::Greater);
        assert_eq!(natural_cmp("a1", "a1"), Ordering::Equal);
    }

    #[test]
    fn first_packet_time_orders_a_reused_ring_name_last() {
        let a = Key {
            ts: 200,
            name: "cap.pcap0".into(),
        };
        let b = Key {
            ts: 100,
            name: "cap.pcap3".into(),
        };
        assert!(b < a);
    }
}
