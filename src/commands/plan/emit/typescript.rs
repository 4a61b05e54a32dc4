//! The plan as TypeScript on `@google/genai` (`templates/client.ts`).
//!
//! SDK facts relied on, read from @google/genai 2.18.0 as installed in `tests/js/node_modules`
//! (`dist/genai.d.ts`, `dist/node/index.mjs`, `apiCall`), over p-retry 4.6.2 and retry 0.13.1:
//! - `httpOptions.retryOptions` takes `attempts`, `initialDelay`, `maxDelay` (seconds),
//!   `expBase`, `jitter` and `httpStatusCodes`; without it the SDK makes one attempt. Waits: see
//!   [`super::retry`]. `httpStatusCodes` is read with `??`, so an empty list retries no status.
//! - `httpOptions.timeout` (ms) arms a fresh abort signal for each attempt
//!   (`createAttemptSignal`), kept while the body is read: it bounds the whole attempt. An
//!   attempt it aborts is retried; a failed fetch (`TypeError: fetch failed`: a refused or cut
//!   connection) is final, as p-retry retries a TypeError only for browsers' network messages.
//! - `config.abortSignal` is the caller's: once it is aborted, p-retry's `onFailedAttempt`
//!   stops retrying.
//! - There is no way to hand the SDK a fetch of one's own (`GoogleGenAIOptions` has none): it
//!   uses the global fetch, so this client cannot pace the SDK's retries.

use minijinja::Value;

use super::retry::{self, Transient};
use crate::strategy::fallback::FallbackOn;
use crate::strategy::limiter::Scope;
use crate::strategy::StrategySpec;

/// The SDK and the version its facts were read from.
pub const SDK: &str =
    "@google/genai for TypeScript (facts read from 2.18.0: HttpRetryOptions, apiCall over p-retry 4.6.2)";

/// The code, as a minijinja template.
pub const TEMPLATE: &str = include_str!("templates/client.ts");

/// What @google/genai retries besides its status codes.
const TRANSIENT: Transient = Transient {
    connect: false,
    lost: false,
    timeout: true,
    empty_codes_mean_defaults: false,
};

/// Milliseconds of `d` as an integer literal.
fn ms(d: std::time::Duration) -> u64 {
    d.as_millis().max(1) as u64
}

/// The template's values for `s`.
pub fn values(s: &StrategySpec, model: &str) -> Value {
    let l = &s.rate_limit;
    let retry = retry::p_retry(&s.retry).map(|(o, _)| {
        let codes: Vec<String> = o.status_codes.iter().map(u16::to_string).collect();
        minijinja::context! {
            attempts => o.attempts,
            initial_delay => super::trim(o.initial_delay),
            max_delay => super::trim(o.max_delay),
            exp_base => super::trim(o.exp_base),
            jitter => super::trim(o.jitter),
            codes => codes.join(", "),
        }
    });
    minijinja::context! {
        model => super::literal(model),
        workers => s.workers,
        queue_capacity => s.queue.capacity,
        overflow => super::overflow_name(s.queue.overflow),
        queue_deadline_ms => s.queue.deadline.map_or("null".to_string(), |d| ms(d).to_string()),
        attempt_timeout_ms => ms(s.timeout.attempt),
        total_timeout_ms => ms(s.timeout.total),
        limiter => l.rpm > 0 || l.tpm > 0,
        rpm => l.rpm,
        tpm => l.tpm,
        burst_requests => super::trim(super::burst_requests(s)),
        burst_tokens => super::trim(super::burst_tokens(s)),
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
            FallbackOn::S429 => tests.push("error.status === 429"),
            FallbackOn::S503 => tests.push("error.status === 503"),
            FallbackOn::S5xx => tests.push("error.status >= 500"),
            FallbackOn::Breaker | FallbackOn::Timeout => {}
        }
    }
    let api_test = if tests.is_empty() {
        "false".to_string()
    } else {
        tests.join(" || ")
    };
    let other_test = if f.on.contains(&FallbackOn::Timeout) {
        // An attempt its own timeout aborted, the SDK's retries spent.
        "error instanceof Error && error.name === 'AbortError'"
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

/// What the TypeScript code cannot express beyond what every language misses.
pub fn gaps(s: &StrategySpec) -> Vec<String> {
    let mut out = Vec::new();
    let l = &s.rate_limit;
    if (l.rpm > 0 || l.tpm > 0) && super::retries(s) {
        out.push(
            "rate_limit: this client paces each request's first attempt only; @google/genai sends its retries \
             through the global fetch, which it offers no way to replace (the plan paces every attempt)."
                .into(),
        );
    }
    if let Some((_, Some(gap))) = retry::p_retry(&s.retry) {
        out.push(gap);
    }
    out.extend(retry::class_gaps(&s.retry, "@google/genai", TRANSIENT));
    out
}
