//! Its own test binary, so its own process: ONNX Runtime is loaded once per
//! process, and here the library it is pointed at does not exist.

use fraud_detector::model::{ModelError, OnnxScorer};
use std::path::Path;

#[test]
fn a_missing_runtime_library_is_a_clear_error_not_a_panic() {
    let missing = Path::new("/nonexistent/libonnxruntime.so.1.22.1");
    match OnnxScorer::load(Path::new("models/fraud-gbt-v1.onnx"), Some(missing)) {
        Err(error @ ModelError::Runtime { .. }) => {
            assert!(
                error.to_string().contains("/nonexistent/libonnxruntime.so"),
                "{error}"
            );
        }
        Err(other) => panic!("expected a runtime error, got {other}"),
        Ok(_) => panic!("no runtime, no model"),
    }
}
