//! Properties over generated input (proptest), in CI on every change: any scenario that
//! validates runs to completion in sim with every scheduled request accounted for exactly once
//! (or is refused with a clean error); any bytes given to the readers give Ok or a clean error.
//! The fuzz targets in `fuzz/` explore the same readers further (see docs/src/development.md).

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use stampede::engine::Progress;
use stampede::prepare::{Prepared, RunOptions};
use stampede::run::{execute, RunError};
use stampede::scenario::Scenario;

/// A scenario from generated settings: an arrival process, a window, a calling plan and a mock.
#[allow(clippy::too_many_arguments)]
fn scenario(
    arrival: &str,
    rate: f64,
    seconds: u32,
    workers: u32,
    attempts: u32,
    latency_ms: u32,
    rpm: u32,
    queue: u32,
) -> String {
    let traffic = match arrival {
        "closed" => format!(
            "arrival = \"closed\"\nusers = {}\nthink = {{ dist = \"constant\", value = \"{}ms\" }}",
            workers.max(1),
            latency_ms % 7
        ),
        "bursty" => format!(
            "arrival = \"bursty\"\nbase_rate = {rate}\nburst_rate = {}\nburst_length = \"2s\"\nburst_gap = \"5s\"",
            rate * 4.0
        ),
        "ramp" => format!("arrival = \"ramp\"\nfrom = 0.0\nto = {rate}"),
        "gamma" => format!("arrival = \"gamma\"\nrate = {rate}\ncv = 3.0"),
        other => format!("arrival = \"{other}\"\nrate = {rate}"),
    };
    format!(
        "name = \"prop\"\nseed = 7\nduration = \"{seconds}s\"\n[target]\nkind = \"sim\"\nprofile = \"tier1\"\n\
         [target.mock]\nrpm = {rpm}\ntpm = 0\nrpd = 0\nlatency = {{ dist = \"exponential\", mean = \"{latency_ms}ms\" }}\n\
         [traffic]\n{traffic}\ninput_tokens = 100\noutput_tokens = 20\n\
         [strategy]\nworkers = {workers}\nqueue = {{ capacity = {queue} }}\n\
         retry = {{ policy = \"exponential\", base = \"100ms\", cap = \"2s\", max_attempts = {attempts} }}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_scenario_that_validates_ends_with_every_request_accounted_for(
        arrival in prop::sample::select(vec!["constant", "poisson", "bursty", "ramp", "gamma", "closed"]),
        rate in 0.01f64..120.0,
        seconds in 1u32..30,
        workers in 1u32..64,
        attempts in 1u32..5,
        latency_ms in 0u32..3000,
        rpm in prop::sample::select(vec![0u32, 30, 600, 6000]),
        queue in 1u32..2000,
    ) {
        let text = scenario(arrival, rate, seconds, workers, attempts, latency_ms, rpm, queue);
        let Ok(loaded) = Scenario::parse(&text, Path::new("prop.toml")) else {
            return Ok(());
        };
        let Ok(spec) = Prepared::new(&loaded, &RunOptions::default()) else {
            return Ok(());
        };
        match execute(&spec, Arc::new(Progress::default()), None) {
            Ok(s) => {
                let r = &s.requests;
                prop_assert_eq!(r.scheduled, r.succeeded + r.failed + r.dropped, "{}", text);
                // Bounded work: no request took more attempts than its plan allows (plus hedges).
                prop_assert!(s.attempts.total <= r.scheduled * u64::from(attempts) + s.attempts.hedges, "{}", text);
                prop_assert!(s.run.elapsed_s < f64::from(seconds) + 200.0, "{} ran {} s", text, s.run.elapsed_s);
            }
            // A schedule that cannot advance is refused, never a hang.
            Err(RunError::Input(m)) => prop_assert!(m.contains("cannot advance"), "{}: {}", text, m),
            Err(e) => prop_assert!(false, "{}: {}", text, e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_given_to_the_scenario_parser_is_ok_or_a_clean_error(text in "\\PC{0,400}") {
        let _ = Scenario::parse(&text, Path::new("any.toml"));
    }

    #[test]
    fn any_bytes_given_to_the_summary_reader_are_ok_or_a_clean_error(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(s) = serde_json::from_slice::<stampede::summary::Summary>(&bytes) {
            if s.check_histograms().is_ok() {
                let _ = stampede::report::rendered(&s);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = stampede::histogram::LatencyHistogram::decode(&text);
    }

    #[test]
    fn any_bytes_given_to_the_trace_readers_are_ok_or_a_clean_error(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), &bytes).unwrap();
        for format in ["azure", "burstgpt", "mooncake", "jsonl"] {
            let spec: stampede::traffic::trace::TraceSpec =
                serde_json::from_value(serde_json::json!({"file": "t", "format": format})).unwrap();
            let _ = stampede::traffic::trace::TraceStats::scan(&spec, &dir.path().join("t"));
        }
    }
}

#[test]
fn the_generator_makes_scenarios_that_validate() {
    // Otherwise the property above would hold of nothing.
    for arrival in ["constant", "poisson", "bursty", "ramp", "gamma", "closed"] {
        let text = scenario(arrival, 5.0, 10, 8, 3, 200, 600, 100);
        if let Err(e) = Scenario::parse(&text, Path::new("prop.toml")) {
            panic!("{arrival}: {e}\n{text}");
        }
    }
}
