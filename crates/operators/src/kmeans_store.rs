//! The `kmeans` model file (`model_path`): JSON with everything scoring
//! needs (feature spec, one-hot categories, standardization, centroids,
//! threshold), written atomically, read back with every size and number
//! checked so a corrupt or truncated file is an error, never a panic.

use crate::kmeans::Feature;
use crate::kmeans_model::{Model, Parts};
use crate::kmeans_pca::Pca;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` value of a model file.
pub const FORMAT: &str = "netanom-kmeans";

/// The `version` this build writes and reads.
pub const VERSION: u32 = 1;

/// Model files larger than this are refused (a model is a few kB; 64 MiB
/// holds k = 10000 centroids of 100 features).
const MAX_BYTES: u64 = 64 << 20;

/// A saved model, as it is in the JSON file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// The file layout's version, [`VERSION`].
    pub version: u32,
    /// The features, as [`feature_spec`] writes them (`log1p(count)`).
    pub features: Vec<String>,
    /// Per one-hot feature, in feature order, its categories (the slot
    /// after them is `other`).
    pub categories: Vec<Vec<String>>,
    /// Number of centroids.
    pub k: usize,
    /// The seed the model was trained with.
    pub seed: u64,
    /// The rule the threshold came from (`farthest 1`), for people.
    pub threshold_rule: String,
    /// The anomaly threshold on the distance.
    pub threshold: f64,
    /// The (decayed) number of records behind the standardization.
    pub records: f64,
    /// Per feature slot, the standardization mean.
    pub mean: Vec<f64>,
    /// Per feature slot, the standardization variance.
    pub variance: Vec<f64>,
    /// `pca: N`: the projection the centroids live in (then they have
    /// `N` coordinates, in projected units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<Pca>,
    /// The centroids, in raw feature units, one list per centroid.
    pub centroids: Vec<Vec<f64>>,
    /// The weight (decayed count) of each centroid.
    pub weights: Vec<f64>,
}

/// How a feature is written in a model file: `count`, `log1p(count)`,
/// `onehot(protocol)`.
pub fn feature_spec(f: Feature) -> String {
    match f {
        Feature::Num(field) => field.name().to_string(),
        Feature::Log1p(field) => format!("log1p({})", field.name()),
        Feature::OneHot(field) => format!("onehot({})", field.name()),
    }
}

/// A model ready to score: the numeric model, the one-hot categories and
/// the threshold.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The centroids and standardization.
    pub model: Model,
    /// Per one-hot feature, its categories.
    pub vocab: Vec<Vec<String>>,
    /// The anomaly threshold on the distance.
    pub threshold: f64,
    /// The projection of `pca: N`, if any.
    pub pca: Option<Pca>,
}

impl SavedModel {
    /// The file's contents for a trained model.
    pub fn new(
        features: &[Feature],
        vocab: &[Vec<String>],
        model: &Model,
        pca: Option<&Pca>,
        threshold: f64,
        threshold_rule: String,
        seed: u64,
    ) -> SavedModel {
        let p = model.parts();
        SavedModel {
            format: FORMAT.into(),
            version: VERSION,
            features: features.iter().map(|f| feature_spec(*f)).collect(),
            categories: vocab.to_vec(),
            k: p.k,
            seed,
            threshold_rule,
            threshold,
            records: p.n,
            mean: p.mean,
            variance: p.variance,
            pca: pca.cloned(),
            centroids: p.centers.chunks(p.d.max(1)).map(<[f64]>::to_vec).collect(),
            weights: p.weights,
        }
    }

    /// Checks the model against the configured `features` and builds it.
    pub fn into_loaded(self, features: &[Feature]) -> Result<Loaded, String> {
        if self.format != FORMAT {
            return Err(format!("not a {FORMAT} model (format `{}`)", self.format));
        }
        if self.version != VERSION {
            return Err(format!(
                "model format version {}, this build reads version {VERSION}",
                self.version
            ));
        }
        let wanted: Vec<String> = features.iter().map(|f| feature_spec(*f)).collect();
        if self.features != wanted {
            return Err(format!(
                "the model's features [{}] differ from the pipeline's [{}]",
                self.features.join(", "),
                wanted.join(", ")
            ));
        }
        let onehots = features
            .iter()
            .filter(|f| matches!(f, Feature::OneHot(_)))
            .count();
        if self.categories.len() != onehots {
            return Err(format!(
                "{} category lists for {onehots} one-hot features",
                self.categories.len()
            ));
        }
        let slots = crate::kmeans::dims(features, &self.categories);
        let d = match &self.pca {
            Some(p) => {
                p.check()?;
                if p.d != slots {
                    return Err(format!(
                        "pca: the projection takes {} feature slots, the features give {slots}",
                        p.d
                    ));
                }
                p.n
            }
            None => slots,
        };
        if self.centroids.len() != self.k || self.centroids.iter().any(|c| c.len() != d) {
            return Err(format!(
                "the centroids are not k ({}) lists of {d} numbers",
                self.k
            ));
        }
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err("threshold: not a number >= 0".into());
        }
        let model = Model::from_parts(Parts {
            k: self.k,
            d,
            centers: self.centroids.concat(),
            weights: self.weights,
            mean: self.mean,
            variance: self.variance,
            n: self.records,
        })?;
        Ok(Loaded {
            model,
            vocab: self.categories,
            threshold: self.threshold,
            pca: self.pca,
        })
    }
}

/// Reads and checks a model file. The error says what is wrong, without
/// the path (the caller adds it).
pub fn load(path: &Path, features: &[Feature]) -> Result<Loaded, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "{} bytes: larger than a model can be ({MAX_BYTES})",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let saved: SavedModel =
        serde_json::from_str(&text).map_err(|e| format!("not a valid model file: {e}"))?;
    saved.into_loaded(features)
}

/// Writes `model` to `path` atomically: `PATH.partial` (its directory
/// created if needed), then a rename.
pub fn save(path: &Path, model: &SavedModel) -> Result<(), String> {
    let json = serde_json::to_string_pretty(model).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".partial");
    std::fs::write(&tmp, json + "\n")
        .map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot rename to `{}`: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netanom_records::Field;

    fn sample() -> (Vec<Feature>, SavedModel) {
        let features = vec![
            Feature::Log1p(Field::Count),
            Feature::OneHot(Field::Protocol),
        ];
        let vocab = vec![vec!["TCP".to_string(), "UDP".to_string()]];
        // 4 dimensions: log1p(count), TCP, UDP, other.
        let data = [
            1.0, 1.0, 0.0, 0.0, 1.1, 0.0, 1.0, 0.0, 5.0, 1.0, 0.0, 0.0, 5.2, 0.0, 0.0, 1.0,
        ];
        let model = Model::train(&data, 4, 2, 3, 2, 50).unwrap_or_else(|e| panic!("{e}"));
        let saved = SavedModel::new(&features, &vocab, &model, None, 1.5, "value 1.5".into(), 3);
        (features, saved)
    }

    #[test]
    fn save_load_round_trip() {
        let (features, saved) = sample();
        let dir = std::env::temp_dir().join(format!("netanom-kmeans-store-{}", std::process::id()));
        let path = dir.join("sub/model.json");
        save(&path, &saved).unwrap_or_else(|e| panic!("{e}"));
        assert!(!dir.join("sub/model.json.partial").exists());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let back: SavedModel = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, saved);
        let loaded = load(&path, &features).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.threshold, 1.5);
        assert_eq!(loaded.model.k(), 2);
        // Other features: refused.
        let err = load(&path, &[Feature::Num(Field::Count)])
            .err()
            .unwrap_or_default();
        assert!(err.contains("differ"), "{err}");
        // Every truncation is an error, not a panic.
        for cut in (0..text.len()).step_by(7) {
            std::fs::write(&path, &text[..cut]).unwrap_or_default();
            assert!(load(&path, &features).is_err(), "cut at {cut}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn inconsistent_models_are_errors() {
        let (features, saved) = sample();
        let mut m = saved.clone();
        m.centroids[1].pop();
        assert!(m.into_loaded(&features).is_err());
        let mut m = saved.clone();
        m.categories.clear();
        assert!(m.into_loaded(&features).is_err());
        let mut m = saved.clone();
        m.weights.push(1.0);
        assert!(m.into_loaded(&features).is_err());
        let mut m = saved.clone();
        m.version = 99;
        assert!(m.into_loaded(&features).is_err());
        let mut m = saved.clone();
        m.threshold = -1.0;
        assert!(m.into_loaded(&features).is_err());
        let mut m = saved;
        m.variance[0] = -2.0;
        assert!(m.into_loaded(&features).is_err());
    }
}
