//! netanom-operators.
#![deny(missing_docs)]
