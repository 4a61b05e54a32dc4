//! `stampede plan --search full`: the whole calling plan, not just its workers.
//!
//! 1. **Space** ([`space`]): retry shape and attempts, retry budget, client rate limit, queue,
//!    attempt timeout, fallback model, service tier and replicas, each over the values `[plan]`
//!    lists or over defaults read from the scenario and the pilot run; every distinct
//!    combination laid over the scenario's `[strategy]`.
//! 2. **Screen** (racing on short evidence): each combination's fewest workers found by the
//!    usual bracket and bisection from the analytic guess, but with two seeds and a count
//!    passing when both seeds met every objective. Combinations no count up to the maximum
//!    passes are dropped. Every combination runs the same two seeds (common random numbers).
//! 3. **Finalists**: the cheapest screened combinations (costs within 2% tie, fewer workers
//!    first) are sized in full — 5 seeds and more while an interval straddles its target,
//!    every count up to the recommendation confirmed — and judged on each run's steady-state
//!    window where every seed found one. They compete with the workers-only plans of the
//!    scenario's own candidates, sized beforehand, so the search never recommends a plan
//!    dearer than the best of those beyond the noise.
//! 4. **Robustness** ([`robust`]): the cheapest passing plans run again under twice the
//!    traffic, a minute of 503s and a slower upstream; among plans tied on cost the one that
//!    holds under more of them wins.
//! 5. **Confirmation**: the recommendation re-run on five seeds the search never used; if one
//!    misses an objective, workers are raised (10% at a time, three times at most) until all
//!    five meet them, and the plan says so.
//! 6. **Front** ([`front`]): every fully sized point on the cost, p95, success and 429-share
//!    axes, the Pareto front marked, with labelled alternatives.

pub mod front;
pub mod robust;
pub mod space;

use serde::Serialize;

use super::point::{measure_judged, Judge, SeedBudget};
use super::search::{size, Search};
use super::{CandidatePlan, PlanOptions, PlanProgress};
use crate::prepare::Prepared;
use crate::run::RunError;
use crate::scenario::{Candidate, LoadedScenario};
use crate::stats::Stat;
use crate::summary::Summary;

/// Finalists sized in full unless `[plan] finalists` says otherwise.
const FINALISTS: usize = 4;
/// Plans checked for robustness: the cheapest passing ones.
const ROBUSTNESS_CHECKED: usize = 3;
/// Fresh seeds the recommendation is confirmed on.
const CONFIRM_SEEDS: u64 = 5;
/// Where the fresh seeds start, past the scenario's seed (the search's own seeds are the next
/// few hundred at most).
const CONFIRM_OFFSET: u64 = 1_000_003;

/// One combination screened.
#[derive(Debug, Clone, Serialize)]
pub struct Screened {
    /// What it sets.
    pub candidate: String,
    /// Fewest workers both seeds passed with (`None`: none up to the maximum tried).
    pub min_workers: Option<u32>,
    /// Its cost per hour there, mean of the two seeds (USD).
    pub cost_per_hour_usd: Option<f64>,
    /// Whether it went on to be sized in full.
    pub finalist: bool,
    /// Why it was dropped, when it was.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Runs it took.
    pub runs: u32,
}

/// The recommendation re-run on seeds the search never saw.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    /// The plan confirmed.
    pub candidate: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The workers it was confirmed at.
    pub workers: u32,
    /// The workers the search recommended before (differs when a fresh seed missed).
    pub searched_workers: u32,
    /// Seeds whose own run met every objective.
    pub passed_seeds: u32,
    /// Share answered over the fresh seeds.
    pub success_rate: Stat,
    /// p95 over the fresh seeds (ms).
    pub p95_ms: Stat,
    /// Cost per hour over the fresh seeds (USD).
    pub cost_per_hour_usd: Stat,
    /// Attempts per request over the fresh seeds.
    pub attempts_per_request: Stat,
    /// Requests each fresh seed's window offered.
    pub offered: Stat,
}

/// A labelled alternative to the recommendation.
#[derive(Debug, Clone, Serialize)]
pub struct Alternative {
    /// "cheapest", "fastest within budget", "most robust to ×2 traffic".
    pub label: String,
    /// The plan.
    pub candidate: String,
    /// Its workers.
    pub workers: u32,
    /// Why it carries the label, with figures.
    pub why: String,
}

/// Simulation runs and wall time of each stage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Effort {
    /// Runs screening the combinations.
    pub screen_runs: u32,
    /// Runs sizing the finalists.
    pub finalist_runs: u32,
    /// Runs of the robustness what-ifs.
    pub robustness_runs: u32,
    /// Runs confirming on fresh seeds.
    pub confirm_runs: u32,
    /// Wall time of the whole search (s), the workers-only plans before it excluded.
    pub wall_time_s: f64,
}

/// What the full search did and found (plan.json `search`).
#[derive(Debug, Clone, Serialize)]
pub struct FullSearch {
    /// The settings searched and their values.
    pub dimensions: Vec<space::Dimension>,
    /// The settings held as configured, each with why.
    pub not_searched: Vec<String>,
    /// Combinations screened.
    pub combinations: u32,
    /// Each combination's screening.
    pub screened: Vec<Screened>,
    /// The finalists' names (their plans are among the plan's candidates).
    pub finalists: Vec<String>,
    /// How the cheapest passing plans degrade.
    pub robustness: Vec<robust::Robustness>,
    /// Every fully sized point, with the Pareto front marked.
    pub front: Vec<front::FrontPoint>,
    /// Labelled alternatives to the recommendation.
    pub alternatives: Vec<Alternative>,
    /// The recommendation on fresh seeds.
    pub confirmation: Option<Confirmation>,
    /// Plans preferred to it that missed an objective on a fresh seed, in the order tried.
    pub not_confirmed: Vec<Confirmation>,
    /// Why the winner wins, in a sentence with figures.
    pub why: String,
    /// Runs and time.
    pub effort: Effort,
}

/// What the plan hands the search.
pub(super) struct Context<'a> {
    pub loaded: &'a LoadedScenario,
    pub base: &'a Prepared<'a>,
    pub options: &'a PlanOptions,
    pub pilot: &'a Summary,
    pub guess: u32,
    pub seeds: &'a [u64],
    pub sdk_retry: Option<&'a str>,
}

/// The finalists sized in full, to join the candidates, and the screening's record.
pub(super) struct Finals {
    pub finalists: Vec<(Candidate, CandidatePlan)>,
    pub not_confirmed: Vec<Confirmation>,
    pub screened: Vec<Screened>,
    pub space: space::Space,
    pub effort: Effort,
}

/// Whether the scenario can be searched in full: its `[slo]` must set `success_rate`. A queue
/// deadline, a short timeout or no retry fail requests to keep latency down; without a floor
/// on the answers the search would recommend shedding them.
pub(super) fn can_search(loaded: &LoadedScenario) -> Result<(), RunError> {
    let has_floor = loaded
        .scenario
        .slo
        .get_ref()
        .objectives()
        .iter()
        .any(|(o, _)| *o == crate::scenario::slo::Objective::SuccessRate);
    if has_floor {
        return Ok(());
    }
    Err(RunError::Input(format!(
        "{}: --search full needs a success_rate objective in [slo]: the search trades answers against latency and \
         cost (a queue deadline, a short timeout or no retry fail requests to keep latency down), and without a floor \
         on the answers it would recommend shedding them; add e.g. `success_rate = 0.99`",
        loaded.path.display()
    )))
}

/// Steps 1–3: the space, the screening and the finalists.
pub(super) fn finals(cx: &Context<'_>, runs: &mut u32) -> Result<Finals, RunError> {
    let wall = std::time::Instant::now();
    let space = space::build(&space::Inputs {
        loaded: cx.loaded,
        candidates: &cx.options.candidates,
        pilot: cx.pilot,
        sdk_retry: cx.sdk_retry,
    })
    .map_err(RunError::Input)?;
    let quiet = PlanOptions {
        progress: PlanProgress::default(),
        ..cx.options.clone()
    };
    let mut effort = Effort::default();
    let mut screened = screen(cx, &space, &quiet, runs)?;
    effort.screen_runs = screened.iter().map(|x| x.runs).sum();
    let limit = cx
        .loaded
        .scenario
        .plan
        .as_ref()
        .and_then(|p| p.get_ref().finalists)
        .map_or(FINALISTS, |f| f as usize);
    let chosen = pick_finalists(&screened, limit);
    let mut finalists = Vec::new();
    for &i in &chosen {
        screened[i].finalist = true;
        let mut candidate = space.combinations[i].candidate.clone();
        candidate.name = format!("search: {}", candidate.name);
        let guess = screened[i].min_workers.unwrap_or(cx.guess);
        let before = *runs;
        // A finalist passed the screening at `guess`: its search is bounded to four times that
        // (and the generous count), so a plan that fails on every seed cannot gallop to the
        // plan's maximum with twenty seeds a count.
        let bounded = PlanOptions {
            max_workers: guess
                .saturating_mul(4)
                .max(generous_workers(cx))
                .min(cx.options.max_workers.max(1)),
            ..cx.options.clone()
        };
        let plan = size(cx.base, &candidate, guess, &bounded, cx.seeds, runs, Search::Finalist)?;
        effort.finalist_runs += *runs - before;
        finalists.push((candidate, plan));
    }
    effort.wall_time_s = wall.elapsed().as_secs_f64();
    Ok(Finals {
        finalists,
        not_confirmed: Vec::new(),
        screened,
        space,
        effort,
    })
}

/// A worker count well above the first guess (four times it, at least 16 more, at most the
/// plan's maximum): a combination that fails there is not one more workers would save.
fn generous_workers(cx: &Context<'_>) -> u32 {
    let max = cx.options.max_workers.max(1);
    (cx.guess.saturating_mul(4)).max(cx.guess + 16).min(max)
}

/// A screened combination is sized when its cost at the generous count is within this share
/// of the cheapest passing there.
const SCREEN_COST_SHARE: f64 = 1.10;
/// The most screened combinations whose fewest workers are searched.
const SIZED_SCREENS: usize = 16;

/// Screening, in two rounds on the same two seeds: every combination at a generous count
/// (dropped if it misses there with both seeds), then the fewest workers of those within 10% of
/// the cheapest cost seen at that count (the API's cost follows the requests answered, not the
/// workers, so a dearer combination stays dearer).
fn screen(
    cx: &Context<'_>,
    space: &space::Space,
    quiet: &PlanOptions,
    runs: &mut u32,
) -> Result<Vec<Screened>, RunError> {
    let generous = generous_workers(cx);
    let total = space.combinations.len();
    let seeds = &cx.seeds[..super::SCREEN_SEEDS.min(cx.seeds.len())];
    let n = seeds.len();
    let mut screened = Vec::with_capacity(total);
    let mut at_generous = Vec::with_capacity(total);
    for c in &space.combinations {
        let (p, r) = measure_judged(
            cx.base,
            &c.candidate,
            generous,
            seeds,
            SeedBudget { start: n, max: n },
            Judge::Screen,
        )?;
        *runs += r;
        let cost = (p.passed_seeds > 0).then_some(p.cost_per_hour_usd.mean).flatten();
        at_generous.push(cost.map(|c| (c, p.p95_ms.mean.unwrap_or(f64::MAX))));
        screened.push(Screened {
            candidate: c.candidate.name.clone(),
            min_workers: None,
            cost_per_hour_usd: cost,
            finalist: false,
            note: if cost.is_none() {
                format!("misses at {generous} workers")
            } else {
                String::new()
            },
            runs: r,
        });
    }
    let cheapest = at_generous.iter().flatten().map(|x| x.0).fold(f64::INFINITY, f64::min);
    // At most SIZED_SCREENS are sized: the cheapest, costs within 2% ordered by the lower p95 at
    // the generous count (a plan faster there tends to need fewer workers).
    let mut order: Vec<usize> = (0..total)
        .filter(|&i| at_generous[i].is_some_and(|(c, _)| c <= cheapest * SCREEN_COST_SHARE))
        .collect();
    let key = |i: usize| at_generous[i].unwrap_or((f64::MAX, f64::MAX));
    order.sort_by(|&a, &b| {
        let ((ca, pa), (cb, pb)) = (key(a), key(b));
        if (ca - cb).abs() <= 0.02 * ca.min(cb) {
            pa.total_cmp(&pb)
        } else {
            ca.total_cmp(&cb)
        }
    });
    let sized: std::collections::BTreeSet<usize> = order.into_iter().take(SIZED_SCREENS).collect();
    cx.options.progress.say(&format!(
        "search · screened {total} combinations at {generous} workers: {} pass with both seeds · {} runs",
        at_generous.iter().flatten().count(),
        *runs
    ));
    for (i, c) in space.combinations.iter().enumerate() {
        let Some((cost, _)) = at_generous[i] else { continue };
        if cost > cheapest * SCREEN_COST_SHARE {
            screened[i].note = format!(
                "{} an hour at {generous} workers, over 10% above the cheapest ({})",
                crate::format::usd_hour(Some(cost)),
                crate::format::usd_hour(Some(cheapest))
            );
            continue;
        }
        if !sized.contains(&i) {
            screened[i].note =
                format!("not sized: {SIZED_SCREENS} combinations as cheap and faster at {generous} workers were");
            continue;
        }
        let before = *runs;
        let plan = size(cx.base, &c.candidate, cx.guess, quiet, cx.seeds, runs, Search::Screen)?;
        screened[i].runs += *runs - before;
        screened[i].min_workers = plan.min_workers;
        screened[i].cost_per_hour_usd = plan
            .min_workers
            .and_then(|m| plan.points.iter().find(|p| p.workers == m))
            .and_then(|p| p.cost_per_hour_usd.mean)
            .or(Some(cost));
        if plan.min_workers.is_none() {
            screened[i].note = "no count passed with both seeds".into();
        }
        cx.options.progress.say(&format!(
            "search · screen {}/{total} · {}: {} · {} runs",
            i + 1,
            c.candidate.name,
            plan.min_workers.map_or("no count passes".into(), |m| format!(
                "passes from {m} workers (2 seeds)"
            )),
            *runs
        ));
    }
    Ok(screened)
}

/// The screened combinations to size in full: those that passed, cheapest first, costs within
/// 2% of each other ordered by fewer workers.
fn pick_finalists(screened: &[Screened], limit: usize) -> Vec<usize> {
    let mut passing: Vec<usize> = (0..screened.len())
        .filter(|&i| screened[i].min_workers.is_some() && screened[i].cost_per_hour_usd.is_some())
        .collect();
    let cost = |i: usize| screened[i].cost_per_hour_usd.unwrap_or(f64::MAX);
    passing.sort_by(|&a, &b| cost(a).total_cmp(&cost(b)));
    let Some(&cheapest) = passing.first() else {
        return Vec::new();
    };
    let low = cost(cheapest);
    let (mut tied, rest): (Vec<usize>, Vec<usize>) = passing.into_iter().partition(|&i| cost(i) <= low * 1.02);
    tied.sort_by_key(|&i| (screened[i].min_workers, i));
    tied.into_iter().chain(rest).take(limit).collect()
}

/// Step 4: the cheapest passing plans under stress.
pub(super) fn robustness(
    cx: &Context<'_>,
    plans: &[CandidatePlan],
    candidates: &[Candidate],
    runs: &mut u32,
    effort: &mut Effort,
) -> Result<Vec<robust::Robustness>, RunError> {
    let wall = std::time::Instant::now();
    let tied = super::verdict::cheapest_first(plans);
    let seeds = &cx.seeds[..cx.options.seeds.start.min(cx.seeds.len())];
    let mut out = Vec::new();
    for plan in tied.into_iter().take(ROBUSTNESS_CHECKED) {
        let (Some(c), Some(w)) = (
            candidates.iter().find(|c| c.name == plan.name),
            plan.recommended_workers,
        ) else {
            continue;
        };
        let (r, n) = robust::check(cx.loaded, &cx.options.run, c, w, seeds)?;
        *runs += n;
        effort.robustness_runs += n;
        cx.options.progress.say(&format!(
            "search · robustness · {}: holds under {} of {} · {} runs",
            c.name,
            r.held(),
            r.results.len(),
            *runs
        ));
        out.push(r);
    }
    effort.wall_time_s += wall.elapsed().as_secs_f64();
    Ok(out)
}

/// Step 5: the recommendation on fresh seeds, raising workers until every seed passes.
pub(super) fn confirm(
    cx: &Context<'_>,
    candidate: &Candidate,
    workers: u32,
    runs: &mut u32,
    effort: &mut Effort,
) -> Result<Confirmation, RunError> {
    let wall = std::time::Instant::now();
    let fresh: Vec<u64> = (0..CONFIRM_SEEDS)
        .map(|i| cx.base.seed().wrapping_add(CONFIRM_OFFSET + i))
        .collect();
    let n = fresh.len();
    let mut w = workers;
    let mut raised = 0;
    loop {
        let (p, r) = measure_judged(
            cx.base,
            candidate,
            w,
            &fresh,
            SeedBudget { start: n, max: n },
            Judge::Screen,
        )?;
        *runs += r;
        effort.confirm_runs += r;
        let max = cx.options.max_workers.max(1);
        if p.passed_seeds as usize == n || raised == 3 || w >= max {
            effort.wall_time_s += wall.elapsed().as_secs_f64();
            cx.options.progress.say(&format!(
                "search · confirm · {} at {w} workers: {} of {n} fresh seeds meet every objective · {} runs",
                candidate.name, p.passed_seeds, *runs
            ));
            return Ok(Confirmation {
                candidate: candidate.name.clone(),
                seeds: fresh,
                workers: w,
                searched_workers: workers,
                passed_seeds: p.passed_seeds,
                success_rate: p.success_rate,
                p95_ms: p.p95_ms,
                cost_per_hour_usd: p.cost_per_hour_usd,
                attempts_per_request: p.attempts_per_request,
                offered: p.offered,
            });
        }
        w = ((f64::from(w) * 1.1).ceil() as u32).max(w + 1).min(max);
        raised += 1;
    }
}

/// The passing plans in the order they are offered: those tied on cost with the cheapest first
/// — the one that held under the most stresses, then the most graceful (highest worst success),
/// the verdict's order kept otherwise — then the rest, cheapest first.
pub(super) fn preference(plans: &[CandidatePlan], robustness: &[robust::Robustness]) -> Vec<String> {
    let score = |name: &str| {
        robustness
            .iter()
            .find(|r| r.candidate == name)
            .map_or((0, f64::NEG_INFINITY), |r| (r.held(), r.worst_success()))
    };
    let mut tied = super::verdict::tied_names(plans);
    // A stable sort: equal scores keep the verdict's order (margin, then fewer workers).
    tied.sort_by(|a, b| {
        let ((ha, wa), (hb, wb)) = (score(a), score(b));
        hb.cmp(&ha).then(if (wa - wb).abs() > 0.005 {
            wb.total_cmp(&wa)
        } else {
            std::cmp::Ordering::Equal
        })
    });
    let rest: Vec<String> = super::verdict::cheapest_first(plans)
        .into_iter()
        .map(|c| c.name.clone())
        .filter(|n| !tied.contains(n))
        .collect();
    tied.into_iter().chain(rest).collect()
}

/// Plans confirmed on fresh seeds at most, in order of preference.
const CONFIRM_TRIES: usize = 4;

/// The recommendation: the first plan in `order` whose confirmation on fresh seeds met every
/// objective on every seed (workers raised as [`confirm`] does); when none of the first few
/// does, the first, with its failed confirmation said.
pub(super) fn choose(
    cx: &Context<'_>,
    order: &[String],
    plans: &[CandidatePlan],
    candidates: &[Candidate],
    runs: &mut u32,
    effort: &mut Effort,
    tried: &mut Vec<Confirmation>,
) -> Result<Option<(String, Confirmation)>, RunError> {
    let mut first = None;
    for name in order.iter().take(CONFIRM_TRIES) {
        let plan = plans.iter().find(|p| &p.name == name);
        let (Some(c), Some(w)) = (
            candidates.iter().find(|c| &c.name == name),
            plan.and_then(|p| p.recommended_workers),
        ) else {
            continue;
        };
        let conf = confirm(cx, c, w, runs, effort)?;
        if conf.passed_seeds as usize == conf.seeds.len() {
            return Ok(Some((name.clone(), conf)));
        }
        tried.push(conf.clone());
        first.get_or_insert((name.clone(), conf));
    }
    Ok(first)
}

/// The labelled alternatives: the cheapest passing point, the fastest passing point within 10%
/// of the recommendation's cost, the plan that answers most at twice the traffic.
pub(super) fn alternatives(
    front: &[front::FrontPoint],
    recommended: Option<(&str, u32, f64)>,
    robustness: &[robust::Robustness],
) -> Vec<Alternative> {
    let mut out = Vec::new();
    let passing: Vec<&front::FrontPoint> = front.iter().filter(|p| p.passes).collect();
    let cost = |p: &front::FrontPoint| p.cost_per_hour_usd.mean.unwrap_or(f64::MAX);
    let p95 = |p: &front::FrontPoint| p.p95_ms.mean.unwrap_or(f64::MAX);
    if let Some(c) = passing
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)).then(a.workers.cmp(&b.workers)))
    {
        out.push(Alternative {
            label: "cheapest".into(),
            candidate: c.candidate.clone(),
            workers: c.workers,
            why: format!(
                "the lowest cost of any passing point: {} an hour (p95 {}, {:.1}% answered)",
                crate::format::usd_hour(Some(cost(c))),
                crate::format::secs(p95(c) / 1000.0),
                c.success_rate.mean.unwrap_or(0.0) * 100.0
            ),
        });
    }
    if let Some((_, _, budget)) = recommended {
        let within = budget * 1.10;
        if let Some(f) = passing
            .iter()
            .filter(|p| cost(p) <= within)
            .min_by(|a, b| p95(a).total_cmp(&p95(b)).then(a.workers.cmp(&b.workers)))
        {
            out.push(Alternative {
                label: "fastest within budget".into(),
                candidate: f.candidate.clone(),
                workers: f.workers,
                why: format!(
                    "the lowest p95 of the passing points within 10% of the recommendation's cost ({} an hour): p95 {} at {} an hour",
                    crate::format::usd_hour(Some(within)),
                    crate::format::secs(p95(f) / 1000.0),
                    crate::format::usd_hour(Some(cost(f)))
                ),
            });
        }
    }
    if let Some(r) = robustness
        .iter()
        .filter(|r| r.success_at_2x().is_some())
        .max_by(|a, b| {
            a.success_at_2x()
                .unwrap_or(0.0)
                .total_cmp(&b.success_at_2x().unwrap_or(0.0))
        })
    {
        out.push(Alternative {
            label: "most robust to ×2 traffic".into(),
            candidate: r.candidate.clone(),
            workers: r.workers,
            why: format!(
                "answers the most at twice today's traffic: {:.1}% of requests",
                r.success_at_2x().unwrap_or(0.0) * 100.0
            ),
        });
    }
    out
}

/// Step 6 and the record: the front, the alternatives, the winner's reason; the recommendation
/// carries the settings exactly as run and, when fresh seeds raised them, the confirmed workers.
pub(super) fn summarise(
    finals: Finals,
    robustness: Vec<robust::Robustness>,
    confirmation: Option<Confirmation>,
    plans: &[CandidatePlan],
    recommendation: Option<&mut super::PlanRecommendation>,
) -> FullSearch {
    let front = front::points(plans);
    let effort = finals.effort.clone();
    let rec = recommendation.as_ref().map(|r| {
        let cost = r.cost_usd.map_or(0.0, |c| c.hour);
        (r.candidate.clone(), r.workers, cost)
    });
    let alternatives = alternatives(&front, rec.as_ref().map(|(n, w, c)| (n.as_str(), *w, *c)), &robustness);
    let why = why(
        plans,
        &robustness,
        confirmation.as_ref(),
        &finals.not_confirmed,
        rec.as_ref().map(|(n, ..)| n.as_str()),
        &finals.finalists.iter().map(|(c, _)| c.name.clone()).collect::<Vec<_>>(),
    );
    if let Some(r) = recommendation {
        r.settings = settings_of(&r.strategy);
        if let Some(c) = confirmation.as_ref().filter(|c| c.workers != c.searched_workers) {
            r.workers = c.workers;
            r.strategy.workers = c.workers;
        }
    }
    FullSearch {
        dimensions: finals.space.dimensions,
        not_searched: finals.space.not_searched,
        combinations: finals.space.combinations.len() as u32,
        screened: finals.screened,
        finalists: finals.finalists.iter().map(|(c, _)| c.name.clone()).collect(),
        robustness,
        front,
        alternatives,
        confirmation,
        not_confirmed: finals.not_confirmed,
        why,
        effort,
    }
}

/// The plan's searched settings in scenario syntax, as run (`workers` apart): the retry, queue
/// and timeouts always; the rate limit, fallback, service tiers and replicas when set.
fn settings_of(s: &crate::strategy::StrategySpec) -> std::collections::BTreeMap<String, String> {
    let inline = |v: Result<toml::Value, toml::ser::Error>| v.map_or_else(|e| e.to_string(), |v| v.to_string());
    let mut out = std::collections::BTreeMap::new();
    out.insert("retry".into(), inline(toml::Value::try_from(&s.retry)));
    out.insert("queue".into(), inline(toml::Value::try_from(&s.queue)));
    out.insert("timeout".into(), inline(toml::Value::try_from(&s.timeout)));
    if s.rate_limit.rpm > 0 || s.rate_limit.tpm > 0 {
        out.insert("rate_limit".into(), inline(toml::Value::try_from(&s.rate_limit)));
    }
    if let Some(f) = &s.fallback {
        out.insert("fallback".into(), inline(toml::Value::try_from(f)));
    }
    if !s.service_tier.is_empty() {
        out.insert("service_tier".into(), inline(toml::Value::try_from(&s.service_tier)));
    }
    if s.replicas > 1 {
        out.insert("replicas".into(), s.replicas.to_string());
    }
    out
}

/// The first sentences of the reason: the winner's cost against the other passing plans and
/// against the best of the candidates as written.
fn opening(plans: &[CandidatePlan], best: &str, tied: &[String], finalists: &[String]) -> String {
    let hour = |c: &CandidatePlan| {
        c.cost_usd.map(|k| k.hour).unwrap_or(f64::MAX)
            + c.deployment.as_ref().and_then(|d| d.hosting_usd_hour).unwrap_or(0.0)
    };
    let Some(winner) = plans.iter().find(|c| c.name == best) else {
        return String::new();
    };
    let passing = plans.iter().filter(|c| c.passes).count();
    let workers = winner.recommended_workers.unwrap_or(0);
    let mut out = format!(
        "{best} at {workers} workers costs {} an hour; {passing} plan{} passed.",
        crate::format::usd_hour(Some(hour(winner))),
        if passing == 1 { "" } else { "s" }
    );
    let others = tied.iter().filter(|t| t.as_str() != best).count();
    if others > 0 {
        out.push_str(&format!(
            " {others} other{} cost{} the same within the noise (their 95% intervals overlap, or under 2% apart); among \
             them the one that holds best under stress, then the larger margin to the tightest objective, is named.",
            if others == 1 { "" } else { "s" },
            if others == 1 { "s" } else { "" }
        ));
    }
    let written = plans
        .iter()
        .filter(|c| c.passes && !finalists.contains(&c.name))
        .min_by(|a, b| hour(a).total_cmp(&hour(b)));
    match written {
        Some(w) if w.name == best => {
            out.push_str(" It is one of the candidates as written: no searched combination passed for less.")
        }
        Some(w) => {
            let (a, b) = (hour(w), hour(winner));
            out.push_str(&format!(
                " The best of the candidates as written, {} at {} workers, costs {} an hour: {}.",
                w.name,
                w.recommended_workers.unwrap_or(0),
                crate::format::usd_hour(Some(a)),
                if a > b * 1.02 {
                    format!(
                        "the search saves {} an hour ({:.0}%)",
                        crate::format::usd_hour(Some(a - b)),
                        (a - b) / a * 100.0
                    )
                } else {
                    "the same within 2%".to_string()
                }
            ));
        }
        None => out.push_str(" None of the candidates as written passed."),
    }
    out
}

/// Why the winner wins: the cost rule, the stresses, the fresh seeds.
fn why(
    plans: &[CandidatePlan],
    robustness: &[robust::Robustness],
    confirmation: Option<&Confirmation>,
    not_confirmed: &[Confirmation],
    best: Option<&str>,
    finalists: &[String],
) -> String {
    let Some(best) = best else {
        return "No plan searched met every objective: see the closest plan.".into();
    };
    let tied = super::verdict::tied_names(plans);
    let mut why = opening(plans, best, &tied, finalists);
    let before: Vec<&str> = not_confirmed
        .iter()
        .filter(|c| c.candidate != best)
        .map(|c| c.candidate.as_str())
        .collect();
    let confirmed = confirmation.is_some_and(|c| c.passed_seeds as usize == c.seeds.len());
    if !confirmed && confirmation.is_some() {
        why.push_str(&format!(
            " No plan tried ({}) met every objective on every one of the seeds the search never used: these \
             objectives hold on average but not in every {} window of this traffic; {best} is the first by the rule \
             above.",
            std::iter::once(best)
                .chain(before.iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
            crate::format::secs(window_s(plans))
        ));
    } else if !before.is_empty() {
        why.push_str(&format!(
            " {} came first by that rule but missed an objective on some of the seeds the search never used \
             ({}); {best} is the first that met every objective on all of them.",
            before.join(", "),
            not_confirmed
                .iter()
                .filter(|c| c.candidate != best)
                .map(|c| format!("{} of {} at {} workers", c.passed_seeds, c.seeds.len(), c.workers))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    } else if tied.first().map(String::as_str) != Some(best) && tied.iter().any(|t| t == best) {
        why.push_str(&format!(
            " Among the plans tied on cost, {best} degrades most gracefully, so it is recommended over {}.",
            tied.first().map_or("", String::as_str)
        ));
    }
    if let Some(r) = robustness.iter().find(|r| r.candidate == best) {
        let held: Vec<&str> = r.results.iter().filter(|x| x.holds).map(|x| x.label.as_str()).collect();
        let missed: Vec<String> = r
            .results
            .iter()
            .filter(|x| !x.holds)
            .map(|x| {
                format!(
                    "{} ({:.1}% answered, p95 {})",
                    x.label,
                    x.success_rate.mean.unwrap_or(0.0) * 100.0,
                    x.p95_ms.mean.map_or("—".into(), |m| crate::format::secs(m / 1000.0))
                )
            })
            .collect();
        why.push_str(&format!(
            " Under stress it holds {} of {}{}{}.",
            held.len(),
            r.results.len(),
            if held.is_empty() {
                String::new()
            } else {
                format!(" ({})", held.join(", "))
            },
            if missed.is_empty() {
                String::new()
            } else {
                format!("; it misses under {}", missed.join("; "))
            }
        ));
    }
    if let Some(c) = confirmation {
        let offered = match (
            c.offered.values.iter().flatten().copied().reduce(f64::min),
            c.offered.values.iter().flatten().copied().reduce(f64::max),
        ) {
            (Some(lo), Some(hi)) => format!(" (they offered {lo:.0} to {hi:.0} requests)"),
            _ => String::new(),
        };
        if c.workers == c.searched_workers {
            why.push_str(&format!(
                " Re-run at {} workers on {} seeds the search never used{offered}: {} of them met every objective.",
                c.workers,
                c.seeds.len(),
                c.passed_seeds
            ));
        } else {
            why.push_str(&format!(
                " Re-run on {} seeds the search never used{offered}, {} workers missed an objective on some; raised to {}: {} of {} met every objective.",
                c.seeds.len(),
                c.searched_workers,
                c.workers,
                c.passed_seeds,
                c.seeds.len()
            ));
        }
    }
    why
}

/// The traffic window of the plans' runs (s), read from a point's run.
fn window_s(plans: &[CandidatePlan]) -> f64 {
    plans
        .iter()
        .flat_map(|c| c.points.iter())
        .find_map(|p| p.sample.as_ref().map(|s| s.run.duration_s))
        .unwrap_or(0.0)
}
