//! The plan as Go on `google.golang.org/genai` (`templates/client.go`).
//!
//! SDK facts relied on, read from googleapis/go-genai v1.69.0 (commit 6fd3e65e, 2026-08-21):
//! - `HTTPOptions.RetryOptions` (`*HTTPRetryOptions`: `Attempts *int32`, `InitialDelay`,
//!   `MaxDelay`, `ExpBase`, `Jitter *float64`, `HTTPStatusCodes []int32`) drives
//!   `retryHTTPRequest` in `common.go`; nil makes one attempt. Waits: see [`super::retry`]. It
//!   retries a listed status (an empty list means the defaults 408, 429, 500, 502, 503, 504) and
//!   every transport error (`err != nil`: refused, lost, timed out), and stops when the request's
//!   context is done.
//! - `HTTPOptions.Timeout` is a context deadline set once around the whole retry loop
//!   (`sendRequest` in `api_client.go`), not per attempt; the emitted code leaves it unset and
//!   bounds each attempt in its own `http.RoundTripper`, after any rate-limit wait, and the whole
//!   request with the caller's context.
//! - `ClientConfig.HTTPClient` is used as given for an API key on the Gemini API (the key goes in
//!   the `x-goog-api-key` header), so its transport sees every attempt, retries included.
//! - A status error is the value type `APIError` with `Code` (`errors.As(err, &apiErr)`).

use minijinja::Value;

use super::retry::{self, Transient};
use crate::strategy::fallback::FallbackOn;
use crate::strategy::limiter::Scope;
use crate::strategy::StrategySpec;

/// The SDK and the version its facts were read from.
pub const SDK: &str = "google.golang.org/genai for Go (facts read from v1.69.0: HTTPRetryOptions, retryHTTPRequest)";

/// The code, as a minijinja template.
pub const TEMPLATE: &str = include_str!("templates/client.go");

/// What go-genai retries besides its status codes: every transport error.
const TRANSIENT: Transient = Transient {
    connect: true,
    lost: true,
    timeout: true,
    empty_codes_mean_defaults: true,
};

/// A Go duration expression ("60 * time.Second", "150 * time.Millisecond").
fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if d.is_zero() {
        "0 * time.Second".into()
    } else if ms % 1000 == 0 && d.subsec_nanos() == 0 {
        format!("{} * time.Second", ms / 1000)
    } else if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{ms} * time.Millisecond")
    } else {
        format!("{} * time.Nanosecond", d.as_nanos())
    }
}

/// A Go float literal ("60.0", "0.2").
fn float(x: f64) -> String {
    let s = super::trim(x);
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The template's values for `s`.
pub fn values(s: &StrategySpec, model: &str) -> Value {
    let l = &s.rate_limit;
    let retry = retry::tenacity(&s.retry).map(|(o, _)| {
        let codes: Vec<String> = o.status_codes.iter().map(u16::to_string).collect();
        minijinja::context! {
            attempts => o.attempts,
            initial_delay => float(o.initial_delay),
            max_delay => float(o.max_delay),
            exp_base => float(o.exp_base),
            jitter => float(o.jitter),
            codes => codes.join(", "),
        }
    });
    minijinja::context! {
        model => super::literal(model),
        workers => s.workers,
        queue_capacity => s.queue.capacity,
        overflow => super::overflow_name(s.queue.overflow),
        queue_deadline => duration(s.queue.deadline.unwrap_or_default()),
        attempt_timeout => duration(s.timeout.attempt),
        total_timeout => duration(s.timeout.total),
        limiter => l.rpm > 0 || l.tpm > 0,
        rpm => l.rpm,
        tpm => l.tpm,
        burst_requests => float(super::burst_requests(s)),
        burst_tokens => float(super::burst_tokens(s)),
        per_model => if l.scope == Scope::Model { "true" } else { "false" },
        retry => retry,
        fallback => fallback(s),
    }
}

/// The fallback's values: its model (or degraded) and the tests of the final error.
fn fallback(s: &StrategySpec) -> Option<Value> {
    let f = s.fallback.as_ref()?;
    let mut tests = Vec::new();
    for on in &f.on {
        match on {
            FallbackOn::S429 => tests.push("apiErr.Code == 429"),
            FallbackOn::S503 => tests.push("apiErr.Code == 503"),
            FallbackOn::S5xx => tests.push("apiErr.Code >= 500"),
            FallbackOn::Breaker | FallbackOn::Timeout => {}
        }
    }
    let api_test = if tests.is_empty() {
        "false".to_string()
    } else {
        tests.join(" || ")
    };
    let other_test = if f.on.contains(&FallbackOn::Timeout) {
        // The last attempt's own timeout (the total's is ruled out by the caller).
        "errors.Is(err, context.DeadlineExceeded)"
    } else {
        "false"
    };
    let on: Vec<&str> = f.on.iter().map(|o| super::fallback_on(*o)).collect();
    Some(minijinja::context! {
        model => f.model.as_deref().map(super::literal),
        degraded => f.degraded,
        on => on.join(", "),
        api_test => api_test,
        other_test => other_test,
    })
}

/// What the Go code cannot express beyond what every language misses.
pub fn gaps(s: &StrategySpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, Some(gap))) = retry::tenacity(&s.retry) {
        out.push(gap);
    }
    out.extend(retry::class_gaps(&s.retry, "go-genai", TRANSIENT));
    out
}
