//! netanom-dissect's integration tests: tshark's verdicts on a public capture
//! corpus and on generated traffic, hand-built frames of every link type,
//! and robustness on random and truncated input.

mod corpus;
mod frames;
mod gen_pcap;
mod robustness;
mod support;
