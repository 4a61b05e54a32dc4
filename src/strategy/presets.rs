//! Presets that mirror real clients, each a `[strategy]` table applied under the user's own
//! keys (`preset = "gemini-cli"` and then anything overridden).
//!
//! Sources: each client's own retry code and documentation — python google-genai
//! (`HttpRetryOptions`), gemini-cli's retry helper, the AWS SDKs' "standard" and "adaptive"
//! retry modes, and gRPC's retry design (A6, retry throttling):
//! - `google-genai-default`: python google-genai without retry options — no retries.
//! - `google-genai-retry`: google-genai with `HttpRetryOptions()` — 5 attempts, delays 1 s, 2 s,
//!   4 s... up to 60 s plus up to 1 s of additive jitter (tenacity `wait_exponential_jitter`),
//!   retrying 408, 429, 500, 502, 503, 504 — per-day 429s like any other — and, among transport
//!   failures, only httpx `ConnectError` and `TimeoutException`: a connection lost after the
//!   request went out (`RemoteProtocolError`, `ReadError`) is final; RetryInfo ignored. Read
//!   from `google/genai/_api_client.py` (`retry_args`, `_HTTPX_TRANSIENT_EXC`) at commit
//!   66807187 of googleapis/python-genai (2026-08-21). The SDK sets no per-attempt timeout
//!   unless `HttpOptions(timeout=…)` is given; a preset leaves the scenario's timeouts alone, so
//!   model the SDK's default with `timeout = { attempt = T, total = T }`.
//! - `google-genai-js-retry`: the JavaScript `@google/genai` SDK with `httpOptions.retryOptions`
//!   at its defaults — p-retry 4.6.2 with 5 attempts, waits of 1 s doubling to 60 s each
//!   multiplied by a random factor in [1, 2] (p-retry's `randomize`), on 408, 429, 500, 502, 503
//!   and 504 — per-day 429s too — and on an attempt its own `timeout` aborted; a failed fetch
//!   (Node's `TypeError: fetch failed`: a refused or cut connection) is final (p-retry retries
//!   a TypeError only for browsers' network-error messages). Read from `src/_api_client.ts`
//!   (`apiCall`) of googleapis/js-genai at 6e9b35c4 (2.18.0, 2026-08-21). Without
//!   `retryOptions` the JS SDK makes one attempt (`google-genai-default`).
//! - `gemini-cli`: up to 10 attempts, 5 s doubling to 30 s with ±30% jitter; RetryInfo honoured,
//!   over 300 s final; per-day quota 429s final. (gemini-cli also switches to a fallback model
//!   on persistent 429s: add `[strategy.fallback]` to model that.)
//! - `aws-standard`: 3 attempts, full jitter, `min(1 s · 2^(attempt−1), 20 s)`, the 500-token
//!   retry quota (5 per throttling retry, 14 per other retry).
//! - `aws-adaptive`: aws-standard plus the CUBIC client-side rate limiter.
//! - `grpc-throttled`: 5 attempts, `U(0, min(0.1 s · 2^(n−1), 1 s))`, retry throttling with
//!   10 tokens and a 0.1 token ratio.
//! - `exponential-full-jitter`: plain exponential backoff with full jitter, 5 attempts, 1 s
//!   doubling to 32 s (AWS's recommendation).
//!
//! stampede's exponential wait is `min(cap, base · 2^n)` with n = 1 at the first retry, so a
//! first delay of 1 s is `base = "500ms"`.

use serde::Deserialize;

use super::StrategySpec;

/// (name, `[strategy]` table).
pub const PRESETS: [(&str, &str); 8] = [
    ("google-genai-default", "retry = { policy = \"none\", max_attempts = 1 }"),
    (
        "google-genai-retry",
        "retry = { policy = \"exponential\", base = \"500ms\", cap = \"60s\", jitter = \"additive\", jitter_max = \"1s\", max_attempts = 5, honor_retry_delay = false, give_up_on_daily_quota = false, retry_on = [\"408\", \"429\", \"500\", \"502\", \"503\", \"504\", \"connect\", \"timeout\"] }",
    ),
    (
        "google-genai-js-retry",
        "retry = { policy = \"exponential\", base = \"750ms\", cap = \"60s\", jitter = \"proportional\", jitter_ratio = 0.3333, max_attempts = 5, honor_retry_delay = false, give_up_on_daily_quota = false, retry_on = [\"408\", \"429\", \"500\", \"502\", \"503\", \"504\", \"timeout\"] }",
    ),
    (
        "gemini-cli",
        "retry = { policy = \"exponential\", base = \"2500ms\", cap = \"30s\", jitter = \"proportional\", jitter_ratio = 0.3, max_attempts = 10, honor_retry_delay = true, max_retry_delay = \"300s\", give_up_on_daily_quota = true }",
    ),
    (
        "aws-standard",
        "retry = { policy = \"exponential\", base = \"500ms\", cap = \"20s\", jitter = \"full\", max_attempts = 3, honor_retry_delay = false, budget = { kind = \"aws\" } }",
    ),
    (
        "aws-adaptive",
        "adaptive_rate = true\nretry = { policy = \"exponential\", base = \"500ms\", cap = \"20s\", jitter = \"full\", max_attempts = 3, honor_retry_delay = false, budget = { kind = \"aws\" } }",
    ),
    (
        "grpc-throttled",
        "retry = { policy = \"exponential\", base = \"50ms\", cap = \"1s\", jitter = \"full\", max_attempts = 5, honor_retry_delay = true, budget = { kind = \"grpc\", max_tokens = 10, token_ratio = 0.1 } }",
    ),
    (
        "exponential-full-jitter",
        "retry = { policy = \"exponential\", base = \"500ms\", cap = \"32s\", jitter = \"full\", max_attempts = 5, honor_retry_delay = false }",
    ),
];

/// The names of the presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The retry of a preset, alone (the search lays it over a plan's other settings).
pub fn retry_of(name: &str) -> Result<super::retry::RetrySpec, String> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        format!(
            "unknown strategy preset {name:?}; expected one of {}",
            names().join(", ")
        )
    })?;
    let table: toml::Table = toml::from_str(text).expect("presets parse");
    let mut spec = resolve(&table)?;
    spec.preset = None;
    Ok(spec.retry)
}

/// Merges `over` into `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A variant laid over a base `[strategy]`: the base without its preset, then the variant's
/// preset (if any, else the base's), then the variant's own keys. Workers, queue and timeouts
/// stay common unless the variant says otherwise.
pub fn resolve_layers(base: &toml::Table, variant: &toml::Table) -> Result<StrategySpec, String> {
    let mut merged = toml::Table::new();
    let preset = variant
        .get("preset")
        .or_else(|| base.get("preset"))
        .and_then(toml::Value::as_str);
    let mut base = base.clone();
    base.remove("preset");
    base.remove("name");
    merge(&mut merged, &base);
    if let Some(name) = preset {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            format!(
                "unknown strategy preset {name:?}; expected one of {}",
                names().join(", ")
            )
        })?;
        let preset_table: toml::Table = toml::from_str(text).expect("presets parse");
        merge(&mut merged, &preset_table);
        merged.insert("preset".into(), toml::Value::String(name.to_string()));
    }
    merge(&mut merged, variant);
    let spec = StrategySpec::deserialize(merged).map_err(|e| e.to_string())?;
    spec.validate()?;
    Ok(spec)
}

/// The strategy of a `[strategy]` table: its `preset` (if any) with the table's own keys on top.
pub fn resolve(table: &toml::Table) -> Result<StrategySpec, String> {
    let mut merged = toml::Table::new();
    if let Some(name) = table.get("preset").and_then(toml::Value::as_str) {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            format!(
                "unknown strategy preset {name:?}; expected one of {}",
                names().join(", ")
            )
        })?;
        merged = toml::from_str(text).expect("presets parse");
    }
    merge(&mut merged, table);
    let spec = StrategySpec::deserialize(merged).map_err(|e| e.to_string())?;
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::retry::{BackoffPolicy, Jitter};

    #[test]
    fn every_preset_resolves_and_user_keys_win() {
        for name in names() {
            let t: toml::Table = toml::from_str(&format!("preset = \"{name}\"")).unwrap();
            let s = resolve(&t).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.preset.as_deref(), Some(name));
        }
        let t: toml::Table =
            toml::from_str("preset = \"gemini-cli\"\nworkers = 7\nretry = { max_attempts = 3 }").unwrap();
        let s = resolve(&t).unwrap();
        assert_eq!(s.workers, 7);
        assert_eq!(s.retry.max_attempts, 3);
        assert_eq!(
            s.retry.jitter,
            Jitter::Proportional,
            "the rest of the preset's retry table stays"
        );
        assert_eq!(s.retry.policy, BackoffPolicy::Exponential);
        let bad: toml::Table = toml::from_str("preset = \"curl\"").unwrap();
        assert!(resolve(&bad).unwrap_err().contains("unknown strategy preset"));
        let none: toml::Table = toml::from_str("preset = \"google-genai-default\"").unwrap();
        assert_eq!(resolve(&none).unwrap().retry.policy, BackoffPolicy::None);
        // Layers: the base's workers stay, the variant's preset replaces the base's retry.
        let base: toml::Table = toml::from_str("workers = 9\nretry = { max_attempts = 2, base = \"3s\" }").unwrap();
        let variant: toml::Table = toml::from_str("name = \"cli\"\npreset = \"gemini-cli\"").unwrap();
        let s = resolve_layers(&base, &variant).unwrap();
        assert_eq!(
            (s.workers, s.retry.max_attempts, s.name.as_deref()),
            (9, 10, Some("cli"))
        );
    }
}
