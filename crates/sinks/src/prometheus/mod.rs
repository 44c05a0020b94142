//! `prometheus`: serves metrics in the Prometheus text format.
//!
//! Three parts:
//! - [`PrometheusConfig`] and the Timely operators (this file): one
//!   capability-free operator per input, counting on each worker and adding
//!   its counts to shared counters once per activation (no records move
//!   between workers, no lock per record).
//! - [`Exporter`] (`exporter.rs`): one per sink and process; owns the
//!   `prometheus::Registry`, refreshes the pipeline's self-metrics from
//!   [`netanom_records::stats::Stats`] at each scrape, pushes to a
//!   Pushgateway.
//! - `http.rs`: the endpoint (`/metrics`, `/-/healthy`, `/-/ready`) on its
//!   own threads, with bounded requests.
//!
//! **Adding metrics for a new record kind** (as was done for degree and
//! k-means scores): add
//! the kind to [`ACCEPTS`], its metric families to `exporter::Traffic`, and
//! a `build_*` function here following [`PrometheusConfig::build_windows`];
//! label values that come from traffic (IPs) go through
//! `exporter::LabelBound` so that they stay bounded.

mod exporter;
mod http;

pub use exporter::{Exporter, Topology};

use crate::Consumed;
use netanom_records::doc::ConfigProblem;
use netanom_records::{
    DegreeRecord, Duration, Packet, Protocol, Record, RecordKind, Scored, Time, WindowRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::Stream;

/// The record kinds the sink turns into metrics.
pub const ACCEPTS: &[RecordKind] = &[
    RecordKind::Packet,
    RecordKind::Window,
    RecordKind::Degree,
    RecordKind::Scored,
    RecordKind::Motif,
];

/// Serves metrics for Prometheus at `http://LISTEN/metrics` (text format),
/// with `/-/healthy` and `/-/ready` (ready once the dataflow runs). From
/// packet inputs: `netanom_packets_total` and `netanom_bytes_total` per
/// source and protocol; from window inputs: window records, packets, bytes
/// and the newest window end per operator. Always: the pipeline's own
/// figures (records per operator, files and bad input per source,
/// event-time watermark, lag, workers, build info). Inputs may mix record
/// kinds. Protocol label values are bounded by `max_series`. From degree
/// inputs: `netanom_degree{operator,ip,direction}`, the in- and out-degree
/// of the ten addresses with the highest degree in the last closed window.
/// From scored inputs (k-means output), per operator:
/// `netanom_scored_records_total`, `netanom_anomalies_total` (records with
/// anomaly=true), the histogram `netanom_anomaly_score` (score = distance /
/// threshold, so 1 is the anomaly line; buckets 0.25 to 16) and
/// `netanom_kmeans_cluster_size{operator,cluster}`, the records assigned to
/// each cluster since the start (cumulative: they sum to the scored
/// records).
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Address and port to serve on. Port 0 takes any free port (the
    /// address is printed on stderr). Binding other than loopback exposes
    /// the metrics to the network, and says so on stderr.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Most distinct protocol label values per source; packets of further
    /// protocols are counted under `protocol="other"`. Values are admitted
    /// in the order they are first seen. Also the most cluster label values
    /// per k-means input (further clusters: `cluster="other"`).
    #[serde(default = "default_max_series")]
    pub max_series: usize,
    /// How long to keep serving after the data is done, so that a scrape
    /// sees the final values (Ctrl-C ends the run early).
    #[serde(default)]
    pub hold: Duration,
    /// A Pushgateway (`http://host:port`) to push the final values to when
    /// the run ends, for jobs that end before a scrape.
    #[serde(default)]
    pub push_gateway: Option<String>,
    /// The `job` name under which values are pushed.
    #[serde(default = "default_job")]
    pub job: String,
}

fn default_listen() -> String {
    "127.0.0.1:9898".to_owned()
}

fn default_max_series() -> usize {
    100
}

fn default_job() -> String {
    "netanom".to_owned()
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            listen: default_listen(),
            max_series: default_max_series(),
            hold: Duration::default(),
            push_gateway: None,
            job: default_job(),
        }
    }
}

/// A parsed `http://host:port/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    /// `host:port` (port 80 when not given).
    pub authority: String,
    /// The path, without a trailing `/` (empty for the root).
    pub path: String,
}

impl HttpUrl {
    pub(crate) fn parse(url: &str) -> Result<HttpUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("`{url}` has no host (or has credentials)"));
        }
        let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !authority.ends_with(']')
        }) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        if authority
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!("`{url}` has an invalid port"));
        }
        if path.bytes().any(|b| b <= b' ' || b == b'?' || b == b'#') {
            return Err(format!(
                "`{url}`: the path must be plain (no spaces, query or fragment)"
            ));
        }
        Ok(HttpUrl {
            authority,
            path: path.trim_end_matches('/').to_owned(),
        })
    }
}

impl PrometheusConfig {
    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| {
            format!(
                "listen: `{}` is not an address and port like 127.0.0.1:9898",
                self.listen
            )
        })
    }

    /// Checks the address, the URL and the job name.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Err(e) = self.listen_addr() {
            problems.push(ConfigProblem::at("listen", e));
        }
        if self.max_series == 0 {
            problems.push(ConfigProblem::at(
                "max_series",
                "max_series: must be at least 1",
            ));
        }
        if let Some(url) = &self.push_gateway {
            if let Err(e) = HttpUrl::parse(url) {
                problems.push(ConfigProblem::at(
                    "push_gateway",
                    format!("push_gateway: {e}"),
                ));
            }
        }
        if self.job.is_empty()
            || !self
                .job
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            problems.push(ConfigProblem::at(
                "job",
                format!(
                    "job: `{}` must be letters, digits, `_`, `-` or `.`",
                    self.job
                ),
            ));
        }
        problems
    }

    /// Counts the packets of input `source` per protocol on each worker.
    pub fn build_packets<'s>(
        &self,
        name: &str,
        source: &str,
        input: Stream<'s, Time, Vec<Packet>>,
        exporter: &Arc<Exporter>,
    ) -> Consumed<'s> {
        let shared = exporter.shared();
        let progress = shared.input_progress();
        let source = source.to_owned();
        // Per worker: the counters of each protocol seen (a lookup in the
        // registry once per protocol), and this activation's sums.
        let mut handles: HashMap<Protocol, Option<exporter::Pair>> = HashMap::new();
        let mut pending: HashMap<Protocol, (u64, u64)> = HashMap::new();
        crate::terminal(
            input,
            Pipeline,
            &format!("{name}-{source}"),
            move |(handle, frontier)| {
                let mut newest = i64::MIN;
                handle.for_each(|_, batch| {
                    for p in batch.iter() {
                        let e = pending.entry(p.protocol).or_default();
                        e.0 += 1;
                        e.1 += u64::from(p.length);
                        newest = newest.max(p.ts.0);
                    }
                });
                for (protocol, (packets, bytes)) in pending.drain() {
                    let pair = handles
                        .entry(protocol)
                        .or_insert_with(|| shared.traffic.pair(&source, protocol.name()));
                    if let Some(pair) = pair {
                        pair.packets.inc_by(packets);
                        pair.bytes.inc_by(bytes);
                    }
                }
                progress.observe(frontier, newest);
            },
        )
    }

    /// Window figures of input `operator`: records, packets, bytes, newest
    /// window end.
    pub fn build_windows<'s>(
        &self,
        name: &str,
        operator: &str,
        input: Stream<'s, Time, Vec<WindowRecord>>,
        exporter: &Arc<Exporter>,
    ) -> Consumed<'s> {
        let shared = exporter.shared();
        let progress = shared.input_progress();
        let metrics = shared.traffic.windows(operator);
        crate::terminal(
            input,
            Pipeline,
            &format!("{name}-{operator}"),
            move |(handle, frontier)| {
                let (mut records, mut packets, mut bytes) = (0u64, 0u64, 0u64);
                let mut newest = i64::MIN;
                handle.for_each(|_, batch| {
                    for w in batch.iter() {
                        records += 1;
                        packets += w.count;
                        bytes += w.bytes;
                        newest = newest.max(w.window_end.0);
                    }
                });
                if let Some(m) = &metrics {
                    if records > 0 {
                        m.records.inc_by(records);
                        m.packets.inc_by(packets);
                        m.bytes.inc_by(bytes);
                        let end = newest as f64 / 1e9;
                        if end > m.end.get() {
                            m.end.set(end);
                        }
                    }
                }
                progress.observe(frontier, newest);
            },
        )
    }
}

/// Scores observed instead of larger or non-finite ones, so that the
/// histogram's sum stays finite.
const SCORE_CAP: f64 = 1e9;

impl PrometheusConfig {
    /// K-means figures of scored input `operator`, counted on each worker
    /// (records stay where they are): scored records, anomalies, the score
    /// histogram (one lock-free observation per record) and the cumulative
    /// cluster sizes, added once per activation.
    pub fn build_scored<'s, R>(
        &self,
        name: &str,
        operator: &str,
        input: Stream<'s, Time, Vec<Scored<R>>>,
        exporter: &Arc<Exporter>,
    ) -> Consumed<'s>
    where
        R: Record + Clone + 'static,
    {
        let shared = exporter.shared();
        let progress = shared.input_progress();
        // Created here, so that the series exist (at 0) before any record.
        let metrics = shared.traffic.scored(operator);
        let operator = operator.to_owned();
        let mut gauges: HashMap<u32, Option<prometheus::IntGauge>> = HashMap::new();
        let mut sizes: HashMap<u32, i64> = HashMap::new();
        crate::terminal(
            input,
            Pipeline,
            &format!("{name}-{operator}"),
            move |(handle, frontier)| {
                let (mut records, mut anomalies) = (0u64, 0u64);
                let mut newest = i64::MIN;
                handle.for_each(|_, batch| {
                    for s in batch.iter() {
                        records += 1;
                        anomalies += u64::from(s.anomaly);
                        *sizes.entry(s.cluster).or_default() += 1;
                        newest = newest.max(s.event_time().0);
                        if let Some(m) = &metrics {
                            let score = if s.score.is_finite() {
                                s.score.min(SCORE_CAP)
                            } else {
                                SCORE_CAP
                            };
                            m.score.observe(score);
                        }
                    }
                });
                if let Some(m) = &metrics {
                    if records > 0 {
                        m.scored.inc_by(records);
                        m.anomalies.inc_by(anomalies);
                    }
                }
                for (cluster, n) in sizes.drain() {
                    let gauge = gauges
                        .entry(cluster)
                        .or_insert_with(|| shared.traffic.cluster_size(&operator, cluster));
                    if let Some(g) = gauge {
                        g.add(n);
                    }
                }
                progress.observe(frontier, newest);
            },
        )
    }
}

impl PrometheusConfig {
    /// Motif matches of input `operator`, per pattern, counted on each
    /// worker and added once per activation (`netanom_motif_matches_total`).
    pub fn build_motifs<'s>(
        &self,
        name: &str,
        operator: &str,
        input: Stream<'s, Time, Vec<netanom_records::MotifRecord>>,
        exporter: &Arc<Exporter>,
    ) -> Consumed<'s> {
        let shared = exporter.shared();
        let progress = shared.input_progress();
        let patterns = [
            netanom_records::motif::MotifPattern::Reciprocal,
            netanom_records::motif::MotifPattern::FanOut,
            netanom_records::motif::MotifPattern::FanIn,
        ];
        // Created here, so that the series exist (at 0) before any match.
        let counters: Vec<_> = patterns
            .iter()
            .map(|p| (*p, shared.traffic.motif_matches(operator, p.name())))
            .collect();
        crate::terminal(
            input,
            Pipeline,
            &format!("{name}-{operator}"),
            move |(handle, frontier)| {
                let mut counts = [0u64; 3];
                let mut newest = i64::MIN;
                handle.for_each(|_, batch| {
                    for m in batch.iter() {
                        if let Some(i) = patterns.iter().position(|p| *p == m.pattern) {
                            counts[i] += 1;
                        }
                        newest = newest.max(m.event_time().0);
                    }
                });
                for ((_, counter), n) in counters.iter().zip(counts) {
                    if let (Some(c), true) = (counter, n > 0) {
                        c.inc_by(n);
                    }
                }
                progress.observe(frontier, newest);
            },
        )
    }
}

/// Addresses exported per degree operator (`netanom_degree`).
const DEGREE_TOP: usize = 10;

impl PrometheusConfig {
    /// Degree figures of input `operator`: on worker 0, the top
    /// [`DEGREE_TOP`] addresses of the newest window once it is complete.
    pub fn build_degrees<'s>(
        &self,
        name: &str,
        operator: &str,
        input: Stream<'s, Time, Vec<DegreeRecord>>,
        exporter: &Arc<Exporter>,
    ) -> Consumed<'s> {
        let shared = exporter.shared();
        let progress = shared.input_progress();
        let operator = operator.to_owned();
        // Rows by Timely time until the frontier passes it.
        let mut pending: std::collections::BTreeMap<Time, Vec<DegreeRecord>> = Default::default();
        // The label values set last, removed when a newer window replaces them.
        let mut shown: Vec<String> = Vec::new();
        crate::terminal(
            input,
            timely::dataflow::channels::pact::Exchange::new(|_: &DegreeRecord| 0),
            &format!("{name}-{operator}"),
            move |(handle, frontier)| {
                let mut newest = i64::MIN;
                handle.for_each(|cap, batch| {
                    let time = cap.least().copied().unwrap_or_default();
                    for r in batch.iter() {
                        newest = newest.max(r.window_end.0);
                    }
                    pending.entry(time).or_default().append(batch);
                });
                let mut complete: Option<Vec<DegreeRecord>> = None;
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    complete = Some(entry.remove());
                }
                if let Some(mut rows) = complete.filter(|rows| !rows.is_empty()) {
                    // The newest window of the newest complete time.
                    let last = rows
                        .iter()
                        .map(|r| r.window_start)
                        .max()
                        .unwrap_or_default();
                    rows.retain(|r| r.window_start == last);
                    rows.sort_by(|a, b| b.degree().cmp(&a.degree()).then_with(|| a.ip.cmp(&b.ip)));
                    rows.truncate(DEGREE_TOP);
                    for ip in shown.drain(..) {
                        for direction in ["in", "out"] {
                            let _ = shared
                                .traffic
                                .degree
                                .remove_label_values(&[&operator, &ip, direction]);
                        }
                    }
                    for r in rows {
                        let ip = r.ip.to_string();
                        for (direction, value) in [("in", r.in_degree), ("out", r.out_degree)] {
                            if let Ok(g) = shared
                                .traffic
                                .degree
                                .get_metric_with_label_values(&[&operator, &ip, direction])
                            {
                                g.set(value as f64);
                            }
                        }
                        shown.push(ip);
                    }
                }
                progress.observe(frontier, newest);
            },
        )
    }
}

#[cfg(test)]
mod tests;
