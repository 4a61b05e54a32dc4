//! Conversations: each turn resends the history, so input grows turn by turn as planned; the
//! shared history is served from the implicit cache, in the simulator and over HTTP alike.

use crate::support::{assert_accounted, root, run_to, scenario};

fn turns(s: &serde_json::Value) -> Vec<(u64, u64, f64, f64, f64)> {
    s["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["turn"].as_u64().unwrap(),
                t["answered"].as_u64().unwrap(),
                t["mean_input_tokens"].as_f64().unwrap(),
                t["mean_planned_input_tokens"].as_f64().unwrap(),
                t["cached_share"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn input_grows_with_the_turn_as_the_history_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = run_to(
        &root().join("scenarios/chat-sessions.toml"),
        dir.path(),
        &["--duration", "10m"],
    );
    assert_accounted(&s);
    let t = turns(&s);
    assert!(t.len() >= 15, "{t:?}");
    // Means of the message (lognormal median 60, p99 400) and answer (median 250, p99 900)
    // sizes: median × exp(σ²/2), σ = ln(p99 / median) / 2.326.
    let mean = |median: f64, p99: f64| median * ((p99 / median).ln() / 2.326_348).powi(2).mul_add(0.5, 0.0).exp();
    let (m, a) = (mean(60.0, 400.0), mean(250.0, 900.0));
    for &(k, n, counted, planned, cached) in &t {
        // What the API counted is what was planned: system prompt, history and message.
        assert!(
            (counted - planned).abs() <= 0.01 * planned,
            "turn {k}: {counted} vs {planned}"
        );
        // And what the model predicts, within the sampling noise of the turn's answers.
        let predicted = 1200.0 + k as f64 * m + (k as f64 - 1.0) * a;
        if n >= 100 {
            assert!(
                (planned / predicted - 1.0).abs() < 0.05,
                "turn {k}: {planned} vs {predicted:.0}"
            );
        }
        // From the second turn the whole previous prompt is cached.
        if k >= 2 {
            assert!(cached > 0.7, "turn {k}: cached share {cached}");
        }
    }
    assert!(
        t.windows(2).all(|w| w[1].3 > w[0].3),
        "input grows with the turn: {t:?}"
    );
    assert!(s["cost_split"]["cache_saving_usd"].as_f64().unwrap() > 0.0);
}

#[test]
fn conversations_over_http_count_and_cache_their_history_like_the_simulator() {
    let text = r#"
name = "talk"
seed = 4
duration = "2s"

[target]
kind = "mock"
model = "gemini-3-flash-preview"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = { dist = "constant", value = "50ms" }

[traffic]
arrival = "sessions"
rate = 5
turns = 3
think = { dist = "constant", value = "100ms" }

[[traffic.lanes]]
name = "chat"
system_prompt_tokens = 1100
input_tokens = 40
output_tokens = 60

[strategy]
workers = 32
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "talk", text);
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &["--target", "sim"]);
    let (_, live) = run_to(&path, &dir.path().join("live"), &[]);
    for (what, s) in [("sim", &sim), ("live", &live)] {
        assert_accounted(s);
        let t = turns(s);
        assert_eq!(t.len(), 3, "{what}: {t:?}");
        for &(k, _, counted, planned, cached) in &t {
            // Turn k: 1,100 + 40k + 60(k - 1) tokens, counted by the mock from the request body.
            let want = 1100.0 + 40.0 * k as f64 + 60.0 * (k as f64 - 1.0);
            assert_eq!((counted, planned), (want, want), "{what}: turn {k}");
            if k >= 2 {
                // The previous turn's prompt (1,100 + 40(k-1) + 60(k-2)) is cached.
                let prefix = 1100.0 + 40.0 * (k - 1) as f64 + 60.0 * (k as f64 - 2.0);
                assert!((cached - prefix / want).abs() < 0.01, "{what}: turn {k}: {cached}");
            }
        }
    }
    assert_eq!(sim["requests"]["scheduled"], live["requests"]["scheduled"]);
}

#[test]
fn replayed_traces_share_prefixes_by_hash_ids_and_by_session() {
    // Mooncake: 512-token blocks named by hash_ids; rows sharing leading ids share a prefix.
    // JSONL: rows of one `session` are turns, each earlier (shorter) prompt a prefix of the next.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mooncake.jsonl"),
        concat!(
            "{\"timestamp\": 0, \"input_length\": 1600, \"output_length\": 20, \"hash_ids\": [1, 2, 3, 4]}\n",
            "{\"timestamp\": 300, \"input_length\": 1600, \"output_length\": 20, \"hash_ids\": [1, 2, 5, 6]}\n",
            "{\"timestamp\": 600, \"input_length\": 1600, \"output_length\": 20, \"hash_ids\": [7, 8, 9, 10]}\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("chats.jsonl"),
        concat!(
            "{\"t\": 0.0, \"input_tokens\": 1100, \"output_tokens\": 20, \"session\": \"a\"}\n",
            "{\"t\": 0.3, \"input_tokens\": 1200, \"output_tokens\": 20, \"session\": \"b\"}\n",
            "{\"t\": 0.6, \"input_tokens\": 1500, \"output_tokens\": 20, \"session\": \"a\"}\n",
            "{\"t\": 0.9, \"input_tokens\": 1900, \"output_tokens\": 20, \"session\": \"a\"}\n",
        ),
    )
    .unwrap();
    let text = |file: &str, format: &str| {
        format!(
            r#"
name = "replay"
duration = "2s"

[target]
kind = "mock"
model = "gemini-3-flash-preview"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = {{ dist = "constant", value = "50ms" }}

[traffic]
arrival = "trace"

[traffic.trace]
file = "{file}"
format = "{format}"

[strategy]
workers = 4
"#
        )
    };
    // Mooncake: the second row hits blocks 1-2 (1,024 tokens, the model's minimum); the third
    // shares nothing. JSONL: a's second turn hits its first prompt (1,100), its third its second
    // (1,500); b shares nothing.
    for (name, file, format, cached) in [
        ("mooncake", "mooncake.jsonl", "mooncake", 1024),
        ("chats", "chats.jsonl", "jsonl", 1100 + 1500),
    ] {
        let path = scenario(dir.path(), name, &text(file, format));
        let (_, sim) = run_to(&path, &dir.path().join(format!("{name}-sim")), &["--target", "sim"]);
        let (_, live) = run_to(&path, &dir.path().join(format!("{name}-live")), &[]);
        for (what, s) in [("sim", &sim), ("live", &live)] {
            assert_accounted(s);
            assert_eq!(s["tokens"]["cached"], cached, "{name} {what}: {}", s["tokens"]);
        }
    }
}
