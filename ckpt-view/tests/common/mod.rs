//! Helpers shared by ckpt-view's integration tests.

use std::path::PathBuf;

/// The workspace's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Checks `value` against `schemas/json/<schema>`.
pub fn validate(schema: &str, value: &serde_json::Value) {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/json").join(schema)).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&doc).unwrap();
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}");
}
