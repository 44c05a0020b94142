//! cargo-fuzz target `dissect`: see [`entries::dissect`].
#![no_main]

#[path = "../entries.rs"]
#[allow(dead_code)]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::dissect(data));
