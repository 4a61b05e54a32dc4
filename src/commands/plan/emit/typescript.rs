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
use super::values::{self, Syntax};
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

/// How TypeScript writes the shared values (@google/genai's `ApiError.status`, an aborted
/// attempt).
const SYNTAX: Syntax = Syntax {
    truth: ("true", "false"),
    float: super::trim,
    status_in: |codes| {
        codes
            .iter()
            .map(|c| format!("error.status === {c}"))
            .collect::<Vec<_>>()
            .join(" || ")
    },
    server_error: "error.status >= 500",
    or: "||",
    // An attempt its own timeout aborted, the SDK's retries spent.
    timeout: "error instanceof Error && error.name === 'AbortError'",
};

/// The template's values for `s`.
pub fn values(s: &StrategySpec, model: &str) -> Value {
    minijinja::context! {
        queue_deadline_ms => s.queue.deadline.map_or("null".to_string(), |d| ms(d).to_string()),
        attempt_timeout_ms => ms(s.timeout.attempt),
        total_timeout_ms => ms(s.timeout.total),
        ..values::shared(s, model, retry::p_retry(&s.retry).map(|(o, _)| o), &SYNTAX)
    }
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
