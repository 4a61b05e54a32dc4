//! Live Prometheus metrics of a run while it goes (`--metrics-addr`): the records folded into
//! `prometheus-client` counters, gauges and a histogram, labelled by scenario and shard, so a
//! dashboard can watch the shards of a distributed run. Every update is an atomic add; the
//! figures at the end equal the summary's (costs and tokens are the summary's own increments).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The run's live metrics.
pub struct LiveMetrics {
    registry: Registry,
    /// Set from the engine's progress when read.
    arrived: Counter,
    requests: Family<Labels, Counter>,
    attempts: Family<Labels, Counter>,
    inflight: Gauge,
    queue_depth: Gauge,
    latency: Histogram,
    tokens: Family<Labels, Counter>,
    cost: Counter<f64, AtomicU64>,
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
            arrived: Counter::default(),
            requests: Family::default(),
            attempts: Family::default(),
            inflight: Gauge::default(),
            queue_depth: Gauge::default(),
            latency: Histogram::new(LATENCY_BUCKETS_S.into_iter()),
            tokens: Family::default(),
            cost: Counter::default(),
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

    /// An attempt ended (or was cancelled).
    pub fn attempt(&self, a: &AttemptRecord) {
        let status = match (a.cancelled, a.result) {
            (true, _) => "cancelled".to_string(),
            (false, Ok(_)) => "200".to_string(),
            (false, Err(kind)) => kind.label(),
        };
        self.attempts.get_or_create(&vec![("status", status)]).inc();
    }

    /// A request ended, with the cost and tokens the run's figures added for it.
    pub fn request(&self, r: &RequestRecord, input_tokens: u64, output_tokens: u64) {
        let outcome = match r.end.outcome() {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        };
        self.requests
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
        if r.end.outcome() == Outcome::Succeeded {
            self.latency.observe(r.latency().as_secs_f64());
        }
        self.tokens
            .get_or_create(&vec![("kind", "input".to_string())])
            .inc_by(input_tokens);
        self.tokens
            .get_or_create(&vec![("kind", "output".to_string())])
            .inc_by(output_tokens);
    }

    /// Cost the run's figures added.
    pub fn cost(&self, usd: f64) {
        if usd > 0.0 {
            self.cost.inc_by(usd);
        }
    }

    /// The text exposition (OpenMetrics), with the gauges read from `progress` now.
    pub fn encode(&self, progress: &Progress) -> String {
        self.inflight.set(progress.inflight.load(Ordering::Relaxed) as i64);
        self.queue_depth.set(progress.queued.load(Ordering::Relaxed) as i64);
        // The engine's arrivals so far (a simulated shard simulates every replica: its
        // arrivals and gauges are the whole simulation's).
        let arrived = progress.arrived.load(Ordering::Relaxed);
        let counted = self.arrived.get();
        if arrived > counted {
            self.arrived.inc_by(arrived - counted);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
