//! What the run's answers cost, split by what is billed (fresh input, cached input, output,
//! thinking), what context caching saved, and each service tier's share: answered attempts,
//! cost, Priority downgrades and the latency of the requests it answered.

use std::collections::BTreeMap;

use stampede_mock::catalog::{CostSplit, Price};

use crate::backend::{ServiceTier, Tokens};
use crate::histogram::LatencyHistogram;

/// One turn number's figures across conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TurnMetrics {
    /// Answered turns.
    pub answered: u64,
    /// Their input tokens as the API counted them.
    pub input: u64,
    /// Their input tokens as planned (system prompt, history and message).
    pub planned_input: u64,
    /// Of the input, tokens served from a cache.
    pub cached: u64,
}

/// One service tier's figures.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TierMetrics {
    /// Attempts that asked for this tier.
    pub requested: u64,
    /// Answered attempts served at this tier.
    pub answered: u64,
    /// Cost of those answers (`None` when a model is unpriced).
    pub cost_usd: Option<f64>,
    /// Attempts that asked for this tier and were served at Standard (Priority over its limit).
    pub downgraded: u64,
    /// End-to-end latency of the requests answered at this tier.
    pub latency: LatencyHistogram,
}

/// Cost by what is billed, per tier, and the saving of cached input.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Billing {
    /// The answers' cost split (`None` when a model is unpriced).
    pub split: Option<CostSplit>,
    /// What the cached input tokens would have cost as fresh input, minus what they cost.
    pub cache_saving_usd: Option<f64>,
    /// Per service tier.
    pub tiers: BTreeMap<ServiceTier, TierMetrics>,
    /// Storage of the explicit caches of pinned lanes (`None` when a storage price is unknown).
    pub storage_usd: Option<f64>,
    /// Answers through the Batch API.
    pub batch_answers: u64,
    /// What they cost at the batch price.
    pub batch_cost_usd: Option<f64>,
    /// What they would have cost online, less what they cost.
    pub batch_saving_usd: Option<f64>,
}

impl Billing {
    /// Empty billing; priced when every model is.
    pub fn new(priced: bool) -> Billing {
        Billing {
            split: priced.then(CostSplit::default),
            cache_saving_usd: priced.then_some(0.0),
            tiers: BTreeMap::new(),
            storage_usd: Some(0.0),
            batch_answers: 0,
            batch_cost_usd: priced.then_some(0.0),
            batch_saving_usd: priced.then_some(0.0),
        }
    }

    /// An explicit cache of `tokens` made and kept for `ttl` on a model priced `price`: its
    /// tokens at the input price once (creation), then per token-hour (storage). Returns the
    /// cost (`None`, and the run's storage unpriced, when the storage price is unknown).
    pub fn stored(&mut self, tokens: u32, ttl: std::time::Duration, price: Option<Price>) -> Option<f64> {
        let usd = price.and_then(|p| {
            let millions = f64::from(tokens) / 1e6;
            Some(millions * p.input + millions * ttl.as_secs_f64() / 3600.0 * p.storage_per_hour?)
        });
        match (&mut self.storage_usd, usd) {
            (Some(total), Some(usd)) => *total += usd,
            _ => self.storage_usd = None,
        }
        usd
    }

    /// An attempt asked for `requested`.
    pub fn asked(&mut self, requested: ServiceTier) {
        self.tiers.entry(requested).or_default().requested += 1;
    }

    /// An answered attempt: returns its cost (`None` when unpriced).
    pub fn answered(&mut self, requested: ServiceTier, tokens: &Tokens, price: Option<Price>) -> Option<f64> {
        let tier = tokens.service_tier;
        if requested != tier {
            self.tiers.entry(requested).or_default().downgraded += 1;
        }
        let t = self.tiers.entry(tier).or_default();
        t.answered += 1;
        let (Some(split), Some(saving), Some(price)) = (&mut self.split, &mut self.cache_saving_usd, price) else {
            t.cost_usd = None;
            self.split = None;
            self.cache_saving_usd = None;
            return None;
        };
        let multiplier = tier.catalog_multiplier();
        let online = price;
        let price = if tokens.batch { price.batch() } else { price };
        let this = price.split(tokens.billed(), multiplier);
        if tokens.batch {
            self.batch_answers += 1;
            let full = online.split(tokens.billed(), multiplier).total();
            if let (Some(c), Some(s)) = (&mut self.batch_cost_usd, &mut self.batch_saving_usd) {
                *c += this.total();
                *s += full - this.total();
            }
        }
        let uncached = price.split(
            stampede_mock::catalog::Billed {
                cached: 0,
                ..tokens.billed()
            },
            multiplier,
        );
        split.add(this);
        *saving += uncached.fresh_input - this.fresh_input - this.cached_input;
        let total = this.total();
        if t.answered == 1 {
            t.cost_usd = Some(0.0);
        }
        if let Some(c) = &mut t.cost_usd {
            *c += total;
        }
        Some(total)
    }

    /// A request answered at `tier` after `latency`.
    pub fn request(&mut self, tier: ServiceTier, latency: std::time::Duration) {
        self.tiers.entry(tier).or_default().latency.record(latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_input_is_billed_at_the_cached_price_and_the_saving_counted() {
        let price = stampede_mock::catalog::price("gemini-3-flash-preview").unwrap();
        let mut b = Billing::new(true);
        let tokens = Tokens {
            input: 2100,
            cached: 2000,
            output: 100,
            ..Tokens::default()
        };
        let cost = b.answered(ServiceTier::Standard, &tokens, Some(price)).unwrap();
        // 100 fresh at $0.50/M, 2,000 cached at $0.05/M, 100 out at $3/M.
        let want = (100.0 * 0.50 + 2000.0 * 0.05 + 100.0 * 3.0) / 1e6;
        assert!((cost - want).abs() < 1e-12, "{cost} vs {want}");
        assert!((b.cache_saving_usd.unwrap() - 2000.0 * 0.45 / 1e6).abs() < 1e-12);
        // Flex halves it; a Priority request served at Standard is a downgrade.
        let flex = Tokens {
            service_tier: ServiceTier::Flex,
            ..tokens
        };
        let half = b.answered(ServiceTier::Flex, &flex, Some(price)).unwrap();
        assert!((half - want * 0.5).abs() < 1e-12);
        b.answered(ServiceTier::Priority, &tokens, Some(price));
        assert_eq!(b.tiers[&ServiceTier::Priority].downgraded, 1);
        assert_eq!(b.tiers[&ServiceTier::Standard].answered, 2);
        assert!(b.answered(ServiceTier::Standard, &tokens, None).is_none() && b.split.is_none());
    }
}
