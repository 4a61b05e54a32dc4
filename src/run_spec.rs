//! A run's resolved specification: the scenario with the command line's overrides applied
//! (target, seed, window, endpoint, request cap) and the calling plan to run. It sits below
//! both [`crate::run`], which carries it out, and [`crate::spend`], which prices it first.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::ApiKey;
use crate::engine::{EngineConfig, LaneConfig};
use crate::scenario::{LoadedScenario, TargetKind};
use crate::traffic::TrafficSource;

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Target kind instead of the scenario's.
    pub target: Option<TargetKind>,
    /// Endpoint instead of the scenario's.
    pub base_url: Option<String>,
    /// Seed instead of the scenario's.
    pub seed: Option<u64>,
    /// Traffic window instead of the scenario's.
    pub duration: Option<Duration>,
    /// Request cap instead of the scenario's `max_requests`.
    pub max_requests: Option<u64>,
}

/// A resolved run: what the scenario and the command line's overrides add up to. The engine,
/// the spend guard and every command that runs the scenario read it.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    /// The scenario.
    pub loaded: &'a LoadedScenario,
    /// Target kind.
    pub target: TargetKind,
    /// Seed of every random stream of the run (traffic, mock behaviour, jitter).
    pub seed: u64,
    /// Traffic window.
    pub duration: Duration,
    /// Endpoint for HTTP targets.
    pub base_url: Option<String>,
    /// The calling plan (the scenario's, or a compared one).
    pub strategy: crate::strategy::StrategySpec,
    /// API key for HTTP targets instead of the environment's (the hosting probe's mock).
    pub key: Option<ApiKey>,
    /// Schedule at most this many requests.
    pub max_requests: Option<u64>,
    /// Stop the run when answered attempts have cost this much (USD); see [`crate::spend`].
    pub spend_cap: Option<f64>,
}

impl<'a> RunSpec<'a> {
    /// The requests this run schedules: the scenario's traffic for the seed and window, cut
    /// at `max_requests`.
    pub fn traffic(&self) -> Box<dyn TrafficSource> {
        let source = self.loaded.traffic.source(self.seed, self.duration);
        match self.max_requests {
            Some(limit) => Box::new(crate::traffic::Limited::new(source, limit)),
            None => source,
        }
    }

    /// Applies the overrides to the scenario.
    pub fn new(loaded: &'a LoadedScenario, options: &RunOptions) -> RunSpec<'a> {
        let s = &loaded.scenario;
        let t = s.target.get_ref();
        RunSpec {
            loaded,
            target: options.target.unwrap_or(t.kind),
            seed: options.seed.unwrap_or(s.seed),
            duration: options.duration.unwrap_or(s.duration),
            base_url: options.base_url.clone().or_else(|| t.base_url.clone()),
            strategy: s.strategy.get_ref().clone(),
            key: None,
            max_requests: options.max_requests.or(t.max_requests),
            spend_cap: None,
        }
    }

    /// What the engine needs for this run: the strategy, the models (the traffic's and the
    /// fallback's), the seed, each lane's scheduling and reserved workers (the strategy's
    /// `reserve` over the lane's own), and whether arrivals are taken in to the microsecond
    /// (live runs).
    pub fn engine_config(&self) -> EngineConfig {
        let models = self.loaded.models_for(&self.strategy);
        EngineConfig {
            strategy: self.strategy.clone(),
            models: models.iter().map(|m| Arc::from(m.as_str())).collect(),
            seed: self.seed,
            lanes: self
                .loaded
                .traffic
                .lanes
                .iter()
                .map(|l| LaneConfig {
                    priority: l.priority,
                    weight: l.weight,
                    reserved_workers: self
                        .strategy
                        .reserve
                        .get(&l.name)
                        .copied()
                        .unwrap_or(l.reserved_workers),
                    deadline: l.deadline,
                    system_prompt_tokens: l.system_prompt_tokens,
                    service_tier: self
                        .strategy
                        .service_tier
                        .get(&l.name)
                        .copied()
                        .unwrap_or(l.service_tier),
                    pin_prefix: self.strategy.pin_prefix.contains(&l.name),
                    batch: l.batch.filter(|_| !self.strategy.online.contains(&l.name)),
                })
                .collect(),
            // Pinned caches outlive the window by ten minutes: requests still in flight at its
            // end keep naming them.
            cache_ttl: self.duration + Duration::from_secs(600),
            real_time: self.target.is_live(),
        }
    }
}
