//! Per-replica figures of a run with several client replicas (or of a merge of shards): what
//! each replica scheduled, answered and was refused, its latency and its peaks, and how
//! unevenly the balancer spread the load.

use serde::{Deserialize, Serialize};

use crate::histogram::LatencyStats;
use crate::metrics::Metrics;

/// One replica's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSummary {
    /// Replica index, from 0 (the shard index in a merge).
    pub replica: u16,
    /// Requests it was given.
    pub scheduled: u64,
    /// Answered.
    pub succeeded: u64,
    /// Failed after at least one attempt.
    pub failed: u64,
    /// Dropped by the client.
    pub dropped: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// Attempts refused with 429.
    pub status_429: u64,
    /// End-to-end latency of its answered requests.
    pub latency_ms: LatencyStats,
    /// Most attempts in flight in any second.
    pub peak_inflight: u32,
    /// Most requests queued in any second.
    pub peak_queue: u32,
}

impl ReplicaSummary {
    /// Replica `replica`'s figures from its own metrics.
    pub fn of(replica: u16, m: &Metrics) -> ReplicaSummary {
        let o = &m.overall;
        ReplicaSummary {
            replica,
            scheduled: o.scheduled,
            succeeded: o.succeeded,
            failed: o.failed,
            dropped: o.dropped,
            attempts: m.attempts.total,
            status_429: m.attempts.status_429,
            latency_ms: o.latency.stats(),
            peak_inflight: m.series.rows.iter().map(|r| r.inflight_max).max().unwrap_or(0),
            peak_queue: m.series.rows.iter().map(|r| r.queue_max).max().unwrap_or(0),
        }
    }
}

/// The busiest replica's requests over the mean's (1.0 when even); `None` with fewer than two.
pub fn imbalance(replicas: &[ReplicaSummary]) -> Option<f64> {
    if replicas.len() < 2 {
        return None;
    }
    let total: u64 = replicas.iter().map(|r| r.scheduled).sum();
    let mean = total as f64 / replicas.len() as f64;
    let most = replicas.iter().map(|r| r.scheduled).max()? as f64;
    (mean > 0.0).then(|| most / mean)
}
