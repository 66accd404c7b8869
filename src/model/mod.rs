//! The model's side of the engine: the feature vector, defined once and
//! computed from the engine's own signals (so training, through the
//! `features` command, and serving can never compute a feature differently),
//! the ONNX scorer, its calibration onto the risk scale, hot swap, shadow
//! scoring and drift.

mod calibration;
mod drift;
pub mod features;
mod onnx;
mod reference;
mod replay;
mod serving;
mod splits;

pub use calibration::{Calibration, ProbabilityThresholds};
pub use drift::{Drift, DriftMonitor, SCORE_NAME};
pub use features::{extract, spec_hash, FeatureVector, FEATURE_COUNT, FEATURE_NAMES};
pub use onnx::{runtime_library, ModelCard, ModelError, OnnxScorer};
pub use reference::{Histogram, References, PSI_WARNING};
pub use replay::{replay, ReplayError, ReplayRow};
pub use serving::{
    reload_off_hot_path, LoadedModel, ModelConfig, ModelOpinion, ModelSet, ModelSlot, ModelStats,
    Swapped,
};
pub use splits::FeatureSplits;
