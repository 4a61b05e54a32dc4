//! `[slo]`: the service-level objectives a run is judged against.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[slo]`; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Highest acceptable median latency.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub p50: Option<Duration>,
    /// Highest acceptable 90th percentile latency.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub p90: Option<Duration>,
    /// Highest acceptable 95th percentile latency.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub p95: Option<Duration>,
    /// Highest acceptable 99th percentile latency.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub p99: Option<Duration>,
    /// Lowest acceptable share of scheduled requests answered (0..=1).
    #[serde(default)]
    pub success_rate: Option<f64>,
    /// Highest acceptable share of attempts answered 429 (0..=1).
    #[serde(default)]
    pub max_429_share: Option<f64>,
    /// Highest acceptable cost of the run in USD.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Highest acceptable cost per day in USD, at the run's rate: the run's cost over its
    /// traffic window, scaled to 24 hours (what `stampede plan` sizes against).
    #[serde(default)]
    pub max_cost_per_day_usd: Option<f64>,
}

impl SloSpec {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("success_rate", self.success_rate),
            ("max_429_share", self.max_429_share),
        ] {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("slo.{name} is a share between 0 and 1, got {v}"));
                }
            }
        }
        for (name, c) in [
            ("max_cost_usd", self.max_cost_usd),
            ("max_cost_per_day_usd", self.max_cost_per_day_usd),
        ] {
            if let Some(c) = c {
                if !(c.is_finite() && c >= 0.0) {
                    return Err(format!("slo.{name} must be ≥ 0, got {c}"));
                }
            }
        }
        Ok(())
    }

    /// Whether any objective is set.
    pub fn is_empty(&self) -> bool {
        *self == SloSpec::default()
    }
}
