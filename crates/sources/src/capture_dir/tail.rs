//! The `capture_dir` operator: worker 0 reads the files in order, tails
//! the newest, and tells the checkpointer where replay would start.
//!
//! Event time is one [`FileClock`] over the whole sequence of files. Each
//! record is sent at `max(clock time, idle floor)`; the idle floor moves
//! only when the capture is idle (`idle_advance`), and each move is a
//! [`Mark`] in the checkpoint, so a replay sends every record at the same
//! time as the first run did.

use super::listing::{self, FirstTsCache, Key, Listed, Order, FINGERPRINT_BYTES};
use super::position::{Mark, Point};
use super::CaptureDirConfig;
use crate::clock::FileClock;
use crate::flow_control::{send, FlowControl, Output};
use crate::SourceContext;
use netanom_capture::{CaptureError, CaptureReader, ErrorKind, Next};
use netanom_records::checkpoint::Checkpoints;
use netanom_records::stats::{BadInput, ComponentStats};
use netanom_records::time::to_time;
use netanom_records::{Packet, Time, Ts};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, Stream};

/// Records read per activation, so that other operators get to run while
/// the packets are still in the cache (as `driver`'s budget, measured
/// there).
const BUDGET: usize = 4096;
/// Records per message.
const BATCH: usize = 1024;

pub(super) fn build<'s>(
    scope: Scope<'s, Time>,
    config: CaptureDirConfig,
    ctx: &SourceContext,
) -> Stream<'s, Time, Vec<Packet>> {
    let reader = scope.index() == 0;
    let mut tailer = reader.then(|| Tailer::new(config, ctx));
    let mut flow = FlowControl::new(ctx.consumed.clone(), ctx.tick);
    let checkpoints = ctx.checkpoints.clone();
    source::<_, timely::container::CapacityContainerBuilder<Vec<Packet>>, _, _>(
        scope,
        ctx.id,
        move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap = reader.then_some(cap);
            activator.activate();
            move |output| {
                let (Some(t), Some(held)) = (tailer.as_mut(), cap.as_mut()) else {
                    cap = None;
                    return;
                };
                if netanom_records::shutdown::requested() || t.complete {
                    // Rows of the capability's time and later are not
                    // complete: with checkpoints they are neither written
                    // nor committed (a restart redoes them).
                    if let Some(c) = &checkpoints {
                        c.source_stopped(*held.time());
                    }
                    t.publish_current();
                    cap = None;
                    return;
                }
                if flow.must_wait(*held.time(), &activator) {
                    return;
                }
                let more = t.step(held, output);
                t.publish_current();
                let bound = t.floor();
                if bound > *held.time() {
                    held.downgrade(&bound);
                }
                if more || t.complete {
                    activator.activate();
                } else {
                    activator.activate_after(t.config.poll.to_std());
                }
            }
        },
    )
}

/// The file being read.
struct Open {
    key: Key,
    path: PathBuf,
    reader: CaptureReader,
    /// (hash, bytes hashed), once the first record has been read.
    fingerprint: Option<(u64, usize)>,
    /// Bytes of an incomplete record at the end, at the last look.
    partial: u64,
    /// When the file last grew.
    grew: Instant,
    /// A newer file was seen: one more read to the end, then it is done.
    newer: bool,
    /// Its inode when opened.
    ino: u64,
    /// The last read found its end.
    at_end: bool,
}

impl Open {
    /// The point before the record at `offset` of this file, with the
    /// clock's largest timestamp and the idle floor there.
    fn point(&self, offset: u64, max_ts: Option<i64>, idle_floor: Time) -> Point {
        point(&self.key, self.fingerprint, offset, max_ts, idle_floor)
    }
}

/// A [`Point`] in file `key` (whose first bytes hash to `fingerprint`).
fn point(
    key: &Key,
    fingerprint: Option<(u64, usize)>,
    offset: u64,
    max_ts: Option<i64>,
    idle_floor: Time,
) -> Point {
    Point {
        key: key.clone(),
        fingerprint: fingerprint.map_or(0, |f| f.0),
        fingerprint_len: fingerprint.map_or(0, |f| f.1),
        offset,
        max_ts,
        idle_floor,
    }
}

struct Tailer {
    config: CaptureDirConfig,
    id: String,
    tick: u64,
    stats: Arc<ComponentStats>,
    checkpoints: Option<Arc<Checkpoints>>,
    pattern: glob::Pattern,
    clock: FileClock,
    idle_floor: Time,
    current: Option<Open>,
    /// The key of the last file opened: later files sort after it.
    last_key: Option<Key>,
    /// The checkpoint's replay point, until its file is opened.
    resume: Option<Point>,
    /// Marks to apply on replay.
    marks: VecDeque<Mark>,
    /// Files listed but not opened yet (to notice lost ones).
    known: Vec<Listed>,
    cache: FirstTsCache,
    /// Files the writer closed (inotify).
    closed: super::closed::Closed,
    last_scan: Option<Instant>,
    last_record: Instant,
    /// Where the last finished file ended (the point once it is done).
    finished_point: Option<Point>,
    /// follow: false and nothing left.
    complete: bool,
    packet: Packet,
    buf: Vec<Packet>,
    buf_time: Time,
}

impl Tailer {
    fn new(config: CaptureDirConfig, ctx: &SourceContext) -> Tailer {
        let checkpoints = if config.state_dir.is_some() {
            ctx.checkpoints.clone()
        } else {
            None
        };
        let saved = checkpoints
            .as_ref()
            .and_then(|c| c.source_resume(ctx.id))
            .cloned();
        let stats = ctx.stats.component(ctx.id);
        let mut resume = None;
        let mut marks = VecDeque::new();
        if let Some(saved) = saved {
            match serde_json::from_value::<Point>(saved.replay) {
                Ok(p) => resume = Some(p),
                Err(e) => {
                    // Reading from the start would write rows twice: stop.
                    ctx.stats.fail(format!(
                        "{}: the checkpoint's position is damaged ({e}); move state_dir away to start over",
                        ctx.id
                    ));
                    netanom_records::shutdown::request();
                }
            }
            for m in saved.marks {
                match serde_json::from_value::<Mark>(m) {
                    Ok(m) => marks.push_back(m),
                    Err(e) => {
                        ctx.stats.fail(format!(
                            "{}: a checkpoint mark is damaged ({e}); move state_dir away to start over",
                            ctx.id
                        ));
                        netanom_records::shutdown::request();
                    }
                }
            }
        }
        let out_of_order = config.out_of_order.nanos();
        let clock = FileClock::resumed(
            ctx.tick,
            out_of_order,
            resume.as_ref().and_then(|p| p.max_ts),
        );
        let idle_floor = resume.as_ref().map_or(0, |p| p.idle_floor);
        let closed = super::closed::Closed::watch(&config.path);
        Tailer {
            pattern: glob::Pattern::new(&config.pattern)
                .unwrap_or_else(|_| glob::Pattern::new("*").expect("a valid pattern")),
            config,
            id: ctx.id.to_owned(),
            tick: ctx.tick,
            stats,
            checkpoints,
            clock,
            idle_floor,
            current: None,
            last_key: None,
            resume,
            marks,
            known: Vec::new(),
            cache: FirstTsCache::new(),
            closed,
            last_scan: None,
            last_record: Instant::now(),
            finished_point: None,
            complete: false,
            packet: Packet::default(),
            buf: Vec::with_capacity(BATCH),
            buf_time: 0,
        }
    }

    /// The least time still to come.
    fn floor(&self) -> Time {
        let clock = self.clock.floor().unwrap_or(0);
        clock.max(self.idle_floor)
    }

    fn bad(&self, e: CaptureError) -> BadInput {
        crate::pcap::bad_input(e)
    }

    /// Reads until the budget is spent or there is nothing to read now.
    /// Returns whether there may be more to read at once.
    fn step(&mut self, held: &mut Capability<Time>, output: &mut Output<'_>) -> bool {
        let mut budget = BUDGET;
        let mut more = false;
        while budget > 0 {
            if self.current.is_none() && !self.open_next() {
                break;
            }
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            while self
                .marks
                .front()
                .is_some_and(|m| m.reached(&cur.key, cur.reader.offset()))
            {
                if let Some(m) = self.marks.pop_front() {
                    self.idle_floor = self.idle_floor.max(m.floor);
                }
            }
            if cur.at_end {
                // It may have grown since: check it is still the same file
                // before reading on.
                cur.at_end = false;
                if let Some(why) = changed_in_place(cur) {
                    // Not read on as if it were the same file: what is
                    // there now is a new file, listed as such.
                    let (file, offset) = (cur.path.display().to_string(), cur.reader.offset());
                    self.stats.bad_input(BadInput {
                        file,
                        offset,
                        line: None,
                        kind: "replaced".into(),
                        message: format!(
                            "{why} while it was read; nothing after this offset is read from it"
                        ),
                    });
                    self.finish_quietly();
                    continue;
                }
            }
            let before = cur.reader.offset();
            match cur.reader.next() {
                Next::Frame(frame) => {
                    budget -= 1;
                    cur.grew = Instant::now();
                    let ts = frame.ts;
                    if cur.fingerprint.is_none() {
                        if self.config.order == Order::Auto && cur.key.ts != ts {
                            cur.key.ts = ts;
                            self.last_key = Some(cur.key.clone());
                        }
                        // Through the first record's header and timestamp
                        // (and within what the file surely holds).
                        let len =
                            (frame.offset as usize + 16 + frame.data.len()).min(FINGERPRINT_BYTES);
                        cur.fingerprint = listing::fingerprint(&cur.path, len).map(|fp| (fp, len));
                    }
                    let old_max = self.clock.max_ts();
                    let crosses = match old_max {
                        None => true,
                        Some(m) => ts > m && to_time(Ts(ts), self.tick) > to_time(Ts(m), self.tick),
                    };
                    if crosses {
                        if let Some(c) = &self.checkpoints {
                            // (The frame borrows the reader: the fields are taken apart.)
                            let point =
                                point(&cur.key, cur.fingerprint, before, old_max, self.idle_floor);
                            c.source_point(&self.id, ts, to_json(&point));
                        }
                    }
                    let time = self.clock.observe(Ts(ts)).max(self.idle_floor);
                    let packet = &mut self.packet;
                    packet.ts = Ts(ts);
                    packet.length = frame.orig_len;
                    packet.info.clear();
                    netanom_dissect::dissect(frame.linktype, frame.data, packet);
                    if time != self.buf_time || self.buf.len() >= BATCH {
                        send(&self.stats, held, output, &mut self.buf, self.buf_time);
                        self.buf_time = time;
                    }
                    self.buf.push(std::mem::take(&mut self.packet));
                    self.last_record = Instant::now();
                }
                Next::Skipped(e) => {
                    budget -= 1;
                    let bad = self.bad(e);
                    self.stats.bad_input(bad);
                }
                Next::End { partial } => {
                    cur.at_end = true;
                    if partial != cur.partial {
                        cur.partial = partial;
                        cur.grew = Instant::now();
                    }
                    if !self.config.follow {
                        self.finish();
                        continue;
                    }
                    if cur.newer {
                        self.finish();
                        continue;
                    }
                    let closed = self.closed.was_closed(&cur.key.name);
                    if closed || self.newer_exists() {
                        // Read to the end once more: the writer has moved
                        // on, so what is there now is all there will be.
                        if let Some(cur) = self.current.as_mut() {
                            cur.newer = true;
                        }
                        continue;
                    }
                    let idle = self.current.as_ref().map(|c| c.grew.elapsed());
                    if idle.is_some_and(|i| i >= self.config.idle_close.to_std()) {
                        self.finish();
                        continue;
                    }
                    break;
                }
                Next::Fatal(e) => {
                    let bad = self.bad(e);
                    ComponentStats::add(&self.stats.files_error, 1);
                    self.stats.bad_input(bad);
                    self.finish_quietly();
                }
            }
            if budget == 0 {
                more = true;
            }
        }
        send(&self.stats, held, output, &mut self.buf, self.buf_time);
        if !more {
            self.idle_advance();
        }
        more
    }

    /// Moves event time on with the wall clock when no packet came for
    /// `idle_advance`, so an idle capture's windows close.
    fn idle_advance(&mut self) {
        let advance = self.config.idle_advance.to_std();
        if !self.config.follow || advance.is_zero() {
            return;
        }
        let idle = self.last_record.elapsed();
        let (Some(max), true) = (self.clock.max_ts(), idle > advance) else {
            return;
        };
        let beyond = i64::try_from((idle - advance).as_nanos()).unwrap_or(i64::MAX);
        let ts = max
            .saturating_sub(i64::try_from(self.config.out_of_order.nanos()).unwrap_or(i64::MAX))
            .saturating_add(beyond);
        let floor = to_time(Ts(ts), self.tick);
        if floor <= self.idle_floor {
            return;
        }
        self.idle_floor = floor;
        if let Some(c) = &self.checkpoints {
            let (key, offset) = match (&self.current, &self.finished_point) {
                (Some(cur), _) => (cur.key.clone(), cur.reader.offset()),
                (None, Some(p)) => (p.key.clone(), p.offset),
                (None, None) => return,
            };
            c.source_mark(&self.id, to_json(&Mark { key, offset, floor }), true);
        }
    }

    /// Tells the checkpointer where reading stands now.
    fn publish_current(&self) {
        let Some(c) = &self.checkpoints else { return };
        let point = match &self.current {
            Some(cur) => cur.point(cur.reader.offset(), self.clock.max_ts(), self.idle_floor),
            None => match &self.finished_point {
                Some(p) => Point {
                    max_ts: self.clock.max_ts(),
                    idle_floor: self.idle_floor,
                    ..p.clone()
                },
                None => return,
            },
        };
        c.source_current(&self.id, to_json(&point));
    }

    /// Whether a file after the current one is in the directory.
    fn newer_exists(&mut self) -> bool {
        if self
            .last_scan
            .is_some_and(|at| at.elapsed() < self.config.poll.to_std())
        {
            return !self.known.is_empty();
        }
        self.scan();
        !self.known.is_empty()
    }

    /// Lists the directory: `known` becomes the files after `last_key`;
    /// files listed before and gone now (unread) are reported lost.
    fn scan(&mut self) {
        self.last_scan = Some(Instant::now());
        let listed = match listing::list(
            &self.config.path,
            &self.pattern,
            self.config.order,
            &mut self.cache,
        ) {
            Ok(l) => l,
            Err(message) => {
                self.stats.bad_input(BadInput {
                    file: self.config.path.display().to_string(),
                    offset: 0,
                    line: None,
                    kind: "io".into(),
                    message,
                });
                return;
            }
        };
        let current = self.current.as_ref().map(|c| c.key.name.clone());
        let after: Vec<Listed> = listed
            .into_iter()
            .filter(|l| self.last_key.as_ref().is_none_or(|k| l.key > *k))
            .filter(|l| current.as_ref() != Some(&l.key.name))
            .collect();
        let gone: Vec<Listed> = self
            .known
            .iter()
            .filter(|k| k.settled && !after.iter().any(|l| l.key == k.key))
            .filter(|k| self.last_key.as_ref().is_none_or(|last| k.key > *last))
            .cloned()
            .collect();
        for g in gone {
            self.lost(
                &g.path.display().to_string(),
                "deleted or replaced before it was read",
            );
        }
        self.known = after;
    }

    fn lost(&self, file: &str, why: &str) {
        ComponentStats::add(&self.stats.files_lost, 1);
        eprintln!("netanom: {}: lost file `{file}`: {why}", self.id);
        self.stats.bad_input(BadInput {
            file: file.to_owned(),
            offset: 0,
            line: None,
            kind: "lost_file".into(),
            message: format!("lost: {why}"),
        });
    }

    /// Opens the next file, if there is one now.
    fn open_next(&mut self) -> bool {
        if let Some(point) = self.resume.take() {
            return self.open_resumed(point);
        }
        if self.known.is_empty()
            || self
                .last_scan
                .is_none_or(|at| at.elapsed() >= self.config.poll.to_std())
        {
            self.scan();
        }
        while !self.known.is_empty() {
            let next = self.known.remove(0);
            match CaptureReader::open(&next.path) {
                Ok(reader) => {
                    self.last_key = Some(next.key.clone());
                    self.current = Some(Open {
                        key: next.key,
                        ino: ino_of(&next.path),
                        path: next.path,
                        reader,
                        fingerprint: None,
                        partial: 0,
                        grew: Instant::now(),
                        newer: false,
                        at_end: false,
                    });
                    return true;
                }
                Err(e) if e.kind == ErrorKind::Io && !next.path.exists() => {
                    self.lost(
                        &next.path.display().to_string(),
                        "deleted before it was read",
                    );
                }
                Err(e) if e.kind == ErrorKind::Incomplete && self.config.follow => {
                    // Its header is not written yet: look again later.
                    self.known.insert(0, next);
                    return false;
                }
                Err(e) => {
                    self.last_key = Some(next.key.clone());
                    ComponentStats::add(&self.stats.files_error, 1);
                    let bad = self.bad(e);
                    self.stats.bad_input(bad);
                }
            }
        }
        if !self.config.follow && self.current.is_none() {
            self.complete = true;
        }
        false
    }

    /// Opens the checkpoint's file at its offset; if it is gone, reports
    /// it lost and goes on after it.
    fn open_resumed(&mut self, point: Point) -> bool {
        self.last_key = Some(point.key.clone());
        let path = self.config.path.join(&point.key.name);
        let same = point.fingerprint_len == 0
            || listing::fingerprint(&path, point.fingerprint_len) == Some(point.fingerprint);
        let reader = if same {
            CaptureReader::open(&path).ok()
        } else {
            None
        };
        let Some(mut reader) = reader else {
            self.lost(
                &path.display().to_string(),
                "the checkpoint's file is gone or was replaced; reading goes on with the next file",
            );
            return self.open_next();
        };
        // Skip to the offset (records before it were read by the run that
        // wrote the checkpoint).
        while reader.offset() < point.offset {
            match reader.next() {
                Next::Frame(_) | Next::Skipped(_) => {}
                Next::End { .. } | Next::Fatal(_) => break,
            }
        }
        self.current = Some(Open {
            key: point.key,
            ino: ino_of(&path),
            path,
            reader,
            fingerprint: (point.fingerprint_len > 0)
                .then_some((point.fingerprint, point.fingerprint_len)),
            partial: 0,
            grew: Instant::now(),
            newer: false,
            at_end: false,
        });
        true
    }

    /// The current file is done: a record cut at its end is reported.
    fn finish(&mut self) {
        if let Some(cur) = &self.current {
            if cur.partial > 0 {
                let bad = self.bad(cur.reader.truncated_error(cur.partial));
                self.stats.bad_input(bad);
            }
        }
        self.finish_quietly();
    }

    fn finish_quietly(&mut self) {
        let Some(cur) = self.current.take() else {
            return;
        };
        ComponentStats::add(&self.stats.files_done, 1);
        // Read its close event now, then forget it: a ring that writes the
        // name again must not look closed.
        self.closed.was_closed(&cur.key.name);
        self.closed.forget(&cur.key.name);
        let mut key = cur.key.clone();
        if self.config.order == Order::Mtime {
            // It was written since it was listed: later files sort after
            // its latest time.
            if let Some(t) = std::fs::metadata(&cur.path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            {
                key.ts = i64::try_from(t.as_nanos()).unwrap_or(i64::MAX);
            }
            self.last_key = Some(key.clone());
        }
        self.finished_point =
            Some(cur.point(cur.reader.offset(), self.clock.max_ts(), self.idle_floor));
    }
}

fn ino_of(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(0, |m| m.ino())
}

/// Whether the file being read was truncated or replaced under the same
/// name since it was opened (a capture ring that reuses names, an editor).
fn changed_in_place(cur: &Open) -> Option<&'static str> {
    use std::os::unix::fs::MetadataExt;
    let Ok(now) = std::fs::metadata(&cur.path) else {
        // Deleted: the open descriptor still reads what was written.
        return None;
    };
    if now.ino() != cur.ino {
        return Some("the file was replaced by another of the same name");
    }
    if now.len() < cur.reader.offset() {
        return Some("the file was truncated");
    }
    match cur.fingerprint {
        Some((fp, len)) if listing::fingerprint(&cur.path, len) != Some(fp) => {
            Some("the file was rewritten in place")
        }
        _ => None,
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
