//! The `prometheus` sinks' process-wide part: their exporters (registry and
//! HTTP endpoint) start before the dataflow and finish after it; on each
//! worker, each input of the sink gets its own counting operator, so the
//! metrics know which input a record came from.

use crate::flow::Flow;
use crate::{EngineError, RunOptions};
use netanom_config::{Component, Pipeline};
use netanom_records::stats::Stats;
use netanom_records::Time;
use netanom_sinks::prometheus::{Exporter, Topology};
use netanom_sinks::SinkConfig;
use std::collections::HashMap;
use std::sync::Arc;
use timely::dataflow::operators::{Concatenate, Probe};
use timely::dataflow::{ProbeHandle, Scope};

/// The exporters of a run, by sink id.
#[derive(Clone, Default)]
pub(crate) struct Monitors(Vec<(String, Arc<Exporter>)>);

impl Monitors {
    /// Starts one exporter per `prometheus` sink (binding its port).
    pub(crate) fn start(
        pipeline: &Pipeline,
        stats: &Arc<Stats>,
        opts: &RunOptions,
    ) -> Result<Monitors, EngineError> {
        let topology = Topology {
            sources: pipeline.sources.iter().map(|s| s.id.clone()).collect(),
            operators: pipeline
                .operators
                .iter()
                .map(|o| (o.id.clone(), o.inputs.clone()))
                .collect(),
            workers: opts.workers.max(1) * opts.processes.max(1),
        };
        let mut started = Monitors::default();
        for sink in &pipeline.sinks {
            if let SinkConfig::Prometheus(config) = &sink.config {
                match Exporter::start(&sink.id, config, topology.clone(), stats.clone()) {
                    Ok(e) => started.0.push((sink.id.clone(), e)),
                    Err(e) => {
                        started.finish(false);
                        return Err(EngineError::Runtime(e));
                    }
                }
            }
        }
        Ok(started)
    }

    /// The exporter of sink `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<Exporter>> {
        self.0.iter().find(|(i, _)| i == id).map(|(_, e)| e)
    }

    /// The dataflow is built and running.
    pub(crate) fn set_ready(&self) {
        for (_, e) in &self.0 {
            e.set_ready();
        }
    }

    /// After the run: push and hold (if it succeeded), then stop serving.
    /// Returns the failures (pushes that did not go through).
    pub(crate) fn finish(&self, succeeded: bool) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(_, e)| e.finish(succeeded).err())
            .collect()
    }
}

/// Attaches sink `sink` if it is a `prometheus` sink, to each of its inputs
/// separately, and probes their consumption (flow control). Returns
/// whether it was one.
pub(crate) fn attach<'s>(
    scope: Scope<'s, Time>,
    sink: &Component<SinkConfig>,
    flows: &HashMap<String, Flow<'s>>,
    monitors: &Monitors,
    probe: &ProbeHandle<Time>,
) -> bool {
    let SinkConfig::Prometheus(config) = &sink.config else {
        return false;
    };
    let Some(exporter) = monitors.get(&sink.id) else {
        return true;
    };
    let consumed: Vec<netanom_sinks::Consumed<'s>> = sink
        .inputs
        .iter()
        .filter_map(|input| Some((input, flows.get(input)?.clone())))
        .map(|(input, flow)| match flow {
            Flow::Packets(s) => config.build_packets(&sink.id, input, s, exporter),
            Flow::Windows(s) => config.build_windows(&sink.id, input, s, exporter),
            Flow::Degrees(s) => config.build_degrees(&sink.id, input, s, exporter),
            Flow::ScoredWindows(s) => config.build_scored(&sink.id, input, s, exporter),
            Flow::Motifs(s) => config.build_motifs(&sink.id, input, s, exporter),
        })
        .collect();
    if !consumed.is_empty() {
        scope.concatenate(consumed).probe_with(probe);
    }
    true
}
