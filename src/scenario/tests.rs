//! Scenario parsing: the reference example works, and each kind of mistake is reported with
//! the file, line and column and what was expected.

use std::path::Path;

use super::*;

/// The reference example of the product specification (also the first example of docs/src/scenarios.md).
pub const REFERENCE: &str = r#"
name = "quickstart"
seed = 42
duration = "60s"                # humantime

[target]
kind = "sim"                    # sim | mock | gemini | openai
model = "gemini-2.5-flash"
profile = "tier1"

[target.mock]
rpm = 1000
tpm = 1_000_000
rpd = 10_000
latency = { dist = "lognormal", median = "900ms", p99 = "6s" }
decode_tps = 0
max_concurrent = 0
errors = { rate_500 = 0.0, rate_503 = 0.0 }

[traffic]
arrival = "poisson"
rate = 20.0
input_tokens = { dist = "lognormal", median = 800, p99 = 6000 }
output_tokens = { dist = "lognormal", median = 300, p99 = 2000 }

[strategy]
workers = 16
queue = { capacity = 10000, overflow = "reject" }
rate_limit = { rpm = 0, tpm = 0 }
timeout = { attempt = "60s", total = "120s" }
retry = { policy = "exponential", jitter = "full", base = "1s", cap = "32s", max_attempts = 1, honor_retry_delay = true }

[slo]
p95 = "5s"
success_rate = 0.99
"#;

fn parse(text: &str) -> Result<LoadedScenario, String> {
    Scenario::parse(text, Path::new("s.toml")).map_err(|e| e.to_string())
}

#[test]
fn reference_example_parses() {
    let s = parse(REFERENCE).unwrap().scenario;
    assert_eq!(s.name(), "quickstart");
    assert_eq!(s.duration, Duration::from_secs(60));
    assert_eq!(s.strategy.get_ref().workers, 16);
    assert_eq!(s.slo.get_ref().p95, Some(Duration::from_secs(5)));
    assert_eq!(s.target.get_ref().mock.as_ref().unwrap().rpm, Some(1000));
}

fn error_of(edit: impl Fn(&str) -> String) -> String {
    parse(&edit(REFERENCE)).expect_err("must be refused")
}

#[test]
fn misspelled_key_names_line_and_expected_keys() {
    let e = error_of(|t| t.replace("workers = 16", "wrokers = 16"));
    assert!(e.starts_with("s.toml:27:1: unknown field `wrokers`"), "{e}");
    assert!(e.contains("expected one of"), "{e}");
}

#[test]
fn negative_rate_is_refused_where_it_is() {
    let e = error_of(|t| t.replace("rate = 20.0", "rate = -5"));
    assert!(e.starts_with("s.toml:22:8: "), "{e}");
    assert!(
        e.contains("rate: expected 0 to 1000000 requests per second, got -5"),
        "{e}"
    );
}

#[test]
fn p99_below_median_is_refused_where_it_is() {
    let e = error_of(|t| {
        t.replace(
            "median = \"900ms\", p99 = \"6s\"",
            "median = \"900ms\", p99 = \"600ms\"",
        )
    });
    assert!(e.starts_with("s.toml:15:11: "), "{e}");
    assert!(e.contains("must be at least its median"), "{e}");
}

#[test]
fn missing_rate_points_at_the_process() {
    let e = error_of(|t| t.replace("rate = 20.0\n", ""));
    assert!(e.starts_with("s.toml:21:11: arrival = \"poisson\" needs `rate`"), "{e}");
}

#[test]
fn cross_key_checks_point_at_their_table() {
    let e = error_of(|t| t.replace("workers = 16", "workers = 0"));
    assert!(
        e.starts_with("s.toml:26:1: strategy.workers: expected 1 to 100000, got 0"),
        "{e}"
    );
    let e = error_of(|t| t.replace("success_rate = 0.99", "success_rate = 99"));
    assert!(e.contains("slo.success_rate: expected 0 to 1, got 99"), "{e}");
    let e = error_of(|t| t.replace("model = \"gemini-2.5-flash\"", "model = \"gemini-9\""));
    assert!(e.contains("does not serve model \"gemini-9\""), "{e}");
}

#[test]
fn bad_values_and_syntax() {
    let e = error_of(|t| t.replace("duration = \"60s\"", "duration = \"sixty\""));
    assert!(e.starts_with("s.toml:4:12: "), "{e}");
    let e = error_of(|t| t.replace("kind = \"sim\"", "kind = \"grpc\""));
    assert!(e.contains("unknown variant `grpc`"), "{e}");
    let e = error_of(|t| t.replace("[slo]", "[slo"));
    assert!(e.starts_with("s.toml:"), "{e}");
}
