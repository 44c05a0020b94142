//! netanom-sources.
#![deny(missing_docs)]
