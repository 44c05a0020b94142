//! A process-wide, append-only string interner.
//!
//! Protocol names and unresolved address names (as found in CSV exports) are
//! few and repeat millions of times, so records carry a `u32` symbol instead
//! of a `String`. Symbols are only meaningful inside one process: anything
//! that crosses a process boundary serializes the string itself.
//!
//! Names are never freed, so the table is bounded ([`set_limits`]): input
//! with more distinct names than that (a CSV export with a new "protocol"
//! on every row) cannot grow memory without end. Input paths use
//! [`try_intern`] and report what does not fit. The table is shared by the
//! process's workers, so which names are the ones past the limit depends
//! on the order the workers meet them in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, RwLock};

/// Distinct names the table holds at most, by default.
pub const MAX_NAMES: usize = 1 << 20;
/// Bytes of names the table holds at most, by default.
pub const MAX_BYTES: usize = 64 << 20;

static LIMIT_NAMES: AtomicUsize = AtomicUsize::new(MAX_NAMES);
static LIMIT_BYTES: AtomicUsize = AtomicUsize::new(MAX_BYTES);

struct Table {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u32>,
    bytes: usize,
}

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| {
    let mut table = Table {
        names: Vec::new(),
        ids: HashMap::new(),
        bytes: 0,
    };
    // The well-known protocol names get fixed ids, so that
    // `Protocol::TCP` and friends are constants.
    for name in crate::protocol::KNOWN {
        insert(&mut table, name);
    }
    RwLock::new(table)
});

fn insert(table: &mut Table, name: &str) -> u32 {
    if let Some(&id) = table.ids.get(name) {
        return id;
    }
    // Leaked on purpose: names live for the run (and are bounded).
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = u32::try_from(table.names.len()).unwrap_or(u32::MAX);
    table.names.push(name);
    table.ids.insert(name, id);
    table.bytes += name.len();
    id
}

/// Why a name was not interned: the table holds as many names, or as many
/// bytes of names, as [`set_limits`] allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    /// The limit on distinct names.
    pub names: usize,
    /// The limit on bytes of names.
    pub bytes: usize,
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many distinct names (this process keeps at most {} names and {} bytes of them)",
            self.names, self.bytes
        )
    }
}

/// Returns the symbol of `name`, adding it on first sight if the table
/// has room for it.
pub fn try_intern(name: &str) -> Result<u32, Full> {
    if let Some(id) = lookup(name) {
        return Ok(id);
    }
    let mut table = TABLE.write().unwrap_or_else(|e| e.into_inner());
    if let Some(&id) = table.ids.get(name) {
        return Ok(id);
    }
    let full = Full {
        names: LIMIT_NAMES.load(Ordering::Relaxed),
        bytes: LIMIT_BYTES.load(Ordering::Relaxed),
    };
    if table.names.len() >= full.names || table.bytes + name.len() > full.bytes {
        return Err(full);
    }
    Ok(insert(&mut table, name))
}

/// Returns the symbol of `name`, adding it on first sight, whatever the
/// limits: for names that do not come from input (the program's own, or
/// names another process of the cluster interned under the same limits).
pub fn intern(name: &str) -> u32 {
    if let Some(id) = lookup(name) {
        return id;
    }
    let mut table = TABLE.write().unwrap_or_else(|e| e.into_inner());
    insert(&mut table, name)
}

/// The symbol of `name` if it has one, under the read lock (most calls).
fn lookup(name: &str) -> Option<u32> {
    let table = TABLE.read().unwrap_or_else(|e| e.into_inner());
    table.ids.get(name).copied()
}

/// Sets the limits [`try_intern`] keeps to (at most `names` distinct names
/// and `bytes` bytes of them, the well-known protocol names included).
/// The defaults are [`MAX_NAMES`] and [`MAX_BYTES`]; tests lower them.
pub fn set_limits(names: usize, bytes: usize) {
    LIMIT_NAMES.store(names, Ordering::Relaxed);
    LIMIT_BYTES.store(bytes, Ordering::Relaxed);
}

/// The names the table holds and their bytes (the well-known protocol
/// names included).
pub fn usage() -> (usize, usize) {
    let table = TABLE.read().unwrap_or_else(|e| e.into_inner());
    (table.names.len(), table.bytes)
}

/// Returns the string of a symbol made by [`intern`] (empty for an unknown id).
pub fn resolve(id: u32) -> &'static str {
    let table = TABLE.read().unwrap_or_else(|e| e.into_inner());
    table.names.get(id as usize).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = intern("SomeNewProto");
        assert_eq!(intern("SomeNewProto"), a);
        assert_eq!(resolve(a), "SomeNewProto");
        assert_ne!(intern("Other"), a);
        assert_eq!(try_intern("SomeNewProto"), Ok(a));
    }
}
