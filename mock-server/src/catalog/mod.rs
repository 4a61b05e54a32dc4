//! What the mock knows about Gemini's models, tiers, quota names and prices.
//!
//! The figures are data: `mock-server/catalog.toml`, embedded in the binary, each entry with
//! its source and the date it was read (see [`data`]); `stampede catalog` prints them and
//! `--catalog FILE` extends them. This module holds the vocabulary (limits, tiers, quota
//! dimensions and their names in 429 bodies, prices) and reads the catalog in force.

use std::collections::BTreeMap;

pub mod data;
pub mod lifecycle;

use serde::{Deserialize, Serialize};

/// Per-model quota limits; 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: u64,
    /// Input tokens per minute.
    pub tpm: u64,
    /// Requests per day.
    pub rpd: u64,
}

/// A quota tier: decides the limits of a preset and the names in a 429 body. Ordered as a
/// billing account moves through them: free < tier 1 < tier 2 < tier 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Free tier (quota ids end `-FreeTier`).
    Free,
    /// Paid tier 1 (quota ids without suffix).
    #[default]
    Tier1,
    /// Paid tier 2 (quota ids end `-PaidTier2`).
    Tier2,
    /// Paid tier 3 (quota ids end `-PaidTier3`).
    Tier3,
}

/// A quota dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// Requests per minute.
    Rpm,
    /// Input tokens per minute.
    Tpm,
    /// Requests per day.
    Rpd,
}

impl Dimension {
    /// Short name used in stats and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Rpm => "rpm",
            Dimension::Tpm => "tpm",
            Dimension::Rpd => "rpd",
        }
    }
}

impl Tier {
    /// The billing account's monthly spend cap of the tier in USD, from the catalog's preset of
    /// that name (`None`: the free tier has none, it cannot spend).
    pub fn monthly_cap_usd(self) -> Option<f64> {
        data::current().tiers.get(self.name())?.monthly_cap_usd
    }

    /// The tier's name as presets and profiles write it: `free`, `tier1`, `tier2`, `tier3`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Tier1 => "tier1",
            Tier::Tier2 => "tier2",
            Tier::Tier3 => "tier3",
        }
    }

    /// The `quotaId` Gemini reports for a dimension in this tier.
    pub fn quota_id(self, dim: Dimension) -> String {
        let base = match (self, dim) {
            (Tier::Free, Dimension::Tpm) => "GenerateContentInputTokensPerModelPerMinute",
            (_, Dimension::Tpm) => "GenerateContentPaidTierInputTokensPerModelPerMinute",
            (_, Dimension::Rpm) => "GenerateRequestsPerMinutePerProjectPerModel",
            (_, Dimension::Rpd) => "GenerateRequestsPerDayPerProjectPerModel",
        };
        match self {
            Tier::Free => format!("{base}-FreeTier"),
            Tier::Tier1 => base.to_string(),
            Tier::Tier2 => format!("{base}-PaidTier2"),
            Tier::Tier3 => format!("{base}-PaidTier3"),
        }
    }

    /// The `quotaMetric` Gemini reports for a dimension in this tier.
    pub fn quota_metric(self, dim: Dimension) -> String {
        let tier = match self {
            Tier::Free => "free_tier",
            Tier::Tier1 => "paid_tier",
            Tier::Tier2 => "paid_tier_2",
            Tier::Tier3 => "paid_tier_3",
        };
        let what = match dim {
            Dimension::Tpm => "_input_token_count",
            Dimension::Rpm | Dimension::Rpd => "_requests",
        };
        format!("generativelanguage.googleapis.com/generate_content_{tier}{what}")
    }
}

/// USD per million tokens, and what else a model's answers cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Price {
    /// Input tokens, prompts up to `long_prompt_threshold`.
    pub input: f64,
    /// Output tokens (thinking included), prompts up to the threshold.
    pub output: f64,
    /// Prompt size above which the long-prompt prices apply (0 = never).
    pub long_prompt_threshold: u64,
    /// Input price for long prompts.
    pub input_long: f64,
    /// Output price for long prompts.
    pub output_long: f64,
    /// Input served from a context cache (implicit or explicit).
    #[serde(default)]
    pub cached: f64,
    /// Cached input for long prompts.
    #[serde(default)]
    pub cached_long: f64,
    /// Explicit cache storage per 1M tokens per hour (`None`: not known).
    #[serde(default)]
    pub storage_per_hour: Option<f64>,
    /// The smallest shared prefix implicit caching serves (0: no implicit cache).
    #[serde(default)]
    pub implicit_cache_min_tokens: u64,
    /// Batch API input price (default half of `input`).
    #[serde(default)]
    pub batch_input: Option<f64>,
    /// Batch API output price (default half of `output`).
    #[serde(default)]
    pub batch_output: Option<f64>,
}

/// One answer's tokens as they are billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Billed {
    /// The whole prompt (`promptTokenCount`: cached tokens included).
    pub prompt: u64,
    /// Of the prompt, tokens served from a context cache.
    pub cached: u64,
    /// Answer tokens.
    pub output: u64,
    /// Thinking tokens (billed as output).
    pub thinking: u64,
}

/// The cost of one answer split by what is billed, in USD.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostSplit {
    /// Prompt tokens not served from a cache.
    pub fresh_input: f64,
    /// Prompt tokens served from a cache.
    pub cached_input: f64,
    /// Answer tokens.
    pub output: f64,
    /// Thinking tokens.
    pub thinking: f64,
}

impl CostSplit {
    /// The whole cost.
    pub fn total(&self) -> f64 {
        self.fresh_input + self.cached_input + self.output + self.thinking
    }

    /// Adds another split.
    pub fn add(&mut self, o: CostSplit) {
        self.fresh_input += o.fresh_input;
        self.cached_input += o.cached_input;
        self.output += o.output;
        self.thinking += o.thinking;
    }
}

impl Price {
    /// A flat price: `input` and `output` for every prompt size, no cache discount.
    pub fn flat(input: f64, output: f64) -> Price {
        Price {
            input,
            output,
            long_prompt_threshold: 0,
            input_long: input,
            output_long: output,
            cached: input,
            cached_long: input,
            storage_per_hour: None,
            implicit_cache_min_tokens: 0,
            batch_input: None,
            batch_output: None,
        }
    }

    /// The price of the same answers through the Batch API: the catalog's batch prices, else
    /// half of every price ("priced at 50% less than the standard rate", Google's
    /// batch-mode announcement of 2025-07-07). Cached input
    /// keeps its ratio to input.
    pub fn batch(&self) -> Price {
        let input = self.batch_input.unwrap_or(self.input / 2.0);
        let ratio = if self.input > 0.0 { input / self.input } else { 0.5 };
        let output_ratio = if self.output > 0.0 {
            self.batch_output.unwrap_or(self.output / 2.0) / self.output
        } else {
            0.5
        };
        Price {
            input,
            output: self.output * output_ratio,
            input_long: self.input_long * ratio,
            output_long: self.output_long * output_ratio,
            cached: self.cached * ratio,
            cached_long: self.cached_long * ratio,
            batch_input: None,
            batch_output: None,
            ..*self
        }
    }

    /// The cost in USD of one call with these token counts (thinking billed as output, nothing
    /// cached, Standard tier).
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        self.split(
            Billed {
                prompt: input,
                output,
                ..Billed::default()
            },
            1.0,
        )
        .total()
    }

    /// One answer's cost split by what is billed; `multiplier` is the service tier's (1 for
    /// Standard). The long-prompt prices apply when the whole prompt is above the threshold.
    pub fn split(&self, b: Billed, multiplier: f64) -> CostSplit {
        let long = self.long_prompt_threshold > 0 && b.prompt > self.long_prompt_threshold;
        let (pi, pc, po) = if long {
            (self.input_long, self.cached_long, self.output_long)
        } else {
            (self.input, self.cached, self.output)
        };
        let usd = |tokens: u64, price: f64| tokens as f64 * price * multiplier / 1e6;
        let cached = b.cached.min(b.prompt);
        CostSplit {
            fresh_input: usd(b.prompt - cached, pi),
            cached_input: usd(cached, pc),
            output: usd(b.output, po),
            thinking: usd(b.thinking, po),
        }
    }
}

/// The paid-tier price of a model today, if the catalog has one: the price of the model that
/// answers its calls (a routed model is billed at its target's prices), with any announced
/// change that has taken effect.
pub fn price(model: &str) -> Option<Price> {
    price_on(data::current(), model, &lifecycle::today())
}

/// The price of `model` on `date` (`YYYY-MM-DD`) in `catalog`.
pub fn price_on(catalog: &data::Catalog, model: &str, date: &str) -> Option<Price> {
    let mut m = catalog.models.get(model)?;
    // Follow routing where Google bills routed calls at the target's prices (a short chain).
    for _ in 0..4 {
        let billed_elsewhere = lifecycle::routed_to(m, date).filter(|_| m.billed_as_routed);
        match billed_elsewhere.and_then(|to| catalog.models.get(to)) {
            Some(next) => m = next,
            None => break,
        }
    }
    let later = m.price_change.as_ref().filter(|c| c.from.as_str() <= date);
    let pick = |now: Option<f64>, then: Option<Option<f64>>| then.flatten().or(now);
    let input = pick(m.input, later.map(|c| c.input))?;
    let output = pick(m.output, later.map(|c| c.output))?;
    let cached = pick(m.cached_input, later.map(|c| c.cached_input)).unwrap_or(input);
    Some(Price {
        input,
        output,
        long_prompt_threshold: m.long_prompt_threshold,
        input_long: m.input_long.unwrap_or(input),
        output_long: m.output_long.unwrap_or(output),
        cached,
        cached_long: m.cached_input_long.unwrap_or(cached),
        storage_per_hour: m.cache_storage,
        implicit_cache_min_tokens: m.implicit_cache_min_tokens,
        batch_input: pick(m.batch_input, later.map(|c| c.batch_input)),
        batch_output: pick(m.batch_output, later.map(|c| c.batch_output)),
    })
}

/// Static facts about a model for `GET /v1beta/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model id, such as `gemini-2.5-flash`.
    pub id: String,
    /// Human name.
    pub display_name: String,
    /// Largest prompt accepted.
    pub input_token_limit: u64,
    /// Largest answer.
    pub output_token_limit: u64,
}

/// Facts for a model id (an id the catalog does not know gets its id as name and 1M/64K limits).
pub fn model_info(id: &str) -> ModelInfo {
    match data::current().models.get(id) {
        Some(m) => ModelInfo {
            id: id.to_string(),
            display_name: m.display_name.clone(),
            input_token_limit: m.input_token_limit,
            output_token_limit: m.output_token_limit,
        },
        None => ModelInfo {
            id: id.to_string(),
            display_name: id.to_string(),
            input_token_limit: 1_048_576,
            output_token_limit: 65_536,
        },
    }
}

/// The limits of a tier preset for each model, from the catalog (`free-2026` is `free`).
pub fn tier_limits(preset: &str) -> Option<(Tier, BTreeMap<String, Limits>)> {
    let t = tier_entry(preset)?;
    Some((t.tier, t.limits.iter().map(|(m, l)| (m.clone(), l.limits())).collect()))
}

/// The tier preset's catalog entry (caps, spend limit, sources).
pub fn tier_entry(preset: &str) -> Option<&'static data::TierEntry> {
    let name = if preset == "free-2026" { "free" } else { preset };
    data::current().tiers.get(name)
}

/// Names accepted by [`tier_limits`].
pub const PRESETS: [&str; 7] = ["free", "free-2025", "free-2026", "tier1", "tier2", "tier3", "unlimited"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_names_follow_the_observed_pattern() {
        assert_eq!(
            Tier::Free.quota_id(Dimension::Tpm),
            "GenerateContentInputTokensPerModelPerMinute-FreeTier"
        );
        assert_eq!(
            Tier::Free.quota_id(Dimension::Rpm),
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        );
        assert_eq!(
            Tier::Free.quota_id(Dimension::Rpd),
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        );
        assert_eq!(
            Tier::Tier1.quota_id(Dimension::Tpm),
            "GenerateContentPaidTierInputTokensPerModelPerMinute"
        );
        assert!(Tier::Tier2.quota_id(Dimension::Rpm).ends_with("-PaidTier2"));
        assert_eq!(
            Tier::Free.quota_metric(Dimension::Tpm),
            "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"
        );
        assert_eq!(
            Tier::Tier2.quota_metric(Dimension::Rpm),
            "generativelanguage.googleapis.com/generate_content_paid_tier_2_requests"
        );
    }

    #[test]
    fn prices_match_the_table() {
        let flash = price("gemini-2.5-flash").unwrap();
        assert!((flash.cost(1_000_000, 1_000_000) - 2.80).abs() < 1e-9);
        let pro = price("gemini-3.1-pro-preview").unwrap();
        assert!((pro.cost(100_000, 0) - 0.2).abs() < 1e-9);
        assert!((pro.cost(300_000, 0) - 1.2).abs() < 1e-9);
        assert!(price("gpt-4").is_none());
        // A shut-down model keeps no price: its cost is unknown, not guessed.
        assert!(price("gemini-2.0-flash").is_none());
    }

    #[test]
    fn routed_models_bill_at_their_targets_prices_and_announced_changes_take_effect() {
        let c = data::current();
        let old_pro = price_on(c, "gemini-2.5-pro", "2026-11-30").unwrap();
        assert_eq!((old_pro.input, old_pro.output, old_pro.input_long), (1.25, 10.0, 2.5));
        let routed = price_on(c, "gemini-2.5-pro", "2026-12-03").unwrap();
        assert_eq!((routed.input, routed.output), (0.75, 3.75));
        // Routed, but Google does not say its calls bill at 3.6 Flash's prices: its own stand.
        let flash = price_on(c, "gemini-3.5-flash", "2026-12-03").unwrap();
        assert_eq!((flash.input, flash.output, flash.cached), (1.5, 9.0, 0.15));
        let new_year = price_on(c, "gemini-3.8-flash", "2027-01-01").unwrap();
        assert_eq!((new_year.input, new_year.output, new_year.cached), (1.5, 7.5, 0.15));
        assert_eq!(new_year.batch_input, Some(0.75));
    }

    #[test]
    fn presets_have_published_limits() {
        let (tier, m) = tier_limits("tier1").unwrap();
        assert_eq!(tier, Tier::Tier1);
        assert_eq!(
            m["gemini-2.5-flash"],
            Limits {
                rpm: 1000,
                tpm: 1_000_000,
                rpd: 10_000
            }
        );
        let (tier, m) = tier_limits("free").unwrap();
        assert_eq!(tier, Tier::Free);
        assert_eq!(m["gemini-2.5-flash"].rpd, 20);
        for p in PRESETS {
            assert!(tier_limits(p).is_some(), "{p}");
        }
    }
}
