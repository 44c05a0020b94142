//! Typed streams between components: one variant per record kind, so each
//! plugin gets a concrete `Stream` and the engine checks kinds once.

use netanom_operators::OperatorConfig;
use netanom_records::checkpoint::Checkpoints;
use netanom_records::stats::Stats;
use netanom_records::{DegreeRecord, Field, MotifRecord, Packet, Scored, Time, WindowRecord};
use netanom_sinks::SinkConfig;
use std::sync::Arc;
use timely::dataflow::operators::Concatenate;
use timely::dataflow::Stream;

/// A stream of one record kind.
#[derive(Clone)]
pub(crate) enum Flow<'s> {
    Packets(Stream<'s, Time, Vec<Packet>>),
    Windows(Stream<'s, Time, Vec<WindowRecord>>),
    Degrees(Stream<'s, Time, Vec<DegreeRecord>>),
    Motifs(Stream<'s, Time, Vec<MotifRecord>>),
    ScoredWindows(Stream<'s, Time, Vec<Scored<WindowRecord>>>),
}

impl<'s> Flow<'s> {
    /// Merges flows of one kind (validation guarantees they agree).
    pub(crate) fn concat(flows: impl Iterator<Item = Flow<'s>>) -> Option<Flow<'s>> {
        let flows: Vec<Flow<'s>> = flows.collect();
        let first = flows.first()?.clone();
        if flows.len() == 1 {
            return Some(first);
        }
        Some(match first {
            Flow::Packets(s) => {
                let scope = s.scope();
                Flow::Packets(scope.concatenate(flows.into_iter().filter_map(|f| match f {
                    Flow::Packets(s) => Some(s),
                    _ => None,
                })))
            }
            Flow::Windows(s) => {
                let scope = s.scope();
                Flow::Windows(scope.concatenate(flows.into_iter().filter_map(|f| match f {
                    Flow::Windows(s) => Some(s),
                    _ => None,
                })))
            }
            Flow::Degrees(s) => {
                let scope = s.scope();
                Flow::Degrees(scope.concatenate(flows.into_iter().filter_map(|f| match f {
                    Flow::Degrees(s) => Some(s),
                    _ => None,
                })))
            }
            Flow::Motifs(s) => {
                let scope = s.scope();
                Flow::Motifs(scope.concatenate(flows.into_iter().filter_map(|f| match f {
                    Flow::Motifs(s) => Some(s),
                    _ => None,
                })))
            }
            Flow::ScoredWindows(s) => {
                let scope = s.scope();
                Flow::ScoredWindows(scope.concatenate(flows.into_iter().filter_map(|f| match f {
                    Flow::ScoredWindows(s) => Some(s),
                    _ => None,
                })))
            }
        })
    }

    /// Applies an operator; `None` when it cannot take this kind (which
    /// validation rules out).
    pub(crate) fn operate(
        self,
        id: &str,
        config: &OperatorConfig,
        tick: u64,
        stats: &Arc<Stats>,
        checkpoints: &Option<Arc<Checkpoints>>,
    ) -> Option<Flow<'s>> {
        match (config, self) {
            (OperatorConfig::Window(w), Flow::Packets(s)) => {
                Some(Flow::Windows(w.build(id, s, tick, stats.component(id))))
            }
            (OperatorConfig::Window(_), Flow::Windows(_)) => None,
            (OperatorConfig::Anonymize(a), Flow::Packets(s)) => {
                Some(Flow::Packets(a.build(id, s, stats)))
            }
            (OperatorConfig::Anonymize(a), Flow::Windows(s)) => {
                Some(Flow::Windows(a.build(id, s, stats)))
            }
            (OperatorConfig::Degree(d), Flow::Packets(s)) => {
                Some(Flow::Degrees(d.build(id, s, tick, stats.component(id))))
            }
            (OperatorConfig::Degree(d), Flow::Windows(s)) => {
                Some(Flow::Degrees(d.build(id, s, tick, stats.component(id))))
            }
            (OperatorConfig::Degree(_), _) => None,
            (_, Flow::Degrees(_)) => None,
            (OperatorConfig::Motif(m), Flow::Packets(s)) => {
                Some(Flow::Motifs(m.build(id, s, tick, stats.component(id))))
            }
            (OperatorConfig::Motif(_), _) => None,
            (_, Flow::Motifs(_)) => None,
            (OperatorConfig::Kmeans(k), Flow::Windows(s)) => Some(Flow::ScoredWindows(k.build(
                id,
                s,
                tick,
                stats.clone(),
                checkpoints.clone(),
            ))),
            (OperatorConfig::Kmeans(_), _) => None,
            (_, Flow::ScoredWindows(_)) => None,
        }
    }

    /// Attaches a sink.
    pub(crate) fn sink(
        self,
        id: &str,
        config: &SinkConfig,
        fields: Vec<Field>,
        stats: &Arc<Stats>,
        checkpoints: &Option<Arc<Checkpoints>>,
    ) -> Option<netanom_sinks::Consumed<'s>> {
        let ck = || checkpoints.clone();
        Some(match (config, self) {
            (SinkConfig::File(f), Flow::Packets(s)) => f.build(id, s, fields, stats.clone(), ck()),
            (SinkConfig::File(f), Flow::Windows(s)) => f.build(id, s, fields, stats.clone(), ck()),
            (SinkConfig::Console(c), Flow::Packets(s)) => c.build(id, s),
            (SinkConfig::Console(c), Flow::Windows(s)) => c.build(id, s),
            (SinkConfig::File(f), Flow::Degrees(s)) => f.build(id, s, fields, stats.clone(), ck()),
            (SinkConfig::Console(c), Flow::Degrees(s)) => c.build(id, s),
            (SinkConfig::File(f), Flow::Motifs(s)) => f.build(id, s, fields, stats.clone(), ck()),
            (SinkConfig::Console(c), Flow::Motifs(s)) => c.build(id, s),
            (SinkConfig::File(f), Flow::ScoredWindows(s)) => {
                f.build(id, s, fields, stats.clone(), ck())
            }
            (SinkConfig::Console(c), Flow::ScoredWindows(s)) => c.build(id, s),
            // Wired per input by `monitor::attach`.
            (SinkConfig::Prometheus(_), _) => return None,
            (SinkConfig::Graph(g), Flow::Windows(s)) => g.build(id, s, stats.clone()),
            // Validation accepts window records only.
            (SinkConfig::Graph(_), _) => return None,
        })
    }
}
