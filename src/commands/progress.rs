//! A progress line on stderr while a run reads its inputs, when stderr is a
//! terminal: files done, packets and packets/s, and the newest event time.
//! Nothing when stderr is a file or a pipe, or with `-q`.

use netanom_records::stats::{ComponentStats, Stats};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the line is redrawn.
const EVERY: Duration = Duration::from_millis(500);

/// The progress line's thread; dropping it clears the line.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing for the sources `sources`, if stderr is a terminal.
    pub fn start(stats: Arc<Stats>, sources: Vec<String>, quiet: bool) -> Option<Progress> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let started = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    let line = render(&stats, &sources, started.elapsed());
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[K{line}");
                    let _ = err.flush();
                }
                let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            })
            .ok()?;
        Some(Progress {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `3 files, 1200000 packets (850000/s), event time 2026-11-26 12:00:01`.
fn render(stats: &Stats, sources: &[String], elapsed: Duration) -> String {
    let (mut files, mut packets, mut newest) = (0, 0, 0i64);
    for (id, c) in stats.components() {
        if sources.contains(&id) {
            files += ComponentStats::get(&c.files_done);
            packets += ComponentStats::get(&c.records_out);
            newest = newest.max(c.newest_ts.load(Ordering::Relaxed));
        }
    }
    let rate = packets as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut line = format!("{files} files, {packets} packets ({rate:.0}/s)");
    if newest > 0 {
        line.push_str(&format!(", event time {}", utc(newest)));
    }
    line
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of nanoseconds since the epoch.
fn utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        // 2024-02-29 12:34:56 UTC
        assert_eq!(utc(1_709_210_096_000_000_000), "2024-02-29 12:34:56");
        assert_eq!(utc(-1_000_000_000), "1969-12-31 23:59:59");
    }
}
