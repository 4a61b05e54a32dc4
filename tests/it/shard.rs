//! Replicas sharing one quota, shards of one seeded schedule, and their exact merge.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{assert_accounted, run_to, scenario, stampede, summary};

const QUOTA_SCENARIO: &str = r#"
name = "shared-quota"
seed = 11
duration = "90s"

[target]
kind = "sim"
model = "gemini-2.5-flash"

[target.mock]
rpm = 420
latency = { dist = "lognormal", median = "600ms", p99 = "4s" }

[traffic]
arrival = "poisson"
rate = 9
input_tokens = { dist = "lognormal", median = 600, p99 = 5000 }
output_tokens = { dist = "lognormal", median = 200, p99 = 1500 }

[strategy]
workers = 6
replicas = 4
balance = "BALANCE"
retry = { policy = "exponential", jitter = "full", base = "500ms", cap = "4s", max_attempts = 3 }

[slo]
p95 = "8s"
"#;

/// The figures a merge must reproduce exactly.
const EXACT: [&str; 9] = [
    "requests",
    "attempts",
    "histograms",
    "timeseries",
    "latency_ms",
    "tokens",
    "cost_usd",
    "replicas",
    "waste",
];

fn shard_runs(path: &Path, dir: &Path, n: u32, extra: &[&str]) -> Vec<String> {
    (0..n)
        .map(|i| {
            let out = dir.join(format!("shard-{i}"));
            let shard = format!("{i}/{n}");
            let mut args = vec!["--shard", shard.as_str()];
            args.extend_from_slice(extra);
            let (_, s) = run_to(path, &out, &args);
            assert_eq!(s["shard"]["index"], i);
            assert_eq!(s["shard"]["count"], n);
            out.to_str().unwrap().to_string()
        })
        .collect()
}

fn merge(dirs: &[String], out: &Path) -> crate::support::Outcome {
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--out", out.to_str().unwrap()]);
    stampede(&args)
}

#[test]
fn simulated_shards_merge_into_the_unsharded_run_exactly() {
    for balance in ["round-robin", "least-loaded"] {
        let dir = tempfile::tempdir().unwrap();
        let path = scenario(dir.path(), "quota", &QUOTA_SCENARIO.replace("BALANCE", balance));
        let (_, whole) = run_to(&path, &dir.path().join("whole"), &[]);
        assert_accounted(&whole);
        assert!(
            whole["attempts"]["status_429"].as_u64().unwrap() > 100,
            "the quota binds"
        );
        let shards = shard_runs(&path, dir.path(), 4, &[]);
        let o = merge(&shards, &dir.path().join("merged"));
        assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
        let merged = summary(&dir.path().join("merged"));
        for key in EXACT {
            assert_eq!(whole[key], merged[key], "{balance}: {key} differs");
        }
        assert_eq!(merged["replicas"].as_array().unwrap().len(), 4);
        assert_eq!(merged["merged"]["shards"], 4);
        assert_eq!(whole["slo"], merged["slo"]);
        let per: Vec<u64> = whole["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["scheduled"].as_u64().unwrap())
            .collect();
        assert_eq!(
            per.iter().sum::<u64>(),
            whole["requests"]["scheduled"].as_u64().unwrap()
        );
        if balance == "round-robin" {
            // Request k goes to replica k mod 4.
            assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1, "{per:?}");
        }
    }
}

#[test]
fn conversations_stay_on_one_replica_and_their_shards_merge_exactly() {
    let text = r#"
name = "sessions-replicas"
seed = 5
duration = "60s"

[target]
kind = "sim"
model = "gemini-2.5-flash"

[target.mock]
rpm = 300

[traffic]
arrival = "sessions"
rate = 1.5
turns = { dist = "constant", value = 3 }
think = { dist = "constant", value = "4s" }
input_tokens = 300
output_tokens = 120

[strategy]
workers = 4
replicas = 3
balance = "random"
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "sessions", text);
    let (_, whole) = run_to(&path, &dir.path().join("whole"), &[]);
    assert!(whole["requests"]["scheduled"].as_u64().unwrap() > 150);
    let shards = shard_runs(&path, dir.path(), 3, &[]);
    let o = merge(&shards, &dir.path().join("merged"));
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    let merged = summary(&dir.path().join("merged"));
    for key in EXACT {
        assert_eq!(whole[key], merged[key], "{key} differs");
    }
    // Every replica got conversations, and every turn of one conversation went to one replica:
    // so each replica's turns come in whole conversations of three.
    for r in whole["replicas"].as_array().unwrap() {
        assert!(r["scheduled"].as_u64().unwrap() > 20, "{r}");
    }
}

#[test]
fn merge_refuses_what_is_not_one_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = QUOTA_SCENARIO.replace("BALANCE", "round-robin").replace("90s", "20s");
    let path = scenario(dir.path(), "quota", &text);
    let shards = shard_runs(&path, dir.path(), 4, &[]);
    // A shard missing.
    let o = merge(&shards[..3], &dir.path().join("m1"));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("missing shard 3 of 4"), "{}", o.stderr);
    // A shard given twice.
    let twice = [
        shards[0].clone(),
        shards[0].clone(),
        shards[1].clone(),
        shards[2].clone(),
    ];
    let o = merge(&twice, &dir.path().join("m2"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("both shard 0/4"), "{}", o.stderr);
    // Another seed.
    let other = dir.path().join("other-seed");
    run_to(&path, &other, &["--shard", "3/4", "--seed", "12"]);
    let mixed = [
        shards[0].clone(),
        shards[1].clone(),
        shards[2].clone(),
        other.to_str().unwrap().into(),
    ];
    let o = merge(&mixed, &dir.path().join("m3"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("seeds differ"), "{}", o.stderr);
    // Not a shard's summary.
    let plain = dir.path().join("plain");
    run_to(&path, &plain, &[]);
    let o = merge(&[plain.to_str().unwrap().into()], &dir.path().join("m4"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("not a shard's summary"), "{}", o.stderr);
    // A hostile row index would make the merge allocate its way to it.
    let file = Path::new(&shards[1]).join("summary.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    s["shard"]["metrics"]["series"]["rows"][0]["second"] = Value::from(4_000_000_000_000u64);
    std::fs::write(&file, s.to_string()).unwrap();
    let o = merge(&shards, &dir.path().join("m5"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("series.rows[0].second"), "{}", o.stderr);
}

#[test]
fn a_shard_is_refused_where_it_cannot_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = QUOTA_SCENARIO.replace("BALANCE", "least-loaded");
    let path = scenario(dir.path(), "quota", &text);
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let p = path.to_str().unwrap();
    let o = stampede(&["run", p, "--quiet", "--out", out, "--shard", "1/3"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("strategy.replicas = 4"), "{}", o.stderr);
    let o = stampede(&["run", p, "--quiet", "--out", out, "--shard", "4/4"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("expected I/N"), "{}", o.stderr);
    let o = stampede(&["run", p, "--quiet", "--out", out, "--shard", "1/4", "--target", "mock"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("least-loaded"), "{}", o.stderr);
}

#[test]
fn live_shards_against_one_mock_send_the_schedule_and_meet_its_quota_as_simulated() {
    let text = r#"
name = "live-shards"
seed = 3
duration = "6s"

[target]
kind = "sim"
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
workers = 6
replicas = 4
timeout = { attempt = "5s", total = "8s" }
retry = { policy = "exponential", jitter = "full", base = "200ms", cap = "1s", max_attempts = 3, honor_retry_delay = false }
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "live", text);
    let profile = dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        "rpm = 70\nlatency = { dist = \"lognormal\", median = \"250ms\", p99 = \"1200ms\" }\n",
    )
    .unwrap();
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &[]);
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_stampede"));
    let (_mock, url) = stampede::commands::hosting::spawn_mock(exe, &profile, 0).unwrap();
    let start = humantime::format_rfc3339_millis(std::time::SystemTime::now() + std::time::Duration::from_secs(2));
    let shards: Vec<(String, Child)> = (0..4)
        .map(|i| {
            let out = dir.path().join(format!("live-{i}"));
            let child = Command::new(env!("CARGO_BIN_EXE_stampede"))
                .args([
                    "run",
                    path.to_str().unwrap(),
                    "--quiet",
                    "--target",
                    "gemini",
                    "--base-url",
                    &url,
                ])
                .args(["--shard", &format!("{i}/4"), "--start-at", &start.to_string()])
                .args(["--out", out.to_str().unwrap()])
                .env("GEMINI_API_KEY", "test-key")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out.to_str().unwrap().to_string(), child)
        })
        .collect();
    let mut dirs = Vec::new();
    for (out, child) in shards {
        let o = child.wait_with_output().unwrap();
        let code = o.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "exit {code}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        dirs.push(out);
    }
    let o = merge(&dirs, &dir.path().join("merged"));
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    let live = summary(&dir.path().join("merged"));
    assert_accounted(&live);
    assert_eq!(live["requests"]["scheduled"], sim["requests"]["scheduled"]);
    assert!(
        live["merged"]["start_spread_ms"].as_u64().unwrap() < 1_000,
        "{}",
        live["merged"]
    );
    let share = |s: &Value| s["attempts"]["status_429"].as_f64().unwrap() / s["attempts"]["total"].as_f64().unwrap();
    let (a, b) = (share(&sim), share(&live));
    eprintln!("429 share: sim {a:.3}, live shards {b:.3}");
    assert!(a > 0.2, "the scenario should hit the quota: {a}");
    assert!((a - b).abs() < 0.02, "429 share: sim {a:.3}, live {b:.3}");
}

/// `GET /metrics` over a plain TCP connection.
fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of the sample whose line has every one of `parts`.
fn sample(page: &str, name: &str, parts: &[&str]) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && parts.iter().all(|p| l.contains(p)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
        .sum()
}

#[test]
fn compare_serves_live_metrics_labelled_by_strategy() {
    let text = r#"
name = "cmp-live"
seed = 2
duration = "20s"

[target]
kind = "sim"
model = "gemini-2.5-flash"

[target.mock]
rpm = 60

[traffic]
arrival = "poisson"
rate = 5
input_tokens = 300
output_tokens = 60

[strategy]
workers = 8

[[strategies]]
name = "no-retry"
retry = { policy = "none" }

[[strategies]]
name = "retry"
retry = { policy = "exponential", jitter = "full", base = "500ms", cap = "4s", max_attempts = 4 }
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "cmp", text);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["compare", path.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--metrics-addr", &addr, "--metrics-linger", "30s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !out.join("compare.json").exists() {
        assert!(started.elapsed().as_secs() < 60, "compare did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let page = scrape(&addr).expect("the metrics are still served after the runs");
    let _ = child.kill();
    let _ = child.wait();
    let comparison: Value = serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    for s in comparison["strategies"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let label = format!("strategy=\"{name}\"");
        for outcome in ["succeeded", "failed", "dropped"] {
            let got = sample(
                &page,
                "stampede_requests_total",
                &[&label, &format!("outcome=\"{outcome}\"")],
            );
            assert_eq!(
                got,
                s["requests"][outcome].as_u64().unwrap(),
                "{name} {outcome}\n{page}"
            );
        }
        let attempts = sample(&page, "stampede_attempts_total", &[&label]);
        assert_eq!(attempts, s["attempts"]["total"].as_u64().unwrap(), "{name}");
        let refused = sample(&page, "stampede_attempts_total", &[&label, "status=\"429\""]);
        assert_eq!(refused, s["attempts"]["status_429"].as_u64().unwrap(), "{name}");
    }
    assert!(page.contains("# EOF"), "{page}");
}
