//! `[plan]`: what `stampede plan` searches. Without it (or with `search = "workers"`) the plan
//! sizes the workers of each candidate; with `search = "full"` it searches the whole calling
//! plan — retry shape and attempts, retry budget, client rate limit, queue, attempt timeout,
//! fallback model, service tier and replicas — each setting over the values listed here (or
//! stampede's defaults for the ones not listed), and the workers of each combination.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stampede_mock::profile::ServiceTier;

/// How far `stampede plan` searches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    /// Workers only, for each candidate as written.
    #[default]
    Workers,
    /// The whole calling plan.
    Full,
}

/// `[plan]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// `"workers"` (the default) or `"full"`; `stampede plan --search` overrides it.
    #[serde(default)]
    pub search: SearchKind,
    /// Retry shapes to try: `"none"`, `"as-configured"` (each candidate's own) or a preset name
    /// (`google-genai-retry`, `exponential-full-jitter`, `aws-standard`, `gemini-cli`, ...).
    #[serde(default)]
    pub retry: Option<Vec<String>>,
    /// Attempts (first try included, 2 to 10) for each retry shape that retries; absent: each
    /// shape's own.
    #[serde(default)]
    pub attempts: Option<Vec<u32>>,
    /// Retry budgets: `"off"`, `"percent"` (retries at most 20% of requests over 10 s, with a
    /// floor of one retry every 2 s), `"grpc"`, `"aws"`.
    #[serde(default)]
    pub budget: Option<Vec<String>>,
    /// Client rate limits: `"off"`, or a share of the model's quota (0.5 to 1.0; the bucket
    /// runs at that share of its requests and tokens per minute).
    #[serde(default)]
    pub rate_limit: Option<Vec<RateChoice>>,
    /// Queues: `"unbounded"` (the candidate's own), `"slo"` (a deadline of the latency target
    /// less the median service time, and as many places as the quota clears in it), or a
    /// deadline such as `"10s"`.
    #[serde(default)]
    pub queue: Option<Vec<String>>,
    /// Attempt timeouts: `"as-configured"`, `"advised"` (1.5× the p99.9 of successful attempts
    /// in the pilot run), or a duration such as `"15s"`.
    #[serde(default)]
    pub attempt_timeout: Option<Vec<String>>,
    /// Fallback models: `"none"` or model ids (a model the primary's 429s and 503s fall over to).
    #[serde(default)]
    pub fallback: Option<Vec<String>>,
    /// Service tiers for every lane (`standard`, `flex`, `priority`).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub service_tier: Option<Vec<ServiceTier>>,
    /// Replica counts (1 to 256), workers searched per replica.
    #[serde(default)]
    pub replicas: Option<Vec<u32>>,
    /// Combinations sized in full after the screening (1 to 12; default 4).
    #[serde(default)]
    pub finalists: Option<u32>,
}

/// A client rate limit to try.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RateChoice {
    /// A share of the model's quota.
    Share(f64),
    /// `"off"`.
    Off(Off),
}

/// The word `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Off {
    /// No limit.
    Off,
}

/// A retry shape, read from `[plan] retry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryShape {
    /// One attempt.
    None,
    /// Each candidate's own retry.
    AsConfigured,
    /// A preset's retry.
    Preset(String),
}

/// A retry budget, read from `[plan] budget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetChoice {
    /// No budget (or the shape's own).
    Off,
    /// Finagle's 20% of requests.
    Percent,
    /// gRPC retry throttling.
    Grpc,
    /// The AWS SDK's retry quota.
    Aws,
}

/// A queue, read from `[plan] queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueChoice {
    /// The candidate's own queue.
    Unbounded,
    /// Deadline from the latency objective, places from the quota.
    Slo,
    /// This deadline.
    Deadline(Duration),
}

/// An attempt timeout, read from `[plan] attempt_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutChoice {
    /// The candidate's own.
    AsConfigured,
    /// 1.5× the pilot's p99.9 of successful attempts.
    Advised,
    /// This timeout.
    Fixed(Duration),
}

/// Most values one setting may list (the combinations multiply).
const MAX_VALUES: usize = 8;

impl PlanSpec {
    /// Checks every list: known words, bounded numbers, at most 8 values each.
    pub fn validate(&self) -> Result<(), String> {
        let count = |key: &str, n: Option<usize>| match n {
            Some(0) => Err(format!("[plan] {key}: list at least one value")),
            Some(n) if n > MAX_VALUES => Err(format!("[plan] {key}: at most {MAX_VALUES} values, got {n}")),
            _ => Ok(()),
        };
        count("retry", self.retry.as_ref().map(Vec::len))?;
        count("attempts", self.attempts.as_ref().map(Vec::len))?;
        count("budget", self.budget.as_ref().map(Vec::len))?;
        count("rate_limit", self.rate_limit.as_ref().map(Vec::len))?;
        count("queue", self.queue.as_ref().map(Vec::len))?;
        count("attempt_timeout", self.attempt_timeout.as_ref().map(Vec::len))?;
        count("fallback", self.fallback.as_ref().map(Vec::len))?;
        count("service_tier", self.service_tier.as_ref().map(Vec::len))?;
        count("replicas", self.replicas.as_ref().map(Vec::len))?;
        self.retry_shapes()?;
        self.budgets()?;
        self.queues()?;
        self.attempt_timeouts()?;
        for &a in self.attempts.iter().flatten() {
            if !(2..=10).contains(&a) {
                return Err(format!(
                    "[plan] attempts: {a} is out of range (2 to 10, the first try included)"
                ));
            }
        }
        for r in self.rate_limit.iter().flatten() {
            if let RateChoice::Share(s) = r {
                if !(0.5..=1.0).contains(s) {
                    return Err(format!(
                        "[plan] rate_limit: {s} is out of range (\"off\", or a share of the quota from 0.5 to 1.0)"
                    ));
                }
            }
        }
        for &r in self.replicas.iter().flatten() {
            stampede_mock::ranges::REPLICAS.check_count("[plan] replicas", u64::from(r))?;
        }
        for m in self.fallback.iter().flatten().filter(|m| m.as_str() != "none") {
            if m.is_empty() || m.len() > 128 || m.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("[plan] fallback: {m:?} is not a model id (or \"none\")"));
            }
        }
        if let Some(f) = self.finalists.filter(|f| !(1..=12).contains(f)) {
            return Err(format!("[plan] finalists: {f} is out of range (1 to 12)"));
        }
        Ok(())
    }

    /// The retry shapes listed, read.
    pub fn retry_shapes(&self) -> Result<Option<Vec<RetryShape>>, String> {
        let Some(list) = &self.retry else { return Ok(None) };
        let names: Vec<&str> = crate::strategy::presets::PRESETS.iter().map(|(n, _)| *n).collect();
        list.iter()
            .map(|s| match s.as_str() {
                "none" => Ok(RetryShape::None),
                "as-configured" => Ok(RetryShape::AsConfigured),
                p if names.contains(&p) => Ok(RetryShape::Preset(p.to_string())),
                other => Err(format!(
                    "[plan] retry: {other:?} is not a retry shape (expected \"none\", \"as-configured\" or a preset: {})",
                    names.join(", ")
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// The retry budgets listed, read.
    pub fn budgets(&self) -> Result<Option<Vec<BudgetChoice>>, String> {
        let Some(list) = &self.budget else { return Ok(None) };
        list.iter()
            .map(|s| match s.as_str() {
                "off" => Ok(BudgetChoice::Off),
                "percent" => Ok(BudgetChoice::Percent),
                "grpc" => Ok(BudgetChoice::Grpc),
                "aws" => Ok(BudgetChoice::Aws),
                other => Err(format!(
                    "[plan] budget: {other:?} is not a retry budget (expected \"off\", \"percent\", \"grpc\" or \"aws\")"
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// The queues listed, read.
    pub fn queues(&self) -> Result<Option<Vec<QueueChoice>>, String> {
        let Some(list) = &self.queue else { return Ok(None) };
        list.iter()
            .map(|s| match s.as_str() {
                "unbounded" => Ok(QueueChoice::Unbounded),
                "slo" => Ok(QueueChoice::Slo),
                d => bounded_duration("queue", d).map(QueueChoice::Deadline),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// The attempt timeouts listed, read.
    pub fn attempt_timeouts(&self) -> Result<Option<Vec<TimeoutChoice>>, String> {
        let Some(list) = &self.attempt_timeout else {
            return Ok(None);
        };
        list.iter()
            .map(|s| match s.as_str() {
                "as-configured" => Ok(TimeoutChoice::AsConfigured),
                "advised" => Ok(TimeoutChoice::Advised),
                d => bounded_duration("attempt_timeout", d).map(TimeoutChoice::Fixed),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// A duration from 100 ms to one hour.
fn bounded_duration(key: &str, s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|_| format!("[plan] {key}: {s:?} is neither a word this key takes nor a duration such as \"10s\""))?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err(format!("[plan] {key}: {s} is out of range (100ms to 1h)"));
    }
    Ok(d)
}
