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
