//! `stampede plan`: the fewest workers that meet the scenario's `[slo]`, for each candidate
//! calling plan, found by simulation.
//!
//! 1. **First guess**: a pilot run at the scenario's own settings measures the mean service
//!    time and attempts per request; with the traffic's mean rate that gives the offered load
//!    `a = λ·S·attempts` (Little's law). When the SLO sets a latency percentile, M/M/c theory
//!    gives the fewest servers whose response-time percentile meets it; otherwise `1.25·a`.
//! 2. **Bracket**: from the guess, step down while the SLO is met or up while it is not, in
//!    steps of 10%, 20%, 40% … of the guess (3%, 6%, 12% … for a growth what-if, whose guess
//!    is the theory or the minimum already found, scaled).
//! 3. **Bisect** to the smallest passing count. A count passes when *every* seed's run meets
//!    the SLO, so the answer is not one lucky draw; each figure is the mean over seeds with a
//!    95% confidence interval.
//! 4. **Curves and knee**: a few more counts around the answer, up to where goodput stops
//!    growing (the quota or the upstream binds).
//!
//! Seeds run in parallel on the machine's cores; every count reuses the same seeds, so the
//! curves compare like with like (common random numbers).

use std::sync::Arc;

use serde::Serialize;

use crate::commands::hosting::{self, Hosting, ProbeOptions};
use crate::engine::Progress;
use crate::prepare::{Prepared, RunOptions};
use crate::run::{execute, RunError};
use crate::scenario::Candidate;
use crate::scenario::LoadedScenario;
use crate::stats::Stat;
use crate::summary::advice::Recommendation;
use crate::summary::Summary;

pub mod deployment;
pub mod emit;
pub mod full;
mod growth;
mod guess;
pub mod point;
mod prose;
pub(crate) mod search;
pub mod shared_limit;
pub mod verdict;

pub use point::{Decision, ObjectiveAt, SeedBudget};
pub use verdict::{Closest, PlanRecommendation};

use guess::first_guess;
use search::{size, Search};

/// The schema id of plan.json.
pub const SCHEMA: &str = "stampede.plan/v1";

/// Headroom on the smallest passing worker count.
pub(crate) const HEADROOM: f64 = 1.1;
/// Goodput within this share of the best seen counts as "no longer growing" (the knee).
pub(crate) const KNEE_SHARE: f64 = 0.97;

/// Seeds a combination is screened with in the full search.
pub(crate) const SCREEN_SEEDS: usize = 2;

/// Something that prints a progress line.
type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a plan says what it is doing as it goes: one line per count measured (the CLI prints
/// them on stderr; nothing by default), so a long search is never silent.
#[derive(Clone)]
pub struct PlanProgress {
    say: Option<Say>,
    started: std::time::Instant,
}

impl Default for PlanProgress {
    fn default() -> Self {
        PlanProgress {
            say: None,
            started: std::time::Instant::now(),
        }
    }
}

impl std::fmt::Debug for PlanProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanProgress").field("on", &self.say.is_some()).finish()
    }
}

impl PlanProgress {
    /// Progress told to `say`, timed from now.
    pub fn to(say: impl Fn(&str) + Send + Sync + 'static) -> PlanProgress {
        PlanProgress {
            say: Some(Arc::new(say)),
            started: std::time::Instant::now(),
        }
    }

    /// Reports a line of the full search.
    fn say(&self, line: &str) {
        if let Some(say) = &self.say {
            say(&format!(
                "{line}, {} elapsed",
                crate::format::secs(self.started.elapsed().as_secs_f64())
            ));
        }
    }

    /// Reports one count measured.
    fn measured(&self, candidate: &str, p: &Point, runs: u32) {
        let Some(say) = &self.say else { return };
        let verdict = if p.passes {
            "passes".to_string()
        } else if p.undecided {
            "undecided".to_string()
        } else {
            format!("misses {}", p.missed.join(", "))
        };
        say(&format!(
            "plan · {candidate} · {} workers: {verdict} ({} seeds) · {runs} runs, {} elapsed",
            p.workers,
            p.seeds,
            crate::format::secs(self.started.elapsed().as_secs_f64())
        ));
    }
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Target, duration and seed overrides.
    pub run: RunOptions,
    /// Seeds per count: every count starts with `start` and runs more, up to `max`, while an
    /// objective's interval straddles its target.
    pub seeds: SeedBudget,
    /// Smallest worker count tried (1 unless `--workers A..B` says otherwise).
    pub min_workers: u32,
    /// Largest worker count tried.
    pub max_workers: u32,
    /// The calling plans to size.
    pub candidates: Vec<Candidate>,
    /// Traffic growth factors to check the best plan against (1.5 = 50% more traffic).
    pub growth: Vec<f64>,
    /// Measure the client's memory and CPU at the best plan (`None`: skip).
    pub probe: Option<ProbeOptions>,
    /// Where to report each count measured.
    pub progress: PlanProgress,
    /// How far to search.
    pub search: SearchOptions,
}

/// How far the plan searches.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// Workers only, or the whole calling plan (`--search`; `None`: the scenario's `[plan]
    /// search`, else workers only).
    pub kind: Option<crate::scenario::plan::SearchKind>,
    /// The preset mirroring the SDK the plan will be handed over to (`--emit`): the retry
    /// shape the full search tries by default, so the emitted code can do what was simulated.
    pub sdk_retry: Option<String>,
}

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

/// Measures `workers` for `candidate` with as many of `seeds` as its verdict needs (see
/// [`point`]), counting the runs made.
fn evaluate(
    base: &Prepared<'_>,
    candidate: &Candidate,
    workers: u32,
    seeds: &[u64],
    options: &PlanOptions,
    runs: &mut u32,
    judge: point::Judge,
) -> Result<Point, RunError> {
    let seeds = if judge == point::Judge::Screen {
        &seeds[..SCREEN_SEEDS.min(seeds.len())]
    } else {
        seeds
    };
    let (p, n) = point::measure_judged(base, candidate, workers, seeds, options.seeds, judge)?;
    *runs += n;
    options.progress.measured(&candidate.name, &p, *runs);
    Ok(p)
}

/// Plans every candidate; with the full search, also every combination of the calling plan's
/// settings (see [`full`]).
pub fn plan(loaded: &LoadedScenario, options: &PlanOptions) -> Result<CapacityPlan, RunError> {
    let slo = loaded.scenario.slo.get_ref();
    if slo.is_empty() {
        return Err(RunError::Input(
            "plan needs objectives to meet: add an [slo] section (p95, success_rate, max_429_share, ...)".into(),
        ));
    }
    growth::can_grow(loaded, options)?;
    let full_kind = options
        .search
        .kind
        .or_else(|| loaded.scenario.plan.as_ref().map(|p| p.get_ref().search))
        .unwrap_or_default();
    if full_kind == crate::scenario::plan::SearchKind::Full {
        full::can_search(loaded)?;
    }
    let wall = std::time::Instant::now();
    let base = Prepared::new(loaded, &options.run)?;
    let seeds: Vec<u64> = (0..options.seeds.max.max(1) as u64).map(|i| base.seed() + i).collect();
    let pilot = execute(&base, Arc::new(Progress::default()), None)?;
    let mut runs = 1;
    let guess = first_guess(loaded, &pilot, options.max_workers.max(1));
    let mut candidates = Vec::new();
    for c in &options.candidates {
        candidates.push(size(&base, c, guess.workers, options, &seeds, &mut runs, Search::Full)?);
    }
    let cx = full::Context {
        loaded,
        base: &base,
        options,
        pilot: &pilot,
        guess: guess.workers,
        seeds: &seeds,
        sdk_retry: options.search.sdk_retry.as_deref(),
    };
    let mut all = options.candidates.clone();
    let mut finals = None;
    if full_kind == crate::scenario::plan::SearchKind::Full {
        let f = full::finals(&cx, &mut runs)?;
        for (c, p) in &f.finalists {
            all.push(c.clone());
            candidates.push(p.clone());
        }
        finals = Some(f);
    }
    let deployment_basis = deploy(loaded, options, &all, &mut candidates)?;
    let decided = finals
        .map(|f| full::decide(&cx, f, &candidates, &all, &mut runs))
        .transpose()?;
    let best = match &decided {
        None => verdict::best_of(&candidates),
        Some(d) => d.best.clone(),
    };
    let confirmed_workers = decided
        .as_ref()
        .and_then(|d| d.confirmation.as_ref())
        .map(|c| c.workers);
    let best_plan = best.as_ref().and_then(|b| {
        let c = candidates.iter().find(|c| &c.name == b)?;
        let workers = confirmed_workers.or(c.recommended_workers)?;
        Some((all.iter().find(|o| &o.name == b)?, workers))
    });
    let checks = match best_plan {
        Some(best_plan) => check_best(&cx, &candidates, best_plan, &mut runs)?,
        None => BestChecks::default(),
    };
    let mut recommendation = best
        .as_deref()
        .and_then(|b| verdict::recommendation(b, &candidates, &all));
    let search = decided.map(|d| d.summarise(&candidates, recommendation.as_mut()));
    Ok(CapacityPlan {
        catalog: Some(stampede_mock::catalog::data::in_force()),
        rests_on: pilot.run.rests_on.clone(),
        schema: SCHEMA.into(),
        scenario: loaded.scenario.name().to_string(),
        target: base.target().as_str().to_string(),
        slo: pilot
            .slo
            .iter()
            .flat_map(|v| v.checks.iter())
            .map(prose::objective)
            .collect(),
        seeds,
        seeds_start: options.seeds.start,
        duration_s: base.duration().as_secs_f64(),
        guess,
        recommendation,
        closest: if best.is_none() {
            verdict::closest(&candidates)
        } else {
            None
        },
        candidates,
        best,
        breaks_at: checks
            .growth
            .iter()
            .filter(|g| !g.holds)
            .map(|g| g.factor)
            .reduce(f64::min),
        growth: checks.growth,
        hosting: checks.hosting,
        hosting_error: checks.hosting_error,
        deployment_basis,
        shared_limit: checks.shared_limit,
        search,
        runs,
        wall_time_s: wall.elapsed().as_secs_f64(),
    })
}

/// What is measured of the best plan beyond its sizing: grown traffic, a shared rate limit
/// across replicas, the live client's needs.
#[derive(Default)]
struct BestChecks {
    growth: Vec<GrowthCheck>,
    shared_limit: Option<shared_limit::SharedLimitCheck>,
    hosting: Option<Hosting>,
    hosting_error: Option<String>,
}

/// Measures the best plan (`best`: its candidate and recommended workers) against grown
/// traffic, a shared rate limit and, with the probe on, on the live client.
fn check_best(
    cx: &full::Context<'_>,
    plans: &[CandidatePlan],
    best: (&Candidate, u32),
    runs: &mut u32,
) -> Result<BestChecks, RunError> {
    let (candidate, recommended) = best;
    let sized = plans.iter().find(|c| c.name == candidate.name);
    let growth = growth::check(
        cx.loaded,
        cx.options,
        &growth::Best {
            candidate,
            recommended,
            min_workers: sized.and_then(|c| c.min_workers),
        },
        cx.pilot,
        cx.seeds,
        runs,
    )?;
    let shared_limit = sized
        .map(|plan| shared_limit::check(cx.base, candidate, plan, cx.seeds, cx.options, runs))
        .transpose()?
        .flatten();
    let probed = cx.options.probe.as_ref().map(|probe| {
        let sample = sized
            .and_then(|c| c.points.iter().find(|p| p.workers == recommended))
            .and_then(|p| p.sample.as_ref());
        hosting::probe(cx.loaded, candidate, recommended, busiest(sample), probe)
    });
    let (hosting, hosting_error) = match probed {
        Some(Ok(h)) => (Some(h), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    Ok(BestChecks {
        growth,
        shared_limit,
        hosting,
        hosting_error,
    })
}

/// With `[hosting]`: each candidate's deployment, from the client's needs as given or as the
/// hosting probe measures them at the first passing candidate. Returns where the needs came from.
fn deploy(
    loaded: &LoadedScenario,
    options: &PlanOptions,
    all: &[Candidate],
    candidates: &mut [CandidatePlan],
) -> Result<Option<String>, RunError> {
    let Some(spec) = loaded.scenario.hosting.as_ref().map(|h| h.get_ref()) else {
        return Ok(None);
    };
    let (need, basis) = match spec.client {
        Some(need) => (need, "[hosting] client".to_string()),
        None => {
            let measured = options.probe.as_ref().and_then(|probe| {
                let (plan, c) = candidates
                    .iter()
                    .zip(all)
                    .find(|(p, _)| p.passes && p.recommended_workers.is_some())?;
                let workers = plan.recommended_workers?;
                let sample = plan.points.iter().find(|p| p.workers == workers)?.sample.as_ref();
                let h = hosting::probe(loaded, c, workers, busiest(sample), probe).ok()?;
                Some((
                    deployment::need_of(&h)?,
                    format!("measured by the hosting probe at {}", c.name),
                ))
            });
            match measured {
                Some(m) => m,
                // Nothing passes: no deployment to price; the plan says why without one.
                None if !candidates.iter().any(|c| c.passes) => return Ok(None),
                None => {
                    return Err(RunError::Input(
                        "[hosting] needs the client's needs to size replicas: give `client = { \
                             cpu_ms_per_attempt, kib_per_in_flight, base_mib }`, or let the hosting probe measure \
                             them (without --no-probe; the probe of the first passing candidate failed or was \
                             skipped)"
                            .into(),
                    ))
                }
            }
        }
    };
    for (plan, c) in candidates.iter_mut().zip(all) {
        plan.deployment = deployment::size(spec, &need, plan, c.strategy.replicas as u16);
    }
    Ok(Some(basis))
}

/// The busiest 10 seconds of a run at the recommendation: the rate the hosting probe sends at.
fn busiest(sample: Option<&Summary>) -> hosting::Busiest {
    sample.map_or(
        hosting::Busiest {
            arrival_rps: 0.0,
            attempt_rps: 0.0,
        },
        |s| {
            let arrival_rps = s.throughput.peak_offered_10s as f64 / 10.0;
            hosting::Busiest {
                arrival_rps,
                attempt_rps: arrival_rps * s.attempts.per_request.unwrap_or(1.0).max(1.0),
            }
        },
    )
}
