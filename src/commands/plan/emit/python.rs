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
use crate::strategy::fallback::FallbackOn;
use crate::strategy::limiter::Scope;
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

/// A Python float literal ("60.0", "0.2").
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
        queue_deadline_s => s.queue.deadline.map_or("None".to_string(), |d| float(d.as_secs_f64())),
        attempt_timeout_ms => s.timeout.attempt.as_millis().max(1) as u64,
        total_timeout_s => float(s.timeout.total.as_secs_f64()),
        limiter => l.rpm > 0 || l.tpm > 0,
        rpm => l.rpm,
        tpm => l.tpm,
        burst_requests => float(super::burst_requests(s)),
        burst_tokens => float(super::burst_tokens(s)),
        per_model => if l.scope == Scope::Model { "True" } else { "False" },
        retry => retry,
        fallback => fallback(s),
    }
}

/// The fallback's values: its model (or degraded) and the tests of the final error.
fn fallback(s: &StrategySpec) -> Option<Value> {
    let f = s.fallback.as_ref()?;
    let mut codes = Vec::new();
    let mut tests = Vec::new();
    for on in &f.on {
        match on {
            FallbackOn::S429 => codes.push("429"),
            FallbackOn::S503 => codes.push("503"),
            FallbackOn::S5xx => tests.push("error.code >= 500".to_string()),
            FallbackOn::Breaker | FallbackOn::Timeout => {}
        }
    }
    if !codes.is_empty() {
        tests.insert(0, format!("error.code in ({},)", codes.join(", ")));
    }
    let api_test = if tests.is_empty() {
        "False".to_string()
    } else {
        tests.join(" or ")
    };
    let timeout = f.on.contains(&FallbackOn::Timeout);
    let on: Vec<&str> = f.on.iter().map(|o| super::fallback_on(*o)).collect();
    Some(minijinja::context! {
        model => f.model.as_deref().map(super::literal),
        degraded => f.degraded,
        on => on.join(", "),
        api_test => api_test,
        other_test => if timeout { "isinstance(error, httpx.TimeoutException)" } else { "False" },
    })
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
