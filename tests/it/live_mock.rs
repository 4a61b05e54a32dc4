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

#[test]
fn sim_and_live_mock_agree_on_latency_and_429s() {
    // The same scenario in virtual time and against the live mock over HTTP in real time.
    let text = r#"
name = "agree"
seed = 9
duration = "6s"

[target]
kind = "mock"
model = "gemini-2.5-flash"

[target.mock]
rpm = 70
latency = { dist = "lognormal", median = "250ms", p99 = "1200ms" }

[traffic]
arrival = "poisson"
rate = 20
input_tokens = { dist = "lognormal", median = 400, p99 = 3000 }
output_tokens = 50

[strategy]
workers = 24
timeout = { attempt = "5s", total = "8s" }
retry = { policy = "exponential", jitter = "full", base = "200ms", cap = "1s", max_attempts = 3, honor_retry_delay = false }
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "agree", text);
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &["--target", "sim"]);
    let (_, live) = run_to(&path, &dir.path().join("live"), &[]);
    assert_accounted(&sim);
    assert_accounted(&live);
    assert_eq!(sim["requests"]["scheduled"], live["requests"]["scheduled"]);
    for q in ["p50", "p95"] {
        let (a, b) = (
            sim["latency_ms"][q].as_f64().unwrap(),
            live["latency_ms"][q].as_f64().unwrap(),
        );
        eprintln!("{q}: sim {a} ms, live {b} ms ({:+.2}%)", 100.0 * (b / a - 1.0));
        assert!((b / a - 1.0).abs() < 0.05, "{q}: sim {a} ms, live {b} ms");
    }
    let share = |s: &serde_json::Value| {
        s["attempts"]["status_429"].as_f64().unwrap() / s["attempts"]["total"].as_f64().unwrap()
    };
    let (a, b) = (share(&sim), share(&live));
    eprintln!("429 share: sim {:.3}, live {:.3}", a, b);
    assert!(a > 0.2, "the scenario should hit the quota: {a}");
    assert!((a - b).abs() < 0.02, "429 share: sim {a:.3}, live {b:.3}");
}

#[test]
fn sim_and_live_mock_agree_on_when_the_spend_limit_first_refuses() {
    // $0.02 per 10 minutes; each request costs 1,000 × $0.50/M + 100 × $3/M = $0.0008, at
    // 20/s $0.016 a second: the window is spent after about 1.25 s and the mock refuses.
    let text = r#"
name = "spend"
seed = 5
duration = "3s"

[target]
kind = "mock"
model = "gemini-3-flash-preview"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
spend_limit = { usd = 0.02, window = "10m" }
monthly_cap_usd = 0
latency = { dist = "constant", value = "100ms" }

[traffic]
arrival = "constant"
rate = 20
input_tokens = 1000
output_tokens = 100

[strategy]
workers = 16
retry = { policy = "none" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "spend", text);
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &["--target", "sim"]);
    let (_, live) = run_to(&path, &dir.path().join("live"), &[]);
    assert_accounted(&sim);
    assert_accounted(&live);
    let first = |s: &serde_json::Value| s["attempts"]["first_spend_refusal_s"].as_f64().unwrap();
    let (a, b) = (first(&sim), first(&live));
    eprintln!("first spend refusal: sim {a:.3} s, live {b:.3} s");
    assert!((1.0..=1.6).contains(&a), "sim {a}");
    assert!((a - b).abs() < 1.0, "sim {a:.3} s, live {b:.3} s");
    for s in [&sim, &live] {
        // Answers stop at the limit: 25 × $0.0008 = $0.02, and one more may overshoot.
        let ok = s["requests"]["succeeded"].as_u64().unwrap();
        assert!((25..=26).contains(&ok), "{ok}");
        assert_eq!(s["attempts"]["status_429_spend"], s["attempts"]["status_429"]);
        let kinds: Vec<&str> = s["advice"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["kind"].as_str())
            .collect();
        assert_eq!(kinds.first(), Some(&"spend_limit"), "{kinds:?}");
    }
}
