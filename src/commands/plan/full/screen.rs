//! Steps 1–3 of the full search: the space, the screening on two common seeds, and the
//! finalists sized in full.

use super::space;
use super::{Context, Effort, Finals, Screened};
use crate::commands::plan::point::{measure_judged, Judge, SeedBudget};
use crate::commands::plan::search::{size, Search};
use crate::commands::plan::{PlanOptions, PlanProgress, SCREEN_SEEDS};
use crate::run::RunError;

/// Finalists sized in full unless `[plan] finalists` says otherwise.
const FINALISTS: usize = 4;

/// Steps 1–3: the space, the screening and the finalists.
pub(in crate::commands::plan) fn finals(cx: &Context<'_>, runs: &mut u32) -> Result<Finals, RunError> {
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
    let seeds = &cx.seeds[..SCREEN_SEEDS.min(cx.seeds.len())];
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
