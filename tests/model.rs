//! The committed model through the real ONNX Runtime (the PyPI wheel's
//! library, installed by scripts/install-onnxruntime.sh, which
//! scripts/test.sh runs): same scores as Python's onnxruntime, and clear
//! refusals for a wrong feature spec or a missing runtime, and explanations
//! that skip only features whose swap cannot change the score.

use fraud_detector::model::{
    FeatureSplits, FeatureVector, ModelError, OnnxScorer, FEATURE_COUNT, FEATURE_NAMES,
};
use std::path::Path;

const MODEL: &str = "models/fraud-gbt-v1.onnx";

fn parity_rows() -> (Vec<FeatureVector>, Vec<f32>) {
    let csv = std::fs::read_to_string(Path::new(MODEL).with_extension("parity.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|column| *column == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let feature_columns: Vec<usize> = FEATURE_NAMES.iter().map(|name| column(name)).collect();
    let probability = column("p_fraud");
    let mut rows = Vec::new();
    let mut expected = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let mut row = [0f32; FEATURE_COUNT];
        for (slot, &index) in row.iter_mut().zip(&feature_columns) {
            *slot = fields[index].parse().unwrap();
        }
        rows.push(row);
        expected.push(fields[probability].parse().unwrap());
    }
    (rows, expected)
}

#[test]
fn rust_scores_equal_python_onnxruntime() {
    let scorer = OnnxScorer::load(Path::new(MODEL), None).unwrap_or_else(|error| panic!("{error}"));
    let (rows, expected) = parity_rows();
    assert!(
        rows.len() >= 10_000,
        "the parity file must hold 10,000 rows"
    );
    let mut scored = Vec::new();
    for batch in rows.chunks(256) {
        scored.extend(scorer.score(batch).unwrap());
    }
    for (index, (rust, python)) in scored.iter().zip(&expected).enumerate() {
        assert!(
            (rust - python).abs() <= 1e-5,
            "row {index}: rust {rust} python {python}"
        );
    }
}

/// An explanation replaces each feature by its typical value and skips the
/// ones no split separates from it: on every parity row, each skipped
/// replacement must score exactly as the row does, and the check must have
/// skipped some (else it proves nothing).
#[test]
fn a_feature_no_split_separates_from_its_typical_value_cannot_move_the_score() {
    let scorer = OnnxScorer::load(Path::new(MODEL), None).unwrap_or_else(|error| panic!("{error}"));
    let onnx = std::fs::read(MODEL).unwrap();
    let splits = FeatureSplits::read(&onnx, &scorer.card().onnx.input_name)
        .expect("the committed model's splits");
    let references = &scorer.card().reference_histograms.features;
    let typical: Vec<f32> = FEATURE_NAMES
        .iter()
        .map(|name| references[*name].median() as f32)
        .collect();
    let (rows, _) = parity_rows();
    let (mut variants, mut originals) = (Vec::new(), Vec::new());
    let (mut skipped, mut kept) = (0, 0);
    for (index, row) in rows.iter().enumerate() {
        for column in 0..FEATURE_COUNT {
            if row[column] == typical[column] {
                continue;
            }
            if splits.separate(column, row[column], typical[column]) {
                kept += 1;
                continue;
            }
            skipped += 1;
            let mut variant = *row;
            variant[column] = typical[column];
            variants.push(variant);
            originals.push((index, column));
        }
    }
    assert!(
        skipped > 1_000 && kept > 1_000,
        "skipped {skipped}, kept {kept}"
    );
    let row_scores: Vec<f32> = rows
        .chunks(256)
        .flat_map(|batch| scorer.score(batch).unwrap())
        .collect();
    let variant_scores = variants
        .chunks(256)
        .flat_map(|batch| scorer.score(batch).unwrap());
    for ((index, column), score) in originals.into_iter().zip(variant_scores) {
        assert_eq!(
            score, row_scores[index],
            "row {index}: {} swapped for its typical value moved the score",
            FEATURE_NAMES[column]
        );
    }
}

#[test]
fn a_model_trained_on_other_features_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("other.onnx");
    std::fs::copy(MODEL, &model).unwrap();
    let card = std::fs::read_to_string(Path::new(MODEL).with_extension("json")).unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&card).unwrap();
    card["feature_spec_hash"] = "0000000000000000".into();
    std::fs::write(model.with_extension("json"), card.to_string()).unwrap();
    match OnnxScorer::load(&model, None) {
        Err(error @ ModelError::SpecMismatch { .. }) => {
            assert!(error.to_string().contains("retrain"), "{error}")
        }
        Err(other) => panic!("expected a spec mismatch, got {other}"),
        Ok(_) => panic!("a mismatched model must be refused"),
    }
}
