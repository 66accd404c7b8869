//! The model as the engine serves it: loaded, checked and warmed before it
//! takes traffic, swapped atomically while the stream runs, with an
//! optional shadow that scores alongside and is never acted on.

use super::calibration::Calibration;
use super::drift::DriftMonitor;
use super::onnx::{ModelError, OnnxScorer};
use super::splits::FeatureSplits;
use super::{FeatureVector, FEATURE_COUNT, FEATURE_NAMES};
use crate::domain::Contribution;
use crate::duration::Span;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use xxhash_rust::xxh3::xxh3_64;

/// The topology's `model:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `models/<name>.onnx`; its card `<name>.json` sits beside it.
    pub path: PathBuf,
    /// A candidate scored on the same rows and recorded as `shadow_score`.
    #[serde(default)]
    pub shadow: Option<PathBuf>,
    /// libonnxruntime.so; else FD_ONNXRUNTIME, else `.venv-ort/`.
    #[serde(default)]
    pub runtime_library: Option<PathBuf>,
    /// Reload when the model or its card changes on disk.
    #[serde(default)]
    pub watch: bool,
    #[serde(default = "default_watch_interval")]
    pub watch_interval: Span,
    /// Features explained on REVIEW and BLOCK decisions (0: none).
    #[serde(default = "default_explain_top")]
    pub explain_top: usize,
    /// Rows per drift window.
    #[serde(default = "default_drift_window")]
    pub drift_window: u64,
}

fn default_watch_interval() -> Span {
    Span::secs(2)
}

fn default_explain_top() -> usize {
    3
}

fn default_drift_window() -> u64 {
    10_000
}

impl ModelConfig {
    pub fn at(path: impl Into<PathBuf>) -> ModelConfig {
        ModelConfig {
            path: path.into(),
            shadow: None,
            runtime_library: None,
            watch: false,
            watch_interval: default_watch_interval(),
            explain_top: default_explain_top(),
            drift_window: default_drift_window(),
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, path) in [("path", Some(&self.path)), ("shadow", self.shadow.as_ref())] {
            if let Some(path) = path {
                if path.extension().and_then(|ext| ext.to_str()) != Some("onnx") {
                    problems.push(format!("{key}: `{}` is not an .onnx file", path.display()));
                }
            }
        }
        if self.watch_interval.as_millis() < 100 {
            problems.push("watch_interval: at least 100ms".into());
        }
        if self.explain_top > FEATURE_COUNT {
            problems.push(format!("explain_top: at most {FEATURE_COUNT}"));
        }
        problems
    }
}

/// One model, ready to score.
pub struct LoadedModel {
    scorer: OnnxScorer,
    /// `<name>@<8 hex digits hashing the .onnx file and its card>`: a new
    /// graph or new thresholds always make a new version, whatever the card's
    /// name says.
    version: Arc<str>,
    calibration: Calibration,
    /// Typical training values, for explanations.
    medians: FeatureVector,
    /// Where the trees split each feature: an explanation skips a feature
    /// no split separates from its typical value (its contribution is 0).
    splits: Option<FeatureSplits>,
    drift: DriftMonitor,
}

impl LoadedModel {
    /// Loads, checks and warms a model; `review_risk`/`block_risk` are the
    /// rules' thresholds the model's calibrated thresholds map onto.
    pub fn load(
        config: &ModelConfig,
        path: &Path,
        risk_thresholds: (i32, i32),
        sessions: usize,
    ) -> Result<LoadedModel, ModelError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| ModelError::Load {
                path: path.to_owned(),
                detail: error.to_string(),
            })
        };
        let mut bytes = read(path)?;
        let scorer = OnnxScorer::load_sessions(path, config.runtime_library.as_deref(), sessions)?;
        let card = scorer.card().clone();
        let splits = FeatureSplits::read(&bytes, &card.onnx.input_name);
        bytes.extend(read(&path.with_extension("json"))?);
        let calibration = Calibration::new(card.thresholds, risk_thresholds.0, risk_thresholds.1)
            .ok_or_else(|| ModelError::Card {
            path: path.with_extension("json"),
            detail: format!(
                "thresholds review {} / block {} must satisfy 0 < review <= block < 1",
                card.thresholds.review, card.thresholds.block
            ),
        })?;
        let references = &card.reference_histograms;
        let mut medians = [0.0; FEATURE_COUNT];
        for (median, name) in medians.iter_mut().zip(FEATURE_NAMES) {
            if let Some(histogram) = references.features.get(name) {
                *median = histogram.median() as f32;
            }
        }
        let model = LoadedModel {
            version: format!("{}@{:08x}", card.name, xxh3_64(&bytes) >> 32).into(),
            drift: DriftMonitor::new(references, config.drift_window),
            scorer,
            calibration,
            medians,
            splits,
        };
        model.warm()?;
        Ok(model)
    }

    /// The runtime allocates on its first run: pay that before taking traffic,
    /// and refuse a model that cannot score at all.
    fn warm(&self) -> Result<(), ModelError> {
        let scores = self.scorer.score(&[self.medians])?;
        match scores.first() {
            Some(score) if score.is_finite() && (0.0..=1.0).contains(score) => Ok(()),
            other => Err(ModelError::Score {
                model: self.version.to_string(),
                detail: format!("warm-up returned {other:?}, not a probability"),
            }),
        }
    }

    pub fn version(&self) -> &Arc<str> {
        &self.version
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    pub fn drift(&self) -> &DriftMonitor {
        &self.drift
    }

    pub fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, ModelError> {
        self.scorer.score(rows)
    }

    /// Why the model scored `row` as it did: each feature replaced in turn
    /// by its typical training value, the score drop it causes (occlusion),
    /// the `top` largest by size. One runtime call for all the variants.
    pub fn explain(
        &self,
        row: &FeatureVector,
        score: f32,
        top: usize,
    ) -> Result<Vec<Contribution>, ModelError> {
        if top == 0 {
            return Ok(Vec::new());
        }
        let separated = |column: usize| {
            self.splits
                .as_ref()
                .is_none_or(|splits| splits.separate(column, row[column], self.medians[column]))
        };
        let changed: Vec<usize> = (0..FEATURE_COUNT)
            .filter(|&column| row[column] != self.medians[column] && separated(column))
            .collect();
        let variants: Vec<FeatureVector> = changed
            .iter()
            .map(|&column| {
                let mut variant = *row;
                variant[column] = self.medians[column];
                variant
            })
            .collect();
        let scores = self.scorer.score(&variants)?;
        let mut contributions: Vec<Contribution> = changed
            .iter()
            .zip(scores)
            .map(|(&column, without)| Contribution {
                feature: FEATURE_NAMES[column].to_owned(),
                value: row[column] as f64,
                typical: self.medians[column] as f64,
                contribution: round4((score - without) as f64),
            })
            .filter(|contribution| contribution.contribution != 0.0)
            .collect();
        contributions.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        contributions.truncate(top);
        Ok(contributions)
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// The model's view of one transaction, joined with the rules' verdict by
/// the engine. Holds the model that scored it, so the explanation and the
/// version always come from that model even if a swap happens meanwhile.
#[derive(Clone)]
pub struct ModelOpinion {
    pub score: f32,
    pub risk: i32,
    pub model: Arc<LoadedModel>,
    pub contributions: Vec<Contribution>,
    pub shadow: Option<(f32, Arc<str>)>,
}

impl std::fmt::Debug for ModelOpinion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelOpinion")
            .field("score", &self.score)
            .field("risk", &self.risk)
            .field("version", self.model.version())
            .field("contributions", &self.contributions)
            .field("shadow", &self.shadow)
            .finish()
    }
}

/// Counters the metrics read.
#[derive(Default)]
pub struct ModelStats {
    pub scored: AtomicU64,
    /// Batches the runtime failed to score: their decisions stand on the rules.
    pub failed_batches: AtomicU64,
    pub failed_rows: AtomicU64,
    pub shadow_scored: AtomicU64,
    /// Rows where the shadow's calibrated action differs from the primary's.
    pub shadow_disagreements: AtomicU64,
    pub explained: AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
}

/// What scores the traffic right now.
pub struct ModelSet {
    pub primary: Arc<LoadedModel>,
    pub shadow: Option<Arc<LoadedModel>>,
}

/// Holds the current [`ModelSet`]; a reload builds the next one off the hot
/// path and swaps the pointer, so a batch is scored wholly by one version.
pub struct ModelSlot {
    config: ModelConfig,
    risk_thresholds: (i32, i32),
    sessions: usize,
    current: RwLock<Arc<ModelSet>>,
    stats: ModelStats,
    swaps: AtomicU64,
    failed_reloads: AtomicU64,
    /// One reload at a time: two racing reloads would both load and warm.
    reloading: std::sync::Mutex<()>,
    /// Modification times the watcher compares against.
    loaded_stamp: RwLock<Vec<Option<SystemTime>>>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    pub from: String,
    pub to: String,
}

impl ModelSlot {
    pub fn load(
        config: &ModelConfig,
        risk_thresholds: (i32, i32),
        sessions: usize,
    ) -> Result<ModelSlot, ModelError> {
        let stamp = file_stamps(config);
        let set = build_set(config, risk_thresholds, sessions)?;
        Ok(ModelSlot {
            config: config.clone(),
            risk_thresholds,
            sessions,
            current: RwLock::new(Arc::new(set)),
            stats: ModelStats::default(),
            swaps: AtomicU64::new(0),
            failed_reloads: AtomicU64::new(0),
            reloading: std::sync::Mutex::new(()),
            loaded_stamp: RwLock::new(stamp),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn current(&self) -> Arc<ModelSet> {
        self.current
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub fn stats(&self) -> &ModelStats {
        &self.stats
    }

    /// One opinion per row, all from the same model version; `None` for
    /// every row when the runtime fails (the rules decide those alone, and
    /// the failure is counted and kept for the metrics).
    pub fn opinions(&self, rows: &[FeatureVector]) -> Vec<Option<ModelOpinion>> {
        let set = self.current();
        let scores = match set.primary.score(rows) {
            Ok(scores) => scores,
            Err(error) => {
                self.record_failure(rows.len(), error);
                return vec![None; rows.len()];
            }
        };
        set.primary.drift().record(rows, &scores);
        let shadow_scores = set.shadow.as_ref().and_then(|shadow| {
            let scores = shadow.score(rows).ok()?;
            shadow.drift().record(rows, &scores);
            Some((scores, shadow))
        });
        self.stats
            .scored
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        scores
            .iter()
            .enumerate()
            .map(|(row, &score)| {
                let calibration = set.primary.calibration();
                let shadow = shadow_scores.as_ref().map(|(scores, shadow)| {
                    self.compare_shadow(calibration.risk(score as f64), shadow, scores[row]);
                    (scores[row], shadow.version().clone())
                });
                Some(ModelOpinion {
                    score,
                    risk: calibration.risk(score as f64),
                    model: set.primary.clone(),
                    contributions: Vec::new(),
                    shadow,
                })
            })
            .collect()
    }

    /// The features behind an opinion; empty if the runtime fails.
    pub fn explain(&self, opinion: &ModelOpinion, row: &FeatureVector) -> Vec<Contribution> {
        match opinion
            .model
            .explain(row, opinion.score, self.config.explain_top)
        {
            Ok(contributions) => {
                self.stats.explained.fetch_add(1, Ordering::Relaxed);
                contributions
            }
            Err(error) => {
                self.record_failure(0, error);
                Vec::new()
            }
        }
    }

    fn compare_shadow(&self, primary_risk: i32, shadow: &LoadedModel, shadow_score: f32) {
        self.stats.shadow_scored.fetch_add(1, Ordering::Relaxed);
        let band = |risk: i32| {
            (risk >= self.risk_thresholds.0) as u8 + (risk >= self.risk_thresholds.1) as u8
        };
        if band(primary_risk) != band(shadow.calibration().risk(shadow_score as f64)) {
            self.stats
                .shadow_disagreements
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record_failure(&self, rows: usize, error: ModelError) {
        self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .failed_rows
            .fetch_add(rows as u64, Ordering::Relaxed);
        let message = error.to_string();
        tracing::warn!(error = %message, rows, "model scoring failed; the rules decide these rows alone");
        *self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(message);
    }

    /// Loads the configured files again (blocking: call it off the hot
    /// path); on any problem the running model stays and the error is returned.
    pub fn reload(&self) -> Result<Swapped, ModelError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let stamp = file_stamps(&self.config);
        let next =
            build_set(&self.config, self.risk_thresholds, self.sessions).inspect_err(|_| {
                self.failed_reloads.fetch_add(1, Ordering::Relaxed);
            })?;
        let to = next.primary.version().to_string();
        let previous = std::mem::replace(
            &mut *self
                .current
                .write()
                .unwrap_or_else(|poison| poison.into_inner()),
            Arc::new(next),
        );
        *self
            .loaded_stamp
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = stamp;
        self.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(Swapped {
            from: previous.primary.version().to_string(),
            to,
        })
    }

    /// Whether the files changed since the running set was loaded.
    pub fn changed_on_disk(&self) -> bool {
        let loaded = self
            .loaded_stamp
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        *loaded != file_stamps(&self.config)
    }

    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }

    pub fn failed_reloads(&self) -> u64 {
        self.failed_reloads.load(Ordering::Relaxed)
    }
}

/// Reloads on a blocking thread: loading and warming never run on the
/// async threads or the workers, which keep scoring with the old set.
pub async fn reload_off_hot_path(slot: Arc<ModelSlot>) -> Result<Swapped, ModelError> {
    let result = tokio::task::spawn_blocking(move || slot.reload())
        .await
        .map_err(|error| ModelError::Interrupted(error.to_string()))?;
    match &result {
        Ok(swapped) => tracing::info!(from = %swapped.from, to = %swapped.to, "model swapped"),
        Err(error) => tracing::error!(%error, "model reload refused; the running model stays"),
    }
    result
}

fn build_set(
    config: &ModelConfig,
    risk_thresholds: (i32, i32),
    sessions: usize,
) -> Result<ModelSet, ModelError> {
    let primary = LoadedModel::load(config, &config.path, risk_thresholds, sessions)?;
    let shadow = config
        .shadow
        .as_deref()
        .map(|path| LoadedModel::load(config, path, risk_thresholds, sessions))
        .transpose()?;
    Ok(ModelSet {
        primary: Arc::new(primary),
        shadow: shadow.map(Arc::new),
    })
}

/// Modification times of every file a set is built from.
fn file_stamps(config: &ModelConfig) -> Vec<Option<SystemTime>> {
    let mut paths = vec![config.path.clone(), config.path.with_extension("json")];
    if let Some(shadow) = &config.shadow {
        paths.push(shadow.clone());
        paths.push(shadow.with_extension("json"));
    }
    paths
        .iter()
        .map(|path| {
            std::fs::metadata(path)
                .and_then(|meta| meta.modified())
                .ok()
        })
        .collect()
}
