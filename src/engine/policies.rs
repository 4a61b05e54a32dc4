//! The per-run state of the calling plan's policies, built from the strategy.

use tokio::time::Instant;

use super::EngineConfig;
use crate::strategy::adaptive_rate::AdaptiveRate;
use crate::strategy::breaker::{Breaker, BreakerState};
use crate::strategy::budget::{Budget, SreThrottle};
use crate::strategy::cache::ResponseCache;
use crate::strategy::concurrency;
use crate::strategy::hedge::Hedger;
use crate::strategy::ScopedLimiter;

/// Everything the strategy keeps state for.
pub(super) struct Policies {
    pub limiter: ScopedLimiter,
    pub adaptive_rate: Option<AdaptiveRate>,
    pub concurrency: concurrency::Limiter,
    /// One breaker per model, when configured.
    pub breakers: Vec<Breaker>,
    pub budget: Option<Budget>,
    pub throttle: Option<SreThrottle>,
    pub hedger: Option<Hedger>,
    pub cache: Option<ResponseCache>,
    /// Index of the fallback model in the run's models.
    pub fallback_model: Option<u8>,
}

impl Policies {
    pub fn new(config: &EngineConfig, now: Instant) -> Policies {
        let s = &config.strategy;
        let fallback_model = s
            .fallback
            .as_ref()
            .and_then(|f| f.model.as_deref())
            .and_then(|m| config.models.iter().position(|x| &**x == m))
            .map(|i| i as u8);
        Policies {
            limiter: ScopedLimiter::new(&s.rate_limit, now),
            adaptive_rate: s.adaptive_rate.then(|| AdaptiveRate::new(now)),
            concurrency: concurrency::Limiter::new(&s.concurrency, s.workers),
            breakers: s
                .breaker
                .as_ref()
                .map(|b| (0..config.models.len()).map(|_| Breaker::new(b.clone(), now)).collect())
                .unwrap_or_default(),
            budget: s.retry.budget.as_ref().map(Budget::new),
            throttle: s.throttle.as_ref().map(SreThrottle::new),
            hedger: s.hedge.clone().map(Hedger::new),
            cache: s.cache.clone().map(ResponseCache::new),
            fallback_model,
        }
    }

    /// Whether the model's breaker lets a call through now (counts half-open trials).
    pub fn breaker_allows(&mut self, model: u8, now: Instant) -> bool {
        self.breakers
            .get_mut(usize::from(model))
            .is_none_or(|b| b.try_acquire(now))
    }

    /// Breakers not closed at `now`.
    pub fn breakers_open(&mut self, now: Instant) -> u32 {
        self.breakers
            .iter_mut()
            .map(|b| b.state(now))
            .filter(|s| *s != BreakerState::Closed)
            .count() as u32
    }
}
