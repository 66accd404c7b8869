//! Where the model's trees split each feature, read from the ONNX graph.
//! Two values of a feature with no split threshold between them send every
//! tree down the same path, so an explanation that swaps one for the other
//! cannot change the score and need not ask the runtime.

use super::FEATURE_COUNT;
use prost::Message;

/// The few fields of ONNX's protobuf schema (`onnx.proto`) read here.
#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, repeated, tag = "7")]
    floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    strings: Vec<Vec<u8>>,
}

/// Each feature's split thresholds, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSplits {
    thresholds: Vec<Vec<f32>>,
}

impl FeatureSplits {
    /// The splits of a graph whose input `input` (the feature rows) reaches
    /// the score only through tree ensembles. `None` for any other graph,
    /// or one this cannot read: then no explanation is skipped.
    pub fn read(onnx: &[u8], input: &str) -> Option<FeatureSplits> {
        let graph = ModelProto::decode(onnx).ok()?.graph?;
        let readers: Vec<&NodeProto> = graph
            .node
            .iter()
            .filter(|node| node.input.iter().any(|name| name == input))
            .collect();
        if readers.is_empty() {
            return None;
        }
        let mut thresholds = vec![Vec::new(); FEATURE_COUNT];
        for node in readers {
            if !node.op_type.starts_with("TreeEnsemble") {
                return None;
            }
            add_splits(node, &mut thresholds)?;
        }
        for feature in &mut thresholds {
            feature.sort_by(f32::total_cmp);
            feature.dedup();
        }
        Some(FeatureSplits { thresholds })
    }

    /// Whether some split of `feature` may send `a` and `b` different ways:
    /// a threshold between them, ends included (whatever each node's
    /// comparison), or either value missing.
    pub fn separate(&self, feature: usize, a: f32, b: f32) -> bool {
        if a.is_nan() || b.is_nan() {
            return true;
        }
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let Some(thresholds) = self.thresholds.get(feature) else {
            return true;
        };
        let first_not_below = thresholds.partition_point(|&threshold| threshold < low);
        thresholds
            .get(first_not_below)
            .is_some_and(|&threshold| threshold <= high)
    }
}

/// Adds one ensemble's split thresholds by feature; `None` when its node
/// attributes do not line up (thresholds stored as a tensor, for one).
fn add_splits(node: &NodeProto, thresholds: &mut [Vec<f32>]) -> Option<()> {
    let attribute = |name: &str| {
        node.attribute
            .iter()
            .find(|attribute| attribute.name == name)
    };
    let features = &attribute("nodes_featureids")?.ints;
    let values = &attribute("nodes_values")?.floats;
    let modes = &attribute("nodes_modes")?.strings;
    if features.len() != values.len() || modes.len() != values.len() {
        return None;
    }
    for ((&feature, &value), mode) in features.iter().zip(values).zip(modes) {
        if mode == b"LEAF" {
            continue;
        }
        let feature = usize::try_from(feature).ok()?;
        thresholds.get_mut(feature)?.push(value);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splits(thresholds: &[f32]) -> FeatureSplits {
        let mut all = vec![Vec::new(); FEATURE_COUNT];
        all[0] = thresholds.to_vec();
        FeatureSplits { thresholds: all }
    }

    #[test]
    fn values_are_separated_only_by_a_threshold_between_them() {
        let splits = splits(&[1.0, 5.0]);
        assert!(!splits.separate(0, 2.0, 4.0));
        assert!(!splits.separate(0, 6.0, 100.0));
        assert!(!splits.separate(0, -3.0, 0.5));
        assert!(splits.separate(0, 0.0, 2.0));
        assert!(splits.separate(0, 4.0, 0.0), "in either order");
        assert!(splits.separate(0, 1.0, 2.0), "a threshold at an end counts");
        assert!(splits.separate(0, 0.0, 1.0));
        assert!(
            splits.separate(0, f32::NAN, 2.0),
            "a missing value may take its own branch"
        );
        assert!(!splits.separate(1, 0.0, 1e9), "a feature no tree splits on");
    }

    #[test]
    fn the_committed_models_splits_are_read() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/fraud-gbt-v1.onnx");
        let onnx = std::fs::read(path).expect("the committed model");
        let splits = FeatureSplits::read(&onnx, "features").expect("a tree ensemble's splits");
        let split_features = splits.thresholds.iter().filter(|t| !t.is_empty()).count();
        assert!(split_features > 5, "{split_features} features with splits");
        assert_eq!(FeatureSplits::read(&onnx, "another_input"), None);
        assert_eq!(FeatureSplits::read(b"not a model", "features"), None);
    }
}
