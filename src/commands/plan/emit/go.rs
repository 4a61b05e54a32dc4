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
use super::values::{self, float_point, Syntax};
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

/// How Go writes the shared values (go-genai's `APIError.Code`, the context's deadline).
const SYNTAX: Syntax = Syntax {
    truth: ("true", "false"),
    float: float_point,
    status_in: |codes| {
        codes
            .iter()
            .map(|c| format!("apiErr.Code == {c}"))
            .collect::<Vec<_>>()
            .join(" || ")
    },
    server_error: "apiErr.Code >= 500",
    or: "||",
    // The last attempt's own timeout (the total's is ruled out by the caller).
    timeout: "errors.Is(err, context.DeadlineExceeded)",
};

/// The template's values for `s`.
pub fn values(s: &StrategySpec, model: &str) -> Value {
    minijinja::context! {
        queue_deadline => duration(s.queue.deadline.unwrap_or_default()),
        attempt_timeout => duration(s.timeout.attempt),
        total_timeout => duration(s.timeout.total),
        ..values::shared(s, model, retry::tenacity(&s.retry).map(|(o, _)| o), &SYNTAX)
    }
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
