//! Event time for sources: which Timely time each record is sent at, and
//! which worker decodes it, decided from the file alone so that results do
//! not depend on the number of workers.
//!
//! Within one file, a record is sent at `max(ts, watermark)` floored to the
//! tick, where the watermark is the largest timestamp seen earlier in the
//! same file minus `out_of_order`. A record more than `out_of_order` older
//! than the newest one before it is therefore sent late, and a window that
//! has already closed counts it as late instead of including it. Because
//! the rule depends only on the file's content, it is the same whichever
//! worker reads the file.

use netanom_records::time::to_time;
use netanom_records::{Time, Ts};

/// Records per chunk when a large file is split over workers.
pub const CHUNK: u64 = 8192;

/// Per-file event-time bookkeeping.
#[derive(Clone, Debug)]
pub struct FileClock {
    tick: u64,
    out_of_order: i64,
    max_ts: Option<i64>,
    /// The tick the last record fell in (`u64::MAX`: none yet): most
    /// records fall in the same one, and skip a 64-bit division.
    slot: u64,
}

impl FileClock {
    /// A clock for a new file.
    pub fn new(tick: u64, out_of_order: u64) -> FileClock {
        FileClock {
            tick: tick.max(1),
            out_of_order: i64::try_from(out_of_order).unwrap_or(i64::MAX),
            max_ts: None,
            slot: u64::MAX,
        }
    }

    /// A clock that has already seen timestamps up to `max_ts` (restored
    /// from a checkpoint).
    pub fn resumed(tick: u64, out_of_order: u64, max_ts: Option<i64>) -> FileClock {
        FileClock {
            max_ts,
            ..FileClock::new(tick, out_of_order)
        }
    }

    /// The largest timestamp observed so far.
    pub fn max_ts(&self) -> Option<i64> {
        self.max_ts
    }

    fn watermark(&self) -> Option<i64> {
        self.max_ts.map(|m| m.saturating_sub(self.out_of_order))
    }

    /// The Timely time to send a record with timestamp `ts` at; call once
    /// per record, in file order.
    pub fn observe(&mut self, ts: Ts) -> Time {
        let at = match self.watermark() {
            Some(w) => ts.0.max(w),
            None => ts.0,
        };
        self.max_ts = Some(self.max_ts.map_or(ts.0, |m| m.max(ts.0)));
        let t = at.max(0) as u64;
        if t >= self.slot && t - self.slot < self.tick {
            return self.slot;
        }
        self.slot = to_time(Ts(at), self.tick);
        self.slot
    }

    /// A lower bound of the times of records not yet observed, if any were.
    pub fn floor(&self) -> Option<Time> {
        self.watermark().map(|w| to_time(Ts(w), self.tick))
    }

    /// The floor before a file's first record, whose timestamp is `first`.
    pub fn start_floor(first: Ts, tick: u64) -> Time {
        to_time(first, tick.max(1))
    }
}

/// Which worker reads which files, and which process decodes which
/// records of a split file.
///
/// A file that is not split is read by one worker (`file % peers`). A
/// split file is read by the workers of every process in turns, at most
/// [`CHUNK`] records a turn (see `driver`), so each process reads it
/// once; process `(file + record / CHUNK) % processes` decodes a record,
/// the others only step over it.
#[derive(Clone, Copy, Debug)]
pub struct Assignment {
    /// This worker's global index.
    pub index: usize,
    /// All workers of all processes.
    pub peers: usize,
    /// Processes in the cluster (workers are numbered process by process).
    pub processes: usize,
}

impl Assignment {
    /// This worker's process.
    pub fn process(&self) -> usize {
        let per_process = (self.peers / self.processes.max(1)).max(1);
        self.index / per_process
    }

    /// Whether this worker reads file number `file` at all.
    pub fn reads(&self, file: usize, split: bool) -> bool {
        split || file % self.peers == self.index
    }

    /// The process that decodes record `record` of split file `file`.
    pub fn owner_process(&self, file: usize, record: u64) -> usize {
        ((file as u64 + record / CHUNK) % self.processes.max(1) as u64) as usize
    }

    /// Whether this worker's process decodes record `record` of file `file`
    /// (always, for a file this worker reads alone).
    pub fn mine(&self, file: usize, split: bool, record: u64) -> bool {
        !split || self.owner_process(file, record) == self.process()
    }

    /// Whether this worker reports file-level events (open errors,
    /// truncation, a file done) of file `file`: one worker per file in the
    /// whole cluster. For a split file, the one of the reporting process
    /// that meets the event.
    pub fn reports(&self, file: usize, split: bool) -> bool {
        if split {
            file % self.processes.max(1) == self.process()
        } else {
            file % self.peers == self.index
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_times_are_the_floored_watermarked_timestamps() {
        // Against the rule computed afresh for every record (the clock
        // reuses the last record's tick).
        let mut n = 5u64;
        for (tick, out_of_order) in [(1, 0), (10, 0), (10, 25), (1_000_000_000, 3)] {
            let mut c = FileClock::new(tick, out_of_order);
            let mut max: Option<i64> = None;
            for _ in 0..5000 {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
                let ts = (n >> 40) as i64 % (8 * tick as i64) - 2 * tick as i64;
                let at = max.map_or(ts, |m| ts.max(m - out_of_order as i64));
                max = Some(max.map_or(ts, |m| m.max(ts)));
                assert_eq!(c.observe(Ts(ts)), to_time(Ts(at), tick), "ts {ts}");
            }
        }
    }

    #[test]
    fn late_records_are_held_at_the_watermark() {
        let mut c = FileClock::new(10, 5);
        assert_eq!(c.observe(Ts(100)), 100);
        assert_eq!(c.observe(Ts(120)), 120);
        // 3 behind the max (within out_of_order): its own time
        assert_eq!(c.observe(Ts(117)), 110);
        // 20 behind: sent at the watermark 115, floored
        assert_eq!(c.observe(Ts(100)), 110);
        assert_eq!(c.floor(), Some(110));
        c.observe(Ts(200));
        assert_eq!(c.floor(), Some(190));
    }

    #[test]
    fn files_and_chunks_spread_over_workers_and_processes() {
        // One process, two workers: both read a split file and decode all
        // of it between them; a file that is not split has one reader.
        let a = Assignment {
            index: 1,
            peers: 2,
            processes: 1,
        };
        assert!(a.reads(0, true));
        assert!(!a.reads(0, false));
        assert!(a.reads(1, false));
        assert!(a.mine(0, true, 0) && a.mine(0, true, CHUNK));
        assert!(a.reports(0, true) && !a.reports(0, false));
        // Two processes of two workers: worker 3 is in process 1, which
        // decodes every other chunk.
        let b = Assignment {
            index: 3,
            peers: 4,
            processes: 2,
        };
        assert_eq!(b.process(), 1);
        assert!(!b.mine(0, true, 0));
        assert!(b.mine(0, true, CHUNK));
        assert!(b.mine(1, true, 0));
        assert!(b.mine(0, false, 0));
        assert!(b.reports(1, true) && !b.reports(0, true));
    }
}
