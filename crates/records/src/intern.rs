//! A process-wide, append-only string interner.
//!
//! Protocol names and unresolved address names (as found in CSV exports) are
//! few and repeat millions of times, so records carry a `u32` symbol instead
//! of a `String`. Symbols are only meaningful inside one process: anything
//! that crosses a process boundary serializes the string itself.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

struct Table {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u32>,
}

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| {
    let mut table = Table {
        names: Vec::new(),
        ids: HashMap::new(),
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
    // Leaked on purpose: the set of names is small and lives for the run.
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = u32::try_from(table.names.len()).unwrap_or(u32::MAX);
    table.names.push(name);
    table.ids.insert(name, id);
    id
}

/// Returns the symbol of `name`, adding it on first sight.
pub fn intern(name: &str) -> u32 {
    {
        let table = TABLE.read().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = table.ids.get(name) {
            return id;
        }
    }
    let mut table = TABLE.write().unwrap_or_else(|e| e.into_inner());
    insert(&mut table, name)
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
    }
}
