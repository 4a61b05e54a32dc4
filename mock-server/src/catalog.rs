//! What the mock knows about Gemini's models, tiers, quota names and prices.
//!
//! Figures come from the wire notes the project started from (the mid-2025 published table; the December 2025
//! free-tier cut for gemini-2.5-flash). Where the published table has no entry for a model in a
//! tier, the entry from the tier below is used and marked `carried` in the docs (README).

use std::collections::BTreeMap;

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

/// A quota tier: decides the limits of a preset and the names in a 429 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
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
    /// The billing account's monthly spend cap of the tier in USD (`None`: the free tier has
    /// none, it cannot spend). Tier 3's cap is "$20,000 - $100,000+" after review: the lower
    /// end is used. Source: <https://ai.google.dev/gemini-api/docs/billing> ("Billing tier
    /// cap"), read 2026-11-29.
    pub fn monthly_cap_usd(self) -> Option<f64> {
        match self {
            Tier::Free => None,
            Tier::Tier1 => Some(250.0),
            Tier::Tier2 => Some(2_000.0),
            Tier::Tier3 => Some(20_000.0),
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

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
}

impl Price {
    /// The cost in USD of one call with these token counts (thinking billed as output).
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        let long = self.long_prompt_threshold > 0 && input > self.long_prompt_threshold;
        let (pi, po) = if long {
            (self.input_long, self.output_long)
        } else {
            (self.input, self.output)
        };
        (input as f64 * pi + output as f64 * po) / 1e6
    }
}

/// The paid-tier price of a model, if the table has it.
pub fn price(model: &str) -> Option<Price> {
    let flat = |input, output| Price {
        input,
        output,
        long_prompt_threshold: 0,
        input_long: input,
        output_long: output,
    };
    match model {
        "gemini-2.5-pro" => Some(Price {
            input: 1.25,
            output: 10.0,
            long_prompt_threshold: 200_000,
            input_long: 2.5,
            output_long: 15.0,
        }),
        "gemini-2.5-flash" => Some(flat(0.30, 2.50)),
        "gemini-2.5-flash-lite" => Some(flat(0.10, 0.40)),
        _ => None,
    }
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

/// The models every preset serves.
pub const MODELS: [&str; 3] = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"];

/// Facts for a known model id.
pub fn model_info(id: &str) -> ModelInfo {
    let display_name = match id {
        "gemini-2.5-pro" => "Gemini 2.5 Pro".to_string(),
        "gemini-2.5-flash" => "Gemini 2.5 Flash".to_string(),
        "gemini-2.5-flash-lite" => "Gemini 2.5 Flash-Lite".to_string(),
        other => other.to_string(),
    };
    ModelInfo {
        id: id.to_string(),
        display_name,
        input_token_limit: 1_048_576,
        output_token_limit: 65_536,
    }
}

/// The limits of a preset tier for each model, from the published table.
///
/// `free-2025` is the mid-2025 free tier; `free` (alias `free-2026`) the free tier after the
/// December 2025 cut (published for gemini-2.5-flash: 5 RPM, 250K TPM, 20 RPD; the other models
/// keep their 2025 figures). Tier 2 has no published flash-lite row and tier 3 has only flash:
/// those rows are carried from the tier below.
pub fn tier_limits(preset: &str) -> Option<(Tier, BTreeMap<String, Limits>)> {
    let l = |rpm, tpm, rpd| Limits { rpm, tpm, rpd };
    let rows: [(&str, Limits); 3] = match preset {
        "free-2025" => [
            ("gemini-2.5-pro", l(5, 250_000, 100)),
            ("gemini-2.5-flash", l(10, 250_000, 250)),
            ("gemini-2.5-flash-lite", l(15, 250_000, 1_000)),
        ],
        "free" | "free-2026" => [
            ("gemini-2.5-pro", l(5, 250_000, 100)),
            ("gemini-2.5-flash", l(5, 250_000, 20)),
            ("gemini-2.5-flash-lite", l(15, 250_000, 1_000)),
        ],
        "tier1" => [
            ("gemini-2.5-pro", l(150, 2_000_000, 10_000)),
            ("gemini-2.5-flash", l(1_000, 1_000_000, 10_000)),
            ("gemini-2.5-flash-lite", l(4_000, 4_000_000, 0)),
        ],
        "tier2" => [
            ("gemini-2.5-pro", l(1_000, 5_000_000, 50_000)),
            ("gemini-2.5-flash", l(2_000, 3_000_000, 100_000)),
            ("gemini-2.5-flash-lite", l(4_000, 4_000_000, 0)),
        ],
        "tier3" => [
            ("gemini-2.5-pro", l(1_000, 5_000_000, 50_000)),
            ("gemini-2.5-flash", l(10_000, 8_000_000, 0)),
            ("gemini-2.5-flash-lite", l(4_000, 4_000_000, 0)),
        ],
        "unlimited" => [
            ("gemini-2.5-pro", l(0, 0, 0)),
            ("gemini-2.5-flash", l(0, 0, 0)),
            ("gemini-2.5-flash-lite", l(0, 0, 0)),
        ],
        _ => return None,
    };
    let tier = match preset {
        "free-2025" | "free" | "free-2026" => Tier::Free,
        "tier2" => Tier::Tier2,
        "tier3" => Tier::Tier3,
        _ => Tier::Tier1,
    };
    Some((tier, rows.into_iter().map(|(m, l)| (m.to_string(), l)).collect()))
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
        let pro = price("gemini-2.5-pro").unwrap();
        assert!((pro.cost(100_000, 0) - 0.125).abs() < 1e-9);
        assert!((pro.cost(300_000, 0) - 0.75).abs() < 1e-9);
        assert!(price("gpt-4").is_none());
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
