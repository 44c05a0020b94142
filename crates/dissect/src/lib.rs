//! Frame dissection.
#![deny(missing_docs)]
