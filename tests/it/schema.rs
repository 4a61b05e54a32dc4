//! summary.json against the committed JSON schema.

use crate::support::{root, run_to};

#[test]
fn summary_matches_the_committed_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schemas/summary.v1.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let out = tempfile::tempdir().unwrap();
    let (_, s) = run_to(
        &root().join("scenarios/quickstart.toml"),
        out.path(),
        &["--target", "sim"],
    );
    let errors: Vec<String> = validator
        .iter_errors(&s)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is strict enough to catch a broken summary.
    let mut broken = s.clone();
    broken["requests"]["scheduled"] = serde_json::json!(-1);
    assert!(!validator.is_valid(&broken));
    let mut broken = s;
    broken.as_object_mut().unwrap().remove("latency_ms");
    assert!(!validator.is_valid(&broken));
}
