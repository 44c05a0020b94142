//! Capture file reading.
#![deny(missing_docs)]
