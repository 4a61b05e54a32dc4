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

mod confirm;
pub mod front;
pub mod robust;
mod screen;
pub mod space;
mod why;

use serde::Serialize;

use super::{CandidatePlan, PlanOptions};
use crate::prepare::Prepared;
use crate::run::RunError;
use crate::scenario::{Candidate, LoadedScenario};
use crate::stats::Stat;
use crate::summary::Summary;

pub(super) use screen::finals;

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
    /// A higher count tried that met the objectives on no more of the seeds, so was not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raised_without_gain: Option<u32>,
    /// Seeds whose own run met every objective.
    pub passed_seeds: u32,
    /// Whether the latency and success objectives were judged in each run's steady-state
    /// window (every seed found one), as the finalists are; the whole run otherwise.
    pub steady_window: bool,
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

/// The search's decision once its finalists have joined the plans: the recommendation (the
/// first plan by preference that its fresh seeds confirm) and the record for plan.json.
pub(super) struct Decided {
    /// The recommended plan's name (`None`: nothing passed).
    pub best: Option<String>,
    /// The recommendation on fresh seeds.
    pub confirmation: Option<Confirmation>,
    finals: Finals,
    robustness: Vec<robust::Robustness>,
}

/// Steps 4 and 5 over the sized plans (the candidates as written and the finalists): the
/// cheapest under stress, the order of preference, the confirmation on fresh seeds.
pub(super) fn decide(
    cx: &Context<'_>,
    mut finals: Finals,
    plans: &[CandidatePlan],
    candidates: &[Candidate],
    runs: &mut u32,
) -> Result<Decided, RunError> {
    let robustness = confirm::robustness(cx, plans, candidates, runs, &mut finals.effort)?;
    let order = confirm::preference(plans, &robustness);
    let chosen = confirm::choose(
        cx,
        &order,
        plans,
        candidates,
        runs,
        &mut finals.effort,
        &mut finals.not_confirmed,
    )?;
    let (best, confirmation) = chosen.map_or((None, None), |(name, c)| (Some(name), Some(c)));
    Ok(Decided {
        best,
        confirmation,
        finals,
        robustness,
    })
}

impl Decided {
    /// Step 6 and the record (see [`why::summarise`]).
    pub(super) fn summarise(
        self,
        plans: &[CandidatePlan],
        recommendation: Option<&mut super::PlanRecommendation>,
    ) -> FullSearch {
        why::summarise(self.finals, self.robustness, self.confirmation, plans, recommendation)
    }
}
