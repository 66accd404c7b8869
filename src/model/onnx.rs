//! Scores feature vectors with a gradient-boosted tree ensemble in ONNX,
//! through ONNX Runtime loaded at start from a shared library (`ort`'s
//! `load-dynamic`): the PyPI `onnxruntime` wheel's, installed by
//! `scripts/install-onnxruntime.sh`, or the one `FD_ONNXRUNTIME` names.

use super::calibration::ProbabilityThresholds;
use super::reference::References;
use super::{spec_hash, FeatureVector, FEATURE_COUNT, FEATURE_NAMES};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("no ONNX Runtime library found: run scripts/install-onnxruntime.sh or set FD_ONNXRUNTIME to libonnxruntime.so (looked in {looked})")]
    RuntimeNotFound { looked: String },
    #[error("ONNX Runtime at {path} cannot be used: {detail}")]
    Runtime { path: PathBuf, detail: String },
    #[error("model card {path}: {detail}")]
    Card { path: PathBuf, detail: String },
    #[error("model {model} was trained on feature spec {trained}, this engine computes {engine}: retrain it with `fraud-detector features`")]
    SpecMismatch {
        model: String,
        trained: String,
        engine: String,
    },
    #[error("model {path}: {detail}")]
    Load { path: PathBuf, detail: String },
    #[error("model reload did not finish: {0}")]
    Interrupted(String),
    #[error("scoring with {model} failed: {detail}")]
    Score { model: String, detail: String },
}

/// The JSON card written beside each model by `training/train.py`.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelCard {
    pub name: String,
    pub feature_names: Vec<String>,
    pub feature_spec_hash: String,
    pub onnx: OnnxInterface,
    /// Probability thresholds for REVIEW and BLOCK, chosen on validation data.
    pub thresholds: ProbabilityThresholds,
    #[serde(default)]
    pub created_at: Option<String>,
    /// The training window's histograms, for drift and explanations.
    #[serde(default)]
    pub reference_histograms: References,
}

/// The graph's tensor names, as the training script exported them.
#[derive(Debug, Clone, Deserialize)]
pub struct OnnxInterface {
    pub input_name: String,
    /// `[N, 2]` class probabilities; column 1 is fraud.
    pub probabilities_output: String,
}

impl ModelCard {
    pub fn read(path: &Path) -> Result<ModelCard, ModelError> {
        let card_error = |detail: String| ModelError::Card {
            path: path.to_owned(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|error| card_error(error.to_string()))?;
        serde_json::from_str(&text).map_err(|error| card_error(error.to_string()))
    }

    /// A model scores only the features it was trained on, in that order.
    fn check(&self) -> Result<(), ModelError> {
        let engine = spec_hash();
        if self.feature_spec_hash != engine || self.feature_names != FEATURE_NAMES {
            return Err(ModelError::SpecMismatch {
                model: self.name.clone(),
                trained: self.feature_spec_hash.clone(),
                engine,
            });
        }
        Ok(())
    }
}

pub struct OnnxScorer {
    card: ModelCard,
    /// `Session::run` takes `&mut self`: one session per worker, so workers
    /// scoring at the same time do not queue behind one lock.
    sessions: Vec<Mutex<Session>>,
}

impl OnnxScorer {
    /// Loads and checks `models/<name>.onnx` beside its `<name>.json` card.
    pub fn load(model: &Path, runtime: Option<&Path>) -> Result<OnnxScorer, ModelError> {
        OnnxScorer::load_sessions(model, runtime, 1)
    }

    /// As `load`, with `sessions` independent sessions of the same model.
    pub fn load_sessions(
        model: &Path,
        runtime: Option<&Path>,
        sessions: usize,
    ) -> Result<OnnxScorer, ModelError> {
        let card = ModelCard::read(&model.with_extension("json"))?;
        card.check()?;
        let environment = environment(runtime)?;
        let load_error = |detail: String| ModelError::Load {
            path: model.to_owned(),
            detail,
        };
        let sessions = (0..sessions.max(1))
            .map(|_| {
                Session::builder(environment)
                    .and_then(|builder| builder.with_intra_threads(1).map_err(Into::into))
                    .and_then(|mut builder| builder.commit_from_file(model))
                    .map(Mutex::new)
                    .map_err(|error| load_error(error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OnnxScorer { card, sessions })
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The probability of fraud for each row, in one call to the runtime.
    pub fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let score_error = |detail: String| ModelError::Score {
            model: self.card.name.clone(),
            detail,
        };
        // The rows are already one contiguous [rows × features] block: lend it.
        let input = TensorRef::from_array_view(([rows.len(), FEATURE_COUNT], rows.as_flattened()))
            .map_err(|error| score_error(error.to_string()))?;
        let mut session = self.free_session();
        let outputs = session
            .run(ort::inputs![self.card.onnx.input_name.as_str() => input])
            .map_err(|error| score_error(error.to_string()))?;
        let probabilities = outputs
            .get(&self.card.onnx.probabilities_output)
            .ok_or_else(|| {
                score_error(format!(
                    "no output named {}",
                    self.card.onnx.probabilities_output
                ))
            })?;
        let (shape, values) = probabilities
            .try_extract_tensor::<f32>()
            .map_err(|error| score_error(error.to_string()))?;
        // [rows, 2]: the second column is the fraud class.
        let columns = shape.get(1).copied().unwrap_or(1).max(1) as usize;
        Ok(values.chunks(columns).map(|row| row[columns - 1]).collect())
    }
}

impl OnnxScorer {
    /// An idle session if there is one, else waits for the first.
    fn free_session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.sessions
            .iter()
            .find_map(|session| session.try_lock().ok())
            .unwrap_or_else(|| {
                self.sessions[0]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            })
    }
}

/// The one ONNX Runtime environment of the process, created on first use.
fn environment(runtime: Option<&Path>) -> Result<&'static Environment, ModelError> {
    static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
    let path = runtime_library(runtime)?;
    let created = ENVIRONMENT.get_or_init(|| {
        ort::init_from(&path)
            .map_err(|error| error.to_string())
            .and_then(|builder| {
                builder
                    .with_name("fraud-detector")
                    .with_telemetry(false)
                    .build()
                    .map_err(|error| error.to_string())
            })
    });
    created.as_ref().map_err(|detail| ModelError::Runtime {
        path,
        detail: detail.clone(),
    })
}

/// An explicit path, then `FD_ONNXRUNTIME`, then the wheel installed by
/// `scripts/install-onnxruntime.sh` under the working directory or beside the binary.
pub fn runtime_library(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(path) = explicit
        .map(Path::to_owned)
        .or_else(|| std::env::var_os("FD_ONNXRUNTIME").map(PathBuf::from))
        // An empty setting (FD_ONNXRUNTIME= in a shell) means "not set".
        .filter(|path| !path.as_os_str().is_empty())
    {
        return Ok(path);
    }
    let mut roots = vec![PathBuf::from(".")];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned))
    {
        roots.extend(dir.ancestors().take(4).map(Path::to_owned));
    }
    let found = roots
        .iter()
        .find_map(|root| wheel_library(&root.join(".venv-ort")));
    found.ok_or_else(|| ModelError::RuntimeNotFound {
        looked: "FD_ONNXRUNTIME, .venv-ort/ here and beside the binary".into(),
    })
}

fn wheel_library(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("libonnxruntime.so"))
        })
}
