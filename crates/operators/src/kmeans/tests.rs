//! The operator end to end: options, and whole dataflows on 1, 2 and 4
//! workers. Helpers are shared with the other files' tests.

use super::*;
use netanom_records::{Addr, GroupKey, Ts, WindowRecord};

pub(super) fn config(yaml: &str) -> KmeansConfig {
    netanom_records::doc::parse_options(serde_yaml::from_str(yaml).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn parses_features_and_threshold() {
    let c = config(
        "{k: 2, warmup: 4, features: [count, {log1p: bytes}, {onehot: protocol}], threshold: {quantile: 0.99}}",
    );
    assert_eq!(
        c.resolve().ok(),
        Some(vec![
            Feature::Num(Field::Count),
            Feature::Log1p(Field::Bytes),
            Feature::OneHot(Field::Protocol)
        ])
    );
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert_eq!(c.threshold.rule(), Some(Threshold::Quantile(0.99)));
}

#[test]
fn bad_configs() {
    let c = config("{k: 5, warmup: 4, features: [nope, {sqrt: count}]}");
    // Unknown field, unknown transform, k > warmup, farthest > warmup.
    assert_eq!(c.validate().len(), 4, "{:?}", c.validate());
    let c = config("{k: 2, features: [src, count]}");
    let p = c.check_fields(&WindowRecord::fields(&[Field::Src]));
    assert_eq!(p.len(), 1, "{p:?}");
    let p = c.check_fields(&WindowRecord::fields(&[]));
    assert_eq!(p.len(), 1, "{p:?}");
}

pub(super) fn record(i: u64, count: u64) -> WindowRecord {
    WindowRecord {
        window_start: Ts(i as i64),
        window_end: Ts(i as i64 + 1),
        key: GroupKey {
            src: Addr::V4([10, 0, 0, (i % 200) as u8].into()),
            ..Default::default()
        },
        count,
        ..Default::default()
    }
}

/// A scored record as the test saw it: (worker, time, record).
pub(super) type Emitted = (usize, Time, Scored<WindowRecord>);

/// Runs the operator on `workers` workers of one process with tick 1:
/// epoch `t`'s records enter at Timely time `t`, record `i` of an
/// epoch on worker `i % workers`. Returns (worker that emitted it,
/// time, scored record), sorted by time and sort key, and the
/// failures.
pub(super) fn run_dataflow(
    config: &KmeansConfig,
    workers: usize,
    epochs: &[(Time, Vec<WindowRecord>)],
) -> (Vec<Emitted>, Vec<String>) {
    use timely::dataflow::operators::vec::Input;
    use timely::dataflow::operators::Inspect;
    let epochs = Arc::new(epochs.to_vec());
    let config = config.clone();
    let stats = Stats::new();
    let out = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (worker_stats, worker_out) = (stats.clone(), out.clone());
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let sink = worker_out.clone();
        let config = config.clone();
        let stats = worker_stats.clone();
        let mut input = worker.dataflow::<Time, _, _>(move |scope| {
            let (input, stream) = scope.new_input::<WindowRecord>();
            config
                .build("km", stream, 1, stats, None)
                .inspect_core(move |event| {
                    if let Ok((stamp, data)) = event {
                        let t = stamp.least().copied().unwrap_or_default();
                        let mut v = sink.lock().unwrap_or_else(|e| e.into_inner());
                        v.extend(data.iter().map(|r| (index, t, r.clone())));
                    }
                });
            input
        });
        for (t, records) in epochs.iter() {
            input.advance_to(*t);
            for (i, r) in records.iter().enumerate() {
                if i % peers == index {
                    input.send(r.clone());
                }
            }
            worker.step();
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    for r in guards.join() {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    let mut v = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    let key = |r: &Scored<WindowRecord>| {
        let mut k = Vec::new();
        r.sort_key(&mut k);
        k
    };
    v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| key(&a.2).cmp(&key(&b.2))));
    (v, stats.failures())
}

/// `n` records of epoch `t` in three groups, with a few outliers.
fn traffic(t: Time, n: u64, rng: &mut crate::kmeans_model::SplitMix64) -> Vec<WindowRecord> {
    (0..n)
        .map(|i| {
            let group = rng.next_u64() % 3;
            let outlier = rng.next_u64().is_multiple_of(97);
            let mut r = record(t * 10_000 + i, 0);
            r.count = 10 + group * 40 + rng.next_u64() % 7 + if outlier { 900 } else { 0 };
            r.bytes = r.count * (60 + group * 400) + rng.next_u64() % 100;
            r.distinct_dports = (1 + group * 3 + rng.next_u64() % 2) as u32;
            r
        })
        .collect()
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn models_scores_and_flags_agree_on_1_2_and_4_workers() {
    let dir = std::env::temp_dir().join(format!("netanom-kmeans-workers-{}", std::process::id()));
    let mut rng = crate::kmeans_model::SplitMix64::new(5);
    let epochs: Vec<(Time, Vec<WindowRecord>)> = (1..=25)
        .map(|t| (t, traffic(t, 150 + t * 3, &mut rng)))
        .collect();
    let total: usize = epochs.iter().map(|e| e.1.len()).sum();
    for threshold in ["{quantile: 0.95}", "{farthest: 5}"] {
        let mut runs = Vec::new();
        for workers in [1, 2, 4] {
            let model = dir.join(format!("w{workers}.json"));
            let c = config(&format!(
                "{{k: 3, warmup: 300, seed: 3, n_init: 2, decay: 0.8, threshold: {threshold}, features: [count, len_avg, {{log1p: distinct_dports}}], model_path: {}}}",
                model.display()
            ));
            let (out, failures) = run_dataflow(&c, workers, &epochs);
            assert!(failures.is_empty(), "{failures:?}");
            assert_eq!(out.len(), total, "{workers} workers");
            // The records really were scored on every worker (warmup
            // records by worker 0, the others where they are).
            let mut emitted = vec![0usize; workers];
            for (w, _, _) in &out {
                emitted[*w] += 1;
            }
            assert!(emitted.iter().all(|&n| n > 500), "{workers}: {emitted:?}");
            let saved: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&model).unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{e}"));
            runs.push((workers, out, saved));
        }
        let (_, one, model_one) = &runs[0];
        assert!(
            one.iter().any(|r| r.2.anomaly),
            "{threshold}: nothing flagged"
        );
        assert!(one.iter().any(|r| !r.2.anomaly));
        for (workers, out, model) in &runs[1..] {
            for (a, b) in one.iter().zip(out) {
                assert_eq!(a.1, b.1);
                assert_eq!(a.2.record, b.2.record);
                assert_eq!(a.2.cluster, b.2.cluster, "{workers}: {a:?} {b:?}");
                assert!(
                    rel_close(a.2.distance, b.2.distance),
                    "{workers}: {a:?} {b:?}"
                );
                assert!(rel_close(a.2.score, b.2.score), "{workers}: {a:?} {b:?}");
                assert_eq!(a.2.anomaly, b.2.anomaly, "{workers}: {a:?} {b:?}");
            }
            for key in ["mean", "variance", "weights", "threshold", "centroids"] {
                let flat = |v: &serde_json::Value| -> Vec<f64> {
                    match v {
                        serde_json::Value::Array(a) => a.iter().flat_map(flat_numbers).collect(),
                        other => other.as_f64().into_iter().collect(),
                    }
                };
                let (x, y) = (flat(&model_one[key]), flat(&model[key]));
                assert_eq!(x.len(), y.len(), "{key}");
                assert!(!x.is_empty(), "{key}");
                for (p, q) in x.iter().zip(&y) {
                    assert!(
                        rel_close(*p, *q),
                        "{threshold}, {workers} workers, {key}: {p} vs {q}"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn flat_numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(flat_numbers).collect(),
        other => other.as_f64().into_iter().collect(),
    }
}

#[test]
fn a_record_is_scored_with_the_model_of_the_epoch_before_its_own() {
    // k = 1 on `count`; warmup: counts 1..=20 around 10.5. Epoch 2:
    // ten records at 100, scored with the warmup model: far. The
    // update forgets nearly everything (decay 1e-9), so the model
    // after epoch 2 sits at 100: a record at 100 in epoch 3 is at
    // distance about 0. Scored with its own epoch's model, epoch 2's records
    // would be near 0 too; with the warmup model, epoch 3's far.
    let c = config(
        "{k: 1, warmup: 20, n_init: 1, decay: 1e-9, threshold: {value: 3}, features: [count]}",
    );
    let warm: Vec<WindowRecord> = (0..20).map(|i| record(i, i + 1)).collect();
    let second: Vec<WindowRecord> = (100..110).map(|i| record(i, 100)).collect();
    let third = vec![record(200, 100)];
    for workers in [1, 2] {
        let (out, failures) = run_dataflow(
            &c,
            workers,
            &[(1, warm.clone()), (2, second.clone()), (3, third.clone())],
        );
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(out.len(), 31);
        for (_, t, r) in &out {
            match t {
                1 => assert!(r.distance < 2.0 && !r.anomaly, "{r:?}"),
                2 => assert!(r.distance > 10.0 && r.anomaly, "{r:?}"),
                // Not quite 0: the 1e-9 of the warmup kept.
                _ => assert!(r.distance < 1e-3 && !r.anomaly, "{r:?}"),
            }
        }
    }
}

#[test]
fn score_mode_warns_about_training_options_and_checks_pca() {
    let c = config("{mode: score, model_path: m.json, k: 4, seed: 2, features: [count], threshold: {farthest: 3}}");
    let w = c.score_mode_warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("k, seed have no effect"), "{w:?}");
    assert!(w[1].contains("saved threshold is used"), "{w:?}");
    let c = config("{mode: score, model_path: m.json, features: [count], threshold: {value: 2}}");
    assert!(c.score_mode_warnings().is_empty());
    assert_eq!(c.given_threshold(), Some(Threshold::Value(2.0)));
    let c = config("{features: [count]}");
    assert!(c.score_mode_warnings().is_empty());
    assert_eq!(c.given_threshold(), None);
    assert_eq!(c.threshold_rule(), Some(Threshold::Farthest(100)));
}

#[test]
fn warmup_then_incremental_scoring_flags_outliers() {
    let c =
        config("{k: 2, warmup: 20, features: [count, {onehot: src}], threshold: {farthest: 1}}");
    let first: Vec<_> = (0..20).map(|i| record(i, 10 + i % 3)).collect();
    let (out, failures) = run_dataflow(
        &c,
        2,
        &[(1, first), (2, vec![record(1, 11), record(300, 5000)])],
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(out.len(), 22);
    assert!(out[..20]
        .iter()
        .all(|r| !r.2.anomaly && r.2.distance.is_finite()));
    let normal = out.iter().find(|r| r.1 == 2 && r.2.record.count == 11);
    let outlier = out.iter().find(|r| r.1 == 2 && r.2.record.count == 5000);
    assert!(normal.is_some_and(|r| !r.2.anomaly), "{normal:?}");
    assert!(
        outlier.is_some_and(|r| r.2.anomaly && r.2.score > 1.0),
        "{outlier:?}"
    );
}
