//! The Timely operator shared by file sources: spreads files (and chunks of
//! large files) over workers, sends each record at its [`FileClock`] time,
//! and counts and reports bad input.

use crate::clock::{Assignment, FileClock, CHUNK};
use crate::flow_control::{send, FlowControl, Output};
use netanom_records::stats::{BadInput, ComponentStats};
use netanom_records::{Packet, Time, Ts};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, Stream};

/// Records read per activation, so that other operators get to run, and
/// while the packets of this step (and their copies for each consumer)
/// are still in the cache: 32k records per step put about 8 MB between
/// the source and the windows, and 4096 made the quick start about 9%
/// faster (5M packets, 2 workers, six interleaved runs; 1024 was slower,
/// from the per-step overhead).
const BUDGET: usize = 4096;
/// Records per message.
const BATCH: usize = 1024;

/// One step of a [`RecordReader`].
pub(crate) enum Step {
    /// A record with this timestamp; the packet was filled in if asked.
    Record(Ts),
    /// Bad input that was skipped; reading goes on.
    Bad(BadInput),
    /// The end of the file, with a report if it ended badly (cut short).
    End(Option<BadInput>),
    /// Reading cannot go on.
    Fatal(BadInput),
}

/// A file format's reader, as the driver sees it.
pub(crate) trait RecordReader: Sized + 'static {
    /// The source's settings the reader needs.
    type Options: Clone + 'static;
    /// Opens a file.
    fn open(options: &Self::Options, path: &Path) -> Result<Self, BadInput>;
    /// Reads the next record; fills `packet` only when `decode` is true
    /// (records other workers decode are only timed).
    fn next(&mut self, decode: bool, packet: &mut Packet) -> Step;
}

/// What the driver needs of a source's config.
#[derive(Clone)]
pub(crate) struct Spec {
    pub files: Vec<PathBuf>,
    pub split: bool,
    pub tick: u64,
    pub out_of_order: u64,
    /// The sinks' progress: reading waits while this source is more than a
    /// tick ahead of it.
    pub consumed: timely::dataflow::ProbeHandle<Time>,
    /// Processes in the cluster.
    pub processes: usize,
    /// Where the process's workers find the split files they share.
    pub shared: Arc<SharedReads>,
}

impl Spec {
    /// The files of `path` (validation has checked it names some), split or
    /// not, with the engine's tick and flow-control probe.
    pub fn new(
        path: &Path,
        split: crate::options::Split,
        out_of_order: netanom_records::Duration,
        ctx: &crate::SourceContext,
    ) -> Spec {
        let files = crate::files::expand(path).unwrap_or_default();
        Spec {
            split: split.decide(&files),
            files,
            tick: ctx.tick,
            out_of_order: out_of_order.nanos(),
            consumed: ctx.consumed.clone(),
            processes: ctx.processes,
            shared: ctx.shared.clone(),
        }
    }
}

struct Task {
    file: usize,
    path: PathBuf,
    first: Time,
}

/// A file being read: its reader, its clock, how far it is.
struct Current<R> {
    file: usize,
    reader: R,
    clock: FileClock,
    first: Time,
    record: u64,
}

/// A split file, read by the workers of one process in turns (one
/// activation's budget of records at a time, whoever gets the lock): the file is read once per process,
/// not once per worker, while decoding and everything downstream runs
/// on all of them.
pub(crate) struct SharedFile<R> {
    state: Mutex<Shared<R>>,
    /// The least Timely time a record not yet read may be sent at
    /// (`Time::MAX` once the file is done): where a worker that does not
    /// hold the lock keeps its capability.
    floor: AtomicU64,
}

enum Shared<R> {
    Unopened,
    Open(Current<R>),
    Done,
}

/// The split files of a process's sources, by source and path: every
/// worker of the process finds the same [`SharedFile`].
#[derive(Default)]
pub struct SharedReads {
    files: Mutex<HashMap<(String, PathBuf), Arc<dyn Any + Send + Sync>>>,
}

impl SharedReads {
    fn get<R: Send + 'static>(&self, source: &str, path: &Path, first: Time) -> Arc<SharedFile<R>> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let entry = files
            .entry((source.to_owned(), path.to_owned()))
            .or_insert_with(|| {
                Arc::new(SharedFile::<R> {
                    state: Mutex::new(Shared::Unopened),
                    floor: AtomicU64::new(first),
                })
            });
        match entry.clone().downcast::<SharedFile<R>>() {
            Ok(file) => file,
            // Two sources of different formats cannot share an id.
            Err(_) => Arc::new(SharedFile {
                state: Mutex::new(Shared::Done),
                floor: AtomicU64::new(Time::MAX),
            }),
        }
    }
}

/// What a worker is reading.
enum Reading<R> {
    /// A file this worker reads alone.
    Own(Current<R>),
    /// A split file, in turns with the process's other workers.
    Shared(usize, PathBuf, Arc<SharedFile<R>>),
}

/// Looks a few times at once, then sleeps this long, when another worker
/// holds a shared file.
const BUSY_SPINS: u32 = 16;
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_micros(50);

/// Builds a source operator reading `spec.files` with `R`.
pub(crate) fn file_source<'s, R: RecordReader + Send>(
    scope: Scope<'s, Time>,
    name: &str,
    spec: Spec,
    options: R::Options,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<Packet>> {
    let assignment = Assignment {
        index: scope.index(),
        peers: scope.peers().max(1),
        processes: spec.processes.max(1),
    };
    let source_id = name.to_owned();
    source::<_, timely::container::CapacityContainerBuilder<Vec<Packet>>, _, _>(
        scope,
        name,
        move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut flow = FlowControl::new(spec.consumed.clone(), spec.tick);
            let mut work = Work::<R>::new(spec, options, source_id, assignment, stats);
            let mut cap = Some(cap);
            let mut busy = 0u32;
            activator.activate();

            move |output| {
                if netanom_records::shutdown::requested() {
                    // SIGINT/SIGTERM: stop reading (the batch is sent at
                    // the end of every activation); what was read drains
                    // through the dataflow and the sinks finish their files.
                    cap = None;
                    return;
                }
                let Some(held) = cap.as_mut() else { return };
                if flow.must_wait(*held.time(), &activator) {
                    return;
                }
                let waits = work.activation(held, output);
                // Hold the capability at the least time still to come.
                let Some(bound) = work.bound() else {
                    cap = None;
                    return;
                };
                if bound > *held.time() && bound != Time::MAX {
                    held.downgrade(&bound);
                }
                if !waits {
                    busy = 0;
                    activator.activate();
                } else if busy < BUSY_SPINS {
                    busy += 1;
                    activator.activate();
                } else {
                    activator.activate_after(BUSY_WAIT);
                }
            }
        },
    )
}

/// One worker's reading across activations: the files still to read, the
/// one being read, and the batch being filled.
struct Work<R: RecordReader> {
    spec: Spec,
    options: R::Options,
    source_id: String,
    tasks: VecDeque<Task>,
    current: Option<Reading<R>>,
    batch: Batcher,
}

impl<R: RecordReader + Send> Work<R> {
    /// The worker's files (split ones included: every worker takes turns
    /// on them), each peeked at for its first timestamp: the capability
    /// must stay at or below it until the file is read.
    fn new(
        spec: Spec,
        options: R::Options,
        source_id: String,
        assignment: Assignment,
        stats: Arc<ComponentStats>,
    ) -> Work<R> {
        let mut tasks = VecDeque::new();
        for (file, path) in spec.files.iter().enumerate() {
            if !assignment.reads(file, spec.split) {
                continue;
            }
            match peek::<R>(&options, path) {
                Ok(first) => tasks.push_back(Task {
                    file,
                    path: path.clone(),
                    // No records at all: a truncated header is reported
                    // when the file is read.
                    first: first.map_or(Time::MAX, |ts| FileClock::start_floor(ts, spec.tick)),
                }),
                Err(bad) => {
                    // Every worker that reads the file peeked at it: one
                    // of them, in the whole cluster, reports.
                    if file % assignment.peers == assignment.index {
                        file_failed(&stats, bad);
                    }
                }
            }
        }
        Work {
            spec,
            options,
            source_id,
            tasks,
            current: None,
            batch: Batcher {
                assignment,
                stats,
                packet: Packet::default(),
                buf: Vec::with_capacity(BATCH),
                time: 0,
            },
        }
    }

    /// Reads up to one activation's budget of records and sends them.
    /// Returns whether it stopped because another worker holds the shared
    /// file it reads.
    fn activation(&mut self, held: &Capability<Time>, output: &mut Output<'_>) -> bool {
        let mut budget = BUDGET;
        let mut waits = false;
        while budget > 0 {
            if self.current.is_none() && !self.open_next() {
                break;
            }
            match self.current.as_mut() {
                None => break,
                Some(Reading::Own(cur)) => {
                    let (used, finished) = self.batch.read(cur, budget, false, held, output);
                    budget = budget.saturating_sub(used);
                    if finished {
                        self.current = None;
                    }
                }
                Some(Reading::Shared(file, path, shared)) => {
                    let Some(mut state) = lock(shared) else {
                        // Another worker reads it now.
                        waits = true;
                        break;
                    };
                    if matches!(*state, Shared::Unopened) {
                        let task = Task {
                            file: *file,
                            path: path.clone(),
                            first: shared.floor.load(Ordering::Acquire),
                        };
                        *state = match R::open(&self.options, path) {
                            Ok(reader) => Shared::Open(Current::new(task, reader, &self.spec)),
                            Err(bad) => {
                                if self.batch.assignment.reports(*file, true) {
                                    file_failed(&self.batch.stats, bad);
                                }
                                Shared::Done
                            }
                        };
                    }
                    let finished = match &mut *state {
                        Shared::Open(cur) => {
                            // One activation's budget (at most a chunk)
                            // per turn, so that the other workers get
                            // theirs.
                            let n = budget.min(CHUNK as usize);
                            let (used, finished) = self.batch.read(cur, n, true, held, output);
                            budget = budget.saturating_sub(used);
                            // The turn's last batch goes with it.
                            self.batch.send(held, output);
                            if !finished {
                                let floor = cur.clock.floor().unwrap_or(cur.first);
                                shared.floor.store(floor, Ordering::Release);
                            }
                            finished
                        }
                        Shared::Unopened | Shared::Done => true,
                    };
                    if !finished {
                        // A turn is one activation's budget.
                        break;
                    }
                    // Done: no record of it bounds any worker.
                    *state = Shared::Done;
                    shared.floor.store(Time::MAX, Ordering::Release);
                    drop(state);
                    self.current = None;
                }
            }
        }
        self.batch.send(held, output);
        waits
    }

    /// Starts on the next file; `false` if there is none.
    fn open_next(&mut self) -> bool {
        while let Some(task) = self.tasks.pop_front() {
            if self.spec.split {
                let shared = self
                    .spec
                    .shared
                    .get::<R>(&self.source_id, &task.path, task.first);
                self.current = Some(Reading::Shared(task.file, task.path, shared));
                return true;
            }
            match R::open(&self.options, &task.path) {
                Ok(reader) => {
                    self.current = Some(Reading::Own(Current::new(task, reader, &self.spec)));
                    return true;
                }
                Err(bad) => file_failed(&self.batch.stats, bad),
            }
        }
        false
    }

    /// The least Timely time a record still to come may be sent at, or
    /// `None` once every file is read.
    fn bound(&self) -> Option<Time> {
        let queued = self.tasks.iter().map(|t| t.first).min();
        let current = match &self.current {
            Some(Reading::Own(cur)) => Some(cur.clock.floor().unwrap_or(cur.first)),
            Some(Reading::Shared(_, _, shared)) => Some(shared.floor.load(Ordering::Acquire)),
            None => None,
        };
        match (queued, current) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The shared file's state, unless another worker holds it.
fn lock<R>(shared: &SharedFile<R>) -> Option<std::sync::MutexGuard<'_, Shared<R>>> {
    match shared.state.try_lock() {
        Ok(state) => Some(state),
        Err(std::sync::TryLockError::WouldBlock) => None,
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
    }
}

impl<R> Current<R> {
    fn new(task: Task, reader: R, spec: &Spec) -> Current<R> {
        Current {
            file: task.file,
            reader,
            clock: FileClock::new(spec.tick, spec.out_of_order),
            first: task.first,
            record: 0,
        }
    }
}

/// Decodes a worker's records into batches of one Timely time each.
struct Batcher {
    assignment: Assignment,
    stats: Arc<ComponentStats>,
    /// The record being read.
    packet: Packet,
    /// Records of `time`, not yet sent.
    buf: Vec<Packet>,
    time: Time,
}

impl Batcher {
    /// Reads up to `budget` records of `cur`, decoding those of this
    /// worker's process, and sends them in batches of one time (the last
    /// batch stays for [`Batcher::send`]). Returns the records read and
    /// whether the file is finished.
    fn read<R: RecordReader>(
        &mut self,
        cur: &mut Current<R>,
        budget: usize,
        split: bool,
        held: &Capability<Time>,
        output: &mut Output<'_>,
    ) -> (usize, bool) {
        let mut used = 0;
        while used < budget {
            used += 1;
            let mine = self.assignment.mine(cur.file, split, cur.record);
            match cur.reader.next(mine, &mut self.packet) {
                Step::Record(ts) => {
                    let time = cur.clock.observe(ts);
                    cur.record += 1;
                    if mine {
                        if time != self.time || self.buf.len() >= BATCH {
                            self.send(held, output);
                            self.time = time;
                        }
                        self.buf.push(std::mem::take(&mut self.packet));
                    }
                }
                Step::Bad(bad) => {
                    if mine {
                        self.stats.bad_input(bad);
                    }
                }
                Step::End(bad) => {
                    if self.assignment.reports(cur.file, split) {
                        ComponentStats::add(&self.stats.files_done, 1);
                        if let Some(bad) = bad {
                            self.stats.bad_input(bad);
                        }
                    }
                    return (used, true);
                }
                Step::Fatal(bad) => {
                    if self.assignment.reports(cur.file, split) {
                        file_failed(&self.stats, bad);
                    }
                    return (used, true);
                }
            }
        }
        (used, false)
    }

    /// Sends the batch (if any).
    fn send(&mut self, held: &Capability<Time>, output: &mut Output<'_>) {
        send(&self.stats, held, output, &mut self.buf, self.time);
    }
}

/// Counts and reports a file that could not be read.
fn file_failed(stats: &ComponentStats, bad: BadInput) {
    ComponentStats::add(&stats.files_error, 1);
    stats.bad_input(bad);
}

/// The first record's timestamp, or `None` for a file without records.
fn peek<R: RecordReader>(options: &R::Options, path: &Path) -> Result<Option<Ts>, BadInput> {
    let mut reader = R::open(options, path)?;
    let mut packet = Packet::default();
    loop {
        match reader.next(false, &mut packet) {
            Step::Record(ts) => return Ok(Some(ts)),
            Step::Bad(_) => continue,
            Step::End(_) | Step::Fatal(_) => return Ok(None),
        }
    }
}
