//! netanom's integration tests: the binary, run as users run it.

mod util;

mod anonymize;
mod bad_input;
mod cli;
mod cluster;
mod corpus;
mod degree;
mod generate;
mod graph;
mod kmeans;
mod motif;
mod oracle;
mod pipelines;
mod prometheus;
mod signals;
mod workers;
