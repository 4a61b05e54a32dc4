//! What each candidate's deployment costs: its replicas, each on the cheapest machine of
//! `[hosting]` that fits it (sized from the client's needs, given or measured by the hosting
//! probe), beside the API's cost. With `[hosting]` the plan ranks candidates by the sum, so one
//! big replica and several small ones are weighed by what they cost to run.

use serde::Serialize;

use super::{busiest, CandidatePlan};
use crate::commands::hosting::{Hosting, HEADROOM};
use crate::scenario::hosting::{ClientNeed, HostingSpec};
use crate::summary::replicas::imbalance;

/// A candidate's deployment at its recommended worker count.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    /// Client replicas.
    pub replicas: u16,
    /// Workers in each.
    pub workers_per_replica: u32,
    /// The machine each replica runs on (`None`: no listed machine is big enough).
    pub machine: Option<String>,
    /// vCPU one replica needs at the busiest rate, with headroom.
    pub vcpu_per_replica: f64,
    /// Memory one replica needs with every worker busy, with headroom (MiB).
    pub memory_mib_per_replica: f64,
    /// The machines and per-replica costs per hour (USD).
    pub hosting_usd_hour: Option<f64>,
    /// The API's cost per hour at the recommendation (USD, mean over seeds).
    pub api_usd_hour: Option<f64>,
    /// Both (USD per hour).
    pub total_usd_hour: Option<f64>,
    /// The sizing in a sentence, with its figures.
    pub why: String,
}

/// The client's needs read from a hosting probe: CPU per attempt, memory per request in flight
/// (the heap's where counted, else resident memory's growth) and an idle replica's memory.
pub fn need_of(h: &Hosting) -> Option<ClientNeed> {
    let (base, peak) = h.rss_mib?;
    let per_in_flight = h
        .heap_per_in_flight_kib
        .or_else(|| (h.peak_in_flight > 0).then(|| (peak - base).max(0.0) * 1024.0 / h.peak_in_flight as f64))?;
    Some(ClientNeed {
        cpu_ms_per_attempt: h.cpu_ms_per_attempt.max(1e-6),
        kib_per_in_flight: per_in_flight.max(1e-6),
        base_mib: base.max(1e-6),
    })
}

/// Sizes `candidate` (run with `replicas` replicas) on `spec`'s machines; `None` when it has no
/// recommendation.
pub fn size(spec: &HostingSpec, need: &ClientNeed, candidate: &CandidatePlan, replicas: u16) -> Option<Deployment> {
    let workers = candidate.recommended_workers?;
    let point = candidate.points.iter().find(|p| p.workers == workers)?;
    let n = f64::from(replicas.max(1));
    // The busiest replica carries the busiest 10 s share the balancer gave it.
    let spread = point
        .sample
        .as_ref()
        .and_then(|s| imbalance(&s.replicas))
        .unwrap_or(1.0);
    let attempt_rps = busiest(point.sample.as_ref()).attempt_rps * spread / n;
    let vcpu = attempt_rps * need.cpu_ms_per_attempt / 1000.0 * HEADROOM;
    let memory_mib = (need.base_mib + f64::from(workers) * need.kib_per_in_flight / 1024.0) * HEADROOM;
    let machine = spec.cheapest_fitting(vcpu, memory_mib / 1024.0);
    let hosting = machine.map(|m| n * (m.usd_hour + spec.replica_usd_hour));
    let api = point.cost_per_hour_usd.mean;
    let why = match machine {
        Some(m) => format!(
            "{replicas} × {} (${:.4}/h{}) for {replicas} replica{} of {workers} workers, each needing {vcpu:.2} vCPU \
             ({attempt_rps:.1} attempts/s at the busiest × {:.2} ms) and {memory_mib:.0} MiB (an idle replica's {:.0} MiB \
             and {:.0} KiB per request in flight), both with {HEADROOM}x headroom",
            m.name,
            m.usd_hour,
            if spec.replica_usd_hour > 0.0 {
                format!(" + ${:.4}/h per replica", spec.replica_usd_hour)
            } else {
                String::new()
            },
            if replicas == 1 { "" } else { "s" },
            need.cpu_ms_per_attempt,
            need.base_mib,
            need.kib_per_in_flight
        ),
        None => format!(
            "no machine in [hosting] has {vcpu:.2} vCPU and {memory_mib:.0} MiB, what one replica of {workers} workers \
             needs: list a bigger one, or run more replicas"
        ),
    };
    Some(Deployment {
        replicas,
        workers_per_replica: workers,
        machine: machine.map(|m| m.name.clone()),
        vcpu_per_replica: vcpu,
        memory_mib_per_replica: memory_mib,
        hosting_usd_hour: hosting,
        api_usd_hour: api,
        total_usd_hour: api.zip(hosting).map(|(a, h)| a + h),
        why,
    })
}
