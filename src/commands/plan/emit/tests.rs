//! The emitted code carries the plan's own values, and the gaps name what it cannot say.

use std::collections::BTreeMap;

use super::*;
use crate::commands::plan::Costs;

/// A recommendation of `workers` for the strategy in `toml` (a `[strategy]` table).
fn rec(toml: &str, workers: u32) -> PlanRecommendation {
    let table: toml::Table = toml::from_str(toml).unwrap();
    let strategy = crate::strategy::presets::resolve(&table).unwrap();
    PlanRecommendation {
        candidate: "fast".into(),
        workers,
        settings: BTreeMap::new(),
        why: "17 workers is the fewest that met every objective with every seed, plus 10%.".into(),
        advice: Vec::new(),
        strategy,
        cost_usd: Some(Costs {
            hour: 0.5,
            day: 12.0,
            month: 360.0,
        }),
        chosen_because: None,
    }
}

/// The google-genai-retry preset with a client rate limit, a queue and a fallback model.
const SDK_SHAPED: &str = r#"
preset = "google-genai-retry"
workers = 4
queue = { capacity = 50, overflow = "drop-oldest", deadline = "3s" }
rate_limit = { rpm = 120, burst_requests = 3 }
timeout = { attempt = "20s", total = "90s" }
fallback = { model = "gemini-2.5-flash-lite", on = ["429", "5xx"] }
"#;

#[test]
fn python_carries_the_plans_values_and_the_sdks_options() {
    let code = emit(Language::Python, &rec(SDK_SHAPED, 19), "gemini-2.5-flash", "chat");
    for needle in [
        "# plan_client.py — calling plan \"fast\" of scenario \"chat\".\n",
        "# Emitted by `stampede plan --emit python` for google-genai",
        "$0.5000 an hour, $12.00 a day, $360.00 a 30-day month",
        "17 workers is the fewest",
        "MODEL = \"gemini-2.5-flash\"\n",
        // The recommendation's workers, not the candidate's own 4.
        "WORKERS = 19  #",
        "QUEUE_CAPACITY = 50  #",
        "OVERFLOW = \"drop-oldest\"",
        "QUEUE_DEADLINE_S = 3.0  #",
        "ATTEMPT_TIMEOUT_MS = 20000  #",
        "TOTAL_TIMEOUT_S = 90.0  #",
        "RPM = 120  #",
        "BURST_REQUESTS = 3.0  #",
        "FALLBACK_MODEL = \"gemini-2.5-flash-lite\"",
        "return error.code in (429,) or error.code >= 500",
        "attempts=5,",
        "initial_delay=1.0,",
        "max_delay=60.0,",
        "exp_base=2.0,",
        "jitter=1.0,",
        "http_status_codes=[408, 429, 500, 502, 503, 504],",
        "class _PacedTransport(httpx.AsyncBaseTransport):",
    ] {
        assert!(code.contains(needle), "missing {needle:?} in:\n{code}");
    }
    assert!(
        !code.contains("{{") && !code.contains("{%"),
        "template syntax left over"
    );
    assert!(code.contains("WORKERS = 19") && !code.contains("WORKERS = 4"));
}

#[test]
fn python_without_retries_limit_or_fallback_stays_small() {
    let code = emit(
        Language::Python,
        &rec("preset = \"google-genai-default\"", 7),
        "gemini-2.5-pro",
        "s",
    );
    assert!(code.contains("RETRY_OPTIONS = None  # the plan makes one attempt"));
    assert!(code.contains("QUEUE_DEADLINE_S = None"));
    for absent in [
        "_PacedTransport",
        "RPM =",
        "FALLBACK_MODEL",
        "_falls_back",
        "contextvars",
    ] {
        assert!(
            !code.contains(absent),
            "{absent} emitted for a plan without it:\n{code}"
        );
    }
}

#[test]
fn typescript_carries_the_plans_values() {
    let code = emit(Language::Typescript, &rec(SDK_SHAPED, 19), "gemini-2.5-flash", "chat");
    for needle in [
        "// plan_client.ts — calling plan \"fast\"",
        "export const WORKERS = 19;",
        "export const QUEUE_CAPACITY = 50;",
        "export const QUEUE_DEADLINE_MS: number | null = 3000;",
        "export const ATTEMPT_TIMEOUT_MS = 20000;",
        "export const TOTAL_TIMEOUT_MS = 90000;",
        "export const RPM = 120;",
        "export const FALLBACK_MODEL = \"gemini-2.5-flash-lite\";",
        "error.status === 429 || error.status >= 500",
        "attempts: 5,",
        // Additive jitter is not p-retry's: the mean first wait (1 s + 1 s / 2), no spread.
        "initialDelay: 1.5,",
        "maxDelay: 60,",
        "jitter: 0,",
        "httpStatusCodes: [408, 429, 500, 502, 503, 504],",
        "httpOptions: {baseUrl, timeout: ATTEMPT_TIMEOUT_MS, retryOptions: RETRY_OPTIONS}",
    ] {
        assert!(code.contains(needle), "missing {needle:?} in:\n{code}");
    }
    let js = emit(
        Language::Typescript,
        &rec("preset = \"google-genai-js-retry\"", 3),
        "m",
        "s",
    );
    assert!(js.contains("initialDelay: 1,") && js.contains("jitter: 1,"), "{js}");
}

#[test]
fn go_carries_the_plans_values() {
    let code = emit(Language::Go, &rec(SDK_SHAPED, 19), "gemini-2.5-flash", "chat");
    for needle in [
        "// plan_client.go — calling plan \"fast\"",
        "package planclient",
        "Workers = 19\n",
        "QueueCapacity = 50\n",
        "QueueDeadline = 3 * time.Second\n",
        "AttemptTimeout = 20 * time.Second\n",
        "TotalTimeout = 90 * time.Second\n",
        "RPM = 120\n",
        "FallbackModel = \"gemini-2.5-flash-lite\"",
        "return apiErr.Code == 429 || apiErr.Code >= 500",
        "Attempts:        genai.Ptr[int32](5),",
        "InitialDelay:    genai.Ptr(1.0),",
        "MaxDelay:        genai.Ptr(60.0),",
        "Jitter:          genai.Ptr(1.0),",
        "HTTPStatusCodes: []int32{408, 429, 500, 502, 503, 504},",
        "limiters: map[string]*limiter{}",
    ] {
        assert!(code.contains(needle), "missing {needle:?} in:\n{code}");
    }
    let plain = emit(Language::Go, &rec("retry = { max_attempts = 1 }", 2), "m", "s");
    assert!(plain.contains("var RetryOptions *genai.HTTPRetryOptions\n"));
    assert!(plain.contains("QueueDeadline = 0 * time.Second"));
    assert!(!plain.contains("costKey") && !plain.contains("fallsBack"), "{plain}");
}

#[test]
fn the_sdk_shaped_plan_leaves_only_the_honest_gaps() {
    let s = rec(SDK_SHAPED, 19).strategy;
    // Python: the retry rule is exactly the SDK's; only httpx's reading of the attempt timeout.
    let py = unexpressed(Language::Python, &s);
    assert_eq!(py.len(), 1, "{py:?}");
    assert!(py[0].starts_with("timeout.attempt = 20s"), "{py:?}");
    // TypeScript: retries unpaced, additive jitter, connect failures final, all said.
    let ts = unexpressed(Language::Typescript, &s);
    assert_eq!(ts.len(), 3, "{ts:?}");
    assert!(ts[0].starts_with("rate_limit: this client paces each request's first attempt only"));
    assert!(ts[1].starts_with("retry.jitter = \"additive\""));
    assert!(ts[2].contains("connections that could not be made; @google/genai does not"));
    // Go: every transport error is retried, a lost connection too.
    let go = unexpressed(Language::Go, &s);
    assert_eq!(go.len(), 1, "{go:?}");
    assert!(go[0].contains("go-genai retries connections lost after the request went out"));
}

#[test]
fn a_plan_beyond_the_sdk_lists_each_setting_it_cannot_express() {
    let s = rec(
        r#"
        retry = { max_attempts = 4, jitter = "full", honor_retry_delay = true, max_retry_delay = "30s", budget = { kind = "grpc" } }
        breaker = { failure_rate = 0.5, size = 20 }
        hedge = { after = "2s" }
        cache = { ttl = "5m", capacity = 1000 }
        dedup = true
        throttle = { k = 2.0 }
        adaptive_rate = true
        concurrency = { algorithm = "aimd" }
        replicas = 3
        queue = { scheduler = "fair" }
        fallback = { degraded = true, on = ["breaker", "timeout"] }
        "#,
        5,
    )
    .strategy;
    let gaps = unexpressed(Language::Python, &s);
    let text = gaps.join("\n");
    for needle in [
        "concurrency.algorithm = \"aimd\"",
        "replicas = 3: run one copy of this client per replica",
        "queue.scheduler = \"fair\"",
        "breaker: a circuit breaker per model (opens at 50% failures over 20 calls",
        "hedge: a second copy of an attempt still running after 2s",
        "cache: a response cache (1000 entries for 5m)",
        "dedup:",
        "throttle: Google SRE",
        "adaptive_rate:",
        "fallback.on = \"breaker\"",
        "retry.jitter = \"full\" is not a wait the SDK draws",
        "retry.honor_retry_delay: the plan waits at least the server's RetryInfo delay, giving up past 30s; \
         google-genai ignores it",
        "retry.give_up_on_daily_quota",
        "retry.budget = { kind = \"grpc\" }",
        "google-genai does not.",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The emission lists them at the top, as comments, before any code.
    let code = emit(
        Language::Python,
        &PlanRecommendation {
            strategy: s,
            ..rec("", 5)
        },
        "m",
        "s",
    );
    let top = &code[..code.find("\"\"\"").unwrap()];
    assert!(top.contains("# Not expressed here"), "{top}");
    assert!(top.contains("# - hedge: a second copy"), "{top}");
    assert!(top.lines().all(|l| l.starts_with('#')), "{top}");
    assert!(code.contains("def degraded_answer(contents: Any) -> Any:"));
    assert!(code.contains("return isinstance(error, httpx.TimeoutException)"));
}

#[test]
fn languages_parse_from_their_names() {
    assert_eq!("python".parse::<Language>(), Ok(Language::Python));
    assert_eq!("TS".parse::<Language>(), Ok(Language::Typescript));
    assert_eq!("go".parse::<Language>(), Ok(Language::Go));
    assert!("rust"
        .parse::<Language>()
        .unwrap_err()
        .contains("python, typescript or go"));
    assert_eq!(Language::Go.file_name(), "plan_client.go");
}

#[test]
fn every_preset_renders_in_every_language() {
    for name in crate::strategy::presets::names() {
        for shape in [
            "",
            "\nrate_limit = { rpm = 60, scope = \"model\" }\nfallback = { degraded = true }",
        ] {
            let r = rec(&format!("preset = \"{name}\"{shape}"), 3);
            for language in [Language::Python, Language::Typescript, Language::Go] {
                let code = emit(language, &r, "m", "s");
                assert!(
                    !code.contains("{{") && !code.contains("{%"),
                    "{name} {language:?}:\n{code}"
                );
                if language != Language::Python {
                    assert!(!code.contains("True") && !code.contains("False"), "{name} {language:?}");
                }
                assert!(code.ends_with("}\n") || code.ends_with(")\n"), "{name} {language:?}");
            }
        }
    }
}

#[test]
fn names_from_the_scenario_cannot_break_out_of_strings_or_comments() {
    let mut r = rec("fallback = { model = \"x\\\"\\nimport os\" }", 2);
    r.candidate = "a\nimport os".into();
    for language in [Language::Python, Language::Typescript, Language::Go] {
        let code = emit(language, &r, "m\"\nos.exit()", "s\r\nrm");
        assert!(
            !code
                .lines()
                .any(|l| l.starts_with("import os") || l.starts_with("os.exit") || l.starts_with("rm")),
            "{code}"
        );
        assert!(code.contains(r#""m\"\nos.exit()""#), "{language:?}:\n{code}");
        assert!(code.contains(r#""x\"\nimport os""#), "{language:?}:\n{code}");
    }
}
