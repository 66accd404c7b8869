//! The model's side of the engine. Today: the feature vector, defined once
//! and computed from the engine's own signals, so training (through the
//! `features` command) and serving can never compute a feature differently.

pub mod features;
mod onnx;
mod replay;

pub use features::{extract, spec_hash, FeatureVector, FEATURE_COUNT, FEATURE_NAMES};
pub use onnx::{runtime_library, ModelCard, ModelError, OnnxScorer};
pub use replay::{replay, ReplayError, ReplayRow};
