//! What binds, named from what refused the attempts: each limit binding alone gets its own name
//! in `advice.binding`, the warnings and the terminal.

use crate::support::{assert_accounted, scenario, stampede};

/// Two requests a second of 1,000 tokens in, 100 out, on gemini-3.5-flash-lite with every
/// quota off; each case turns one limit on.
fn run_with(mock: &str, strategy: &str) -> serde_json::Value {
    // Every quota off, but the one the case turns on (the same key, written its way).
    let key = mock.split(" =").next().unwrap_or("");
    let off: Vec<&str> = [
        "rpm = 0",
        "tpm = 0",
        "rpd = 0",
        "monthly_cap_usd = 0",
        "spend_limit = { usd = 0, window = \"10m\" }",
    ]
    .into_iter()
    .filter(|line| key.is_empty() || !line.starts_with(&format!("{key} =")))
    .collect();
    let off = off.join("\n");
    let text = format!(
        r#"
name = "binds"
seed = 5
duration = "5m"

[target]
kind = "sim"
model = "gemini-3.5-flash-lite"
profile = "tier1"
thinking_level = "minimal"

[target.mock]
{off}
latency = {{ dist = "constant", value = "200ms" }}
{mock}

[traffic]
arrival = "poisson"
rate = 2
input_tokens = 1000
output_tokens = 100

[strategy]
workers = 16
queue = {{ capacity = 100000 }}
timeout = {{ attempt = "30s", total = "10m" }}
retry = {{ policy = "exponential", base = "1s", cap = "8s", max_attempts = 3 }}
{strategy}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "binds", &text);
    let o = stampede(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--json",
    ]);
    let s: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stderr));
    assert_accounted(&s);
    s
}

fn binds(s: &serde_json::Value) -> (&str, &str) {
    let b = &s["advice"]["binding"];
    (
        b["limit"].as_str().unwrap_or("none"),
        b["sentence"].as_str().unwrap_or(""),
    )
}

#[test]
fn each_limit_binding_alone_is_named() {
    // (what is turned on, the name it must get, words its sentence must hold)
    let cases = [
        ("rpm = 60", "", "rpm", "(RPM)"),
        ("tpm = 60000", "", "tpm", "(TPM)"),
        ("rpd = 100", "", "daily_quota", "(RPD)"),
        (
            "spend_limit = { usd = 0.05, window = \"10m\" }",
            "",
            "spend_limit",
            "spend-based rate limit",
        ),
        ("monthly_cap_usd = 0.1", "", "monthly_spend_cap", "monthly spend cap"),
        ("", "rate_limit = { rpm = 60 }", "client_rate_limit", "rate limit"),
    ];
    for (mock, strategy, want, words) in cases {
        let s = run_with(mock, strategy);
        let (limit, sentence) = binds(&s);
        assert_eq!(limit, want, "{mock}{strategy}: {sentence}");
        assert!(sentence.contains(words), "{mock}{strategy}: {sentence}");
        let refused = &s["attempts"]["refused_by"];
        match want {
            "client_rate_limit" => assert!(refused.as_object().unwrap().is_empty(), "{refused}"),
            // Only the limit turned on refused anything.
            _ => {
                let key = match want {
                    "daily_quota" => "rpd",
                    "monthly_spend_cap" => "monthly_cap",
                    other => other,
                };
                let keys: Vec<&String> = refused.as_object().unwrap().keys().collect();
                assert_eq!(keys, vec![key], "{mock}: {refused}");
            }
        }
        // The binding limit's warning leads, when it has one.
        let first = s["advice"]["warnings"][0]["message"].as_str().unwrap_or("");
        if want == "tpm" {
            assert!(first.starts_with("TPM binds, not RPM"), "{first}");
        }
        if want == "client_rate_limit" {
            assert!(first.starts_with("Your own rate limit binds"), "{first}");
        }
    }
}

#[test]
fn every_run_says_what_it_rests_on() {
    let s = run_with("rpm = 60", "");
    let rests = s["rests_on"].as_array().unwrap();
    let topic = |t: &str| {
        rests
            .iter()
            .find(|a| a["topic"] == t)
            .unwrap_or_else(|| panic!("no {t}: {rests:?}"))["basis"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        topic("latency"),
        "the mock's time to first token, constant 200 ms (your [target.mock] setting)"
    );
    assert!(topic("decode speed").starts_with("not modelled (decode_tps = 0)"));
    assert!(topic("quotas").starts_with("60 RPM, no TPM, no RPD for gemini-3.5-flash-lite: your [target.mock] setting"));
    assert!(topic("prices").starts_with("stampede's catalog of 2026-12-03"));
    assert!(topic("token density").contains("4 characters a token"));
    assert!(topic("thinking").contains("0.1 tokens per answer token"));
    // Without the user's quotas, the preset's are called illustrative.
    let text = "name = \"p\"\nduration = \"10s\"\n[target]\nkind = \"sim\"\nmodel = \"gemini-3.8-flash\"\nprofile = \"tier2\"\n[traffic]\narrival = \"constant\"\nrate = 1\n";
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "p", text);
    let o = stampede(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(o.stdout.contains("what this rests on"), "{}", o.stdout);
    assert!(o.stdout.contains("preset tier2's, illustrative"), "{}", o.stdout);
    let md = std::fs::read_to_string(dir.path().join("o/summary.md")).unwrap();
    assert!(
        md.contains("### What this rests on") && md.contains("| quotas |"),
        "{md}"
    );
}

#[test]
fn traffic_counts_what_lanes_share_and_names_conversations() {
    let dir = tempfile::tempdir().unwrap();
    // 10 requests of 100 tokens, each after a 1,200-token system prompt: 13,000 in all.
    let text = "name = \"t\"\nduration = \"10s\"\n[traffic]\narrival = \"constant\"\nrate = 1\n\
                [[traffic.lanes]]\nname = \"chat\"\nsystem_prompt_tokens = 1200\ninput_tokens = 100\noutput_tokens = 10\n";
    let path = scenario(dir.path(), "t", text);
    let o = stampede(&["traffic", path.to_str().unwrap()]);
    assert!(
        o.stdout.contains("p50 1300") && o.stdout.contains("total 13,000"),
        "{}",
        o.stdout
    );
    let text = "name = \"s\"\nduration = \"1m\"\n[traffic]\narrival = \"sessions\"\nrate = 0.5\nturns = 3\n";
    let path = scenario(dir.path(), "s", text);
    let o = stampede(&["traffic", path.to_str().unwrap()]);
    assert!(o.stdout.contains("conversations: 0.5 new a second"), "{}", o.stdout);
    assert!(!o.stdout.contains("0 users"), "{}", o.stdout);
}
