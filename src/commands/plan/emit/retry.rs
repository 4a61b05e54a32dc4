//! The plan's retry rule as the official SDKs' `HttpRetryOptions`, and what those cannot say.
//!
//! All three SDKs take the same fields (`attempts`, `initial_delay`, `max_delay`, `exp_base`,
//! `jitter`, `http_status_codes`) but draw the waits two ways:
//! - python google-genai (tenacity `wait_exponential_jitter`, read in tenacity 9.1.4's
//!   `wait.py` and google-genai 3.6.1's `_api_client.retry_args`) and go-genai (`retryDelay` in
//!   `common.go`, v1.69.0, "the same formula as the Python SDK"): before retry k (1 at the first
//!   retry) `min(initial_delay · exp_base^(k−1) + U(0, jitter), max_delay)`. stampede's
//!   exponential wait is `min(cap, base · 2^n)` with n = 1 at the first retry plus `jitter`, so
//!   `initial_delay = 2 · base` and additive jitter is `jitter = jitter_max`, exactly.
//! - @google/genai 2.18.0 (`apiCall` in `dist/node/index.mjs`: p-retry 4.6.2 over retry 0.13.1's
//!   `createTimeout`): `min(round(r · initial_delay · exp_base^(k−1)), max_delay)` with r = 1,
//!   or r ~ U(1, 2) when `jitter > 0`; that is stampede's proportional jitter with ratio 1/3 and
//!   `initial_delay = 2 · base · 2/3`.
//!
//! Any other jitter is emitted at the plan's mean first wait without spread, and said.

use crate::strategy::retry::{BackoffPolicy, Jitter, RetryOn, RetrySpec};

/// The SDKs' retry options, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct SdkRetry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry (before jitter).
    pub initial_delay: f64,
    /// The longest wait.
    pub max_delay: f64,
    /// What each wait is multiplied by.
    pub exp_base: f64,
    /// python, go: seconds of U(0, jitter) added; typescript: above 0, each wait × U(1, 2).
    pub jitter: f64,
    /// HTTP statuses retried.
    pub status_codes: Vec<u16>,
}

/// The wait before the first retry without jitter (s), and how each wait grows.
fn first_wait(r: &RetrySpec) -> (f64, f64) {
    let (base, cap) = (r.base.as_secs_f64(), r.cap.as_secs_f64());
    match r.policy {
        BackoffPolicy::Fixed => (base, 1.0),
        // Decorrelated draws U(base, 3·base) first: its mean, growing about as fast.
        _ => ((2.0 * base).min(cap), 2.0),
    }
}

/// The HTTP statuses among the plan's `retry_on`.
fn status_codes(r: &RetrySpec) -> Vec<u16> {
    r.retry_on
        .iter()
        .filter_map(|o| match o {
            RetryOn::S408 => Some(408),
            RetryOn::S429 => Some(429),
            RetryOn::S500 => Some(500),
            RetryOn::S502 => Some(502),
            RetryOn::S503 => Some(503),
            RetryOn::S504 => Some(504),
            _ => None,
        })
        .collect()
}

/// Whether the plan retries at all.
fn retries(r: &RetrySpec) -> bool {
    r.policy != BackoffPolicy::None && r.max_attempts > 1
}

/// The jitter's name as the scenario writes it.
fn jitter_name(j: Jitter) -> &'static str {
    match j {
        Jitter::None => "none",
        Jitter::Full => "full",
        Jitter::Equal => "equal",
        Jitter::Additive => "additive",
        Jitter::Proportional => "proportional",
    }
}

/// The sentence for a jitter the SDK does not draw, emitted at `mean` seconds for the first wait.
fn shape_gap(r: &RetrySpec, how: &str, mean: f64) -> String {
    let what = if r.policy == BackoffPolicy::Decorrelated {
        "retry.policy = \"decorrelated\" (each wait U(base, 3 × the last))".to_string()
    } else {
        format!("retry.jitter = \"{}\"", jitter_name(r.jitter))
    };
    format!(
        "{what} is not a wait the SDK draws ({how}): emitted at the plan's mean first wait, {} s, growing as the \
         plan's does, without its spread.",
        super::trim(mean)
    )
}

/// Python's and Go's options (tenacity's formula), with the gap in the waits' shape if any;
/// `None` when the plan makes one attempt.
pub fn tenacity(r: &RetrySpec) -> Option<(SdkRetry, Option<String>)> {
    if !retries(r) {
        return None;
    }
    let (v1, growth) = first_wait(r);
    let exact = r.policy != BackoffPolicy::Decorrelated;
    let (initial, jitter, gap) = match r.jitter {
        _ if !exact => (v1, 0.0, true),
        Jitter::None => (v1, 0.0, false),
        Jitter::Additive => (v1, r.jitter_max.as_secs_f64(), false),
        Jitter::Full => (v1 / 2.0, 0.0, true),
        Jitter::Equal => (v1 * 0.75, 0.0, true),
        Jitter::Proportional => (v1, 0.0, true),
    };
    Some(sdk_options(
        r,
        (initial, growth, jitter),
        gap.then_some("it adds U(0, jitter) s to initial_delay × exp_base^(k−1)"),
    ))
}

/// The SDK's options for `r` from its first wait, growth and jitter; with `gap` (how the SDK
/// draws its waits) when their shape differs from the plan's, the gap said.
fn sdk_options(
    r: &RetrySpec,
    (initial, growth, jitter): (f64, f64, f64),
    gap: Option<&str>,
) -> (SdkRetry, Option<String>) {
    (
        SdkRetry {
            attempts: r.max_attempts,
            initial_delay: initial,
            max_delay: r.cap.as_secs_f64(),
            exp_base: growth,
            jitter,
            status_codes: status_codes(r),
        },
        gap.map(|how| shape_gap(r, how, initial)),
    )
}

/// The JavaScript SDK's options (p-retry's formula), with the gap in the waits' shape if any;
/// `None` when the plan makes one attempt.
pub fn p_retry(r: &RetrySpec) -> Option<(SdkRetry, Option<String>)> {
    if !retries(r) {
        return None;
    }
    let (v1, growth) = first_wait(r);
    let third = (r.jitter_ratio - 1.0 / 3.0).abs() < 1e-3;
    let exact = r.policy != BackoffPolicy::Decorrelated;
    let (initial, jitter, gap) = match r.jitter {
        _ if !exact => (v1, 0.0, true),
        Jitter::None => (v1, 0.0, false),
        // p-retry's U(1, 2) is ±1/3 around its midpoint: the plan's ratio, read as exactly 1/3.
        Jitter::Proportional if third => (v1 * 2.0 / 3.0, 1.0, false),
        Jitter::Proportional => (v1, 0.0, true),
        Jitter::Additive => (v1 + r.jitter_max.as_secs_f64() / 2.0, 0.0, true),
        Jitter::Full => (v1 / 2.0, 0.0, true),
        Jitter::Equal => (v1 * 0.75, 0.0, true),
    };
    Some(sdk_options(
        r,
        (initial, growth, jitter),
        gap.then_some("with jitter it multiplies each wait by U(1, 2), else none"),
    ))
}

/// What an SDK retries besides its status codes, whatever its options say (from its source).
#[derive(Debug, Clone, Copy)]
pub struct Transient {
    /// Connections that could not be made.
    pub connect: bool,
    /// Connections lost after the request went out.
    pub lost: bool,
    /// Attempts its timeout ended.
    pub timeout: bool,
    /// An empty `http_status_codes` means the SDK's defaults rather than none.
    pub empty_codes_mean_defaults: bool,
}

/// The gaps between the failures the plan retries (`retry_on`) and those `sdk` retries.
pub fn class_gaps(r: &RetrySpec, sdk: &str, t: Transient) -> Vec<String> {
    if !retries(r) {
        return Vec::new();
    }
    let has = |o: RetryOn| r.retry_on.contains(&o);
    let plan_connect = has(RetryOn::Transport) || has(RetryOn::Connect);
    let mut out = Vec::new();
    for (plan, sdk_does, what) in [
        (plan_connect, t.connect, "connections that could not be made"),
        (
            has(RetryOn::Transport),
            t.lost,
            "connections lost after the request went out",
        ),
        (has(RetryOn::Timeout), t.timeout, "attempts that timed out"),
    ] {
        match (plan, sdk_does) {
            (true, false) => out.push(format!("retry_on: the plan retries {what}; {sdk} does not.")),
            (false, true) => out.push(format!(
                "retry_on: {sdk} retries {what} whatever its options; the plan does not."
            )),
            _ => {}
        }
    }
    if has(RetryOn::Stream) || has(RetryOn::Decode) {
        out.push(format!(
            "retry_on: the plan retries streams cut short and answers that are not JSON; {sdk} does not."
        ));
    }
    if status_codes(r).is_empty() && t.empty_codes_mean_defaults {
        out.push(format!(
            "retry_on: the plan retries no HTTP status, but {sdk} reads an empty list as its defaults (408, 429, \
             500, 502, 503, 504), which it then retries."
        ));
    }
    out
}

/// The gaps every SDK shares: none honours the server's retry delay, gives up on a per-day
/// quota at once or keeps a retry budget.
pub fn rule_gaps(r: &RetrySpec, sdk: &str) -> Vec<String> {
    if !retries(r) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if r.honor_retry_delay {
        let most = r
            .max_retry_delay
            .map_or(String::new(), |d| format!(", giving up past {}", super::human(d)));
        out.push(format!(
            "retry.honor_retry_delay: the plan waits at least the server's RetryInfo delay{most}; {sdk} ignores it."
        ));
    }
    if r.give_up_on_daily_quota {
        out.push(format!(
            "retry.give_up_on_daily_quota: the plan gives up at once on a per-day 429; {sdk} retries it like any \
             other."
        ));
    }
    if let Some(b) = &r.budget {
        let kind = match b {
            crate::strategy::budget::BudgetSpec::Grpc { .. } => "grpc",
            crate::strategy::budget::BudgetSpec::Percent { .. } => "percent",
            crate::strategy::budget::BudgetSpec::Aws { .. } => "aws",
        };
        out.push(format!(
            "retry.budget = {{ kind = \"{kind}\" }}: a retry budget; {sdk} retries every failure up to its \
             attempts."
        ));
    }
    out
}

/// The retry rule in a phrase, for the header.
pub fn describe(r: &RetrySpec) -> String {
    if !retries(r) {
        return "no retries (one attempt)".into();
    }
    let wait = match r.policy {
        BackoffPolicy::Fixed => format!("a fixed wait of {}", super::human(r.base)),
        BackoffPolicy::Decorrelated => format!(
            "decorrelated waits from {} up to {}",
            super::human(r.base),
            super::human(r.cap)
        ),
        _ => format!(
            "waits of {} × 2^n (n = 1 at the first retry) up to {}",
            super::human(r.base),
            super::human(r.cap)
        ),
    };
    let jitter = match r.jitter {
        _ if r.policy == BackoffPolicy::Decorrelated => String::new(),
        Jitter::Additive => format!(" plus up to {} (additive jitter)", super::human(r.jitter_max)),
        Jitter::Proportional => format!(" ± {:.0}% (proportional jitter)", r.jitter_ratio * 100.0),
        j => format!(" ({} jitter)", jitter_name(j)),
    };
    let on: Vec<String> = r
        .retry_on
        .iter()
        .map(|o| {
            serde_json::to_value(o)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    format!(
        "retry: up to {} attempts, {wait}{jitter}, on {}",
        r.max_attempts,
        on.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> RetrySpec {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn google_genai_retry_maps_to_the_sdk_defaults_exactly() {
        // The preset models HttpRetryOptions() at its defaults: the mapping must give them back.
        let t: toml::Table = toml::from_str("preset = \"google-genai-retry\"").unwrap();
        let r = crate::strategy::presets::resolve(&t).unwrap().retry;
        let (o, gap) = tenacity(&r).unwrap();
        assert_eq!(
            o,
            SdkRetry {
                attempts: 5,
                initial_delay: 1.0,
                max_delay: 60.0,
                exp_base: 2.0,
                jitter: 1.0,
                status_codes: vec![408, 429, 500, 502, 503, 504],
            }
        );
        assert_eq!(gap, None);
        let t: toml::Table = toml::from_str("preset = \"google-genai-js-retry\"").unwrap();
        let r = crate::strategy::presets::resolve(&t).unwrap().retry;
        let (o, gap) = p_retry(&r).unwrap();
        assert!((o.initial_delay - 1.0).abs() < 1e-3, "{o:?}");
        assert_eq!((o.jitter, o.exp_base, o.max_delay, gap), (1.0, 2.0, 60.0, None));
    }

    #[test]
    fn other_jitters_are_emitted_at_their_mean_and_said() {
        let full = spec("max_attempts = 3\njitter = \"full\"\nbase = \"500ms\"\ncap = \"20s\"");
        let (o, gap) = tenacity(&full).unwrap();
        assert_eq!((o.initial_delay, o.jitter, o.attempts), (0.5, 0.0, 3));
        assert!(gap.unwrap().contains("retry.jitter = \"full\""));
        let fixed = spec("max_attempts = 4\npolicy = \"fixed\"\njitter = \"none\"\nbase = \"250ms\"");
        let (o, gap) = tenacity(&fixed).unwrap();
        assert_eq!((o.initial_delay, o.exp_base, gap), (0.25, 1.0, None));
        let none = spec("max_attempts = 1");
        assert!(tenacity(&none).is_none() && p_retry(&none).is_none());
        assert!(rule_gaps(&none, "x").is_empty(), "no retries, no retry gaps");
    }

    #[test]
    fn class_gaps_name_what_the_sdk_retries_on_its_own() {
        let python = Transient {
            connect: true,
            lost: false,
            timeout: true,
            empty_codes_mean_defaults: true,
        };
        let plan = spec("max_attempts = 3\nretry_on = [\"429\", \"transport\", \"stream\"]");
        let gaps = class_gaps(&plan, "sdk", python);
        assert_eq!(gaps.len(), 3, "{gaps:?}");
        assert!(gaps[0].contains("connections lost") && gaps[0].contains("sdk does not"));
        assert!(gaps[1].contains("sdk retries attempts that timed out whatever"));
        assert!(gaps[2].contains("streams cut short"));
        let no_codes = spec("max_attempts = 3\nretry_on = [\"connect\", \"timeout\"]");
        let gaps = class_gaps(&no_codes, "sdk", python);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!(gaps[0].contains("empty list as its defaults"));
    }
}
