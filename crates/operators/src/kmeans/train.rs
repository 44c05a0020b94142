//! Training, on worker 0: warmup, the merge of every worker's statistics
//! into the model after each epoch, the model sent back to every worker,
//! checkpoints and `model_path`.

use super::features::{dims, extract, vocabulary};
use super::messages::{EpochPartial, ToScorers, ToTrainer};
use super::score::{scored, Scorer};
use super::state::{Running, Snapshot, SnapshotRef};
use super::threshold::{kept, largest, Recent, Threshold};
use super::{Feature, KmeansConfig};
use crate::kmeans_model::{Model, Partial};
use crate::kmeans_pca::Pca;
use crate::kmeans_store::{self, SavedModel};
use netanom_records::checkpoint::Checkpoints;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::{Record, Scored, Time};
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// What the trainer emits: scored warmup records, and models.
type TrainerOutput<R> = Vec<Result<Scored<R>, ToScorers>>;

/// The training half, on worker 0: warmup (k-means++ on the first records,
/// which it also scores), then per epoch the merge of every worker's
/// statistics into the model, which goes back to every worker. Worker 0
/// also keeps the checkpoint state and writes `model_path`.
pub(super) fn trainer<'s, R: Record + ExchangeData>(
    name: &str,
    input: Stream<'s, Time, Vec<ToTrainer<R>>>,
    config: KmeansConfig,
    features: Vec<Feature>,
    tick: u64,
    stats: Arc<Stats>,
    checkpoints: Option<Arc<Checkpoints>>,
) -> Stream<'s, Time, TrainerOutput<R>> {
    let leader = input.scope().index() == 0;
    // Checkpoints: the state is kept on worker 0.
    let checkpoints = checkpoints.filter(|_| leader);
    let resume_before = checkpoints.as_ref().map_or(0, |c| c.resume_before());
    let resumed: Option<Result<Snapshot<R>, String>> = checkpoints
        .as_ref()
        .and_then(|c| c.operator_resume(name))
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                format!("its state in the checkpoint is damaged ({e}); move state_dir away to start over")
            })
        });
    let component = stats.component(name);
    let id = name.to_owned();
    input.unary_frontier::<CapacityContainerBuilder<Vec<Result<Scored<R>, ToScorers>>>, _, _, _>(
        Exchange::new(|_: &ToTrainer<R>| 0u64),
        &format!("{name}-train"),
        move |cap, _info| {
            let mut state = Trainer::new(config, features, tick);
            let mut failed = false;
            match resumed {
                Some(Ok(snapshot)) => state.restore(snapshot),
                Some(Err(e)) => {
                    stats.fail(format!("{id}: {e}"));
                    failed = true;
                }
                None => {}
            }
            // Worker 0 sends the first message at once; other workers'
            // trainers never receive anything.
            let mut hold: Option<Capability<Time>> = leader.then_some(cap);
            let mut init_sent = false;
            let mut saved_at_commit = 0u64;
            let mut ended = false;
            let mut stash: BTreeMap<Time, (Capability<Time>, Vec<ToTrainer<R>>)> = BTreeMap::new();
            move |(input, frontier), output| {
                if let (Some(h), false) = (hold.as_ref(), init_sent) {
                    init_sent = true;
                    output.session(h).give(Err(ToScorers::Init {
                        resume_before,
                        scorer: state.scorer().map(Box::new),
                    }));
                }
                input.for_each(|cap, batch| {
                    if let Some(&t) = cap.least() {
                        let entry = stash
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                        entry.1.append(batch);
                    }
                });
                while let Some(entry) = stash.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let t = *entry.key();
                    let (cap, messages) = entry.remove();
                    // Epochs before the checkpoint are in the restored
                    // state already (their records are a replay).
                    if failed || t < resume_before {
                        continue;
                    }
                    let mut warm = Vec::new();
                    let mut partials = Vec::new();
                    for m in messages {
                        match m {
                            ToTrainer::Warm(r) => warm.push(r),
                            ToTrainer::Partial(p) => partials.push(*p),
                        }
                    }
                    let result = state.epoch(t, warm, partials);
                    match result {
                        Ok((scored, changed)) => {
                            ComponentStats::add(&component.records_out, scored.len() as u64);
                            let mut session = output.session(&cap);
                            session.give_iterator(scored.into_iter().map(Ok));
                            if changed {
                                if let Some(s) = state.scorer() {
                                    session.give(Err(ToScorers::Model(Box::new(s))));
                                }
                            }
                        }
                        Err(e) => {
                            stats.fail(format!("{id}: {e}"));
                            failed = true;
                        }
                    }
                    if let Some(c) = &checkpoints {
                        match serde_json::to_value(state.snapshot()) {
                            Ok(v) => c.operator_snapshot(&id, t, v),
                            Err(e) => {
                                stats.fail(format!("{id}: cannot save its state: {e}"));
                                failed = true;
                            }
                        }
                    }
                }
                if let Some(c) = &checkpoints {
                    let before = frontier.frontier().iter().min().copied();
                    c.operator_progress(&id, before.unwrap_or(Time::MAX));
                    // A checkpoint was written since the model file was:
                    // write the model too, so a long follow run keeps a
                    // current model_path.
                    let commits = c.commits();
                    if commits > saved_at_commit && !failed {
                        saved_at_commit = commits;
                        if let Err(e) = state.save() {
                            stats.fail(format!("{id}: {e}"));
                            failed = true;
                        }
                    }
                }
                match frontier.frontier().iter().min() {
                    Some(&least) => {
                        // While warming, a capability follows the input
                        // frontier (the warmup's records are emitted when
                        // the model starts, or at the end), so flow
                        // control never waits for this operator.
                        if let Some(h) = hold.as_mut() {
                            if least > *h.time() {
                                h.downgrade(&least);
                            }
                        }
                        if !state.warming() {
                            hold = None;
                        }
                    }
                    None if !ended && leader => {
                        // Input done: train on what warmup has, if
                        // anything, then save the model, once.
                        ended = true;
                        if let (Some(h), false) = (hold.take(), failed) {
                            match state.finish() {
                                Ok(scored) => {
                                    ComponentStats::add(
                                        &component.records_out,
                                        scored.len() as u64,
                                    );
                                    output.session(&h).give_iterator(scored.into_iter().map(Ok));
                                }
                                Err(e) => {
                                    stats.fail(format!("{id}: {e}"));
                                    failed = true;
                                }
                            }
                        }
                        if !failed {
                            if let Err(e) = state.save() {
                                stats.fail(format!("{id}: {e}"));
                            }
                        }
                    }
                    None => hold = None,
                }
            }
        },
    )
}

/// The trainer's state on worker 0.
struct Trainer<R> {
    config: KmeansConfig,
    features: Vec<Feature>,
    tick: u64,
    /// Records waiting for the model (warmup), in epoch then sort-key order.
    warm: Vec<R>,
    run: Option<Running>,
}

impl<R: Record> Trainer<R> {
    fn new(config: KmeansConfig, features: Vec<Feature>, tick: u64) -> Self {
        Trainer {
            config,
            features,
            tick,
            warm: Vec::new(),
            run: None,
        }
    }

    /// The state to checkpoint.
    fn snapshot(&self) -> SnapshotRef<'_, R> {
        SnapshotRef {
            warm: &self.warm,
            model: self.run.as_ref(),
        }
    }

    /// The state of a checkpoint.
    fn restore(&mut self, snapshot: Snapshot<R>) {
        self.warm = snapshot.warm;
        self.run = snapshot.model;
    }

    /// The model to score with, once there is one.
    fn scorer(&self) -> Option<Scorer> {
        self.run.as_ref().map(|r| r.scorer.clone())
    }

    /// With `model_path`: writes the current model (nothing when there
    /// is none, an empty input).
    fn save(&self) -> Result<(), String> {
        let (Some(path), Some(run)) = (&self.config.model_path, &self.run) else {
            return Ok(());
        };
        let s = &run.scorer;
        let saved = SavedModel::new(
            &self.features,
            &s.vocab,
            &s.model,
            s.pca.as_ref(),
            s.threshold,
            self.config.threshold_text(),
            self.config.seed,
        );
        kmeans_store::save(path, &saved).map_err(|e| format!("model_path: {e}"))
    }

    fn warming(&self) -> bool {
        self.run.is_none()
    }

    /// Epoch `t`: its warmup records (while there is no model) or the
    /// workers' statistics of it. Returns the warmup records once scored
    /// (when the model starts), and whether the model changed.
    fn epoch(
        &mut self,
        t: Time,
        mut warm: Vec<R>,
        partials: Vec<EpochPartial>,
    ) -> Result<(Vec<Scored<R>>, bool), String> {
        if self.run.is_none() {
            if warm.is_empty() {
                return Ok((Vec::new(), false));
            }
            // Sort-key order: the same whichever workers sent them.
            let mut key = Vec::new();
            let mut keyed: Vec<(Vec<u8>, R)> = warm
                .drain(..)
                .map(|r| {
                    key.clear();
                    r.sort_key(&mut key);
                    (key.clone(), r)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            self.warm.extend(keyed.into_iter().map(|(_, r)| r));
            if self.warm.len() < self.config.warmup {
                return Ok((Vec::new(), false));
            }
            return self.start(t).map(|s| (s, true));
        }
        if partials.is_empty() {
            return Ok((Vec::new(), false));
        }
        let config = &self.config;
        let tick = self.tick;
        let Some(run) = self.run.as_mut() else {
            return Ok((Vec::new(), false));
        };
        let model = &mut run.scorer.model;
        let mut merged = Partial::new(model);
        let mut top = Vec::new();
        for p in &partials {
            merged.merge(&p.stats)?;
            top.extend_from_slice(&p.top);
        }
        // Forgetting since the last update.
        let elapsed = t.saturating_sub(run.last) as f64;
        let discount = match (config.decay, config.half_life) {
            (Some(decay), _) => decay.powf(elapsed / tick as f64),
            (None, Some(h)) => 0.5f64.powf(elapsed / h.nanos().max(1) as f64),
            (None, None) => 1.0,
        };
        model.update(&merged, discount);
        run.last = t;
        if let Some(Threshold::Quantile(q)) = config.threshold_rule() {
            run.recent.push(merged.records(), largest(top, kept(q)), q);
            run.scorer.threshold = run.recent.quantile(q);
        }
        Ok((Vec::new(), true))
    }

    /// Trains on the warmup records at epoch `t` and scores them.
    fn start(&mut self, t: Time) -> Result<Vec<Scored<R>>, String> {
        let warm = std::mem::take(&mut self.warm);
        let vocab = vocabulary(&self.features, &warm);
        let d = dims(&self.features, &vocab);
        let mut data = vec![0.0; warm.len() * d];
        for (r, row) in warm.iter().zip(data.chunks_exact_mut(d)) {
            extract(&self.features, &vocab, r, row);
        }
        let c = &self.config;
        let (pca, data, d) = match c.pca {
            Some(n) => {
                let p = Pca::fit(&data, d, n)?;
                let mut projected = vec![0.0; warm.len() * n];
                for (row, out) in data.chunks_exact(d).zip(projected.chunks_exact_mut(n)) {
                    p.project(row, out);
                }
                (Some(p), projected, n)
            }
            None => (None, data, d),
        };
        let model = Model::train(&data, d, c.k, c.seed, c.n_init, c.max_iter)?;
        let mut scratch = vec![0.0; d];
        let distances: Vec<(usize, f64)> = data
            .chunks_exact(d)
            .map(|x| {
                model.standardize(x, &mut scratch);
                model.nearest(&scratch)
            })
            .collect();
        let mut recent = Recent::default();
        let threshold = match c.threshold_rule() {
            None => 0.0,
            Some(Threshold::Value(v)) => v,
            Some(Threshold::Farthest(n)) => {
                let sorted = largest(distances.iter().map(|p| p.1).collect(), n);
                sorted.last().copied().unwrap_or(0.0)
            }
            Some(Threshold::Quantile(q)) => {
                let all: Vec<f64> = distances.iter().map(|p| p.1).collect();
                recent.push(all.len() as u64, largest(all, kept(q)), q);
                recent.quantile(q)
            }
        };
        let out = warm
            .into_iter()
            .zip(distances)
            .map(|(r, (cluster, distance))| scored(r, cluster, distance, threshold))
            .collect();
        self.run = Some(Running {
            scorer: Scorer {
                model,
                pca,
                vocab,
                threshold,
            },
            recent,
            last: t,
        });
        Ok(out)
    }

    /// The input ended: train on a short warmup, if there is one.
    fn finish(&mut self) -> Result<Vec<Scored<R>>, String> {
        if self.run.is_some() || self.warm.is_empty() {
            return Ok(Vec::new());
        }
        let n = self.warm.len();
        if n < self.config.k {
            return Err(format!(
                "the input ended after {n} records, fewer than k = {}: no model, nothing scored",
                self.config.k
            ));
        }
        self.start(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::tests::{config, record, run_dataflow};
    use netanom_records::field::Field;
    use netanom_records::WindowRecord;

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let c = config("{k: 3, warmup: 20, features: [count]}");
        let features = c.resolve().unwrap_or_default();
        let mut s = Trainer::new(c.clone(), features, 1);
        assert!(s
            .epoch(1, vec![record(0, 1), record(1, 2)], Vec::new())
            .is_ok());
        assert!(s.finish().is_err());
        let mut s: Trainer<WindowRecord> =
            Trainer::new(c.clone(), vec![Feature::Num(Field::Count)], 1);
        assert!(s.finish().map(|v| v.is_empty()).unwrap_or(false));
        // Through the dataflow: a failure, no panic, nothing scored.
        let (out, failures) = run_dataflow(&c, 2, &[(1, vec![record(0, 1), record(1, 2)])]);
        assert!(out.is_empty());
        assert!(
            failures.iter().any(|f| f.contains("fewer than k = 3")),
            "{failures:?}"
        );
    }
}
