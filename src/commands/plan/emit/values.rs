//! The template values every language takes — the model, the pool, the queue, the limiter, the
//! SDK's retry options and the fallback — written in each language's own syntax.

use minijinja::Value;

use super::retry::SdkRetry;
use crate::strategy::fallback::FallbackOn;
use crate::strategy::limiter::Scope;
use crate::strategy::StrategySpec;

/// How one language writes the shared values: its literals and its tests of an SDK error.
pub(super) struct Syntax {
    /// `true` and `false`.
    pub truth: (&'static str, &'static str),
    /// A float literal.
    pub float: fn(f64) -> String,
    /// The test that an API error's status is one of these codes (at least one).
    pub status_in: fn(&[&str]) -> String,
    /// The test that an API error's status is a server error.
    pub server_error: &'static str,
    /// The operator joining tests (`||`, `or`).
    pub or: &'static str,
    /// The test that an error is an attempt's own timeout, the SDK's retries spent.
    pub timeout: &'static str,
}

impl Syntax {
    fn boolean(&self, b: bool) -> &'static str {
        if b {
            self.truth.0
        } else {
            self.truth.1
        }
    }
}

/// A float literal with a decimal point ("60.0", "0.2"): Python's and Go's.
pub(super) fn float_point(x: f64) -> String {
    let s = super::trim(x);
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The values every template takes, `retry` being the SDK's options (`None`: one attempt).
pub(super) fn shared(s: &StrategySpec, model: &str, retry: Option<SdkRetry>, syntax: &Syntax) -> Value {
    let l = &s.rate_limit;
    let float = syntax.float;
    let retry = retry.map(|o| {
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
        limiter => l.rpm > 0 || l.tpm > 0,
        rpm => l.rpm,
        tpm => l.tpm,
        burst_requests => float(super::burst_requests(s)),
        burst_tokens => float(super::burst_tokens(s)),
        per_model => syntax.boolean(l.scope == Scope::Model),
        retry => retry,
        fallback => fallback(s, syntax),
    }
}

/// The fallback's values: its model (or degraded) and the tests of the final error.
fn fallback(s: &StrategySpec, syntax: &Syntax) -> Option<Value> {
    let f = s.fallback.as_ref()?;
    let codes: Vec<&str> =
        f.on.iter()
            .filter_map(|on| match on {
                FallbackOn::S429 => Some("429"),
                FallbackOn::S503 => Some("503"),
                FallbackOn::S5xx | FallbackOn::Breaker | FallbackOn::Timeout => None,
            })
            .collect();
    let mut tests = Vec::new();
    if !codes.is_empty() {
        tests.push((syntax.status_in)(&codes));
    }
    if f.on.contains(&FallbackOn::S5xx) {
        tests.push(syntax.server_error.to_string());
    }
    let api_test = if tests.is_empty() {
        syntax.truth.1.to_string()
    } else {
        tests.join(&format!(" {} ", syntax.or))
    };
    let timeout = f.on.contains(&FallbackOn::Timeout);
    let on: Vec<&str> = f.on.iter().map(|o| super::fallback_on(*o)).collect();
    Some(minijinja::context! {
        model => f.model.as_deref().map(super::literal),
        degraded => f.degraded,
        on => on.join(", "),
        api_test => api_test,
        other_test => if timeout { syntax.timeout } else { syntax.truth.1 },
    })
}
