//! The calling plan assembled: one pipeline of policies that the engine calls by *phase* —
//! admit a request, pace and allow an attempt, observe its end, review a retry, rescue a request
//! given up on — without knowing which policies are in it (the lesson of tower's layers, with
//! synchronous policies that take `now` so they run in virtual time).
//!
//! Each policy is a small type in its own file that implements [`Policy`] (`policy.rs`, with the
//! types each phase sees) for the phases it cares about; every phase has a do-nothing default. [`Pipeline::new`] is the one place that
//! builds the policies a strategy asks for: a new policy is a new file plus one line there. The
//! order of that list is the order every phase visits them, and it is part of the results (the
//! throttle draws after the cache and dedup have had their say, a budget pays before the
//! throttle weighs a retry), so it is fixed and commented.

use std::time::Duration;

use stampede_mock::rng::StreamRng;
use tokio::time::Instant;

use super::breaker::Breakers;
use super::budget::Budget;
use super::cache::ResponseCache;
use super::concurrency;
use super::dedup::Dedup;
use super::fallback::Fallback;
use super::hedge::Hedger;
use super::policy::{Admission, Arrival, Observation, Outgoing, Policy, Rescue, RetryReview, Ticket};
use super::retry::{Decision, RetrySpec};
use super::throttle::SreThrottle;
use super::{adaptive_rate::AdaptiveRate, ScopedLimiter, StrategySpec};
use crate::backend::{ErrorKind, Tokens};

/// The policies a strategy asks for, in the order every phase visits them, and the retry rule
/// that proposes what the review phase weighs.
pub struct Pipeline {
    policies: Vec<Box<dyn Policy>>,
    retry: RetrySpec,
    workers: usize,
}

impl Pipeline {
    /// Builds the pipeline of `strategy` for a run over `models` with random streams keyed by
    /// `seed`. The one place a policy is added.
    pub fn new(strategy: &StrategySpec, models: &[std::sync::Arc<str>], seed: u64, now: Instant) -> Pipeline {
        let s = strategy;
        let mut policies: Vec<Box<dyn Policy>> = Vec::new();
        let mut add = |p: Option<Box<dyn Policy>>| policies.extend(p);
        // Admit: a cached answer first, then joining a twin, then the throttle's draw.
        add(s.cache.clone().map(|c| Box::new(ResponseCache::new(c)) as _));
        add(s.dedup.then(|| Box::new(Dedup::default()) as _));
        // Review: the budget pays for a retry before the throttle weighs it.
        add(s.retry.budget.as_ref().map(|b| Box::new(Budget::new(b)) as _));
        add(s.throttle.as_ref().map(|t| Box::new(SreThrottle::new(t, seed)) as _));
        // Pace and allow.
        let limiter = ScopedLimiter::new(&s.rate_limit, now);
        add(limiter.is_active().then(|| Box::new(limiter) as _));
        add(s.adaptive_rate.then(|| Box::new(AdaptiveRate::new(now)) as _));
        add(Some(Box::new(concurrency::Limiter::new(&s.concurrency, s.workers))));
        add(s
            .breaker
            .as_ref()
            .map(|b| Box::new(Breakers::new(b, models.len(), now)) as _));
        add(s.hedge.clone().map(|h| Box::new(Hedger::new(h)) as _));
        add(s.fallback.as_ref().map(|f| Box::new(Fallback::new(f, models)) as _));
        Pipeline {
            policies,
            retry: s.retry.clone(),
            workers: s.workers as usize,
        }
    }

    /// Admit: the first policy with an opinion decides.
    pub fn admit(&mut self, now: Instant, arrival: &Arrival) -> Admission {
        for p in &mut self.policies {
            match p.admit(now, arrival) {
                Admission::Pass => continue,
                other => return other,
            }
        }
        Admission::Pass
    }

    /// Admit: the request was queued.
    pub fn on_queued(&mut self, arrival: &Arrival) {
        self.policies.iter_mut().for_each(|p| p.on_queued(arrival));
    }

    /// The request with `key` ended.
    pub fn on_finished(&mut self, key: usize, prompt: (u64, u8)) {
        self.policies.iter_mut().for_each(|p| p.on_finished(key, prompt));
    }

    /// Pace: when the attempt may go (`None`: now).
    pub fn wait(&mut self, now: Instant, attempt: &Outgoing) -> Option<Instant> {
        let at = self
            .policies
            .iter_mut()
            .fold(now, |at, p| at.max(p.ready_at(now, attempt)));
        (at > now).then_some(at)
    }

    /// Pace: the attempt goes now.
    pub fn take(&mut self, now: Instant, attempt: &Outgoing) {
        self.policies.iter_mut().for_each(|p| p.take(now, attempt));
    }

    /// Allow: whether an attempt to `model` may start; the first refusal stops the asking (a
    /// breaker counts its half-open trials as it allows them).
    pub fn allow(&mut self, now: Instant, model: u8) -> bool {
        self.policies.iter_mut().all(|p| p.allow(now, model))
    }

    /// A request's first attempt goes out.
    pub fn on_first_attempt(&mut self, now: Instant) {
        self.policies.iter_mut().for_each(|p| p.on_first_attempt(now));
    }

    /// Observe: an attempt ended.
    pub fn observe(&mut self, now: Instant, seen: &Observation) {
        self.policies.iter_mut().for_each(|p| p.observe(now, seen));
    }

    /// What to do after every attempt failed: the retry rule proposes (with jitter drawn from
    /// `rng`), then each policy may refuse.
    pub fn after_failure(
        &mut self,
        now: Instant,
        review: &RetryReview<'_>,
        rng: &mut StreamRng,
        ticket: &mut Ticket,
    ) -> Decision {
        let proposed = self.retry.decide(
            review.model_attempts,
            review.error,
            review.last_backoff,
            review.time_left,
            rng,
        );
        self.policies.iter_mut().fold(proposed, |d, p| match d {
            Decision::Retry(_) => p.review(now, review, d, ticket),
            Decision::GiveUp(_) => d,
        })
    }

    /// Rescue: what saves a request given up on, if anything.
    pub fn rescue(&self, last: Option<ErrorKind>, breaker_open: bool) -> Option<Rescue> {
        self.policies.iter().find_map(|p| p.rescue(last, breaker_open))
    }

    /// An answer came from upstream for `prompt`.
    pub fn on_answer(&mut self, now: Instant, prompt: (u64, u8), tokens: Tokens) {
        self.policies.iter_mut().for_each(|p| p.on_answer(now, prompt, tokens));
    }

    /// The concurrency limit in force: the lowest any policy sets, never above `workers`.
    pub fn limit(&self) -> usize {
        self.policies
            .iter()
            .filter_map(|p| p.limit())
            .fold(self.workers, usize::min)
    }

    /// How long after an attempt a hedge goes, when hedging.
    pub fn hedge_delay(&self) -> Option<Duration> {
        self.policies.iter().find_map(|p| p.hedge_delay())
    }

    /// Breakers not closed at `now`.
    pub fn open_breakers(&mut self, now: Instant) -> u32 {
        self.policies.iter_mut().map(|p| p.open_breakers(now)).sum()
    }
}
