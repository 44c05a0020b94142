//! netanom's integration tests: the binary, run as users run it.

mod util;

mod anonymize;
mod bad_input;
mod bad_input_table;
mod capture_dir;
mod cli;
mod cluster;
mod corpus;
mod degree;
mod fuzz_regressions;
mod generate;
mod graph;
mod kmeans;
mod limits;
mod motif;
mod oracle;
mod pipelines;
mod prometheus;
mod properties;
mod security;
mod signals;
mod workers;
