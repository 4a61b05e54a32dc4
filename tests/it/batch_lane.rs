//! The batch lane: requests grouped into Batch API jobs, polled to their end, each accounted
//! once; the simulator and the live mock agree on counts and cost.

use crate::support::{assert_accounted, run_to, scenario};

const BATCHED: &str = r#"
name = "batched"
seed = 8
duration = "3s"

[target]
kind = "mock"
model = "gemini-2.5-flash"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = { dist = "constant", value = "100ms" }
batch_turnaround = { dist = "constant", value = "2s" }

[traffic]
arrival = "constant"
rate = 20

[[traffic.lanes]]
name = "chat"
share = 0.5
input_tokens = 200
output_tokens = 50

[[traffic.lanes]]
name = "reports"
share = 0.5
deadline = "1h"
input_tokens = 3000
output_tokens = 400
batch = { max_requests = 12, window = "1s", poll = "500ms", max_poll = "1s" }

[strategy]
workers = 8
retry = { policy = "none" }
"#;

#[test]
fn a_batch_lane_answers_every_request_once_and_sim_and_live_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "batched", BATCHED);
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &["--target", "sim"]);
    let (_, live) = run_to(&path, &dir.path().join("live"), &[]);
    for (what, s) in [("sim", &sim), ("live", &live)] {
        assert_accounted(s);
        assert_eq!(s["requests"]["succeeded"], s["requests"]["scheduled"], "{what}");
        let b = &s["batch"];
        let reports = s["lanes"]["reports"]["succeeded"].as_u64().unwrap();
        assert_eq!(b["answered"].as_u64().unwrap(), reports, "{what}: {b}");
        // 30 reports in 3 s at 10/s: jobs of 12 fill in 1.2 s; the last 6 go when the window ends.
        assert_eq!(b["jobs"], 3, "{what}: {b}");
        // Turnaround: the 2 s job plus the wait for the poll that sees it done (polls at 0.5 s,
        // then 0.75 s, 1 s...): between 2 and 3.25 s.
        let p50 = b["turnaround_ms"]["p50"].as_f64().unwrap();
        assert!((2000.0..=3300.0).contains(&p50), "{what}: {p50}");
        // Half price: 3,000 in at $0.15/M and 400 out at $1.25/M, for each report.
        let want = reports as f64 * (3000.0 * 0.15 + 400.0 * 1.25) / 1e6;
        assert!(
            (b["cost_usd"].as_f64().unwrap() - want).abs() < 1e-6,
            "{what}: {b} vs {want}"
        );
        assert!((b["saving_usd"].as_f64().unwrap() - want).abs() < 1e-6, "{what}: {b}");
        // The chat lane never waited for the batch.
        assert!(
            s["lanes"]["chat"]["latency_ms"]["p99"].as_f64().unwrap() < 1000.0,
            "{what}"
        );
    }
    for key in ["scheduled", "succeeded"] {
        assert_eq!(sim["requests"][key], live["requests"][key], "{key}");
    }
    let cost = |s: &serde_json::Value| s["cost_usd"].as_f64().unwrap();
    assert!(
        (cost(&sim) - cost(&live)).abs() < 1e-6,
        "sim {} live {}",
        cost(&sim),
        cost(&live)
    );
}
