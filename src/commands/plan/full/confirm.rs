//! Steps 4 and 5 of the full search: the cheapest passing plans under stress, the order of
//! preference, and the confirmation on seeds the search never used.

use super::robust;
use super::{Confirmation, Context, Effort};
use crate::commands::plan::point::{measure_judged, Judge, SeedBudget};
use crate::commands::plan::Point;
use crate::commands::plan::{verdict, CandidatePlan};
use crate::run::RunError;
use crate::scenario::Candidate;

/// Plans checked for robustness: the cheapest passing ones.
const ROBUSTNESS_CHECKED: usize = 3;
/// Fresh seeds the recommendation is confirmed on.
const CONFIRM_SEEDS: u64 = 5;
/// Where the fresh seeds start, past the scenario's seed (the search's own seeds are the next
/// few hundred at most).
const CONFIRM_OFFSET: u64 = 1_000_003;

/// Step 4: the cheapest passing plans under stress.
pub(super) fn robustness(
    cx: &Context<'_>,
    plans: &[CandidatePlan],
    candidates: &[Candidate],
    runs: &mut u32,
    effort: &mut Effort,
) -> Result<Vec<robust::Robustness>, RunError> {
    let wall = std::time::Instant::now();
    let tied = verdict::cheapest_first(plans);
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

/// Step 5: the recommendation on fresh seeds, judged as the finalists are, raising workers
/// (10% at a time, three times at most) until every seed passes — and no further once a raise
/// passes no more seeds than the count below it: then what misses is not the workers (a quota,
/// the traffic's own bursts), and the lower count is kept.
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
    let max = cx.options.max_workers.max(1);
    let mut measure = |w: u32| -> Result<Point, RunError> {
        let budget = SeedBudget { start: n, max: n };
        let (p, r) = measure_judged(cx.base, candidate, w, &fresh, budget, Judge::Confirm)?;
        *runs += r;
        effort.confirm_runs += r;
        Ok(p)
    };
    let (mut w, mut p) = (workers, measure(workers)?);
    let mut no_avail = None;
    for _ in 0..3 {
        if p.passed_seeds as usize == n || w >= max {
            break;
        }
        let more = ((f64::from(w) * 1.1).ceil() as u32).max(w + 1).min(max);
        let q = measure(more)?;
        if q.passed_seeds <= p.passed_seeds {
            no_avail = Some(more);
            break;
        }
        (w, p) = (more, q);
    }
    effort.wall_time_s += wall.elapsed().as_secs_f64();
    cx.options.progress.say(&format!(
        "search · confirm · {} at {w} workers: {} of {n} fresh seeds meet every objective · {} runs",
        candidate.name, p.passed_seeds, *runs
    ));
    Ok(Confirmation {
        candidate: candidate.name.clone(),
        seeds: fresh,
        workers: w,
        searched_workers: workers,
        raised_without_gain: no_avail,
        passed_seeds: p.passed_seeds,
        steady_window: p.objectives.iter().any(|o| o.steady_window),
        success_rate: p.success_rate,
        p95_ms: p.p95_ms,
        cost_per_hour_usd: p.cost_per_hour_usd,
        attempts_per_request: p.attempts_per_request,
        offered: p.offered,
    })
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
    let mut tied = verdict::tied_names(plans);
    // A stable sort: equal scores keep the verdict's order (margin, then fewer workers).
    tied.sort_by(|a, b| {
        let ((ha, wa), (hb, wb)) = (score(a), score(b));
        hb.cmp(&ha).then(if (wa - wb).abs() > 0.005 {
            wb.total_cmp(&wa)
        } else {
            std::cmp::Ordering::Equal
        })
    });
    let rest: Vec<String> = verdict::cheapest_first(plans)
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
