//! How to split a client rate limit over replicas, measured: the best plan, when it has several
//! replicas and a client rate limit of its own, run again on the same seeds with one bucket
//! every replica shares at N times the per-replica rate (a limiter in a shared store), so the
//! plan can say what sharing would buy against each replica's own 1/N.

use serde::Serialize;

use super::{point, CandidatePlan, PlanOptions, Point};
use crate::prepare::Prepared;
use crate::run::RunError;
use crate::scenario::Candidate;

/// The two ways to split the limit, side by side.
#[derive(Debug, Clone, Serialize)]
pub struct SharedLimitCheck {
    /// Replicas of the best plan.
    pub replicas: u16,
    /// Each replica's own bucket, as the plan ran it: `{ rpm, tpm }`.
    pub per_replica: String,
    /// One shared bucket at the whole rate.
    pub shared: String,
    /// The recommended count with a bucket per replica.
    pub split_point: Point,
    /// The same count with the shared bucket.
    pub shared_point: Point,
    /// What sharing buys, in a sentence with the figures.
    pub why: String,
}

fn limit_text(rpm: u64, tpm: u64) -> String {
    let mut parts = Vec::new();
    if rpm > 0 {
        parts.push(format!("rpm = {rpm}"));
    }
    if tpm > 0 {
        parts.push(format!("tpm = {tpm}"));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// Runs the best plan with a shared bucket, when it has replicas and a client rate limit.
pub fn check(
    base: &Prepared<'_>,
    best: &Candidate,
    plan: &CandidatePlan,
    seeds: &[u64],
    options: &PlanOptions,
    runs: &mut u32,
) -> Result<Option<SharedLimitCheck>, RunError> {
    let st = &best.strategy;
    let n = u64::from(st.replicas);
    let limit = &st.rate_limit;
    if n < 2 || limit.shared || (limit.rpm == 0 && limit.tpm == 0) {
        return Ok(None);
    }
    let (Some(workers), Some(split_point)) = (
        plan.recommended_workers,
        plan.points.iter().find(|p| Some(p.workers) == plan.recommended_workers),
    ) else {
        return Ok(None);
    };
    let mut shared = best.clone();
    shared.strategy.rate_limit.rpm *= n;
    shared.strategy.rate_limit.tpm *= n;
    shared.strategy.rate_limit.shared = true;
    let (shared_point, made) = point::measure(base, &shared, workers, seeds, options.seeds)?;
    *runs += made;
    let ms = |p: &Point| crate::format::ms(p.p95_ms.mean);
    let wait = |p: &Point| crate::format::ms(p.sample.as_ref().and_then(|s| s.queue_wait_ms.p95));
    let pct = |p: &Point| crate::format::pct(p.success_rate.mean);
    let why = format!(
        "Split over {n} replicas, each replica's own bucket is {} ({}) and one bucket they share (rate_limit.shared = \
         true, a limiter in a shared store) is {}. Measured at {workers} workers per replica on the same seeds: p95 \
         {} with a bucket each against {} shared, {} against {} answered; the wait in the client queue (first seed) \
         {} at the 95th percentile against {}. A shared bucket lends one replica's idle share to another's burst; it \
         costs a call to the store per request.",
        limit_text(limit.rpm, limit.tpm),
        "the whole limit over N",
        limit_text(limit.rpm * n, limit.tpm * n),
        ms(split_point),
        ms(&shared_point),
        pct(split_point),
        pct(&shared_point),
        wait(split_point),
        wait(&shared_point),
    );
    // Neither bucket held anything back: the limit does not bind at this traffic.
    let same = ms(split_point) == ms(&shared_point)
        && pct(split_point) == pct(&shared_point)
        && wait(split_point) == wait(&shared_point);
    let why = match same {
        true => format!(
            "{why} Here the figures are the same both ways: at this traffic neither bucket holds requests back (the \
             rate limit does not bind), so sharing it buys nothing until the traffic grows toward it."
        ),
        false => why,
    };
    Ok(Some(SharedLimitCheck {
        replicas: st.replicas as u16,
        per_replica: limit_text(limit.rpm, limit.tpm),
        shared: limit_text(limit.rpm * n, limit.tpm * n),
        split_point: split_point.clone(),
        shared_point,
        why,
    }))
}
