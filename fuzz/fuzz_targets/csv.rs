//! cargo-fuzz target `csv`: see [`entries::csv`].
#![no_main]

#[path = "../entries.rs"]
#[allow(dead_code)]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::csv(data));
