//! The Gemini and OpenAI-compatible targets over real HTTP against `stampede mock` in another
//! process (base URL override), through the real binary with the key in its environment: unary
//! and streamed answers, token accounting from the API's counts, 429s with RetryInfo,
//! mid-stream errors, the spend guard, and the key appearing nowhere.
//! Each run is a couple of seconds of traffic to 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stampede::commands::hosting::{spawn_mock, MockProcess};

use crate::support::assert_accounted;

/// The key the mock accepts; it must not appear in any output.
const KEY: &str = "sk-stampede-test-7f3a9c1e5b";

/// A mock that accepts only [`KEY`]: no quota, 100 ms to the first token, 200 tokens per
/// second, 16 tokens per chunk, plus `extra` settings.
fn mock(dir: &Path, extra: &str) -> (MockProcess, String) {
    let path = dir.join("mock.toml");
    std::fs::write(
        &path,
        format!(
            "preset = \"tier1\"\nrpm = 0\ntpm = 0\nrpd = 0\napi_keys = [\"{KEY}\"]\n\
             latency = {{ dist = \"constant\", value = \"100ms\" }}\ndecode_tps = 200\nstream_chunk_tokens = 16\n{extra}"
        ),
    )
    .unwrap();
    spawn_mock(Path::new(env!("CARGO_BIN_EXE_stampede")), &path, 5).unwrap()
}

/// 40 requests (20/s for 2 s) of 1000 prompt tokens and up to 100 answer tokens, half streamed.
fn scenario(dir: &Path, kind: &str, base_url: &str, extra: &str) -> PathBuf {
    let path = dir.join("scenario.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "targets"
seed = 11
duration = "2s"

[target]
kind = "{kind}"
model = "gemini-2.5-flash"
base_url = "{base_url}"
{extra}

[traffic]
arrival = "constant"
rate = 20
input_tokens = 1000
output_tokens = 100
stream_share = 0.5

[strategy]
workers = 32
retry = {{ policy = "exponential", base = "100ms", cap = "1s", max_attempts = 6 }}
"#
        ),
    )
    .unwrap();
    path
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    out: PathBuf,
}

impl Run {
    fn summary(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.out.join("summary.json")).unwrap()).unwrap()
    }
}

fn run(scenario: &Path, out: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("run")
        .arg(scenario)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(args)
        .env("GEMINI_API_KEY", KEY)
        .env("OPENAI_API_KEY", KEY)
        .env_remove("GOOGLE_API_KEY")
        .output()
        .unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        out: out.to_path_buf(),
    }
}

/// Every file under `dir`, and the terminal output, are free of the key.
fn assert_no_key(r: &Run) {
    assert!(
        !r.stdout.contains(KEY) && !r.stderr.contains(KEY),
        "key in the terminal output"
    );
    let mut stack = vec![r.out.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                    "key in {}",
                    p.display()
                );
            }
        }
    }
    assert!(files >= 5, "{files} files written");
}

fn base(kind: &str, url: &str) -> String {
    match kind {
        "openai" => format!("{url}/v1beta/openai"),
        _ => url.to_string(),
    }
}

#[test]
fn both_targets_answer_unary_and_streamed_with_the_apis_token_counts() {
    for kind in ["gemini", "openai"] {
        let dir = tempfile::tempdir().unwrap();
        let (_mock, url) = mock(dir.path(), "");
        let path = scenario(dir.path(), kind, &base(kind, &url), "");
        let r = run(&path, &dir.path().join("out"), &[]);
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        assert_no_key(&r);
        let s = r.summary();
        assert_accounted(&s);
        assert_eq!(s["target"], kind);
        assert_eq!(s["requests"]["scheduled"], 40, "{kind}");
        assert_eq!(
            s["requests"]["succeeded"], 40,
            "{kind}: {} {}",
            s["attempts"], s["requests"]
        );
        // The mock counts the synthesised prompt exactly as planned; answers are the mock's
        // own lengths, capped by max tokens.
        assert_eq!(s["tokens"]["input"], 40_000, "{kind}");
        let output = s["tokens"]["output"].as_u64().unwrap();
        assert!(output > 0 && output <= 4_000, "{kind}: {output}");
        assert_eq!(s["tokens"]["planned_output"], 4_000);
        // Streamed answers: about half, with the decode speed and chunk gaps the mock was set
        // to (16 tokens per chunk at 200 tokens/s = 80 ms).
        let st = &s["stream"];
        let answers = st["answers"].as_u64().unwrap();
        assert!((10..=30).contains(&answers), "{kind}: {answers} streamed");
        assert_eq!(s["requests"]["streamed"].as_u64(), Some(answers));
        let tps = st["output_tokens_per_s"]["p50"].as_f64().unwrap();
        assert!((170.0..=230.0).contains(&tps), "{kind}: {tps} tokens/s");
        let gap = st["inter_chunk_ms"]["p50"].as_f64().unwrap();
        assert!((70.0..=95.0).contains(&gap), "{kind}: inter-chunk p50 {gap} ms");
        let md = std::fs::read_to_string(r.out.join("summary.md")).unwrap();
        assert!(
            md.contains("inter-chunk gap") && md.contains("vs 40,000 planned"),
            "{md}"
        );
    }
}

#[test]
fn retry_info_on_429s_and_mid_stream_errors_are_read_from_the_wire() {
    for kind in ["gemini", "openai"] {
        let dir = tempfile::tempdir().unwrap();
        let (_mock, url) = mock(
            dir.path(),
            "[errors]\nrate_429 = 0.3\nretry_delay_429 = \"150ms\"\nrate_truncate = 0.2\n",
        );
        let path = scenario(dir.path(), kind, &base(kind, &url), "");
        let r = run(&path, &dir.path().join("out"), &[]);
        assert!(r.code == 0 || r.code == 1, "{kind}: {}", r.stderr);
        let s = r.summary();
        assert_accounted(&s);
        let a = &s["attempts"];
        let n429 = a["status_429"].as_u64().unwrap();
        assert!(n429 >= 5, "{kind}: {n429} 429s");
        // Every 429 carried RetryInfo, and the client read it from the body.
        assert_eq!(a["status_429_with_delay"].as_u64(), Some(n429), "{kind}");
        // Cut streams are classified as stream errors (unary ones as transport), and retried.
        let by = &a["by_result"];
        assert!(by["stream"].as_u64().unwrap_or(0) >= 1, "{kind}: {by}");
        assert!(a["retries"].as_u64().unwrap() >= n429, "{kind}");
        assert_no_key(&r);
    }
}

#[test]
fn the_spend_guard_estimates_refuses_and_stops_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    // Every answer also thinks 500 tokens, which the estimate cannot know.
    let (_mock, url) = mock(dir.path(), "thinking_tokens = 500\n");
    let path = scenario(dir.path(), "gemini", &url, "");

    // --dry-run: the exact planned requests and tokens, priced; nothing sent, nothing written.
    let out = dir.path().join("dry");
    let r = run(&path, &out, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 40 × (1000 × $0.30 + 100 × $2.50) / 1M = $0.022.
    assert!(
        r.stdout
            .contains("40 requests, 40,000 input tokens, up to 4,000 output tokens")
            && r.stdout.contains("$0.0220"),
        "{}",
        r.stdout
    );
    assert!(!out.exists());

    // An estimate above the cap: refused before anything is sent (exit 3).
    let r = run(&path, &dir.path().join("refused"), &["--max-cost-usd", "0.01"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to start") && r.stderr.contains("$0.0220"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("refused").exists());

    // Over 6 s (120 requests, estimate $0.066) the estimate fits the cap, the thinking does
    // not: the run stops at the cap, in-flight requests finish, queued ones are dropped, the
    // partial report is written, exit 3.
    let r = run(
        &path,
        &dir.path().join("capped"),
        &["--duration", "6s", "--max-cost-usd", "0.10"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("spend cap"), "{}", r.stderr);
    let s = r.summary();
    assert_accounted(&s);
    assert!(s["stopped_early"].as_str().unwrap().starts_with("spend cap"));
    let cost = s["cost_usd"].as_f64().unwrap();
    // Each answer costs 1000 × $0.30 + (≤100 + 500) × $2.50 per million ≤ $0.0018: the cap
    // is reached after about 56 answers; the 32 workers' in-flight ones may add up to 32 more.
    assert!((0.10..0.10 + 32.0 * 0.0018).contains(&cost), "cost {cost}");
    let sent = s["requests"]["scheduled"].as_u64().unwrap() - s["requests"]["dropped"].as_u64().unwrap();
    assert!(sent < 110, "{sent} of 120 requests sent");
    assert!(s["requests"]["dropped_by"]["stopped"].as_u64().unwrap() > 0);
    assert_eq!(
        s["tokens"]["thinking"].as_u64(),
        Some(500 * s["requests"]["succeeded"].as_u64().unwrap())
    );
    assert_no_key(&r);

    // max_requests: a hard count.
    let r = run(
        &path,
        &dir.path().join("seven"),
        &["--max-cost-usd", "1", "--max-requests", "7"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.summary()["requests"]["scheduled"], 7);
}
