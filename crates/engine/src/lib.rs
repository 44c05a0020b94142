//! netanom-engine.
#![deny(missing_docs)]
