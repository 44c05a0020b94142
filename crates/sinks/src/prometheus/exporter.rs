//! The registry of one `prometheus` sink in one process: traffic metrics
//! filled by the sink's operators, self-metrics refreshed from [`Stats`] at
//! each scrape, the HTTP endpoint, the final push.

use super::http;
use super::HttpUrl;
use super::PrometheusConfig;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::Time;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use timely::progress::frontier::MutableAntichain;

/// The label value that takes the counts of values beyond the bound.
pub(crate) const OTHER: &str = "other";

/// What the pipeline looks like, for the self-metrics.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Source ids.
    pub sources: Vec<String>,
    /// Operator ids with their inputs' ids.
    pub operators: Vec<(String, Vec<String>)>,
    /// Workers in the whole run (threads times processes).
    pub workers: usize,
}

/// Bounds the label values that come from traffic (protocols, addresses):
/// at most `max` distinct values per scope (a source, an operator), admitted
/// in the order they are first seen; later values are folded into
/// [`OTHER`]. First come rather than top-k because a counter's series
/// cannot move to another label once scraped.
pub(crate) struct LabelBound {
    max: usize,
    admitted: Mutex<HashMap<String, HashSet<String>>>,
}

impl LabelBound {
    pub(crate) fn new(max: usize) -> LabelBound {
        LabelBound {
            max: max.max(1),
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// The label value to use for `value` in `scope`.
    pub(crate) fn label(&self, scope: &str, value: &str) -> String {
        let value = if value.is_empty() { "unknown" } else { value };
        let mut admitted = self.admitted.lock().unwrap_or_else(|e| e.into_inner());
        let set = admitted.entry(scope.to_owned()).or_default();
        if set.contains(value) {
            return value.to_owned();
        }
        if set.len() < self.max {
            set.insert(value.to_owned());
            return value.to_owned();
        }
        OTHER.to_owned()
    }
}

/// A protocol's packet and byte counters for one source.
pub(crate) struct Pair {
    pub packets: IntCounter,
    pub bytes: IntCounter,
}

/// The window figures of one operator.
pub(crate) struct WindowMetrics {
    pub records: IntCounter,
    pub packets: IntCounter,
    pub bytes: IntCounter,
    pub end: Gauge,
}

/// The figures of one k-means (scored) input.
pub(crate) struct ScoredMetrics {
    pub scored: IntCounter,
    pub anomalies: IntCounter,
    pub score: Histogram,
}

/// Upper bounds of the `netanom_anomaly_score` buckets. A score is the
/// distance to the nearest centroid divided by the threshold, so 1 is the
/// anomaly line.
pub(crate) const SCORE_BUCKETS: &[f64] = &[0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0, 16.0];

/// Metrics computed from the records of the sink's inputs.
pub(crate) struct Traffic {
    packets: IntCounterVec,
    bytes: IntCounterVec,
    protocols: LabelBound,
    window_records: IntCounterVec,
    window_packets: IntCounterVec,
    window_bytes: IntCounterVec,
    window_end: GaugeVec,
    /// `netanom_degree{operator,ip,direction}`: the top addresses of the
    /// last closed degree window (replaced as a whole at each window).
    pub(crate) degree: GaugeVec,
    scored: IntCounterVec,
    anomalies: IntCounterVec,
    score: HistogramVec,
    motif_matches: IntCounterVec,
    cluster_size: IntGaugeVec,
    clusters: LabelBound,
}

impl Traffic {
    /// The counters of `protocol` in `source` (or of `other`).
    pub(crate) fn pair(&self, source: &str, protocol: &str) -> Option<Pair> {
        let label = self.protocols.label(source, protocol);
        let values = [source, label.as_str()];
        Some(Pair {
            packets: self.packets.get_metric_with_label_values(&values).ok()?,
            bytes: self.bytes.get_metric_with_label_values(&values).ok()?,
        })
    }

    /// The match counter of motif input `operator` for `pattern` (a fixed,
    /// small set of names, so the series stay bounded).
    pub(crate) fn motif_matches(&self, operator: &str, pattern: &str) -> Option<IntCounter> {
        self.motif_matches
            .get_metric_with_label_values(&[operator, pattern])
            .ok()
    }

    /// The scored-record metrics of k-means input `operator` (created at 0).
    pub(crate) fn scored(&self, operator: &str) -> Option<ScoredMetrics> {
        let values = [operator];
        Some(ScoredMetrics {
            scored: self.scored.get_metric_with_label_values(&values).ok()?,
            anomalies: self.anomalies.get_metric_with_label_values(&values).ok()?,
            score: self.score.get_metric_with_label_values(&values).ok()?,
        })
    }

    /// The size gauge of `cluster` of k-means input `operator` (clusters
    /// beyond `max_series` per operator share `cluster="other"`).
    pub(crate) fn cluster_size(&self, operator: &str, cluster: u32) -> Option<IntGauge> {
        let label = self.clusters.label(operator, &cluster.to_string());
        self.cluster_size
            .get_metric_with_label_values(&[operator, label.as_str()])
            .ok()
    }

    /// The window metrics of `operator`.
    pub(crate) fn windows(&self, operator: &str) -> Option<WindowMetrics> {
        let values = [operator];
        Some(WindowMetrics {
            records: self
                .window_records
                .get_metric_with_label_values(&values)
                .ok()?,
            packets: self
                .window_packets
                .get_metric_with_label_values(&values)
                .ok()?,
            bytes: self
                .window_bytes
                .get_metric_with_label_values(&values)
                .ok()?,
            end: self.window_end.get_metric_with_label_values(&values).ok()?,
        })
    }
}

/// How far one input of the sink is complete, as one worker saw it.
#[derive(Default)]
pub(crate) struct InputProgress {
    /// The least Timely time still to come (event time, ns).
    frontier: AtomicU64,
    done: AtomicBool,
    /// The newest event time seen (ns).
    newest: AtomicI64,
}

impl InputProgress {
    /// Notes the input frontier and the newest event time of a batch.
    pub(crate) fn observe(&self, frontier: &MutableAntichain<Time>, newest: i64) {
        match frontier.frontier().iter().min() {
            Some(&least) => {
                self.frontier.fetch_max(least, Ordering::Relaxed);
            }
            None => self.done.store(true, Ordering::Relaxed),
        }
        if newest != i64::MIN {
            self.newest.fetch_max(newest, Ordering::Relaxed);
        }
    }
}

/// Figures about the pipeline itself, refreshed from [`Stats`].
struct SelfMetrics {
    source_packets: IntCounterVec,
    source_bytes: IntCounterVec,
    source_files: IntCounterVec,
    source_errors: IntCounterVec,
    records: IntCounterVec,
    records_in: IntCounterVec,
    late: IntCounterVec,
    event_time: Gauge,
    lag: Gauge,
    workers: IntGauge,
    ready: IntGauge,
    complete: IntGauge,
}

/// What the operators, the HTTP threads and the engine share.
pub(crate) struct Shared {
    registry: Registry,
    pub(crate) traffic: Traffic,
    own: Mutex<SelfMetrics>,
    stats: Arc<Stats>,
    topology: Topology,
    inputs: Mutex<Vec<Arc<InputProgress>>>,
    ready: AtomicBool,
    complete: AtomicBool,
    /// The last scrape and when it was rendered: scrapes closer together
    /// than [`SCRAPE_REUSE`] share it, so a flood of clients costs little.
    last: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

/// How long one rendered scrape is served again.
const SCRAPE_REUSE: std::time::Duration = std::time::Duration::from_millis(100);

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, String> {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).map_err(|e| e.to_string())?;
    registry
        .register(Box::new(vec.clone()))
        .map_err(|e| e.to_string())?;
    Ok(vec)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<Gauge, String> {
    let g = Gauge::with_opts(Opts::new(name, help)).map_err(|e| e.to_string())?;
    registry
        .register(Box::new(g.clone()))
        .map_err(|e| e.to_string())?;
    Ok(g)
}

fn int_gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, String> {
    let g = IntGauge::with_opts(Opts::new(name, help)).map_err(|e| e.to_string())?;
    registry
        .register(Box::new(g.clone()))
        .map_err(|e| e.to_string())?;
    Ok(g)
}

/// Raises a counter to `value` (the [`Stats`] counters only grow).
fn raise(vec: &IntCounterVec, labels: &[&str], value: u64) {
    if let Ok(c) = vec.get_metric_with_label_values(labels) {
        let current = c.get();
        if value > current {
            c.inc_by(value - current);
        }
    }
}

impl Shared {
    fn new(
        config: &PrometheusConfig,
        topology: Topology,
        stats: Arc<Stats>,
    ) -> Result<Shared, String> {
        let r = Registry::new();
        let traffic = Traffic {
            packets: counter_vec(
                &r,
                "netanom_packets_total",
                "Packets that reached the sink, by source and protocol (protocols beyond max_series are counted as \"other\").",
                &["source", "protocol"],
            )?,
            bytes: counter_vec(
                &r,
                "netanom_bytes_total",
                "Frame bytes on the wire of the packets that reached the sink, by source and protocol.",
                &["source", "protocol"],
            )?,
            protocols: LabelBound::new(config.max_series),
            window_records: counter_vec(
                &r,
                "netanom_window_records_total",
                "Window records (one per window and group) that reached the sink, by operator.",
                &["operator"],
            )?,
            window_packets: counter_vec(
                &r,
                "netanom_window_packets_total",
                "Packets counted in the window records that reached the sink, by operator.",
                &["operator"],
            )?,
            window_bytes: counter_vec(
                &r,
                "netanom_window_bytes_total",
                "Bytes counted in the window records that reached the sink, by operator.",
                &["operator"],
            )?,
            window_end: {
                let g = GaugeVec::new(
                    Opts::new(
                        "netanom_window_end_seconds",
                        "End of the newest window that reached the sink (event time, seconds since the epoch), by operator.",
                    ),
                    &["operator"],
                )
                .map_err(|e| e.to_string())?;
                r.register(Box::new(g.clone())).map_err(|e| e.to_string())?;
                g
            },
            degree: {
                let g = GaugeVec::new(
                    Opts::new(
                        "netanom_degree",
                        "Degree (distinct neighbours) of the addresses with the highest in_degree + out_degree in the last closed window of a degree operator, by direction (in, out).",
                    ),
                    &["operator", "ip", "direction"],
                )
                .map_err(|e| e.to_string())?;
                r.register(Box::new(g.clone())).map_err(|e| e.to_string())?;
                g
            },
            scored: counter_vec(
                &r,
                "netanom_scored_records_total",
                "Scored records (k-means output) that reached the sink, by operator.",
                &["operator"],
            )?,
            motif_matches: counter_vec(
                &r,
                "netanom_motif_matches_total",
                "Graph motif matches (rows of a motif operator) that reached the sink, by operator and pattern (reciprocal, fan_out, fan_in).",
                &["operator", "pattern"],
            )?,
            anomalies: counter_vec(
                &r,
                "netanom_anomalies_total",
                "Scored records with anomaly=true (score > 1) that reached the sink, by k-means operator.",
                &["operator"],
            )?,
            score: {
                let h = HistogramVec::new(
                    HistogramOpts::new(
                        "netanom_anomaly_score",
                        "Anomaly scores of the scored records that reached the sink, by k-means operator: distance to the nearest centroid / threshold, so above 1 is an anomaly (scores that are not finite are observed as 1e9).",
                    )
                    .buckets(SCORE_BUCKETS.to_vec()),
                    &["operator"],
                )
                .map_err(|e| e.to_string())?;
                r.register(Box::new(h.clone())).map_err(|e| e.to_string())?;
                h
            },
            cluster_size: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "netanom_kmeans_cluster_size",
                        "Scored records assigned to each cluster since the start of the run (cumulative; the sizes of an operator sum to netanom_scored_records_total), by k-means operator and cluster index (clusters beyond max_series are summed under cluster=\"other\").",
                    ),
                    &["operator", "cluster"],
                )
                .map_err(|e| e.to_string())?;
                r.register(Box::new(g.clone())).map_err(|e| e.to_string())?;
                g
            },
            clusters: LabelBound::new(config.max_series),
        };
        let own = SelfMetrics {
            source_packets: counter_vec(
                &r,
                "netanom_source_packets_total",
                "Packets read by the source.",
                &["source"],
            )?,
            source_bytes: counter_vec(
                &r,
                "netanom_source_bytes_total",
                "Frame bytes on the wire of the packets read by the source.",
                &["source"],
            )?,
            source_files: counter_vec(
                &r,
                "netanom_source_files_total",
                "Input files by outcome: done (read to the end) or error (could not be read, or not to the end).",
                &["source", "state"],
            )?,
            source_errors: counter_vec(
                &r,
                "netanom_source_errors_total",
                "Bad input (records or files that could not be used), by source and kind.",
                &["source", "kind"],
            )?,
            records: counter_vec(
                &r,
                "netanom_records_total",
                "Records emitted by the operator.",
                &["operator"],
            )?,
            records_in: counter_vec(
                &r,
                "netanom_records_in_total",
                "Records emitted by the operator's inputs.",
                &["operator"],
            )?,
            late: counter_vec(
                &r,
                "netanom_late_records_total",
                "Records that arrived after their window had closed, by operator.",
                &["operator"],
            )?,
            event_time: gauge(
                &r,
                "netanom_event_time_seconds",
                "Event-time watermark of the sink's inputs (seconds since the epoch; 0 before any input): complete up to this time; at the end, the newest event time seen.",
            )?,
            lag: gauge(
                &r,
                "netanom_lag_seconds",
                "Wall-clock time minus the event-time watermark while the run is live (following a capture), 0 before any input and after the end.",
            )?,
            workers: int_gauge(&r, "netanom_workers", "Timely workers in the run.")?,
            ready: int_gauge(&r, "netanom_ready", "Whether the dataflow is built and running (1) or not yet (0).")?,
            complete: int_gauge(
                &r,
                "netanom_run_complete",
                "Whether every input is done (1: the values are final).",
            )?,
        };
        own.workers
            .set(i64::try_from(topology.workers).unwrap_or(i64::MAX));
        let info = IntGaugeVec::new(
            Opts::new(
                "netanom_build_info",
                "Build of the netanom binary: version and git commit (value 1).",
            ),
            &["version", "git_hash"],
        )
        .map_err(|e| e.to_string())?;
        r.register(Box::new(info.clone()))
            .map_err(|e| e.to_string())?;
        if let Ok(g) = info
            .get_metric_with_label_values(&[env!("CARGO_PKG_VERSION"), env!("NETANOM_GIT_HASH")])
        {
            g.set(1);
        }
        // Series known from the configuration exist from the start (at 0).
        for source in &topology.sources {
            raise(&own.source_packets, &[source], 0);
            raise(&own.source_bytes, &[source], 0);
            for state in ["done", "error", "lost"] {
                raise(&own.source_files, &[source, state], 0);
            }
        }
        for (op, _) in &topology.operators {
            raise(&own.records, &[op], 0);
            raise(&own.records_in, &[op], 0);
            raise(&own.late, &[op], 0);
        }
        Ok(Shared {
            registry: r,
            traffic,
            own: Mutex::new(own),
            stats,
            topology,
            inputs: Mutex::new(Vec::new()),
            ready: AtomicBool::new(false),
            complete: AtomicBool::new(false),
            last: Mutex::new(None),
        })
    }

    /// A progress slot for one input on one worker.
    pub(crate) fn input_progress(&self) -> Arc<InputProgress> {
        let p = Arc::new(InputProgress::default());
        self.inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p.clone());
        p
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The event-time watermark in ns, if any input has progressed.
    fn watermark(&self) -> Option<i64> {
        let inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
        let live: Vec<u64> = inputs
            .iter()
            .filter(|p| !p.done.load(Ordering::Relaxed))
            .map(|p| p.frontier.load(Ordering::Relaxed))
            .collect();
        if live.is_empty() {
            return inputs
                .iter()
                .map(|p| p.newest.load(Ordering::Relaxed))
                .max()
                .filter(|&n| n > 0);
        }
        live.into_iter()
            .min()
            .filter(|&t| t > 0)
            .map(|t| i64::try_from(t).unwrap_or(i64::MAX))
    }

    fn refresh(&self, own: &SelfMetrics) {
        let components: HashMap<String, Arc<ComponentStats>> =
            self.stats.components().into_iter().collect();
        let get = |id: &str, f: fn(&ComponentStats) -> &AtomicU64| {
            components.get(id).map_or(0, |c| ComponentStats::get(f(c)))
        };
        for source in &self.topology.sources {
            raise(
                &own.source_packets,
                &[source],
                get(source, |c| &c.records_out),
            );
            raise(&own.source_bytes, &[source], get(source, |c| &c.bytes));
            raise(
                &own.source_files,
                &[source, "done"],
                get(source, |c| &c.files_done),
            );
            raise(
                &own.source_files,
                &[source, "error"],
                get(source, |c| &c.files_error),
            );
            raise(
                &own.source_files,
                &[source, "lost"],
                get(source, |c| &c.files_lost),
            );
            if let Some(c) = components.get(source) {
                for (kind, n) in c.bad_by_kind() {
                    raise(&own.source_errors, &[source, &kind], n);
                }
            }
        }
        for (op, inputs) in &self.topology.operators {
            raise(&own.records, &[op], get(op, |c| &c.records_out));
            let records_in = inputs.iter().map(|i| get(i, |c| &c.records_out)).sum();
            raise(&own.records_in, &[op], records_in);
            raise(&own.late, &[op], get(op, |c| &c.late));
        }
        let complete = self.complete.load(Ordering::Relaxed);
        own.ready.set(i64::from(self.is_ready()));
        own.complete.set(i64::from(complete));
        match self.watermark() {
            Some(ns) => {
                own.event_time.set(ns as f64 / 1e9);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                own.lag.set(if complete {
                    0.0
                } else {
                    (now - ns as f64 / 1e9).max(0.0)
                });
            }
            None => {
                own.event_time.set(0.0);
                own.lag.set(0.0);
            }
        }
    }

    /// A scrape for the endpoint: [`Shared::render`], or the previous one
    /// if it is at most [`SCRAPE_REUSE`] old.
    pub(crate) fn scrape(&self) -> Result<Arc<Vec<u8>>, String> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, body)) = last.as_ref() {
            if at.elapsed() < SCRAPE_REUSE {
                return Ok(body.clone());
            }
        }
        let body = Arc::new(self.render()?);
        *last = Some((Instant::now(), body.clone()));
        Ok(body)
    }

    /// A scrape: the self-metrics refreshed, everything in the text format.
    pub(crate) fn render(&self) -> Result<Vec<u8>, String> {
        let own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&own);
        let families = self.registry.gather();
        drop(own);
        let mut out = Vec::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// One `prometheus` sink's registry and endpoint in this process. Started
/// by the engine before the dataflow, finished after it.
pub struct Exporter {
    id: String,
    config: PrometheusConfig,
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<http::Server>>,
}

impl Exporter {
    /// Registers the metrics and starts serving on `config.listen`.
    pub fn start(
        id: &str,
        config: &PrometheusConfig,
        topology: Topology,
        stats: Arc<Stats>,
    ) -> Result<Arc<Exporter>, String> {
        let listen = config.listen_addr().map_err(|e| format!("{id}: {e}"))?;
        let shared =
            Arc::new(Shared::new(config, topology, stats).map_err(|e| format!("{id}: {e}"))?);
        let server = http::Server::start(listen, shared.clone())
            .map_err(|e| format!("{id}: cannot listen on {listen}: {e}"))?;
        let addr = server.addr();
        eprintln!("{}", listen_notice(id, addr));
        Ok(Arc::new(Exporter {
            id: id.to_owned(),
            config: config.clone(),
            shared,
            addr,
            server: Mutex::new(Some(server)),
        }))
    }

    /// The address the endpoint is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Marks the dataflow as built and running (`/-/ready` answers 200).
    pub fn set_ready(&self) {
        self.shared.ready.store(true, Ordering::Relaxed);
    }

    /// The current values in the text format.
    pub fn render(&self) -> Result<Vec<u8>, String> {
        self.shared.render()
    }

    /// Ends the sink after the run: when it succeeded, pushes the final
    /// values (if configured) and keeps serving for `hold`; then stops the
    /// endpoint. An error is a failed push.
    pub fn finish(&self, succeeded: bool) -> Result<(), String> {
        self.shared.complete.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        if succeeded {
            if let Some(url) = &self.config.push_gateway {
                result = self.push(url);
            }
            let hold = std::time::Duration::from_nanos(self.config.hold.0);
            if !hold.is_zero() {
                eprintln!(
                    "{}: data done; serving final values on http://{}/metrics for {} (or until Ctrl-C)",
                    self.id, self.addr, self.config.hold
                );
                // Until the hold ends or SIGINT/SIGTERM asks to stop.
                let until = std::time::Instant::now() + hold;
                while std::time::Instant::now() < until && !netanom_records::shutdown::requested() {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        self.stop();
        result
    }

    /// Stops the endpoint (idempotent).
    pub fn stop(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            server.stop();
        }
    }

    fn push(&self, url: &str) -> Result<(), String> {
        let url = HttpUrl::parse(url).map_err(|e| format!("{}: push_gateway: {e}", self.id))?;
        let body = self.render().map_err(|e| format!("{}: {e}", self.id))?;
        let path = format!("{}/metrics/job/{}", url.path, self.config.job);
        http::put(&url, &path, &body).map_err(|e| {
            format!(
                "{}: push to http://{}{path} failed: {e}",
                self.id, url.authority
            )
        })
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The line printed when the endpoint starts; it says so when the
/// address is reachable from other machines (not loopback).
pub(crate) fn listen_notice(id: &str, addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("{id}: serving metrics on http://{addr}/metrics")
    } else {
        format!(
            "{id}: serving metrics on http://{addr}/metrics, reachable beyond this machine (listen is not a loopback address)"
        )
    }
}
