//! Scoring: the [`Scorer`] every worker holds (the model, as broadcast),
//! the scorers operator of `mode: train`, and the operator of
//! `mode: score`.

use super::features::{dims, extract};
use super::messages::{EpochPartial, ToScorers, ToTrainer};
use super::threshold::{kept, largest, Threshold};
use super::{Feature, KmeansConfig};
use crate::kmeans_model::{Model, Partial};
use crate::kmeans_pca::Pca;
use crate::kmeans_store;
use netanom_records::checkpoint::Checkpoints;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::{Record, Scored, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::progress::Antichain;
use timely::ExchangeData;

/// Everything scoring needs; the same on every worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Scorer {
    pub(super) model: Model,
    /// `pca: N`: the projection from feature slots to the model's space.
    pub(super) pca: Option<Pca>,
    /// Per one-hot feature (in feature order), its categories.
    pub(super) vocab: Vec<Vec<String>>,
    pub(super) threshold: f64,
}

/// Scratch space for scoring.
#[derive(Default)]
struct Buffers {
    raw: Vec<f64>,
    x: Vec<f64>,
    scratch: Vec<f64>,
}

impl Scorer {
    /// Scores `records`; with `partial`, adds them to it, and with
    /// `distances`, collects their distances.
    fn score<R: Record>(
        &self,
        features: &[Feature],
        records: Vec<R>,
        mut partial: Option<&mut Partial>,
        mut distances: Option<&mut Vec<f64>>,
        b: &mut Buffers,
    ) -> Vec<Scored<R>> {
        let d = self.model.dims();
        b.raw.resize(dims(features, &self.vocab), 0.0);
        b.x.resize(d, 0.0);
        b.scratch.resize(d, 0.0);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            extract(features, &self.vocab, &r, &mut b.raw);
            match &self.pca {
                Some(p) => p.project(&b.raw, &mut b.x),
                None => b.x.copy_from_slice(&b.raw),
            }
            let (cluster, distance) = match partial.as_deref_mut() {
                Some(p) => self.model.score_and_add(&b.x, &mut b.scratch, p),
                None => {
                    self.model.standardize(&b.x, &mut b.scratch);
                    self.model.nearest(&b.scratch)
                }
            };
            if let Some(v) = distances.as_deref_mut() {
                v.push(distance);
            }
            out.push(scored(r, cluster, distance, self.threshold));
        }
        out
    }
}

pub(super) fn scored<R>(record: R, cluster: usize, distance: f64, threshold: f64) -> Scored<R> {
    let distance = if distance.is_finite() { distance } else { 0.0 };
    let threshold = if threshold.is_finite() {
        threshold.max(1e-12)
    } else {
        1e-12
    };
    Scored {
        record,
        cluster: u32::try_from(cluster).unwrap_or(u32::MAX),
        distance,
        score: distance / threshold,
        anomaly: distance > threshold,
    }
}

/// What the scorers emit: scored records, and what goes to the trainer.
type ScorerOutput<R> = Vec<Result<Scored<R>, ToTrainer<R>>>;

/// The scoring half, on every worker: each epoch's records are scored
/// where they are, with the model the trainer broadcast after the epochs
/// before; each worker then sends the trainer its statistics of the epoch
/// (or, before the model exists, the records themselves, for warmup).
pub(super) fn scorers<'s, R: Record + ExchangeData>(
    name: &str,
    input: Stream<'s, Time, Vec<R>>,
    models: Stream<'s, Time, Vec<ToScorers>>,
    features: Vec<Feature>,
    quantile: Option<f64>,
    component: Arc<ComponentStats>,
) -> Stream<'s, Time, ScorerOutput<R>> {
    let mut builder = OperatorBuilder::new(format!("{name}-score"), input.scope());
    let mut records = builder.new_input(input, Pipeline);
    let mut models_in = builder.new_input(models, Pipeline);
    // Model messages only say when an epoch may be scored: the input is not
    // connected to the output, or the cycle through the trainer would hold
    // the output frontier one tick at a time.
    let (output, stream) = builder.new_output_connection([(0usize, Antichain::from_elem(0u64))]);
    let mut output = OutputBuilder::<
        Time,
        CapacityContainerBuilder<Vec<Result<Scored<R>, ToTrainer<R>>>>,
    >::from(output);
    builder.build(move |_initial| {
        let mut stash: BTreeMap<Time, (Capability<Time>, Vec<R>)> = BTreeMap::new();
        let mut messages: BTreeMap<Time, Vec<ToScorers>> = BTreeMap::new();
        let mut scorer: Option<Scorer> = None;
        // Set by the trainer's first message.
        let mut resume_before: Option<Time> = None;
        let mut buffers = Buffers::default();
        move |frontiers| {
            records.for_each(|cap, batch| {
                if let Some(&t) = cap.least() {
                    let entry = stash
                        .entry(t)
                        .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                    entry.1.append(batch);
                }
            });
            models_in.for_each(|cap, batch| {
                for m in batch.drain(..) {
                    match m {
                        ToScorers::Init {
                            resume_before: r,
                            scorer: s,
                        } => {
                            if resume_before.is_none() {
                                resume_before = Some(r);
                                scorer = s.map(|b| *b);
                            }
                        }
                        ToScorers::Model(s) => {
                            if let Some(&t) = cap.least() {
                                messages.entry(t).or_default().push(ToScorers::Model(s));
                            }
                        }
                    }
                }
            });
            let (records_frontier, models_frontier) = (&frontiers[0], &frontiers[1]);
            let mut out = output.activate();
            while let Some(entry) = stash.first_entry() {
                let t = *entry.key();
                // Every record of `t` is here, and every model of a time
                // before it (a model made at epoch `e` arrives at `e + 1`).
                if records_frontier.less_equal(&t) || models_frontier.less_equal(&t) {
                    break;
                }
                let Some(resume) = resume_before else {
                    break;
                };
                while let Some(m) = messages.first_entry() {
                    if *m.key() > t {
                        break;
                    }
                    for msg in m.remove() {
                        if let ToScorers::Model(s) = msg {
                            scorer = Some(*s);
                        }
                    }
                }
                let (cap, records) = entry.remove();
                if t < resume || records.is_empty() {
                    continue;
                }
                let mut session = out.session(&cap);
                match &scorer {
                    None => {
                        session.give_iterator(records.into_iter().map(|r| Err(ToTrainer::Warm(r))))
                    }
                    Some(s) => {
                        let mut partial = Partial::new(&s.model);
                        let mut distances = quantile.map(|_| Vec::with_capacity(records.len()));
                        let scored = s.score(
                            &features,
                            records,
                            Some(&mut partial),
                            distances.as_mut(),
                            &mut buffers,
                        );
                        ComponentStats::add(&component.records_out, scored.len() as u64);
                        session.give_iterator(scored.into_iter().map(Ok));
                        let top = match (quantile, distances) {
                            (Some(q), Some(d)) => largest(d, kept(q)),
                            _ => Vec::new(),
                        };
                        session.give(Err(ToTrainer::Partial(Box::new(EpochPartial {
                            stats: partial,
                            top,
                        }))));
                    }
                }
            }
            // Models that no epoch still to come predates are applied now,
            // so that messages do not pile up between epochs.
            if resume_before.is_some() {
                let next = stash
                    .keys()
                    .next()
                    .copied()
                    .into_iter()
                    .chain(records_frontier.frontier().iter().copied())
                    .min();
                while let Some(m) = messages.first_entry() {
                    // Not before every model older than it is in, either.
                    if next.is_some_and(|n| *m.key() > n) || models_frontier.less_than(m.key()) {
                        break;
                    }
                    for msg in m.remove() {
                        if let ToScorers::Model(s) = msg {
                            scorer = Some(*s);
                        }
                    }
                }
            }
        }
    });
    stream
}

/// `mode: score`: every worker loads the model and scores its own
/// records with it; nothing crosses workers and nothing changes.
pub(super) fn score_mode<'s, R: Record + ExchangeData>(
    config: &KmeansConfig,
    name: &str,
    input: Stream<'s, Time, Vec<R>>,
    features: Vec<Feature>,
    stats: Arc<Stats>,
    checkpoints: Option<Arc<Checkpoints>>,
) -> Stream<'s, Time, Vec<Scored<R>>> {
    let id = name.to_owned();
    if input.scope().index() == 0 {
        for w in config.score_mode_warnings() {
            eprintln!("netanom: warning: {id}: {w}");
        }
    }
    let loaded: Result<Scorer, String> = match &config.model_path {
        Some(path) => kmeans_store::load(path, &features)
            .map_err(|e| format!("model_path `{}`: {e}", path.display()))
            .and_then(|l| config.check_loaded(&l).map(|()| l))
            .map(|l| Scorer {
                model: l.model,
                pca: l.pca,
                vocab: l.vocab,
                threshold: match config.given_threshold() {
                    Some(Threshold::Value(v)) => v,
                    _ => l.threshold,
                },
            }),
        None => Err("mode: score needs model_path".into()),
    };
    // Replayed times before a checkpoint were scored by the last run.
    let resume_before = checkpoints.as_ref().map_or(0, |c| c.resume_before());
    let component = stats.component(name);
    input.unary::<CapacityContainerBuilder<Vec<Scored<R>>>, _, _, _>(
        Pipeline,
        name,
        move |_cap, _info| {
            let scorer = match loaded {
                Ok(s) => Some(s),
                Err(e) => {
                    stats.fail(format!("{id}: {e}"));
                    None
                }
            };
            let mut buffers = Buffers::default();
            move |input, output| {
                input.for_each(|cap, batch| {
                    let (Some(&t), Some(s)) = (cap.least(), scorer.as_ref()) else {
                        return;
                    };
                    if t < resume_before {
                        return;
                    }
                    let records = std::mem::take(batch);
                    let scored = s.score(&features, records, None, None, &mut buffers);
                    ComponentStats::add(&component.records_out, scored.len() as u64);
                    output.session(&cap).give_iterator(scored.into_iter());
                });
            }
        },
    )
}
