//! Faults the proxy adds on top of a real upstream's answers, to chaos-test an application
//! against real traffic: a share of 429s in Gemini's body (2025 shape: QuotaFailure, Help,
//! RetryInfo) or OpenAI's, a share of 503s ("The model is overloaded"), and latency added
//! before each forwarded request.

use std::time::Duration;

use rand::RngExt;
use stampede_mock::catalog::{Dimension, Tier};
use stampede_mock::errors::ApiError;
use stampede_mock::profile::ErrorShape;
use stampede_mock::quota::Refusal;

/// What to inject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injection {
    /// Share of requests answered 429 without being forwarded (0 to 1).
    pub share_429: f64,
    /// Share of requests answered 503 without being forwarded (0 to 1).
    pub share_503: f64,
    /// The per-minute quota the injected 429s name (QuotaFailure `quotaValue`).
    pub quota: u64,
    /// The `retryDelay` the injected 429s carry.
    pub retry_delay: Duration,
    /// Time added before each forwarded request.
    pub added_latency: Duration,
}

/// An injected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// 429 RESOURCE_EXHAUSTED.
    Quota,
    /// 503 UNAVAILABLE.
    Overloaded,
}

impl Injected {
    /// The name a recording gives it.
    pub fn name(self) -> &'static str {
        match self {
            Injected::Quota => "injected-429",
            Injected::Overloaded => "injected-503",
        }
    }
}

impl Injection {
    /// Checks the shares.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("--inject-429", self.share_429), ("--inject-503", self.share_503)] {
            stampede_mock::ranges::SHARE.check(name, v)?;
        }
        if self.share_429 + self.share_503 > 1.0 {
            return Err(format!(
                "--inject-429 and --inject-503 together: expected at most 1, got {}",
                self.share_429 + self.share_503
            ));
        }
        Ok(())
    }

    /// Whether this request gets an injected answer.
    pub fn pick(&self, rng: &mut impl rand::Rng) -> Option<Injected> {
        if self.share_429 == 0.0 && self.share_503 == 0.0 {
            return None;
        }
        let u: f64 = rng.random();
        if u < self.share_429 {
            Some(Injected::Quota)
        } else if u < self.share_429 + self.share_503 {
            Some(Injected::Overloaded)
        } else {
            None
        }
    }

    /// The error an injected answer carries, for `model`.
    pub fn error(&self, injected: Injected, model: &str) -> ApiError {
        match injected {
            Injected::Quota => ApiError::quota_exceeded(
                ErrorShape::V2025,
                Tier::Tier1,
                model,
                &Refusal {
                    dimension: Dimension::Rpm,
                    limit: self.quota,
                    retry_after: self.retry_delay,
                },
            ),
            Injected::Overloaded => ApiError::overloaded(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_mock::rng::stream_rng;

    #[test]
    fn shares_are_kept_and_bodies_are_gemini_s() {
        let inject = Injection {
            share_429: 0.2,
            share_503: 0.1,
            quota: 60,
            retry_delay: Duration::from_secs(7),
            ..Injection::default()
        };
        let mut rng = stream_rng(1, "inject");
        let picks: Vec<_> = (0..10_000).map(|_| inject.pick(&mut rng)).collect();
        let n429 = picks.iter().filter(|p| **p == Some(Injected::Quota)).count();
        let n503 = picks.iter().filter(|p| **p == Some(Injected::Overloaded)).count();
        assert!((1900..2100).contains(&n429), "{n429}");
        assert!((900..1100).contains(&n503), "{n503}");
        let body = inject.error(Injected::Quota, "gemini-2.5-flash").body().to_string();
        assert!(
            body.contains("\"retryDelay\":\"7s\"") && body.contains("\"quotaValue\":\"60\""),
            "{body}"
        );
        assert!(Injection {
            share_429: 0.7,
            share_503: 0.4,
            ..inject
        }
        .validate()
        .is_err());
    }
}
