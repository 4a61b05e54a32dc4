//! Injected faults: rates per request and scheduled windows of other rates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Chances of each injected fault, per request that passed the quota (each 0..=1, sum ≤ 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultRates {
    /// 429 RESOURCE_EXHAUSTED in the profile's body shape, with `retryDelay` set to
    /// `retry_delay_429`: a quota storm without waiting for a minute window (dynamic shared
    /// quota behaves like this).
    pub rate_429: f64,
    /// The delay injected 429s ask for.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub retry_delay_429: Duration,
    /// 500 INTERNAL.
    pub rate_500: f64,
    /// 503 UNAVAILABLE ("The model is overloaded").
    pub rate_503: f64,
    /// 504 DEADLINE_EXCEEDED.
    pub rate_504: f64,
    /// The connection is cut before a complete answer.
    pub rate_reset: f64,
    /// No answer at all until the client gives up.
    pub rate_hang: f64,
    /// A stream that stops half way, without `finishReason`.
    pub rate_truncate: f64,
    /// A 200 whose body is not valid JSON.
    pub rate_malformed: f64,
    /// Headers held back for `slow_headers`, then a normal answer.
    pub rate_slow_headers: f64,
    /// How long slow headers are held back.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub slow_headers: Duration,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            rate_429: 0.0,
            retry_delay_429: Duration::from_secs(1),
            rate_500: 0.0,
            rate_503: 0.0,
            rate_504: 0.0,
            rate_reset: 0.0,
            rate_hang: 0.0,
            rate_truncate: 0.0,
            rate_malformed: 0.0,
            rate_slow_headers: 0.0,
            slow_headers: Duration::from_secs(10),
        }
    }
}

impl FaultRates {
    pub(super) fn check(&self) -> Result<(), String> {
        let rates = [
            ("rate_429", self.rate_429),
            ("rate_500", self.rate_500),
            ("rate_503", self.rate_503),
            ("rate_504", self.rate_504),
            ("rate_reset", self.rate_reset),
            ("rate_hang", self.rate_hang),
            ("rate_truncate", self.rate_truncate),
            ("rate_malformed", self.rate_malformed),
            ("rate_slow_headers", self.rate_slow_headers),
        ];
        for (name, r) in rates {
            crate::ranges::SHARE.check(&format!("errors.{name}"), r)?;
        }
        let sum: f64 = rates.iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("fault rates add up to {sum}, more than 1"));
        }
        Ok(())
    }

    /// Whether any fault can happen.
    pub fn any(&self) -> bool {
        self.rate_429
            + self.rate_500
            + self.rate_503
            + self.rate_504
            + self.rate_reset
            + self.rate_hang
            + self.rate_truncate
            + self.rate_malformed
            + self.rate_slow_headers
            > 0.0
    }
}

/// A time window with its own fault rates ("from 60 s to 90 s, 80% 503s"), replacing the
/// profile's rates while it lasts. Times count from the mock's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultWindow {
    /// Start of the window.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub start: Duration,
    /// End of the window.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub end: Duration,
    /// Fault rates inside the window.
    pub errors: FaultRates,
    /// The models it hits (empty: every model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}
