//! The Timely operator shared by file sources: spreads files (and chunks of
//! large files) over workers, sends each record at its [`FileClock`] time,
//! and counts and reports bad input.

use crate::clock::{Assignment, FileClock};
use crate::flow_control::{send, FlowControl};
use netanom_records::stats::{BadInput, ComponentStats};
use netanom_records::{Packet, Time, Ts};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};

/// Records read per activation, so that other operators get to run.
const BUDGET: usize = 32 * 1024;
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
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub files: Vec<PathBuf>,
    pub split: bool,
    pub tick: u64,
    pub out_of_order: u64,
    /// The sinks' progress: reading waits while this source is more than a
    /// tick ahead of it.
    pub consumed: timely::dataflow::ProbeHandle<Time>,
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
        }
    }
}

struct Task {
    file: usize,
    path: PathBuf,
    first: Time,
}

struct Current<R> {
    file: usize,
    reader: R,
    clock: FileClock,
    first: Time,
    record: u64,
}

/// Builds a source operator reading `spec.files` with `R`.
pub(crate) fn file_source<'s, R: RecordReader>(
    scope: Scope<'s, Time>,
    name: &str,
    spec: Spec,
    options: R::Options,
    stats: Arc<ComponentStats>,
) -> Stream<'s, Time, Vec<Packet>> {
    let assignment = Assignment {
        index: scope.index(),
        peers: scope.peers().max(1),
    };
    source::<_, timely::container::CapacityContainerBuilder<Vec<Packet>>, _, _>(
        scope,
        name,
        move |cap, info| {
            let activator = scope.activator_for(info.address);
            // Peek at each file's first timestamp: the capability must stay
            // at or below it until the file is read.
            let mut tasks = VecDeque::new();
            for (file, path) in spec.files.iter().enumerate() {
                if !assignment.reads(file, spec.split) {
                    continue;
                }
                match peek::<R>(&options, path) {
                    Ok(Some(first)) => tasks.push_back(Task {
                        file,
                        path: path.clone(),
                        first: FileClock::start_floor(first, spec.tick),
                    }),
                    Ok(None) => {
                        // No records at all; a truncated header is reported
                        // when the file is read.
                        tasks.push_back(Task {
                            file,
                            path: path.clone(),
                            first: Time::MAX,
                        })
                    }
                    Err(bad) => file_failed(&stats, &assignment, file, bad),
                }
            }
            let mut cap = Some(cap);
            let mut current: Option<Current<R>> = None;
            let mut packet = Packet::default();
            let mut buf: Vec<Packet> = Vec::with_capacity(BATCH);
            let mut buf_time: Time = 0;
            let mut flow = FlowControl::new(spec.consumed.clone(), spec.tick);
            activator.activate();

            move |output| {
                if netanom_records::shutdown::requested() {
                    // SIGINT/SIGTERM: stop reading (the buffer is flushed at
                    // the end of every activation); what was read drains
                    // through the dataflow and the sinks finish their files.
                    cap = None;
                    return;
                }
                let Some(held) = cap.as_mut() else { return };
                if flow.must_wait(*held.time(), &activator) {
                    return;
                }
                let mut flush = |buf: &mut Vec<Packet>, time: Time| {
                    send(&stats, held, output, buf, time);
                };
                let mut budget = BUDGET;
                while budget > 0 {
                    if current.is_none() {
                        let Some(task) = tasks.pop_front() else { break };
                        match R::open(&options, &task.path) {
                            Ok(reader) => {
                                current = Some(Current {
                                    file: task.file,
                                    reader,
                                    clock: FileClock::new(spec.tick, spec.out_of_order),
                                    first: task.first,
                                    record: 0,
                                })
                            }
                            Err(bad) => {
                                file_failed(&stats, &assignment, task.file, bad);
                                continue;
                            }
                        }
                    }
                    let Some(cur) = current.as_mut() else { break };
                    budget -= 1;
                    let mine = assignment.mine(cur.file, spec.split, cur.record);
                    match cur.reader.next(mine, &mut packet) {
                        Step::Record(ts) => {
                            let time = cur.clock.observe(ts);
                            cur.record += 1;
                            if mine {
                                if time != buf_time || buf.len() >= BATCH {
                                    flush(&mut buf, buf_time);
                                    buf_time = time;
                                }
                                buf.push(std::mem::take(&mut packet));
                            }
                        }
                        Step::Bad(bad) => {
                            if mine {
                                stats.bad_input(bad);
                            }
                        }
                        Step::End(bad) => {
                            let file = cur.file;
                            if assignment.reporter(file) == assignment.index {
                                ComponentStats::add(&stats.files_done, 1);
                                if let Some(bad) = bad {
                                    stats.bad_input(bad);
                                }
                            }
                            current = None;
                        }
                        Step::Fatal(bad) => {
                            file_failed(&stats, &assignment, cur.file, bad);
                            current = None;
                        }
                    }
                }
                flush(&mut buf, buf_time);
                // Hold the capability at the least time still to come.
                let mut bound = tasks.iter().map(|t| t.first).min();
                if let Some(cur) = &current {
                    let floor = cur.clock.floor().unwrap_or(cur.first);
                    bound = Some(bound.map_or(floor, |b| b.min(floor)));
                }
                match bound {
                    None => cap = None,
                    Some(bound) => {
                        if bound > *held.time() && bound != Time::MAX {
                            held.downgrade(&bound);
                        }
                        activator.activate();
                    }
                }
            }
        },
    )
}

/// Counts and reports a file that could not be read (on one worker only).
fn file_failed(stats: &ComponentStats, assignment: &Assignment, file: usize, bad: BadInput) {
    if assignment.reporter(file) == assignment.index {
        ComponentStats::add(&stats.files_error, 1);
        stats.bad_input(bad);
    }
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
