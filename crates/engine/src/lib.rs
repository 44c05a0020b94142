//! Builds one Timely dataflow from a validated [`Pipeline`] and runs it on
//! worker threads (and processes, in cluster mode).
//!
//! Every worker builds the same dataflow: sources read their share of the
//! files, operators exchange records by key, sinks gather on worker 0. The
//! engine only wires: what each plugin does lives in its own crate.
#![deny(missing_docs)]

mod flow;
mod monitor;

use flow::Flow;
use netanom_config::Pipeline;
use netanom_records::checkpoint::{self, Checkpoints};
use netanom_records::stats::Stats;
use netanom_records::Time;
use netanom_sources::SourceContext;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timely::dataflow::operators::Probe;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads per process.
    pub workers: usize,
    /// Processes in the cluster (1 = this process alone).
    pub processes: usize,
    /// This process's index in the cluster.
    pub process: usize,
    /// `host:port` per process, one per line (cluster mode).
    pub hostfile: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            processes: 1,
            process: 0,
            hostfile: None,
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct RunSummary {
    /// Counters and bad-input reports of this process's workers.
    pub stats: Arc<Stats>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad command-line settings (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The dataflow could not run to the end (exit code 1).
    #[error("{0}")]
    Runtime(String),
}

fn timely_config(opts: &RunOptions) -> Result<timely::Config, EngineError> {
    let workers = opts.workers.max(1);
    if opts.processes <= 1 {
        return Ok(timely::Config::process(workers));
    }
    if opts.process >= opts.processes {
        return Err(EngineError::Usage(format!(
            "--process {} is out of range for --processes {}",
            opts.process, opts.processes
        )));
    }
    let addresses = match &opts.hostfile {
        Some(path) => {
            // A host per line: 1 MiB is thousands of hosts, and bounds
            // what a wrong path (a device, a huge file) can cost.
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| {
                    std::io::Read::read_to_string(&mut std::io::Read::take(f, 1 << 20), &mut text)
                })
                .map_err(|e| {
                    EngineError::Usage(format!("cannot read hostfile `{}`: {e}", path.display()))
                })?;
            let hosts: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            for (i, host) in hosts.iter().enumerate() {
                let valid = host
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !valid {
                    // Show a line of a wrong file only in part.
                    let shown: String = host.chars().take(80).collect();
                    let more = if shown.len() < host.len() { "..." } else { "" };
                    return Err(EngineError::Usage(format!(
                        "{}:{}: expected host:port, found `{shown}`{more}",
                        path.display(),
                        i + 1
                    )));
                }
            }
            if hosts.len() < opts.processes {
                return Err(EngineError::Usage(format!(
                    "hostfile `{}` lists {} hosts; --processes {} needs one per process",
                    path.display(),
                    hosts.len(),
                    opts.processes
                )));
            }
            hosts.into_iter().take(opts.processes).collect()
        }
        None => (0..opts.processes)
            .map(|i| format!("127.0.0.1:{}", 2101 + i))
            .collect(),
    };
    Ok(timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: workers,
            process: opts.process,
            addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    })
}

/// How long a cluster process waits for all the others to connect, unless
/// `NETANOM_CONNECT_TIMEOUT` (seconds) says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether a panic message is Timely's communication layer losing a peer:
/// its network threads panic with "timely communication error: ..." when a
/// socket to another process closes or fails, and workers then find their
/// queues poisoned.
fn is_peer_failure(message: &str) -> bool {
    message.contains("timely communication error") || message.contains("MergeQueue poisoned")
}

/// In cluster mode, a peer that dies makes Timely's network threads panic
/// while workers may be parked waiting for data that will never come: the
/// process would hang, or end in a panic at shutdown. netanom turns that
/// into a clear error and exit code 1 at once (outputs stay under
/// `PATH.partial`). Also stops waiting for peers that never connect.
fn watch_peers(opts: &RunOptions) -> Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let process = opts.process;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_peer_failure(message) {
            eprintln!(
                "netanom: process {process}: lost the connection to another process of the cluster \
                 (did it die?): {message}; stopping, outputs left unfinished"
            );
            std::process::exit(1);
        }
        previous(info);
    }));
    let connected = Arc::new(AtomicBool::new(false));
    let flag = connected.clone();
    let timeout = std::env::var("NETANOM_CONNECT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(CONNECT_TIMEOUT, Duration::from_secs);
    let processes = opts.processes;
    let spawned = std::thread::Builder::new()
        .name("netanom-connect-watchdog".into())
        .spawn(move || {
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                if flag.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !flag.load(Ordering::Acquire) {
                eprintln!(
                    "netanom: process {process}: the {processes} processes of the cluster did not \
                     all connect within {} s; check the hostfile, that every process was started, \
                     and that the ports are reachable",
                    timeout.as_secs()
                );
                std::process::exit(1);
            }
        });
    if let Err(e) = spawned {
        eprintln!("netanom: cannot start the connection watchdog: {e}");
    }
    connected
}

/// Runs `pipeline` to completion.
pub fn run(pipeline: Pipeline, opts: &RunOptions) -> Result<RunSummary, EngineError> {
    run_with_stats(pipeline, opts, Stats::new())
}

/// [`run`], counting into `stats` (which the caller may watch meanwhile,
/// for a progress line).
pub fn run_with_stats(
    pipeline: Pipeline,
    opts: &RunOptions,
    stats: Arc<Stats>,
) -> Result<RunSummary, EngineError> {
    let config = timely_config(opts)?;
    let connected = (opts.processes > 1).then(|| watch_peers(opts));
    // Metrics endpoints, before the dataflow (a port in use fails early).
    let monitors = monitor::Monitors::start(&pipeline, &stats, opts)?;
    let worker_monitors = monitors.clone();
    let checkpoints = checkpoints(&pipeline, opts)?;
    let worker_checkpoints = checkpoints.clone();
    let pipeline = Arc::new(pipeline);
    let started = Instant::now();
    let worker_stats = stats.clone();
    let shared_reads = Arc::new(netanom_sources::SharedReads::default());
    let processes = opts.processes.max(1);
    let guards = timely::execute(config, move |worker| {
        if let Some(flag) = &connected {
            // Workers start once every process has connected.
            flag.store(true, std::sync::atomic::Ordering::Release);
        }
        let pipeline = pipeline.clone();
        let stats = worker_stats.clone();
        let monitors = &worker_monitors;
        let checkpoints = worker_checkpoints.clone();
        let process = Process {
            processes,
            shared: shared_reads.clone(),
        };
        let consumed = worker.dataflow::<Time, _, _>(|scope| {
            build(scope, &pipeline, &stats, monitors, &checkpoints, &process)
        });
        monitors.set_ready();
        // Worker 0 holds everything that is checkpointed (see
        // `netanom_records::checkpoint`): it commits between steps.
        let committer = checkpoints.filter(|_| worker.index() == 0);
        let interval = pipeline
            .sources
            .iter()
            .find_map(|s| s.config.checkpoint_interval())
            .unwrap_or(Duration::from_secs(1));
        while worker.has_dataflows() {
            worker.step_or_park(None);
            // After a failure nothing more is committed: the last good
            // checkpoint stays, and a restart redoes what came after it.
            if let Some(c) = committer.as_ref().filter(|_| !stats.failed()) {
                let settled = consumed.with_frontier(|f| f.first().copied());
                if let Err(e) = c.commit(settled, interval, false) {
                    stats.fail(e.to_string());
                    netanom_records::shutdown::request();
                }
            }
        }
        if let Some(c) = committer.as_ref().filter(|_| !stats.failed()) {
            if let Err(e) = c.commit(None, interval, true) {
                stats.fail(e.to_string());
            }
        }
    })
    .map_err(|e| EngineError::Runtime(format!("cannot start workers: {e}")))?;
    let mut failures = Vec::new();
    for result in guards.join() {
        if let Err(e) = result {
            failures.push(e);
        }
    }
    let elapsed = started.elapsed();
    // Push, hold and stop the metrics endpoints.
    for failure in monitors.finish(failures.is_empty() && stats.failures().is_empty()) {
        stats.fail(failure);
    }
    if !failures.is_empty() {
        return Err(EngineError::Runtime(format!(
            "a worker failed: {}",
            failures.join("; ")
        )));
    }
    let failures = stats.failures();
    if !failures.is_empty() {
        return Err(EngineError::Runtime(failures.join("\n")));
    }
    Ok(RunSummary { stats, elapsed })
}

/// The checkpoint bookkeeping, when a source has a `state_dir` (process 0
/// only: worker 0 reads those sources and writes the file sinks).
fn checkpoints(
    pipeline: &Pipeline,
    opts: &RunOptions,
) -> Result<Option<Arc<Checkpoints>>, EngineError> {
    let Some(dir) = pipeline.sources.iter().find_map(|s| s.config.state_dir()) else {
        return Ok(None);
    };
    if opts.process != 0 {
        return Ok(None);
    }
    let fingerprint = format!("{:016x}", pipeline.fingerprint());
    let saved = checkpoint::load(dir, &fingerprint).map_err(|e| EngineError::Usage(e.0))?;
    let tick = pipeline.tick();
    // How far back a record can still matter to a row not yet committed:
    // every window on a path (a window of windows spans both) and a tick
    // per operator for emission delays. Generous on purpose: replaying a
    // little more costs time, replaying too little loses rows.
    let windows: u64 = pipeline
        .operators
        .iter()
        .flat_map(|c| c.config.durations())
        .map(|d| d.nanos())
        .fold(0, u64::saturating_add);
    let ticks = tick.saturating_mul(pipeline.operators.len() as u64 + 1);
    Ok(Some(Arc::new(Checkpoints::new(
        dir.to_owned(),
        fingerprint,
        tick,
        windows.saturating_add(ticks),
        saved,
    ))))
}

/// What the workers of one process share beyond stats and checkpoints.
struct Process {
    processes: usize,
    shared: Arc<netanom_sources::SharedReads>,
}

/// Wires the pipeline on one worker; returns the probe of the sinks'
/// consumption.
fn build<'s>(
    scope: timely::dataflow::Scope<'s, Time>,
    pipeline: &Pipeline,
    stats: &Arc<Stats>,
    monitors: &monitor::Monitors,
    checkpoints: &Option<Arc<Checkpoints>>,
    process: &Process,
) -> timely::dataflow::ProbeHandle<Time> {
    let tick = pipeline.tick();
    // Sinks' consumption, which sources wait for when they run ahead.
    let consumed = timely::dataflow::ProbeHandle::new();
    let redact = pipeline
        .operators
        .iter()
        .any(|op| matches!(op.config, netanom_operators::OperatorConfig::Anonymize(_)));
    let mut flows: HashMap<String, Flow<'s>> = HashMap::new();
    for source in &pipeline.sources {
        let ctx = SourceContext {
            id: &source.id,
            tick,
            stats: stats.clone(),
            consumed: consumed.clone(),
            checkpoints: checkpoints.clone(),
            redact,
            processes: process.processes,
            shared: process.shared.clone(),
        };
        flows.insert(
            source.id.clone(),
            Flow::Packets(source.config.build(scope, &ctx)),
        );
    }
    for op in &pipeline.operators {
        let input = Flow::concat(op.inputs.iter().filter_map(|i| flows.get(i).cloned()));
        if let Some(input) = input {
            if let Some(output) = input.operate(&op.id, &op.config, tick, stats, checkpoints) {
                flows.insert(op.id.clone(), output);
            }
        }
    }
    for sink in &pipeline.sinks {
        // A prometheus sink takes each input apart (metrics per input).
        if monitor::attach(scope, sink, &flows, monitors, &consumed) {
            continue;
        }
        let input = Flow::concat(sink.inputs.iter().filter_map(|i| flows.get(i).cloned()));
        let fields = sink
            .inputs
            .first()
            .map(|i| pipeline.fields_of(i))
            .unwrap_or_default();
        if let Some(consumed_by_sink) =
            input.and_then(|input| input.sink(&sink.id, &sink.config, fields, stats, checkpoints))
        {
            consumed_by_sink.probe_with(&consumed);
        }
    }
    consumed
}
