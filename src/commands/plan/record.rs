//! What a plan writes to plan.json: each count measured, each candidate's plan, the first
//! guess, the growth what-ifs and the plan as a whole.

use serde::Serialize;

use super::{deployment, full, shared_limit, Closest, ObjectiveAt, PlanRecommendation};
use crate::commands::hosting::Hosting;
use crate::stats::Stat;
use crate::summary::advice::Recommendation;
use crate::summary::Summary;

/// One worker count, run with as many seeds as its verdict needed.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Worker count run.
    pub workers: u32,
    /// Seeds run at this count.
    pub seeds: u32,
    /// Seeds whose own run met every objective.
    pub passed_seeds: u32,
    /// True when every objective's 95% interval over the seeds is on its passing side.
    pub passes: bool,
    /// True when some objective's interval still straddled its target after the seed budget.
    pub undecided: bool,
    /// Objectives not met (missed or undecided).
    pub missed: Vec<String>,
    /// Each objective's verdict, with its mean, interval and worst seed.
    pub objectives: Vec<ObjectiveAt>,
    /// The traffic over a day and a month at the mean over seeds, against the long limits.
    pub horizon: Option<crate::summary::horizon::Horizon>,
    /// Share of scheduled requests answered.
    pub success_rate: Stat,
    /// End-to-end p95 (ms).
    pub p95_ms: Stat,
    /// End-to-end p99 (ms).
    pub p99_ms: Stat,
    /// Answered requests per second.
    pub goodput_rps: Stat,
    /// Share of attempts answered 429.
    pub share_429: Stat,
    /// Cost per hour of traffic (USD).
    pub cost_per_hour_usd: Stat,
    /// Attempts sent per request (retries, hedges and fallbacks counted).
    pub attempts_per_request: Stat,
    /// Requests the traffic offered in each seed's window (how much one window differs from
    /// another).
    pub offered: Stat,
    /// The first seed's run (advice for the other settings comes from it).
    #[serde(skip)]
    pub sample: Option<Summary>,
}

impl Point {
    /// How many objectives this count met.
    pub fn objectives_met(&self) -> usize {
        self.objectives.iter().filter(|o| o.met()).count()
    }
}

/// The count that met the most objectives (the larger count on a tie): where a search that
/// found no passing count came closest.
pub(crate) fn most_met(points: &[Point]) -> Option<&Point> {
    points.iter().max_by_key(|p| (p.objectives_met(), p.workers))
}

/// The plan for one candidate calling plan.
#[derive(Debug, Clone, Serialize)]
pub struct CandidatePlan {
    /// Candidate name.
    pub name: String,
    /// Whether the plan passes: a count met every objective, and the traffic carried over to a
    /// day and a month fits the daily quota and the monthly spend cap.
    pub passes: bool,
    /// The fewest workers that met every objective (`None`: none up to the maximum tried).
    pub min_workers: Option<u32>,
    /// The recommendation: the minimum plus headroom for bursts the seeds did not draw.
    pub recommended_workers: Option<u32>,
    /// Where adding workers stops raising goodput, when the curve shows it.
    pub knee_workers: Option<u32>,
    /// What binds at the knee.
    pub binding: Option<String>,
    /// Expected cost at the recommended count: per hour, day and 30-day month (USD).
    pub cost_usd: Option<Costs>,
    /// Every count run, by workers.
    pub points: Vec<Point>,
    /// The other settings, read from the recommended count's run (as `stampede run` advises;
    /// without a recommendation, from the count closest to passing).
    pub advice: Vec<Recommendation>,
    /// The count whose run the advice was read from.
    pub advice_workers: Option<u32>,
    /// The daily quota and monthly spend cap against the traffic at the recommended count (at
    /// the largest count tried without one).
    pub long_limits: Vec<crate::summary::horizon::LimitCheck>,
    /// Why, in a sentence or two with the figures.
    pub why: String,
    /// Its replicas on the scenario's `[hosting]` machines and what they cost (absent without
    /// `[hosting]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<deployment::Deployment>,
}

/// Cost projections.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Costs {
    /// Per hour.
    pub hour: f64,
    /// Per day.
    pub day: f64,
    /// Per 30-day month.
    pub month: f64,
}

/// The analytic first guess.
#[derive(Debug, Clone, Serialize)]
pub struct Guess {
    /// Mean arrival rate of the traffic (per second).
    pub rate_rps: f64,
    /// Mean service time of successful attempts in the pilot run (s).
    pub service_s: f64,
    /// Attempts per request sent in the pilot run.
    pub attempts_per_request: f64,
    /// Offered load in erlangs, `rate × service × attempts`.
    pub load: f64,
    /// The guess.
    pub workers: u32,
    /// How the guess was made.
    pub method: String,
    /// Whether queueing theory (M/M/c for a latency target) made it, rather than Little's law.
    #[serde(skip)]
    pub from_theory: bool,
}

/// The best plan against grown traffic.
#[derive(Debug, Clone, Serialize)]
pub struct GrowthCheck {
    /// Traffic growth factor.
    pub factor: f64,
    /// Mean arrival rate at that growth (per second).
    pub rate_rps: f64,
    /// Whether the recommended count still meets every objective with every seed.
    pub holds: bool,
    /// Objectives missed by at least one seed at the recommended count.
    pub missed: Vec<String>,
    /// The fewest workers that meet the objectives at that growth, searched only when the plan
    /// breaks (`None`: the plan holds, or no count met them).
    pub min_workers: Option<u32>,
    /// The next plan's recommendation at that growth.
    pub recommended_workers: Option<u32>,
    /// Expected cost per hour at that growth and recommendation (USD); where a long limit is
    /// missed, what the grown traffic would cost answered in full.
    pub cost_per_hour_usd: Option<f64>,
    /// When the plan breaks: the search for the next one, in a sentence, with what binds.
    pub why: Option<String>,
}

/// plan.json.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityPlan {
    /// Schema id.
    pub schema: String,
    /// Scenario name.
    pub scenario: String,
    /// Target kind.
    pub target: String,
    /// Objectives, as `name ≤/≥ target` lines.
    pub slo: Vec<String>,
    /// The seeds a count may draw from, in order (each count uses the first ones it needs).
    pub seeds: Vec<u64>,
    /// Seeds every count starts with.
    pub seeds_start: usize,
    /// Traffic window (s).
    pub duration_s: f64,
    /// The first guess.
    pub guess: Guess,
    /// One plan per candidate.
    pub candidates: Vec<CandidatePlan>,
    /// The best passing candidate: the cheapest, costs within the noise tied and the tie going
    /// to the larger margin to the tightest objective.
    pub best: Option<String>,
    /// The best plan's settings (null when no candidate passes).
    pub recommendation: Option<PlanRecommendation>,
    /// When no candidate passes: the closest plan, what it misses by and what would make it
    /// pass.
    pub closest: Option<Closest>,
    /// The best plan against grown traffic, by factor.
    pub growth: Vec<GrowthCheck>,
    /// The smallest growth factor checked at which the best plan no longer meets the SLO.
    pub breaks_at: Option<f64>,
    /// What to buy to host the best plan, measured from the live client.
    pub hosting: Option<Hosting>,
    /// Why the hosting probe could not measure, when it failed (the plan stands without it).
    pub hosting_error: Option<String>,
    /// Where the client's needs that sized each candidate's deployment came from (absent
    /// without `[hosting]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_basis: Option<String>,
    /// With several replicas and a client rate limit: a bucket per replica against one shared
    /// bucket, measured at the recommendation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_limit: Option<shared_limit::SharedLimitCheck>,
    /// The full search: what it tried, the front, robustness and the confirmation (absent when
    /// only workers were searched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<full::FullSearch>,
    /// Simulation runs made.
    pub runs: u32,
    /// Wall time of the whole search (s).
    pub wall_time_s: f64,
    /// The catalog that priced every cost here and its date ("stampede's catalog of
    /// 2026-12-03").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// What every figure here rests on (latency and decode model, quotas, prices, token
    /// density), each with how to replace it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rests_on: Vec<crate::summary::Assumption>,
}
