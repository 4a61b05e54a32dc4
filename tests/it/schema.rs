//! summary.json against its committed JSON schema; scenario files against theirs, which is
//! generated from the code.

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
    // Every bundled scenario's summary matches (its warnings, horizon and profile included).
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let (_, s) = run_to(&path, out.path(), &["--target", "sim", "--duration", "30s"]);
        let errors: Vec<String> = validator
            .iter_errors(&s)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    // A run whose day does not fit the daily quota: its horizon's limits match too.
    let daily = tempfile::tempdir().unwrap();
    let (_, d) = run_to(
        &root().join("scenarios/chat-daily.toml"),
        daily.path(),
        &["--duration", "60s"],
    );
    assert_eq!(d["horizon"]["limits"][0]["limit"], "daily_quota");
    let errors: Vec<String> = validator
        .iter_errors(&d)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = d;
    broken["horizon"]["limits"][0]["limit"] = serde_json::json!("weekly");
    assert!(!validator.is_valid(&broken));
    // The schema is strict enough to catch a broken summary.
    let mut broken = s.clone();
    broken["requests"]["scheduled"] = serde_json::json!(-1);
    assert!(!validator.is_valid(&broken));
    let mut broken = s;
    broken.as_object_mut().unwrap().remove("latency_ms");
    assert!(!validator.is_valid(&broken));
}

/// The committed scenario schema, or (with `STAMPEDE_BLESS` set) a fresh one written first.
fn scenario_schema() -> serde_json::Value {
    let path = root().join("schemas/scenario.schema.json");
    let generated = stampede::scenario::json_schema();
    if std::env::var_os("STAMPEDE_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&generated).unwrap() + "\n").unwrap();
    }
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        committed, generated,
        "schemas/scenario.schema.json is not what the code generates; run STAMPEDE_BLESS=1 cargo test --workspace"
    );
    committed
}

fn as_json(toml_text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(toml_text).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn every_scenario_file_matches_the_generated_scenario_schema() {
    let schema = scenario_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let doc = as_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} scenarios checked");
    // Strict enough for an editor to flag a misspelt key or a wrong type.
    let quickstart = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    let misspelt = as_json(&quickstart.replace("workers = 16", "wokers = 16"));
    assert!(
        !validator.is_valid(&misspelt),
        "an unknown strategy key passes the schema"
    );
    let mut wrong_type = as_json(&quickstart);
    wrong_type["strategy"]["workers"] = serde_json::json!("many");
    assert!(
        !validator.is_valid(&wrong_type),
        "a string for workers passes the schema"
    );
}
