//! The summary's cost split and service-tier table (from [`crate::metrics::billing`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::histogram::LatencyStats;
use crate::metrics::billing::Billing;

/// The cost of the answers by what is billed, in USD (6 decimals).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostSplitSummary {
    /// Prompt tokens not served from a context cache.
    pub fresh_input_usd: f64,
    /// Prompt tokens served from a context cache, at the cached price.
    pub cached_input_usd: f64,
    /// Answer tokens.
    pub output_usd: f64,
    /// Thinking tokens (billed as output).
    pub thinking_usd: f64,
    /// What the cached tokens would have cost as fresh input, minus what they cost.
    pub cache_saving_usd: f64,
    /// Explicit caches of pinned lanes: their tokens at the input price when made, and their
    /// storage for their time to live; included in `cost_usd` (null when the model's storage
    /// price is unknown: then not included, and a warning says so).
    #[serde(default)]
    pub cache_storage_usd: Option<f64>,
}

/// The Batch API lane's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchSummary {
    /// Jobs submitted.
    pub jobs: u64,
    /// Requests answered through them.
    pub answered: u64,
    /// Turnaround of those answers: their job's submit to its result.
    #[schemars(with = "serde_json::Value")]
    pub turnaround_ms: LatencyStats,
    /// What they cost at the batch price (null when a model is unpriced).
    pub cost_usd: Option<f64>,
    /// What the same answers would have cost online, less what they cost.
    pub saving_usd: Option<f64>,
}

impl BatchSummary {
    /// The batch figures of a run that submitted jobs.
    pub fn of(m: &crate::metrics::Metrics) -> Option<BatchSummary> {
        let b = &m.billing;
        (m.batch_jobs > 0 || b.batch_answers > 0).then(|| BatchSummary {
            jobs: m.batch_jobs,
            answered: b.batch_answers,
            turnaround_ms: m.batch_turnaround.stats(),
            cost_usd: b.batch_cost_usd.map(usd6),
            saving_usd: b.batch_saving_usd.map(usd6),
        })
    }
}

/// One turn number's figures across conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TurnSummary {
    /// The turn (1 for a conversation's first).
    pub turn: u16,
    /// Answered turns with this number.
    pub answered: u64,
    /// Their mean input tokens as the API counted them (history included).
    pub mean_input_tokens: f64,
    /// Their mean input tokens as planned: system prompt, history and message.
    pub mean_planned_input_tokens: f64,
    /// Share of their input tokens served from a cache.
    pub cached_share: f64,
}

/// Conversations' figures per turn number (empty without sessions traffic).
pub fn turns_of(m: &crate::metrics::Metrics) -> Vec<TurnSummary> {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    m.turns
        .iter()
        .filter(|(_, t)| t.answered > 0)
        .map(|(&turn, t)| TurnSummary {
            turn,
            answered: t.answered,
            mean_input_tokens: round(t.input as f64 / t.answered as f64),
            mean_planned_input_tokens: round(t.planned_input as f64 / t.answered as f64),
            cached_share: if t.input > 0 {
                (t.cached as f64 / t.input as f64 * 1e4).round() / 1e4
            } else {
                0.0
            },
        })
        .collect()
}

/// One service tier's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TierSummary {
    /// Attempts that asked for the tier.
    pub requested: u64,
    /// Answered attempts served at the tier.
    pub answered: u64,
    /// Attempts that asked for the tier and were served at Standard.
    pub downgraded: u64,
    /// Cost of the answers served at the tier (null when a model is unpriced).
    pub cost_usd: Option<f64>,
    /// End-to-end latency of the requests answered at the tier.
    #[schemars(with = "serde_json::Value")]
    pub latency_ms: LatencyStats,
}

/// Dollars to the micro-dollar, as every cost in a summary is written.
pub(super) fn usd6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl CostSplitSummary {
    /// The split of a run, when every model is priced.
    pub fn of(b: &Billing) -> Option<CostSplitSummary> {
        let s = b.split?;
        Some(CostSplitSummary {
            fresh_input_usd: usd6(s.fresh_input),
            cached_input_usd: usd6(s.cached_input),
            output_usd: usd6(s.output),
            thinking_usd: usd6(s.thinking),
            cache_saving_usd: usd6(b.cache_saving_usd.unwrap_or(0.0)),
            cache_storage_usd: b.storage_usd.map(usd6),
        })
    }
}

/// Each tier's figures, by name; empty when every attempt asked for and got Standard.
pub fn tiers_of(b: &Billing) -> BTreeMap<String, TierSummary> {
    let only_standard = b.tiers.keys().all(|t| *t == crate::backend::ServiceTier::Standard);
    if only_standard {
        return BTreeMap::new();
    }
    b.tiers
        .iter()
        .map(|(tier, t)| {
            let summary = TierSummary {
                requested: t.requested,
                answered: t.answered,
                downgraded: t.downgraded,
                cost_usd: t.cost_usd.map(usd6),
                latency_ms: t.latency.stats(),
            };
            (tier.as_str().to_string(), summary)
        })
        .collect()
}
