//! What answers cost and what spending may do: prices per model, the spend-based rate limit,
//! the service tiers (Flex, Priority) and the implicit context cache.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{self, Price};
use crate::dist::DurationDist;

/// The spend-based rate limit: a project's spend over a rolling window (`spend_limit = { usd =
/// 10.0, window = "10m" }`). Past it, generate calls are refused with 429 RESOURCE_EXHAUSTED
/// until enough of the window's spend has aged out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendLimit {
    /// Dollars of answered tokens allowed over the window (0 = no limit).
    pub usd: f64,
    /// The rolling window.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub window: Duration,
}

impl SpendLimit {
    /// The tier preset's spend limit from the catalog, if it has one.
    pub fn of_preset(preset: &str) -> Option<SpendLimit> {
        let t = catalog::tier_entry(preset)?;
        Some(SpendLimit {
            usd: t.spend_limit_usd?,
            window: t.spend_window?,
        })
    }

    /// Both numbers in their ranges: `usd` an amount (0 turns the limit off), `window` above
    /// zero and at most a year and a day — a negative amount or a zero window is refused, never
    /// read as "no limit".
    pub fn check(&self) -> Result<(), String> {
        crate::ranges::USD.check("spend_limit.usd", self.usd)?;
        crate::ranges::WINDOW.check_duration("spend_limit.window", self.window)?;
        Ok(())
    }

    /// Whether it limits anything.
    pub fn is_active(&self) -> bool {
        self.usd > 0.0 && !self.window.is_zero()
    }
}

/// How the Flex and Priority service tiers behave and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTiers {
    /// Flex's price against Standard (catalog: 0.5).
    pub flex_price: f64,
    /// Priority's price against Standard (catalog: 2.0).
    pub priority_price: f64,
    /// Requests per minute per (project, model) served at Priority; past it a Priority request
    /// is served at Standard with `x-gemini-service-tier: standard` (0 = no limit; `None`: the
    /// tier does not offer Priority, every Priority request is served at Standard).
    pub priority_rpm: Option<u64>,
    /// Extra time to first token of a Flex answer (best effort: it waits for spare capacity).
    pub flex_latency: DurationDist,
    /// Share of the upstream's capacity in use above which Flex requests are shed with 503
    /// (1 = only when the upstream is full; needs `max_concurrent`).
    pub flex_shed_at: f64,
}

impl ServiceTiers {
    /// The catalog's multipliers and the preset's Priority limit; Flex waits a lognormal time
    /// (median 5 s, p99 60 s: an assumption, Google publishes none) and is shed above 80%.
    pub fn of_preset(preset: &str) -> ServiceTiers {
        ServiceTiers {
            flex_price: ServiceTier::Flex.catalog_multiplier(),
            priority_price: ServiceTier::Priority.catalog_multiplier(),
            priority_rpm: catalog::tier_entry(preset).and_then(|t| t.priority_rpm),
            flex_latency: DurationDist::Lognormal {
                median: Duration::from_secs(5),
                p99: Duration::from_secs(60),
            },
            flex_shed_at: 0.8,
        }
    }
}

/// The Batch API's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// Time from a job's start to its results (a duration distribution).
    pub turnaround: DurationDist,
    /// Input tokens of running jobs allowed per model at once (0 = unlimited); a job waits
    /// (pending) until the jobs before it leave room.
    pub enqueued_tokens: u64,
}

impl Default for BatchSettings {
    /// Google targets 24 hours and says most jobs finish much sooner; the default, lognormal
    /// with median 10 minutes and p99 2 hours, is an assumption.
    fn default() -> Self {
        BatchSettings {
            turnaround: DurationDist::Lognormal {
                median: Duration::from_secs(600),
                p99: Duration::from_secs(7200),
            },
            enqueued_tokens: 0,
        }
    }
}

/// Prices of the served models from the catalog (a model it does not know is unpriced: its
/// answers cost nothing to the spend limit).
pub fn prices_of(models: impl IntoIterator<Item = impl AsRef<str>>) -> BTreeMap<String, Price> {
    models
        .into_iter()
        .filter_map(|m| Some((m.as_ref().to_string(), catalog::price(m.as_ref())?)))
        .collect()
}

/// The service tier a request asks for (`serviceTier` on the request; Standard when absent).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    /// The default.
    #[default]
    Standard,
    /// Half price, best effort.
    Flex,
    /// Served first, at a premium.
    Priority,
}

impl ServiceTier {
    /// The name on the wire and in reports: `standard`, `flex`, `priority`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// Reads a wire value case-insensitively (`flex`, `FLEX`, `SERVICE_TIER_FLEX`;
    /// `unspecified` is Standard).
    pub fn parse(s: &str) -> Option<ServiceTier> {
        let s = s.to_ascii_lowercase();
        match s.strip_prefix("service_tier_").unwrap_or(&s) {
            "standard" | "unspecified" | "" => Some(ServiceTier::Standard),
            "flex" => Some(ServiceTier::Flex),
            "priority" => Some(ServiceTier::Priority),
            _ => None,
        }
    }

    /// This tier's price multiplier from the catalog in force (what a client prices an answer
    /// with; the mock uses its profile's copy).
    pub fn catalog_multiplier(self) -> f64 {
        let prices = catalog::data::current().service_tiers.as_ref();
        match self {
            ServiceTier::Standard => 1.0,
            ServiceTier::Flex => prices.map_or(0.5, |p| p.flex),
            ServiceTier::Priority => prices.map_or(2.0, |p| p.priority),
        }
    }

    /// This tier's price multiplier.
    pub fn multiplier(self, tiers: &ServiceTiers) -> f64 {
        match self {
            ServiceTier::Standard => 1.0,
            ServiceTier::Flex => tiers.flex_price,
            ServiceTier::Priority => tiers.priority_price,
        }
    }
}
