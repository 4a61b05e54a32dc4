//! The calibration loop end to end, with the mock standing in for Gemini: a live run through
//! `stampede proxy` against a mock whose profile calibrate never sees; `stampede calibrate` on
//! the proxy's recording recovers that profile; the recording replayed in sim on the calibrated
//! profile reproduces the live run; and prompts synthesised at the calibrated density are
//! counted as planned.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{assert_accounted, run_to, scenario, summary};

/// The profile the live mock serves and calibrate must find: a lognormal base latency, 60 ms of
/// prefill per 1,000 input tokens, 400 tokens/s of decode, lognormal answer lengths, a
/// per-minute quota, and a tokenizer of 3 characters a token.
const HIDDEN: &str = r#"
preset = "tier1"
rpm = 2000
tpm = 0
rpd = 0
monthly_cap_usd = 0
latency = { dist = "lognormal", median = "300ms", p99 = "600ms" }
latency_per_1k_input = "60ms"
decode_tps = { dist = "constant", value = 400.0 }
output_tokens = { dist = "lognormal", median = 120, p99 = 360 }
chars_per_token = 3.0
"#;

/// 40 s of streamed calls at 60/s through the proxy, no retry, answers never cut.
fn live_scenario(base_url: &str, profile: &str, seconds: u32, rate: u32) -> String {
    format!(
        r#"
name = "calibrate-live"
seed = 11
duration = "{seconds}s"

[target]
kind = "gemini"
model = "gemini-3.8-flash"
base_url = "{base_url}"
max_cost_usd = 10000
{profile}

[traffic]
arrival = "poisson"
rate = {rate}
stream_share = 1.0
input_tokens = {{ dist = "lognormal", median = 800, p99 = 8000 }}
output_tokens = 60000

[strategy]
workers = 300
timeout = {{ attempt = "30s", total = "30s" }}
retry = {{ policy = "none", max_attempts = 1 }}
"#
    )
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stampede proxy --port 0` in front of `upstream`, recording to `record`; its URL.
fn proxy(upstream: &str, record: &Path, extra: &[&str]) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["proxy", "--port", "0", "--upstream", upstream, "--record"])
        .arg(record)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("stampede proxy listening on ")
        .unwrap()
        .to_string();
    (Killed(child), url)
}

fn run_live(path: &Path, out: &Path) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", path.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()])
        .env("GEMINI_API_KEY", "calibrate-test-key")
        .output()
        .unwrap();
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    summary(out)
}

fn within(what: &str, got: f64, want: f64, share: f64) {
    eprintln!("{what}: {got:.4} vs {want:.4} ({:+.2}%)", (got / want - 1.0) * 100.0);
    assert!(
        (got / want - 1.0).abs() <= share,
        "{what}: got {got}, want {want} within {:.0}%",
        share * 100.0
    );
}

fn share_429(s: &Value) -> f64 {
    s["attempts"]["status_429"].as_f64().unwrap() / s["attempts"]["total"].as_f64().unwrap()
}

#[test]
fn calibrate_recovers_a_hidden_profile_and_the_sim_replays_the_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let hidden = dir.path().join("hidden.toml");
    std::fs::write(&hidden, HIDDEN).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_stampede"));
    let (_mock, mock_url) = stampede::commands::hosting::spawn_mock(exe, &hidden, 3).unwrap();
    let recording = dir.path().join("rec.jsonl");
    let (proxy_process, proxy_url) = proxy(&mock_url, &recording, &[]);
    let live_path = scenario(dir.path(), "live", &live_scenario(&proxy_url, "", 40, 60));
    let live = run_live(&live_path, &dir.path().join("live"));
    assert_accounted(&live);
    // The recording's last lines are written as the last answers end.
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(proxy_process);
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(!text.contains("calibrate-test-key"), "a key in the recording");
    assert_eq!(
        text.lines().count() as u64,
        live["requests"]["scheduled"].as_u64().unwrap()
    );

    // Calibrate: each parameter within 5%, the quota exactly, the density within 2%.
    let profile = dir.path().join("cal.toml");
    let o = crate::support::stampede(&[
        "calibrate",
        recording.to_str().unwrap(),
        "--out",
        profile.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c: Value = serde_json::from_str(&o.stdout).unwrap();
    let m = &c["models"][0];
    let law = |d: &Value| -> (f64, f64) {
        let f = &d["fitted"];
        match f["dist"].as_str().unwrap() {
            "lognormal" => (f["median"].as_f64().unwrap(), f["p99"].as_f64().unwrap()),
            "constant" => (f["value"].as_f64().unwrap(), f["value"].as_f64().unwrap()),
            other => panic!("{other}: {f}"),
        }
    };
    let (lat50, lat99) = law(&m["latency_ms"]);
    within("base latency median", lat50, 300.0, 0.05);
    within("base latency p99", lat99, 600.0, 0.05);
    within(
        "prefill ms per 1k",
        m["prefill_ms_per_1k"].as_f64().unwrap(),
        60.0,
        0.05,
    );
    within("decode median", law(&m["decode_tps"]).0, 400.0, 0.05);
    let (out50, out99) = law(&m["output_tokens"]);
    within("answer length median", out50, 120.0, 0.05);
    within("answer length p99", out99, 360.0, 0.05);
    assert_eq!(m["quotas"]["rpm"], 2000, "{}", m["quotas"]);
    within("chars per token", m["chars_per_token"][0].as_f64().unwrap(), 3.0, 0.02);
    assert!(m["latency_ms"]["ks"].as_f64().unwrap() < m["latency_ms"]["ks_critical"].as_f64().unwrap());
    assert!(dir.path().join("cal.calibration.html").exists());

    // The recording replayed in sim on the calibrated profile: the live run's latency and 429s.
    let replay = scenario(
        dir.path(),
        "replay",
        &format!(
            r#"
name = "calibrate-replay"
seed = 5
duration = "60s"

[target]
kind = "sim"
model = "gemini-3.8-flash"
profile = "cal.toml"

[traffic]
arrival = "trace"
trace = {{ file = "rec.jsonl", format = "jsonl" }}
output_tokens = {{ dist = "lognormal", median = {out50}, p99 = {out99} }}

[strategy]
workers = 300
timeout = {{ attempt = "30s", total = "30s" }}
retry = {{ policy = "none", max_attempts = 1 }}
"#
        ),
    );
    let (o, sim) = run_to(&replay, &dir.path().join("sim"), &[]);
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    assert_eq!(sim["requests"]["scheduled"], live["requests"]["scheduled"]);
    for q in ["p50", "p95", "p99"] {
        within(
            &format!("replayed {q}"),
            sim["latency_ms"][q].as_f64().unwrap(),
            live["latency_ms"][q].as_f64().unwrap(),
            0.05,
        );
    }
    let (a, b) = (share_429(&live), share_429(&sim));
    assert!(a > 0.03, "the live run met its quota: {a}");
    assert!((a - b).abs() <= 0.02, "429 share live {a} vs sim {b}");

    // Density: at 4 characters a token the mock counts a third more than planned; at the
    // calibrated density, what was planned (a fresh mock: the first one's quota is spent).
    let (_fresh, fresh_url) = stampede::commands::hosting::spawn_mock(exe, &hidden, 4).unwrap();
    let direct = |name: &str, profile: &str| {
        let path = scenario(dir.path(), name, &live_scenario(&fresh_url, profile, 4, 20));
        let s = run_live(&path, &dir.path().join(name));
        let t = &s["tokens"];
        t["input"].as_f64().unwrap() / t["planned_input"].as_f64().unwrap()
    };
    let assumed = direct("assumed", "");
    assert!(assumed > 1.25, "counted / planned at 4 characters a token: {assumed}");
    let calibrated = direct("calibrated", "profile = \"cal.toml\"");
    within("counted / planned at the calibrated density", calibrated, 1.0, 0.02);
}

#[test]
fn the_proxy_injects_gemini_s_faults_and_calibrate_leaves_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("mock.toml");
    std::fs::write(
        &profile,
        "rpm = 0\nlatency = { dist = \"constant\", value = \"20ms\" }\n",
    )
    .unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_stampede"));
    let (_mock, mock_url) = stampede::commands::hosting::spawn_mock(exe, &profile, 1).unwrap();
    let recording = dir.path().join("chaos.jsonl");
    let faults = [
        "--inject-429",
        "0.3",
        "--inject-503",
        "0.1",
        "--add-latency",
        "100ms",
        "--seed",
        "5",
    ];
    let (proxy_process, proxy_url) = proxy(&mock_url, &recording, &faults);
    let path = scenario(dir.path(), "chaos", &live_scenario(&proxy_url, "", 6, 25));
    let live = run_live(&path, &dir.path().join("live"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(proxy_process);
    let calls = live["requests"]["scheduled"].as_f64().unwrap();
    let status = |code: &str| live["requests"]["failed_by"][code].as_f64().unwrap_or(0.0) / calls;
    assert!((0.2..0.4).contains(&status("429")), "{}", live["requests"]);
    assert!((0.04..0.18).contains(&status("503")), "{}", live["requests"]);
    // Every forwarded call waited the added 100 ms; the injected ones did not.
    assert!(
        live["latency_ms"]["p50"].as_f64().unwrap() >= 100.0,
        "{}",
        live["latency_ms"]
    );
    let text = std::fs::read_to_string(&recording).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let injected = lines
        .iter()
        .filter(|l| l["fault"].as_str().is_some_and(|f| f.starts_with("injected")))
        .count();
    let failed = |code: &str| live["requests"]["failed_by"][code].as_u64().unwrap_or(0);
    assert_eq!(injected as u64, failed("429") + failed("503"));
    let a429 = lines.iter().find(|l| l["fault"] == "injected-429").unwrap();
    assert_eq!(
        (a429["status"].as_u64(), a429["quota_value"].as_str()),
        (Some(429), None)
    );
    assert_eq!(a429["retry_delay_s"], 10.0);
    let out = dir.path().join("cal.toml");
    let o = crate::support::stampede(&[
        "calibrate",
        recording.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(c["injected"].as_u64().unwrap() as usize, injected);
    let m = &c["models"][0];
    assert_eq!(m["errors"]["rate_429"], 0.0, "injected answers are not the upstream's");
    assert_eq!(m["answered"].as_u64().unwrap() as usize, lines.len() - injected);
}

#[test]
fn calibrate_and_proxy_refuse_bad_input_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("bad.jsonl");
    std::fs::write(
        &rec,
        "{\"t\":0,\"input_tokens\":10,\"output_tokens\":5,\"status\":200,\"latency_ms\":5}\n{\"t\":1,\"input_tokens\":\"many\"}\n",
    )
    .unwrap();
    let out = dir.path().join("p.toml");
    let o = crate::support::stampede(&["calibrate", rec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("bad.jsonl:2:") && o.stderr.contains("expected a stampede trace line"),
        "{}",
        o.stderr
    );
    // A hand-written trace has nothing to fit.
    std::fs::write(&rec, "{\"t\":0,\"input_tokens\":10,\"output_tokens\":5}\n").unwrap();
    let o = crate::support::stampede(&["calibrate", rec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no answered calls to fit"), "{}", o.stderr);
    let o = crate::support::stampede(&[
        "calibrate",
        rec.to_str().unwrap(),
        "--out",
        dir.path().join("p.json").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    for (args, says) in [
        (
            vec!["--upstream", "ftp://example.com"],
            "expected an http:// or https:// URL",
        ),
        (vec!["--upstream", "http://127.0.0.1:1/?key=abc"], "no query"),
        (
            vec![
                "--upstream",
                "http://127.0.0.1:1",
                "--inject-429",
                "0.8",
                "--inject-503",
                "0.4",
            ],
            "at most 1",
        ),
        (
            vec!["--upstream", "http://127.0.0.1:1", "--inject-429", "2"],
            "--inject-429",
        ),
    ] {
        let mut argv = vec!["proxy", "--port", "0"];
        argv.extend(args);
        let o = crate::support::stampede(&argv);
        assert_eq!(o.code, 2, "{argv:?}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{argv:?}: {}", o.stderr);
        assert!(!o.stderr.contains("abc"), "a key echoed: {}", o.stderr);
    }
}
