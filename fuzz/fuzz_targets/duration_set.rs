//! cargo-fuzz target `duration_set`: see [`entries::duration_set`].
#![no_main]

#[path = "../entries.rs"]
#[allow(dead_code)]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::duration_set(data));
