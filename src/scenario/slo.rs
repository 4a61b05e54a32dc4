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

/// One objective of `[slo]`: which figure it bounds. Serialized under its key in `[slo]`, which
/// is also its name in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Objective {
    /// Median latency, at most.
    #[serde(rename = "p50")]
    P50,
    /// 90th percentile latency, at most.
    #[serde(rename = "p90")]
    P90,
    /// 95th percentile latency, at most.
    #[serde(rename = "p95")]
    P95,
    /// 99th percentile latency, at most.
    #[serde(rename = "p99")]
    P99,
    /// Share of scheduled requests answered, at least.
    #[serde(rename = "success_rate")]
    SuccessRate,
    /// Share of attempts answered 429, at most.
    #[serde(rename = "max_429_share")]
    Max429Share,
    /// Cost of the run in USD, at most.
    #[serde(rename = "max_cost_usd")]
    MaxCostUsd,
    /// Cost per day at the run's rate in USD, at most.
    #[serde(rename = "max_cost_per_day_usd")]
    MaxCostPerDayUsd,
}

/// What an objective's number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Milliseconds of latency.
    Ms,
    /// A share, 0 to 1.
    Share,
    /// US dollars.
    Usd,
}

impl Objective {
    /// Every objective, in the order verdicts list them.
    pub const ALL: [Objective; 8] = [
        Objective::P50,
        Objective::P90,
        Objective::P95,
        Objective::P99,
        Objective::SuccessRate,
        Objective::Max429Share,
        Objective::MaxCostUsd,
        Objective::MaxCostPerDayUsd,
    ];

    /// Its key in `[slo]` and its name in `summary.json`.
    pub fn key(self) -> &'static str {
        match self {
            Objective::P50 => "p50",
            Objective::P90 => "p90",
            Objective::P95 => "p95",
            Objective::P99 => "p99",
            Objective::SuccessRate => "success_rate",
            Objective::Max429Share => "max_429_share",
            Objective::MaxCostUsd => "max_cost_usd",
            Objective::MaxCostPerDayUsd => "max_cost_per_day_usd",
        }
    }

    /// What its number is.
    pub fn bound(self) -> Bound {
        match self {
            Objective::P50 | Objective::P90 | Objective::P95 | Objective::P99 => Bound::Ms,
            Objective::SuccessRate | Objective::Max429Share => Bound::Share,
            Objective::MaxCostUsd | Objective::MaxCostPerDayUsd => Bound::Usd,
        }
    }

    /// Whether the objective is a floor (success) rather than a ceiling.
    pub fn is_floor(self) -> bool {
        self == Objective::SuccessRate
    }

    /// `≥` for a floor, `≤` for a ceiling.
    pub fn sign(self) -> &'static str {
        if self.is_floor() {
            "≥"
        } else {
            "≤"
        }
    }

    /// Whether it bounds a latency percentile.
    pub fn is_latency(self) -> bool {
        self.bound() == Bound::Ms
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl SloSpec {
    /// The objectives set, with their targets (ms for latencies, a share, USD), in the order of
    /// [`Objective::ALL`].
    pub fn objectives(&self) -> Vec<(Objective, f64)> {
        let ms = |d: Option<Duration>| d.map(|t| t.as_secs_f64() * 1000.0);
        Objective::ALL
            .into_iter()
            .filter_map(|o| {
                let target = match o {
                    Objective::P50 => ms(self.p50),
                    Objective::P90 => ms(self.p90),
                    Objective::P95 => ms(self.p95),
                    Objective::P99 => ms(self.p99),
                    Objective::SuccessRate => self.success_rate,
                    Objective::Max429Share => self.max_429_share,
                    Objective::MaxCostUsd => self.max_cost_usd,
                    Objective::MaxCostPerDayUsd => self.max_cost_per_day_usd,
                };
                target.map(|t| (o, t))
            })
            .collect()
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("success_rate", self.success_rate),
            ("max_429_share", self.max_429_share),
        ] {
            stampede_mock::ranges::SHARE.check_some(&format!("slo.{name}"), v)?;
        }
        for (name, c) in [
            ("max_cost_usd", self.max_cost_usd),
            ("max_cost_per_day_usd", self.max_cost_per_day_usd),
        ] {
            stampede_mock::ranges::USD.check_some(&format!("slo.{name}"), c)?;
        }
        Ok(())
    }

    /// Whether any objective is set.
    pub fn is_empty(&self) -> bool {
        *self == SloSpec::default()
    }
}
