//! The per-replica table of a run with several client replicas (or a merge of shards), and the
//! sentence that says how evenly the balancer spread the load.

use serde::Serialize;

use crate::format::{count, ms, pct};
use crate::summary::replicas::{imbalance, ReplicaSummary};
use crate::summary::Summary;

/// One replica's row.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaRow {
    /// `replica 0`, or `shard 0` in a merge.
    pub name: String,
    /// Requests it was given.
    pub scheduled: String,
    /// Answered share.
    pub success: String,
    /// Attempts refused with 429.
    pub status_429: String,
    /// Median and tail latency of its answers.
    pub p50: String,
    /// 95th percentile.
    pub p95: String,
    /// 99th percentile.
    pub p99: String,
    /// Peak attempts in flight.
    pub peak_inflight: String,
    /// Peak queue.
    pub peak_queue: String,
}

/// The rows, one per replica (none with one replica).
pub fn rows(s: &Summary) -> Vec<ReplicaRow> {
    let what = if s.merged.is_some() { "shard" } else { "replica" };
    s.replicas
        .iter()
        .map(|r: &ReplicaSummary| ReplicaRow {
            name: format!("{what} {}", r.replica),
            scheduled: count(r.scheduled),
            success: pct((r.scheduled > 0).then(|| r.succeeded as f64 / r.scheduled as f64)),
            status_429: count(r.status_429),
            p50: ms(r.latency_ms.p50),
            p95: ms(r.latency_ms.p95),
            p99: ms(r.latency_ms.p99),
            peak_inflight: count(u64::from(r.peak_inflight)),
            peak_queue: count(u64::from(r.peak_queue)),
        })
        .collect()
}

/// What the table shows: how the load was spread and how the merge's shards started.
pub fn note(s: &Summary) -> String {
    let Some(ratio) = imbalance(&s.replicas) else {
        return String::new();
    };
    let strategy = &s.run.strategy;
    let mut out = format!(
        "{} replicas of the calling plan ({} workers each, {} in all) share one upstream quota behind a {} \
         balancer; the busiest was given {:.2}x the mean load.",
        s.replicas.len(),
        strategy.workers,
        u64::from(strategy.workers) * s.replicas.len() as u64,
        strategy.balance.as_str(),
        ratio
    );
    let l = &strategy.rate_limit;
    if l.rpm > 0 || l.tpm > 0 {
        let (rpm, tpm) = strategy.deployment_rate_limit();
        let limit = |r: u64, t: u64| {
            let parts: Vec<String> = [(r, "RPM"), (t, "TPM")]
                .iter()
                .filter(|(v, _)| *v > 0)
                .map(|(v, unit)| format!("{} {unit}", count(*v)))
                .collect();
            parts.join(" and ")
        };
        out.push_str(&match l.shared {
            true => format!(
                " One client rate limit of {} is shared by every replica.",
                limit(rpm, tpm)
            ),
            false => format!(
                " Each replica has its own client rate limit of {}: {} in all.",
                limit(l.rpm, l.tpm),
                limit(rpm, tpm)
            ),
        });
    }
    if let Some(m) = &s.merged {
        match m.start_spread_ms {
            Some(spread) => out.push_str(&format!(
                " Merged from {} shards whose starts were {spread} ms apart; their per-second series are added on \
                 each shard's own start.",
                m.shards
            )),
            None => out.push_str(&format!(" Merged from {} simulated shards.", m.shards)),
        }
    }
    out
}
