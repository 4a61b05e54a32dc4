//! The calling plan under test: how the client queues, paces, bounds and retries its requests.
//!
//! Each policy is a small type in its own file with its own tests, implementing
//! [`policy::Policy`] for the phases it cares about; [`pipeline::Pipeline`] assembles the ones
//! a strategy asks for, and the engine calls the pipeline by phase, never a policy by name.
//! Policies see attempts and outcomes, never HTTP types.

pub mod adaptive_rate;
pub mod balance;
pub mod breaker;
pub mod budget;
pub mod cache;
pub mod concurrency;
pub mod dedup;
pub mod fallback;
pub mod hedge;
pub mod limiter;
pub mod pipeline;
pub mod policy;
pub mod presets;
pub mod queue;
pub mod retry;
pub mod throttle;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use limiter::{RateLimitSpec, RateLimiter, ScopedLimiter};
pub use pipeline::Pipeline;
pub use queue::{Queue, QueueSpec};
pub use retry::RetrySpec;

/// `[strategy.timeout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    /// Longest wait for one attempt; the attempt is cancelled when it passes.
    #[serde(default = "default_attempt_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub attempt: Duration,
    /// Longest time from a request's intended start to its end, queue and retries included.
    #[serde(default = "default_total_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
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

fn one_replica() -> u32 {
    1
}

/// `[strategy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// A name for reports and comparisons.
    #[serde(default)]
    pub name: Option<String>,
    /// A preset mirroring a real client (see [`presets`]); the table's own keys override it.
    #[serde(default)]
    pub preset: Option<String>,
    /// Most requests being worked on at once (in flight or waiting to retry).
    #[serde(default = "default_workers")]
    pub workers: u32,
    /// Client replicas, each a copy of this plan (its own workers, queue, rate limiter,
    /// breaker, cache and retry budget), behind one load balancer and sharing the upstream and
    /// its quota.
    #[serde(default = "one_replica")]
    pub replicas: u32,
    /// How the load balancer spreads requests over the replicas.
    #[serde(default)]
    pub balance: balance::Balance,
    /// Adaptive concurrency under `workers`.
    #[serde(default)]
    pub concurrency: concurrency::ConcurrencySpec,
    /// The queue in front of the workers.
    #[serde(default)]
    pub queue: QueueSpec,
    /// Client-side rate limits.
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
    /// Timeouts: for one attempt, and for a request from its intended start.
    #[serde(default)]
    pub timeout: TimeoutSpec,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetrySpec,
    /// One circuit breaker per model.
    #[serde(default)]
    pub breaker: Option<breaker::BreakerSpec>,
    /// Hedged requests.
    #[serde(default)]
    pub hedge: Option<hedge::HedgeSpec>,
    /// Response cache.
    #[serde(default)]
    pub cache: Option<cache::CacheSpec>,
    /// Join an identical request already in flight instead of sending another.
    #[serde(default)]
    pub dedup: bool,
    /// Fallback model or degraded answer.
    #[serde(default)]
    pub fallback: Option<fallback::FallbackSpec>,
    /// Google SRE client-side adaptive throttling of new requests.
    #[serde(default)]
    pub throttle: Option<throttle::ThrottleSpec>,
    /// The AWS SDK's adaptive (CUBIC) client rate limiter.
    #[serde(default)]
    pub adaptive_rate: bool,
    /// Workers kept for one lane alone, by lane name; replaces that lane's own
    /// `reserved_workers`.
    #[serde(default)]
    pub reserve: BTreeMap<String, u32>,
    /// The service tier each named lane asks for (`standard`, `flex`, `priority`); replaces
    /// that lane's own `service_tier`. Lets `compare` run one traffic on different tiers.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub service_tier: BTreeMap<String, stampede_mock::profile::ServiceTier>,
    /// Lanes whose shared system prompt is pinned to an explicit context cache, made before the
    /// traffic starts and named by each of their requests (storage billed for the run's window).
    #[serde(default)]
    pub pin_prefix: Vec<String>,
    /// Lanes with a `batch` table sent online instead (so `compare` can run one traffic with a
    /// lane batched and online).
    #[serde(default)]
    pub online: Vec<String>,
}

impl Default for StrategySpec {
    fn default() -> Self {
        StrategySpec {
            name: None,
            preset: None,
            workers: default_workers(),
            replicas: one_replica(),
            balance: balance::Balance::default(),
            concurrency: concurrency::ConcurrencySpec::default(),
            queue: QueueSpec::default(),
            rate_limit: RateLimitSpec::default(),
            timeout: TimeoutSpec::default(),
            retry: RetrySpec::default(),
            breaker: None,
            hedge: None,
            cache: None,
            dedup: false,
            fallback: None,
            throttle: None,
            adaptive_rate: false,
            reserve: BTreeMap::new(),
            service_tier: BTreeMap::new(),
            pin_prefix: Vec::new(),
            online: Vec::new(),
        }
    }
}

impl StrategySpec {
    /// Checks values that serde cannot; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        stampede_mock::ranges::WORKERS.check_count("strategy.workers", u64::from(self.workers))?;
        stampede_mock::ranges::REPLICAS.check_count("strategy.replicas", u64::from(self.replicas))?;
        if self.timeout.attempt.is_zero() || self.timeout.total.is_zero() {
            return Err("strategy.timeout.attempt and strategy.timeout.total must be above zero".into());
        }
        self.retry.validate().map_err(|e| format!("strategy.{e}"))?;
        if let Some(h) = &self.hedge {
            h.validate().map_err(|e| format!("strategy.{e}"))?;
        }
        if let Some(f) = &self.fallback {
            f.validate().map_err(|e| format!("strategy.{e}"))?;
        }
        if let Some(b) = &self.breaker {
            if b.size == 0 || b.half_open_calls == 0 {
                return Err("strategy.breaker needs size ≥ 1 and half_open_calls ≥ 1".into());
            }
            stampede_mock::ranges::SHARE.check("strategy.breaker.failure_rate", b.failure_rate)?;
        }
        let reserved: u32 = self.reserve.values().sum();
        if reserved > self.workers {
            return Err(format!(
                "strategy.reserve keeps {reserved} workers but strategy.workers is {}",
                self.workers
            ));
        }
        if let Some(p) = &self.preset {
            if !presets::names().contains(&p.as_str()) {
                return Err(format!(
                    "unknown strategy preset {p:?}; expected one of {}",
                    presets::names().join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The client rate limit of the whole deployment, (rpm, tpm): one replica's times the
    /// replicas, unless they share one bucket.
    pub fn deployment_rate_limit(&self) -> (u64, u64) {
        let l = &self.rate_limit;
        let n = if l.shared { 1 } else { u64::from(self.replicas.max(1)) };
        (l.rpm.saturating_mul(n), l.tpm.saturating_mul(n))
    }

    /// A short name: `name`, else the preset, else `custom`.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.preset.clone())
            .unwrap_or_else(|| "custom".into())
    }
}
