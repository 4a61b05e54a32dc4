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

use crate::commands::hosting::{self, Hosting, ProbeOptions};
use crate::engine::Progress;
use crate::prepare::{Prepared, RunOptions};
use crate::run::{execute, RunError};
use crate::scenario::plan::SearchKind;
use crate::scenario::Candidate;
use crate::scenario::LoadedScenario;
use crate::summary::Summary;

pub mod deployment;
pub mod emit;
pub mod full;
mod growth;
mod guess;
pub mod point;
mod progress;
mod prose;
mod record;
pub(crate) mod search;
pub mod shared_limit;
pub mod verdict;

pub use point::{Decision, ObjectiveAt, SeedBudget};
pub use progress::PlanProgress;
pub(crate) use record::most_met;
pub use record::{CandidatePlan, CapacityPlan, Costs, GrowthCheck, Guess, Point};
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
    let full_kind = search_kind(loaded, options)?;
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
    if full_kind == SearchKind::Full {
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
        breaks_at: checks.breaks_at,
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

/// How far to search, once the scenario can be planned that way: objectives to meet, traffic
/// that can grow, and for the full search a success objective.
fn search_kind(loaded: &LoadedScenario, options: &PlanOptions) -> Result<SearchKind, RunError> {
    if loaded.scenario.slo.get_ref().is_empty() {
        return Err(RunError::Input(
            "plan needs objectives to meet: add an [slo] section (p95, success_rate, max_429_share, ...)".into(),
        ));
    }
    growth::can_grow(loaded, options)?;
    let kind = options
        .search
        .kind
        .or_else(|| loaded.scenario.plan.as_ref().map(|p| p.get_ref().search))
        .unwrap_or_default();
    if kind == SearchKind::Full {
        full::can_search(loaded)?;
    }
    Ok(kind)
}

/// What is measured of the best plan beyond its sizing: grown traffic, a shared rate limit
/// across replicas, the live client's needs.
#[derive(Default)]
struct BestChecks {
    growth: Vec<GrowthCheck>,
    /// The smallest growth factor at which the plan breaks.
    breaks_at: Option<f64>,
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
        breaks_at: growth.iter().filter(|g| !g.holds).map(|g| g.factor).reduce(f64::min),
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
