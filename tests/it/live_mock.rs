//! The live mock over real HTTP on 127.0.0.1 (port 0), driven through the CLI in real time.
//! Each test is bounded to a few seconds of traffic.

use crate::support::{assert_accounted, run_to, scenario};

const LIVE: &str = r#"
name = "live"
seed = 3
duration = "3s"

[target]
kind = "mock"
model = "gemini-2.5-flash"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = { dist = "constant", value = "200ms" }

[traffic]
arrival = "constant"
rate = 20
input_tokens = 100
output_tokens = 20

[strategy]
workers = 32
"#;

#[test]
fn constant_latency_gives_p50_equal_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "live", LIVE);
    let (o, s) = run_to(&path, &dir.path().join("out"), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_accounted(&s);
    assert_eq!(s["requests"]["scheduled"], 60);
    assert_eq!(s["requests"]["succeeded"], 60);
    let p50 = s["latency_ms"]["p50"].as_f64().unwrap();
    assert!((200.0..=210.0).contains(&p50), "p50 {p50} ms");
    let max = s["latency_ms"]["max"].as_f64().unwrap();
    assert!(max < 230.0, "max {max} ms");
    // Tokens are what the mock counted from the synthesised prompt: exactly the plan.
    assert_eq!(s["tokens"]["input"], 6000);
    assert_eq!(s["tokens"]["output"], 1200);
}

#[test]
fn rpm_quota_caps_accepted_requests_without_retries() {
    let dir = tempfile::tempdir().unwrap();
    let text = LIVE
        .replace("rpm = 0", "rpm = 30")
        .replace("arrival = \"constant\"", "arrival = \"poisson\"")
        .replace("duration = \"3s\"", "duration = \"4s\"");
    let path = scenario(dir.path(), "quota", &text);
    let (_, s) = run_to(&path, &dir.path().join("out"), &[]);
    assert_accounted(&s);
    let scheduled = s["requests"]["scheduled"].as_u64().unwrap();
    assert!(scheduled > 50, "{scheduled}");
    // Within one minute, the quota admits exactly 30; every other attempt gets a 429.
    assert_eq!(s["requests"]["succeeded"], 30);
    assert_eq!(s["attempts"]["status_429"].as_u64().unwrap(), scheduled - 30);
    assert_eq!(s["attempts"]["retries"], 0);
}
