//! One client replica's share of the engine: its own queue, policies (rate limiter, breaker,
//! cache, retry budget...), workers and gauges. A run with `replicas = N` has N of them behind
//! one load balancer, sharing the backend (and so the upstream's quota); with one replica the
//! engine is the plain calling plan.

use std::sync::Arc;

use tokio::time::Instant;

use stampede_mock::rng::combine;

use super::lane::LaneConfig;
use crate::strategy::queue::LaneRule;
use crate::strategy::{Pipeline, Queue, RateLimitSpec, StrategySpec};

/// Per-second gauge peaks of one replica.
#[derive(Debug, Default)]
pub(super) struct Gauges {
    pub queue_max: u32,
    pub inflight_max: u32,
}

/// Whether `strategy`'s client rate limit is one set of buckets for all its replicas.
pub(super) fn shares_rate_limit(strategy: &StrategySpec) -> bool {
    strategy.rate_limit.shared && strategy.replicas > 1
}

/// The state of one replica.
pub(super) struct Replica {
    pub queue: Queue,
    pub pipeline: Pipeline,
    /// When a rate limiter lets this replica's held-back lanes go next.
    pub limiter_wait: Option<Instant>,
    /// Attempts in flight.
    pub running: usize,
    pub shared_busy: usize,
    pub reserved_busy: Vec<usize>,
    pub gauges: Gauges,
}

impl Replica {
    /// Replica `index` of `strategy` over `lanes` and `models`; replica 0 draws its random
    /// streams from `seed` itself (so one replica is the plain plan), the others from a seed of
    /// their own.
    pub fn new(
        index: usize,
        strategy: &StrategySpec,
        lanes: &[LaneConfig],
        models: &[Arc<str>],
        seed: u64,
        now: Instant,
    ) -> Replica {
        let rules = lanes
            .iter()
            .map(|l| LaneRule {
                priority: l.priority,
                weight: l.weight,
            })
            .collect();
        let seed = if index == 0 { seed } else { combine(seed, index as u64) };
        // A rate limit shared by every replica is the engine's, not each replica's.
        let own = match shares_rate_limit(strategy) {
            true => &StrategySpec {
                rate_limit: RateLimitSpec::default(),
                ..strategy.clone()
            },
            false => strategy,
        };
        Replica {
            queue: Queue::new(&strategy.queue, rules),
            pipeline: Pipeline::new(own, models, seed, now),
            limiter_wait: None,
            running: 0,
            shared_busy: 0,
            reserved_busy: vec![0; lanes.len()],
            gauges: Gauges::default(),
        }
    }

    /// Workers busy: attempts in flight plus requests waiting out a retry backoff.
    pub fn busy(&self) -> usize {
        self.shared_busy + self.reserved_busy.iter().sum::<usize>()
    }

    /// What the least-loaded balancer weighs: requests queued or holding a worker.
    pub fn load(&self) -> usize {
        self.queue.len() + self.busy()
    }

    /// Folds the gauges' current values into this second's peaks.
    pub fn observe(&mut self) {
        let g = &mut self.gauges;
        g.queue_max = g.queue_max.max(self.queue.len() as u32);
        g.inflight_max = g.inflight_max.max(self.running as u32);
    }

    /// Starts the next second's peaks at the current values.
    pub fn reset_peaks(&mut self) {
        self.gauges.queue_max = self.queue.len() as u32;
        self.gauges.inflight_max = self.running as u32;
    }
}
