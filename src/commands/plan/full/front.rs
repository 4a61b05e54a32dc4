//! The trade-off among the plans run: the Pareto front of cost per hour, p95 and success rate
//! (and 429 share), each point a plan at one worker count measured over seeds, and the
//! labelled alternatives on it.

use serde::Serialize;

use crate::commands::plan::{CandidatePlan, Point};
use crate::stats::Stat;

/// One plan at one worker count.
#[derive(Debug, Clone, Serialize)]
pub struct FrontPoint {
    /// The plan.
    pub candidate: String,
    /// Its workers (per replica).
    pub workers: u32,
    /// Whether it met every objective, and its traffic over a day and a month fits the daily
    /// quota and the monthly spend cap.
    pub passes: bool,
    /// Whether it is on the front: no other passing point (any point, when none passes) is at
    /// least as good on every axis and better on one.
    pub on_front: bool,
    /// Cost per hour (USD): the API's, with the replicas' machines when `[hosting]` prices
    /// them (at the plan's recommended count only).
    pub cost_per_hour_usd: Stat,
    /// End-to-end p95 (ms).
    pub p95_ms: Stat,
    /// Share of requests answered.
    pub success_rate: Stat,
    /// Share of attempts answered 429.
    pub share_429: Stat,
    /// Seeds run.
    pub seeds: u32,
}

/// Every point of `plans`, with those on the front marked.
pub fn points(plans: &[CandidatePlan]) -> Vec<FrontPoint> {
    let mut all: Vec<FrontPoint> = plans
        .iter()
        .flat_map(|c| c.points.iter().map(move |p| of(c, p)))
        .filter(|p| p.cost_per_hour_usd.mean.is_some() && p.p95_ms.mean.is_some() && p.success_rate.mean.is_some())
        .collect();
    // The front among the passing points (all of them when none passes); of points the same
    // within the noise at one count (plans that ran alike, such as a timeout never reached),
    // the first stands for the others.
    let any_pass = all.iter().any(|p| p.passes);
    let axes: Vec<[f64; 4]> = all.iter().map(axes_of).collect();
    for i in 0..all.len() {
        let eligible = |k: usize| all[k].passes || !any_pass;
        all[i].on_front = eligible(i)
            && !(0..axes.len())
                .any(|j| j != i && eligible(j) && (dominates(&axes[j], &axes[i]) || j < i && same(&all[j], &all[i])));
    }
    all
}

/// A point of a candidate's plan.
fn of(c: &CandidatePlan, p: &Point) -> FrontPoint {
    let hosting = (c.recommended_workers == Some(p.workers))
        .then(|| c.deployment.as_ref()?.hosting_usd_hour)
        .flatten()
        .unwrap_or(0.0);
    let mut cost = p.cost_per_hour_usd.clone();
    cost.mean = cost.mean.map(|m| m + hosting);
    FrontPoint {
        candidate: c.name.clone(),
        workers: p.workers,
        // Meeting the objectives in the window is not enough when the day or the month the
        // window stands for misses the daily quota or the monthly spend cap.
        passes: p.passes && p.horizon.as_ref().is_none_or(|h| h.pass()),
        on_front: false,
        cost_per_hour_usd: cost,
        p95_ms: p.p95_ms.clone(),
        success_rate: p.success_rate.clone(),
        share_429: p.share_429.clone(),
        seeds: p.seeds,
    }
}

/// The axes, each to be made smaller: cost, p95, failures, 429 share.
fn axes_of(p: &FrontPoint) -> [f64; 4] {
    [
        p.cost_per_hour_usd.mean.unwrap_or(f64::MAX),
        p.p95_ms.mean.unwrap_or(f64::MAX),
        1.0 - p.success_rate.mean.unwrap_or(0.0),
        p.share_429.mean.unwrap_or(0.0),
    ]
}

/// Whether two points are the same within the noise: at the same workers, each figure's means
/// within their 95% intervals added (or 0.5%).
fn same(a: &FrontPoint, b: &FrontPoint) -> bool {
    let close = crate::commands::plan::verdict::close_within_noise;
    a.workers == b.workers
        && close(&a.cost_per_hour_usd, &b.cost_per_hour_usd)
        && close(&a.p95_ms, &b.p95_ms)
        && close(&a.success_rate, &b.success_rate)
        && close(&a.share_429, &b.share_429)
}

/// Whether `a` is at least as good as `b` on every axis and better on one.
fn dominates(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_better_on_every_axis_dominates_and_a_trade_off_does_not() {
        assert!(dominates(&[1.0, 1.0, 0.0, 0.0], &[2.0, 1.0, 0.0, 0.0]));
        assert!(!dominates(&[1.0, 1.0, 0.0, 0.0], &[1.0, 1.0, 0.0, 0.0]));
        assert!(!dominates(&[1.0, 3.0, 0.0, 0.0], &[2.0, 1.0, 0.0, 0.0]));
    }
}
