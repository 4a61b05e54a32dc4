//! The calling plan under test: how the client queues, paces, bounds and retries its requests.
//!
//! Each policy is a small type in its own file with its own tests; the engine composes them and
//! never special-cases one. Policies see attempts and outcomes, never HTTP types.

pub mod limiter;
pub mod queue;
pub mod retry;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use limiter::{RateLimitSpec, RateLimiter};
pub use queue::{Queue, QueueSpec};
pub use retry::RetrySpec;

/// `[strategy.timeout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    /// Longest wait for one attempt; the attempt is cancelled when it passes.
    #[serde(default = "default_attempt_timeout", with = "humantime_serde")]
    pub attempt: Duration,
    /// Longest time from a request's intended start to its end, queue and retries included.
    #[serde(default = "default_total_timeout", with = "humantime_serde")]
    pub total: Duration,
}

fn default_attempt_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_total_timeout() -> Duration {
    Duration::from_secs(120)
}

impl Default for TimeoutSpec {
    fn default() -> Self {
        TimeoutSpec {
            attempt: default_attempt_timeout(),
            total: default_total_timeout(),
        }
    }
}

fn default_workers() -> u32 {
    16
}

/// `[strategy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// Most requests in flight at once.
    #[serde(default = "default_workers")]
    pub workers: u32,
    /// The queue in front of the workers.
    #[serde(default)]
    pub queue: QueueSpec,
    /// Client-side rate limits.
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
    /// Timeouts.
    #[serde(default)]
    pub timeout: TimeoutSpec,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetrySpec,
}

impl Default for StrategySpec {
    fn default() -> Self {
        StrategySpec {
            workers: default_workers(),
            queue: QueueSpec::default(),
            rate_limit: RateLimitSpec::default(),
            timeout: TimeoutSpec::default(),
            retry: RetrySpec::default(),
        }
    }
}

impl StrategySpec {
    /// Checks values that serde cannot; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.workers == 0 {
            return Err("strategy.workers must be at least 1".into());
        }
        if self.timeout.attempt.is_zero() || self.timeout.total.is_zero() {
            return Err("strategy.timeout.attempt and strategy.timeout.total must be above zero".into());
        }
        self.retry.validate().map_err(|e| format!("strategy.{e}"))
    }
}
