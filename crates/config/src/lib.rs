//! netanom-config.
#![deny(missing_docs)]
