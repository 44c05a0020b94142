//! A process-wide request to stop, set by SIGINT/SIGTERM (the binary
//! registers the signals). Sources stop reading when it is set, so the
//! dataflow drains and sinks finish their files; a `hold` ends early.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

static FLAG: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// The flag itself, for signal handlers to set.
pub fn flag() -> Arc<AtomicBool> {
    FLAG.clone()
}

/// Asks every source to stop reading.
pub fn request() {
    FLAG.store(true, Ordering::Relaxed);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    FLAG.load(Ordering::Relaxed)
}
