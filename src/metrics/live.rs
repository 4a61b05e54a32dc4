//! Live Prometheus metrics of a run while it goes (`--metrics-addr`): the records folded into
//! `prometheus-client` counters, gauges and a histogram, labelled by scenario and shard (the
//! registry's) and by strategy (each run's: `compare` watches several), so a dashboard can
//! watch the shards of a distributed run. Every update is an atomic add; the figures at the end
//! equal the summary's (costs and tokens are the summary's own increments).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::engine::record::{AttemptRecord, Outcome, RequestRecord};
use crate::engine::Progress;

type Labels = Vec<(&'static str, String)>;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0, 600.0,
];

/// The live metrics of a process's runs.
pub struct LiveMetrics {
    registry: Registry,
    /// Set from the engines' progress when read.
    arrived: Family<Labels, Counter>,
    requests: Family<Labels, Counter>,
    attempts: Family<Labels, Counter>,
    inflight: Family<Labels, Gauge>,
    queue_depth: Family<Labels, Gauge>,
    latency: Family<Labels, Histogram>,
    tokens: Family<Labels, Counter>,
    cost: Family<Labels, Counter<f64, AtomicU64>>,
    /// The runs going or gone, by strategy, whose engines' progress the gauges and arrivals read.
    runs: Mutex<Vec<(String, Arc<Progress>)>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_S.into_iter())
}

impl LiveMetrics {
    /// Empty metrics labelled `scenario` and `shard` (the shard index, or `all`).
    pub fn new(scenario: &str, shard: &str) -> LiveMetrics {
        let labels = [
            (Cow::Borrowed("scenario"), Cow::Owned(scenario.to_string())),
            (Cow::Borrowed("shard"), Cow::Owned(shard.to_string())),
        ];
        let mut registry = Registry::with_prefix_and_labels("stampede", labels.into_iter());
        let m = LiveMetrics {
            registry: Registry::default(),
            arrived: Family::default(),
            requests: Family::default(),
            attempts: Family::default(),
            inflight: Family::default(),
            queue_depth: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            tokens: Family::default(),
            cost: Family::default(),
            runs: Mutex::new(Vec::new()),
        };
        registry.register("requests_arrived", "Requests taken in by the engine", m.arrived.clone());
        registry.register("requests", "Requests ended, by outcome", m.requests.clone());
        registry.register(
            "attempts",
            "Attempts ended, by result (200, 429, 503, timeout...)",
            m.attempts.clone(),
        );
        registry.register("inflight", "Attempts in flight", m.inflight.clone());
        registry.register(
            "queue_depth",
            "Requests waiting in the client queue",
            m.queue_depth.clone(),
        );
        registry.register(
            "latency_seconds",
            "End-to-end latency of answered requests, from the intended start",
            m.latency.clone(),
        );
        registry.register(
            "tokens",
            "Tokens of answered requests as the API counted them",
            m.tokens.clone(),
        );
        registry.register("cost_usd", "Cost of answered attempts so far", m.cost.clone());
        LiveMetrics { registry, ..m }
    }

    /// A run of `strategy` whose engine reports to `progress`: what its records update.
    pub fn run(self: &Arc<Self>, strategy: &str, progress: Arc<Progress>) -> LiveRun {
        if let Ok(mut runs) = self.runs.lock() {
            runs.push((strategy.to_string(), progress));
        }
        LiveRun {
            metrics: self.clone(),
            strategy: strategy.to_string(),
        }
    }

    /// The text exposition (OpenMetrics), with the gauges and arrivals read from the runs'
    /// progress now (a simulated shard simulates every replica: those are the whole
    /// simulation's).
    pub fn encode(&self) -> String {
        if let Ok(runs) = self.runs.lock() {
            let mut by_strategy: Vec<(&str, u64, i64, i64)> = Vec::new();
            for (strategy, p) in runs.iter() {
                let i = match by_strategy.iter().position(|(s, ..)| s == strategy) {
                    Some(i) => i,
                    None => {
                        by_strategy.push((strategy, 0, 0, 0));
                        by_strategy.len() - 1
                    }
                };
                let e = &mut by_strategy[i];
                e.1 += p.arrived.load(Ordering::Relaxed);
                e.2 += p.inflight.load(Ordering::Relaxed) as i64;
                e.3 += p.queued.load(Ordering::Relaxed) as i64;
            }
            for (strategy, arrived, inflight, queued) in by_strategy {
                let labels = vec![("strategy", strategy.to_string())];
                let counter = self.arrived.get_or_create(&labels);
                let counted = counter.get();
                if arrived > counted {
                    counter.inc_by(arrived - counted);
                }
                self.inflight.get_or_create(&labels).set(inflight);
                self.queue_depth.get_or_create(&labels).set(queued);
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// One run's view of the live metrics: its records counted under its strategy's label.
#[derive(Clone)]
pub struct LiveRun {
    metrics: Arc<LiveMetrics>,
    strategy: String,
}

impl LiveRun {
    fn labels(&self, extra: Option<(&'static str, String)>) -> Labels {
        let mut labels = vec![("strategy", self.strategy.clone())];
        labels.extend(extra);
        labels
    }

    /// An attempt ended (or was cancelled).
    pub fn attempt(&self, a: &AttemptRecord) {
        let status = match (a.cancelled, a.result) {
            (true, _) => "cancelled".to_string(),
            (false, Ok(_)) => "200".to_string(),
            (false, Err(kind)) => kind.label(),
        };
        self.metrics
            .attempts
            .get_or_create(&self.labels(Some(("status", status))))
            .inc();
    }

    /// A request ended, with the tokens the run's figures added for it.
    pub fn request(&self, r: &RequestRecord, input_tokens: u64, output_tokens: u64) {
        let m = &self.metrics;
        let outcome = match r.end.outcome() {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        };
        m.requests
            .get_or_create(&self.labels(Some(("outcome", outcome.into()))))
            .inc();
        if r.end.outcome() == Outcome::Succeeded {
            m.latency
                .get_or_create(&self.labels(None))
                .observe(r.latency().as_secs_f64());
        }
        m.tokens
            .get_or_create(&self.labels(Some(("kind", "input".into()))))
            .inc_by(input_tokens);
        m.tokens
            .get_or_create(&self.labels(Some(("kind", "output".into()))))
            .inc_by(output_tokens);
    }

    /// Cost the run's figures added.
    pub fn cost(&self, usd: f64) {
        if usd > 0.0 {
            self.metrics.cost.get_or_create(&self.labels(None)).inc_by(usd);
        }
    }
}
