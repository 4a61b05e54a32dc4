//! Which candidate wins, what the plan recommends, and — when nothing passes — the closest plan
//! and what it misses by.
//!
//! A candidate passes when a worker count met every objective and its traffic, carried over to
//! a day and a month, fits the daily quota and the monthly spend cap (no worker count changes
//! those). Among passing candidates the cheapest wins, but costs within the noise of each other
//! (their intervals overlap, or they differ by under 2%) tie, and a tie goes to the more robust
//! plan: the one with the larger margin to its tightest objective.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CandidatePlan, Costs, Point};
use crate::scenario::Candidate;
use crate::strategy::StrategySpec;
use crate::summary::horizon::LimitCheck;

/// Costs closer than this share are a tie, whatever their intervals.
const COST_TIE: f64 = 0.02;

/// The best plan's settings, ready to paste into `[strategy]`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRecommendation {
    /// The winning candidate.
    pub candidate: String,
    /// Workers to run (the fewest passing plus headroom).
    pub workers: u32,
    /// The other settings advised by the run at that count, by scenario key, in scenario syntax
    /// (`rate_limit`, `queue`, `timeout.attempt`, `retry`).
    pub settings: BTreeMap<String, String>,
    /// Why the workers: the search's verdict with its figures.
    pub why: String,
    /// Each other setting with the value it ran with and the figures behind it.
    pub advice: Vec<crate::summary::advice::Recommendation>,
    /// The candidate's whole strategy with the recommended workers (before the advised changes).
    pub strategy: StrategySpec,
    /// Expected cost: per hour, day and 30-day month (USD).
    pub cost_usd: Option<Costs>,
    /// Why this candidate and not another, with the rule and its figures.
    pub chosen_because: Option<String>,
}

/// When no candidate passes: the one closest to passing and what it misses by.
#[derive(Debug, Clone, Serialize)]
pub struct Closest {
    /// The candidate.
    pub candidate: String,
    /// The worker count closest to passing.
    pub workers: u32,
    /// What it misses, each in a sentence with the figures.
    pub misses: Vec<String>,
    /// The change that would make it pass, from what binds there.
    pub change: String,
}

/// The tightest relative margin to an objective at a point (larger is more robust).
fn margin(p: &Point) -> f64 {
    p.objectives
        .iter()
        .filter_map(|o| {
            let m = o.stat.mean?;
            let scale = o.target.abs().max(1e-9);
            Some(if o.objective.is_floor() {
                (m - o.target) / scale
            } else {
                (o.target - m) / scale
            })
        })
        .fold(f64::INFINITY, f64::min)
}

/// Whether two figures over seeds are the same within the noise: their means within their 95%
/// intervals added (or 0.5%).
pub fn close_within_noise(x: &crate::stats::Stat, y: &crate::stats::Stat) -> bool {
    match (x.mean, y.mean) {
        (Some(u), Some(v)) => {
            let noise = x.ci95.unwrap_or(0.0) + y.ci95.unwrap_or(0.0);
            (u - v).abs() <= noise.max(u.abs().max(v.abs()) * 0.005)
        }
        (None, None) => true,
        _ => false,
    }
}

/// Whether two measured counts are the same within the noise: at each of goodput, p95, success,
/// 429 share and cost the means are within their 95% intervals added (or 0.5%).
pub fn same_within_noise(a: &Point, b: &Point) -> bool {
    let close = close_within_noise;
    a.workers == b.workers
        && close(&a.goodput_rps, &b.goodput_rps)
        && close(&a.p95_ms, &b.p95_ms)
        && close(&a.success_rate, &b.success_rate)
        && close(&a.share_429, &b.share_429)
        && close(&a.cost_per_hour_usd, &b.cost_per_hour_usd)
}

/// The recommended point of a candidate.
fn recommended_point(c: &CandidatePlan) -> Option<&Point> {
    let w = c.recommended_workers?;
    c.points.iter().find(|p| p.workers == w)
}

/// A passing candidate's cost per hour at its recommended count — the API's, and its replicas'
/// machines when the scenario prices them (`[hosting]`) — and the 95% half-width (the API's:
/// a machine's price has no noise).
fn cost_of(c: &CandidatePlan) -> (f64, f64) {
    let p = recommended_point(c);
    (
        p.and_then(|p| p.cost_per_hour_usd.mean).unwrap_or(f64::MAX) + hosting_of(c),
        p.and_then(|p| p.cost_per_hour_usd.ci95).unwrap_or(0.0),
    )
}

/// What a candidate's replicas' machines cost per hour (0 without `[hosting]`; no machine fits:
/// the most).
fn hosting_of(c: &CandidatePlan) -> f64 {
    c.deployment
        .as_ref()
        .map_or(0.0, |d| d.hosting_usd_hour.unwrap_or(f64::MAX))
}

/// A candidate's margin to its tightest objective at its recommended count (larger is more
/// robust; none measured: the least).
fn robustness(c: &CandidatePlan) -> f64 {
    recommended_point(c).map_or(f64::NEG_INFINITY, margin)
}

/// The passing candidates whose cost ties with the cheapest's (within their intervals or 2%),
/// the most robust first: the larger margin to the tightest objective, then fewer workers.
fn cheapest_tied(candidates: &[CandidatePlan]) -> Vec<&CandidatePlan> {
    let passing: Vec<&CandidatePlan> = candidates.iter().filter(|c| c.passes).collect();
    let Some(cheapest) = passing
        .iter()
        .copied()
        .min_by(|a, b| cost_of(a).0.total_cmp(&cost_of(b).0))
    else {
        return Vec::new();
    };
    let (low, low_ci) = cost_of(cheapest);
    let low_hosting = hosting_of(cheapest);
    // The API's costs tie within their noise; the machines' prices are exact, so a difference
    // in them above 2% decides on its own.
    let mut tied: Vec<&CandidatePlan> = passing
        .into_iter()
        .filter(|c| {
            let (a, ci) = cost_of(c);
            let (api, low_api) = (a - hosting_of(c), low - low_hosting);
            let api_ties = (api - low_api).abs() <= (ci + low_ci).max(COST_TIE * low.abs());
            let hosting_ties = (hosting_of(c) - low_hosting).abs() <= COST_TIE * low.abs();
            a == low || (api_ties && hosting_ties)
        })
        .collect();
    tied.sort_by(|a, b| {
        robustness(b)
            .total_cmp(&robustness(a))
            .then(a.recommended_workers.cmp(&b.recommended_workers))
            .then(cost_of(a).0.total_cmp(&cost_of(b).0))
    });
    tied
}

/// The names of the passing candidates tied with the cheapest on cost, the verdict's choice
/// first (the full search then prefers among them the one that degrades most gracefully).
pub fn tied_names(candidates: &[CandidatePlan]) -> Vec<String> {
    cheapest_tied(candidates).iter().map(|c| c.name.clone()).collect()
}

/// The passing candidates, cheapest first (with their machines when `[hosting]` prices them).
pub fn cheapest_first(candidates: &[CandidatePlan]) -> Vec<&CandidatePlan> {
    let mut passing: Vec<&CandidatePlan> = candidates.iter().filter(|c| c.passes).collect();
    passing.sort_by(|a, b| cost_of(a).0.total_cmp(&cost_of(b).0));
    passing
}

/// The best passing candidate: the cheapest, with costs within the noise tied and the tie going
/// to the larger margin, then the fewer workers.
pub fn best_of(candidates: &[CandidatePlan]) -> Option<String> {
    cheapest_tied(candidates).first().map(|c| c.name.clone())
}

/// Why the best candidate is named, in a sentence with the rule and its figures: the cheapest
/// that passes, or — when others tie with it on cost — the larger margin, and when the margins
/// tie too, that the choice among them is arbitrary for this traffic.
pub fn why_best(candidates: &[CandidatePlan]) -> Option<String> {
    let tied = cheapest_tied(candidates);
    let best = *tied.first()?;
    let hour = |c: &CandidatePlan| crate::format::usd(Some(cost_of(c).0));
    if tied.len() == 1 {
        let next = candidates
            .iter()
            .filter(|c| c.passes && c.name != best.name)
            .min_by(|a, b| cost_of(a).0.total_cmp(&cost_of(b).0));
        return Some(match next {
            Some(n) => format!(
                "{} is the cheapest plan that passes: {} an hour, against {} for {}.",
                best.name,
                hour(best),
                hour(n),
                n.name
            ),
            None => format!("{} is the only plan that passes.", best.name),
        });
    }
    let names: Vec<&str> = tied.iter().map(|c| c.name.as_str()).collect();
    let margins: Vec<String> = tied
        .iter()
        .map(|c| format!("{} {:.1}%", c.name, robustness(c) * 100.0))
        .collect();
    let costs: Vec<f64> = tied.iter().map(|c| cost_of(c).0).collect();
    let low = crate::format::usd(Some(costs.iter().copied().fold(f64::INFINITY, f64::min)));
    let high = crate::format::usd(Some(costs.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
    let costs = if low == high {
        format!("{low} an hour each")
    } else {
        format!("{low} to {high} an hour")
    };
    let mut why = format!(
        "{} tie on cost ({costs}: within their 95% intervals or 2% of each other); the tie goes to the larger \
         margin to the tightest objective: {}.",
        names.join(", "),
        margins.join(", ")
    );
    // same_within_noise compares the recommended counts too.
    let same = tied.iter().all(
        |c| matches!((recommended_point(c), recommended_point(best)), (Some(a), Some(b)) if same_within_noise(a, b)),
    );
    let spread = tied.iter().map(|c| robustness(c)).fold(f64::NEG_INFINITY, f64::max)
        - tied.iter().map(|c| robustness(c)).fold(f64::INFINITY, f64::min);
    if same {
        why.push_str(&format!(
            " Their figures are the same within the noise (workers, success, p95, 429s, cost): for this \
             traffic the plans are equivalent, and {} is named only by that order; they differ where \
             retries, budgets or timeouts come into play (429s, 503s, slow answers).",
            best.name
        ));
    } else if spread < 0.01 {
        why.push_str(&format!(
            " The margins differ by under a point: {} leads by the rule, not by a difference the seeds establish.",
            best.name
        ));
    }
    Some(why)
}

/// The best plan's settings.
pub fn recommendation(best: &str, plans: &[CandidatePlan], candidates: &[Candidate]) -> Option<PlanRecommendation> {
    let plan = plans.iter().find(|c| c.name == best)?;
    let workers = plan.recommended_workers?;
    let mut strategy = candidates.iter().find(|c| c.name == best)?.strategy.clone();
    strategy.workers = workers;
    Some(PlanRecommendation {
        candidate: best.to_string(),
        workers,
        settings: plan
            .advice
            .iter()
            .map(|r| (r.setting.clone(), r.value.clone()))
            .collect(),
        why: plan.why.clone(),
        advice: plan.advice.clone(),
        strategy,
        cost_usd: plan.cost_usd,
        chosen_because: why_best(plans),
    })
}

/// The candidate and count closest to passing, its misses in words and the change that binds
/// there. A candidate whose objectives were met at some count but whose traffic does not fit a
/// long limit is closest (at its recommended count): no count changes a daily quota.
pub fn closest(plans: &[CandidatePlan]) -> Option<Closest> {
    if let Some((plan, point)) =
        plans
            .iter()
            .filter_map(|c| Some((c, recommended_point(c)?)))
            .min_by(|(a, _), (b, _)| {
                a.cost_usd
                    .map(|k| k.hour)
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.cost_usd.map(|k| k.hour).unwrap_or(f64::MAX))
            })
    {
        return Some(Closest {
            candidate: plan.name.clone(),
            workers: point.workers,
            misses: limit_misses(plan).collect(),
            change: "No worker count or client setting changes a daily quota or a monthly cap: the change is one \
                     of those named above."
                .into(),
        });
    }
    let score = |p: &Point| (p.objectives_met(), margin(p));
    let (plan, point) = plans
        .iter()
        .flat_map(|c| c.points.iter().map(move |p| (c, p)))
        .max_by(|(_, a), (_, b)| {
            let (sa, sb) = (score(a), score(b));
            sa.0.cmp(&sb.0)
                .then(sa.1.total_cmp(&sb.1))
                .then(b.workers.cmp(&a.workers))
        })?;
    let mut misses = super::prose::miss_list(point);
    misses.extend(limit_misses(plan));
    let change = point
        .sample
        .as_ref()
        .and_then(|s| s.advice.warnings.first())
        .map(|w| w.message.clone())
        .unwrap_or_else(|| "Nothing in the run points to one limit; try a longer window or more seeds.".into());
    Some(Closest {
        candidate: plan.name.clone(),
        workers: point.workers,
        misses,
        change,
    })
}

/// The sentences of the long limits a candidate's traffic does not fit.
fn limit_misses(plan: &CandidatePlan) -> impl Iterator<Item = String> + '_ {
    plan.long_limits.iter().filter(|l| !l.pass).map(|l| l.message.clone())
}

/// The long limits at a candidate's recommended count (or, without one, its largest count).
pub fn long_limits(points: &[Point], recommended: Option<u32>) -> Vec<LimitCheck> {
    let at = recommended
        .and_then(|w| points.iter().find(|p| p.workers == w))
        .or(points.last());
    at.and_then(|p| p.horizon.as_ref())
        .map(|h| h.limits.clone())
        .unwrap_or_default()
}
