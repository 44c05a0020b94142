//! netanom-sinks.
#![deny(missing_docs)]
