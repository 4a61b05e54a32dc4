//! The plan as Python on google-genai's asyncio client (`templates/client.py`).
//!
//! SDK facts relied on, read from google-genai 3.6.1 as installed (`google/genai/types.py`,
//! `_api_client.py`) and tenacity 9.1.4:
//! - `HttpOptions(timeout=ms)` is passed to each httpx request inside the retry loop, so it
//!   bounds each attempt — as httpx's timeout: connect, write and each read, not the whole answer.
//! - `HttpOptions(retry_options=HttpRetryOptions(...))` retries through tenacity with
//!   `wait_exponential_jitter(initial, max, exp_base, jitter)`: see [`super::retry`]. Retried:
//!   `APIError` whose code is in `http_status_codes` (an empty list means the defaults 408, 429,
//!   500, 502, 503, 504: `options.http_status_codes or _RETRY_HTTP_STATUS_CODES`) and httpx's
//!   `TimeoutException` and `ConnectError`, whatever the options (`_HTTPX_TRANSIENT_EXC`); a
//!   connection lost after the request went out is final. RetryInfo is never read.
//! - `retry_options=None` makes one attempt (`retry_args(None)`: `stop_after_attempt(1)`).
//! - `HttpOptions(async_client_args={"transport": t})` sends the async client's requests through
//!   `t` (and then never through aiohttp: `_use_aiohttp` is false with a transport), so a
//!   transport can pace every attempt, retries included.

use minijinja::Value;

use super::retry::{self, Transient};
use super::values::{self, float_point, Syntax};
use crate::strategy::StrategySpec;

/// The SDK and the version its facts were read from.
pub const SDK: &str = "google-genai for Python (facts read from 3.6.1: types.HttpRetryOptions, _api_client.retry_args)";

/// The code, as a minijinja template.
pub const TEMPLATE: &str = include_str!("templates/client.py");

/// What google-genai retries besides its status codes.
const TRANSIENT: Transient = Transient {
    connect: true,
    lost: false,
    timeout: true,
    empty_codes_mean_defaults: true,
};

/// How Python writes the shared values (google-genai's `APIError.code`, httpx's timeouts).
const SYNTAX: Syntax = Syntax {
    truth: ("True", "False"),
    float: float_point,
    status_in: |codes| format!("error.code in ({},)", codes.join(", ")),
    server_error: "error.code >= 500",
    or: "or",
    timeout: "isinstance(error, httpx.TimeoutException)",
};

/// The template's values for `s`.
pub fn values(s: &StrategySpec, model: &str) -> Value {
    minijinja::context! {
        queue_deadline_s => s.queue.deadline.map_or("None".to_string(), |d| float_point(d.as_secs_f64())),
        attempt_timeout_ms => s.timeout.attempt.as_millis().max(1) as u64,
        total_timeout_s => float_point(s.timeout.total.as_secs_f64()),
        ..values::shared(s, model, retry::tenacity(&s.retry).map(|(o, _)| o), &SYNTAX)
    }
}

/// What the Python code cannot express beyond what every language misses.
pub fn gaps(s: &StrategySpec) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "timeout.attempt = {}: google-genai hands it to httpx, which bounds each step (connecting, sending, \
         each read) rather than the whole attempt, so an answer still arriving can take longer.",
        super::human(s.timeout.attempt)
    ));
    if let Some((_, Some(gap))) = retry::tenacity(&s.retry) {
        out.push(gap);
    }
    out.extend(retry::class_gaps(&s.retry, "google-genai", TRANSIENT));
    out
}
