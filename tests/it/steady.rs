//! The steady-state window against textbook cases: an M/M/c queue under its capacity settles
//! after a short warm-up; one over its capacity never does (its queue grows at arrivals minus
//! service); a ramp is not one rate.

use crate::support::{run_to, scenario};

fn case(arrival: &str, latency: &str, workers: u32) -> String {
    format!(
        r#"
name = "steady"
seed = 9
duration = "5m"

[target]
kind = "sim"
model = "gemini-3.8-flash"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
monthly_cap_usd = 0
latency = {latency}

[traffic]
{arrival}
input_tokens = 100
output_tokens = 10

[strategy]
workers = {workers}
queue = {{ capacity = 100000 }}
timeout = {{ attempt = "10m", total = "1h" }}
retry = {{ policy = "none", max_attempts = 1 }}
"#
    )
}

#[test]
fn textbook_queues_settle_or_saturate_and_a_ramp_is_not_stationary() {
    let dir = tempfile::tempdir().unwrap();
    let exp = r#"{ dist = "exponential", mean = "1s" }"#;
    // M/M/20 at 10 erlangs: utilisation 0.5, settles within seconds.
    let path = scenario(dir.path(), "mmc", &case("arrival = \"poisson\"\nrate = 10", exp, 20));
    let (_, s) = run_to(&path, &dir.path().join("mmc"), &[]);
    let st = &s["steady_state"];
    assert_eq!(st["verdict"], "steady", "{st}");
    let warm = st["warmup_s"].as_f64().unwrap();
    assert!(warm <= 30.0, "{st}");
    assert_eq!(st["window_s"][1], 300.0);
    let steady_p95 = st["latency_ms"]["p95"].as_f64().unwrap();
    let whole_p95 = s["latency_ms"]["p95"].as_f64().unwrap();
    assert!(
        (steady_p95 / whole_p95 - 1.0).abs() < 0.1,
        "{steady_p95} vs {whole_p95}"
    );
    // M/M/1-like service of 1 s at 5 workers against 10 arrivals a second: the queue grows at
    // about 10 − 5 = 5 a second.
    let constant = r#"{ dist = "constant", value = "1s" }"#;
    let path = scenario(
        dir.path(),
        "over",
        &case("arrival = \"poisson\"\nrate = 10", constant, 5),
    );
    let (_, s) = run_to(&path, &dir.path().join("over"), &[]);
    let st = &s["steady_state"];
    assert_eq!(st["verdict"], "saturated", "{st}");
    let growth = st["queue_slope_per_s"].as_f64().unwrap();
    assert!((growth - 5.0).abs() < 0.5, "{st}");
    assert!(
        st["sentence"]
            .as_str()
            .unwrap()
            .starts_with("Never reached a steady state"),
        "{st}"
    );
    // A ramp from 1 to 10 a second, served with room to spare: not one rate.
    let ramp = "arrival = \"ramp\"\nfrom = 1\nto = 10\nover = \"5m\"";
    let path = scenario(dir.path(), "ramp", &case(ramp, exp, 40));
    let (_, s) = run_to(&path, &dir.path().join("ramp"), &[]);
    assert_eq!(s["steady_state"]["verdict"], "not_stationary", "{}", s["steady_state"]);
}
