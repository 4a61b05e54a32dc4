//! Growth what-ifs: the best plan against the traffic grown by each factor — whether it holds,
//! and when it does not, the next plan (searched from the theory at the grown rate, or the
//! minimum found today scaled when there is no latency target).

use super::guess::first_guess;
use super::search::{size, Search};
use super::{evaluate, point, GrowthCheck, PlanOptions};
use crate::prepare::Prepared;
use crate::run::RunError;
use crate::scenario::{Candidate, LoadedScenario};
use crate::summary::horizon::{Horizon, LimitCheck};
use crate::summary::Summary;

/// The best plan of today's traffic.
pub(super) struct Best<'a> {
    /// Its candidate.
    pub candidate: &'a Candidate,
    /// Its recommended workers.
    pub recommended: u32,
    /// The fewest workers that met the objectives today.
    pub min_workers: Option<u32>,
}

/// Whether the traffic can be grown: open-loop arrivals and sessions can, a closed loop (whose
/// rate follows its latency) cannot. Checked before the search, not after it.
pub(super) fn can_grow(loaded: &LoadedScenario, options: &PlanOptions) -> Result<(), RunError> {
    if !options.growth.is_empty() && loaded.traffic.request_rate().is_none() {
        return Err(RunError::Input(
            "growth what-ifs need open-loop or sessions traffic (a closed loop's rate follows its latency): \
             give --no-growth"
                .into(),
        ));
    }
    Ok(())
}

/// Checks `best` against every growth factor of `options`.
pub(super) fn check(
    loaded: &LoadedScenario,
    options: &PlanOptions,
    best: &Best<'_>,
    pilot: &Summary,
    seeds: &[u64],
    runs: &mut u32,
) -> Result<Vec<GrowthCheck>, RunError> {
    let mut checks = Vec::new();
    for &factor in &options.growth {
        let mut grown = loaded.clone();
        grown.traffic = loaded.traffic.grown(factor);
        // The long limits scale with the traffic offered: the pilot's demand grown says which
        // of them the grown traffic misses without a run (a day-long run at x5 is the slowest
        // part of a plan).
        let projected = Horizon::of(&pilot.run, point::demand_of(std::slice::from_ref(pilot)).grown(factor));
        let long: Vec<&LimitCheck> = projected.missed().collect();
        if !long.is_empty() {
            checks.push(no_count_fits(
                factor,
                &grown,
                Vec::new(),
                &long,
                offered_per_hour(&projected),
            ));
            continue;
        }
        let base = Prepared::new(&grown, &options.run)?;
        let at_plan = evaluate(
            &base,
            best.candidate,
            best.recommended,
            seeds,
            options,
            runs,
            point::Judge::WholeRun,
        )?;
        // A long limit (the daily quota, the monthly cap, the spend-based limit) the grown
        // traffic misses is missed at every worker count: no next plan is searched or offered.
        if let Some(h) = at_plan.horizon.as_ref().filter(|h| h.missed().next().is_some()) {
            let long: Vec<&LimitCheck> = h.missed().collect();
            let missed = at_plan.missed.clone();
            checks.push(no_count_fits(factor, &grown, missed, &long, offered_per_hour(h)));
            continue;
        }
        let next = if at_plan.passes {
            None
        } else {
            let theory = first_guess(&grown, pilot, options.max_workers.max(1));
            let guess = match best.min_workers {
                Some(m) if !theory.from_theory => (f64::from(m) * factor).ceil() as u32,
                _ => theory.workers,
            };
            Some(size(
                &base,
                best.candidate,
                guess,
                options,
                seeds,
                runs,
                Search::GrowthCheck,
            )?)
        };
        let cost = match &next {
            None => at_plan.cost_per_hour_usd.mean,
            Some(n) => n.cost_usd.map(|c| c.hour),
        };
        checks.push(GrowthCheck {
            factor,
            rate_rps: grown.traffic.request_rate().unwrap_or(0.0),
            holds: at_plan.passes,
            missed: at_plan.missed.clone(),
            min_workers: next.as_ref().and_then(|n| n.min_workers),
            recommended_workers: next.as_ref().map_or(Some(best.recommended), |n| n.recommended_workers),
            cost_per_hour_usd: cost,
            why: next.as_ref().map(|n| match &n.binding {
                Some(b) => format!(
                    "{} Adding workers stops helping at {} — {b}.",
                    n.why,
                    n.knee_workers.unwrap_or(0)
                ),
                None => n.why.clone(),
            }),
        });
    }
    Ok(checks)
}

/// A growth whose traffic misses a long limit (the daily quota, the monthly cap, the spend-based
/// limit): missed at every worker count, so no next plan is searched or offered.
fn no_count_fits(
    factor: f64,
    grown: &LoadedScenario,
    mut missed: Vec<String>,
    long: &[&LimitCheck],
    cost_per_hour_usd: Option<f64>,
) -> GrowthCheck {
    missed.extend(long.iter().map(|l| l.limit.label().to_string()));
    GrowthCheck {
        factor,
        rate_rps: grown.traffic.request_rate().unwrap_or(0.0),
        holds: false,
        missed,
        min_workers: None,
        recommended_workers: None,
        cost_per_hour_usd,
        why: Some(format!(
            "No worker count fits: {}",
            long.iter().map(|l| l.message.as_str()).collect::<Vec<_>>().join(" ")
        )),
    }
}

/// What the grown traffic would cost an hour answered in full (its offered demand): a limit
/// cut the answered spend short, so that spend would understate it.
fn offered_per_hour(horizon: &Horizon) -> Option<f64> {
    horizon.cost_per_month_usd.map(|m| m / (30.0 * 24.0))
}
