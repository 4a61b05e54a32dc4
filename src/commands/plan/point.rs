//! One worker count measured over seeds, with as many seeds as its verdict needs.
//!
//! Each objective is judged on its value over all seeds at once (a percentile of the merged
//! histograms, a ratio of summed counts) with a 95% Student-t interval whose width comes from
//! the per-seed values, each seed an independent window of the traffic (sectioning, see
//! [`Stat::around`]). The count passes when, for every objective,
//! the whole interval is on the passing side of the target; it fails when an interval is on
//! the failing side. While some interval straddles its target the verdict is not decided:
//! more seeds are run, a batch at a time, up to the budget (`max_seeds`). A count still
//! undecided then is reported as such and does not pass. A count whose intervals are all clear
//! of their targets stops early (racing), from two seeds on (a miss only when every seed missed).
//! All counts draw their seeds from one list in the same order (common random numbers), so
//! counts compare like with like.

use std::sync::Arc;

use serde::Serialize;

use super::Point;
use crate::engine::Progress;
use crate::histogram::LatencyHistogram;
use crate::prepare::Prepared;
use crate::run::{execute, RunError};
use crate::scenario::slo::Objective;
use crate::scenario::Candidate;
use crate::stats::Stat;
use crate::summary::figures::{self, Figure};
use crate::summary::horizon::{Demand, Horizon};
use crate::summary::Summary;

/// An objective's verdict at one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The interval lies on the passing side of the target.
    Met,
    /// The interval lies on the failing side (or a seed had nothing to measure).
    Missed,
    /// The interval still straddles the target after the seed budget.
    Undecided,
}

/// One objective at one count: its target, the mean and interval over seeds, the worst seed.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveAt {
    /// Which objective.
    pub objective: Objective,
    /// Its target (ms, a share, or USD).
    pub target: f64,
    /// Mean and 95% interval over the seeds.
    pub stat: Stat,
    /// The worst seed's value.
    pub worst: Option<f64>,
    /// Seeds whose own run missed it.
    pub seeds_missed: u32,
    /// The verdict.
    pub decision: Decision,
    /// Judged in each seed's steady-state window (warm-up and drain left out) rather than over
    /// the whole run.
    pub steady_window: bool,
}

/// Whether `value` misses `objective`'s `target` (no value misses).
fn missed(objective: Objective, target: f64, value: Option<f64>) -> bool {
    value.is_none_or(|v| if objective.is_floor() { v < target } else { v > target })
}

impl ObjectiveAt {
    /// Whether the objective was met (its interval on the passing side).
    pub fn met(&self) -> bool {
        self.decision == Decision::Met
    }

    /// Whether seed `i`'s own value missed the target (no value misses).
    fn missed_by_seed(&self, i: usize) -> bool {
        missed(self.objective, self.target, self.stat.values.get(i).copied().flatten())
    }

    fn of(objective: Objective, target: f64, pooled: Option<f64>, values: Vec<Option<f64>>) -> ObjectiveAt {
        let floor = objective.is_floor();
        let seeds_missed = values.iter().filter(|v| missed(objective, target, **v)).count() as u32;
        let worst = values
            .iter()
            .flatten()
            .copied()
            .reduce(|a, b| if floor { a.min(b) } else { a.max(b) });
        let stat = Stat::around(pooled, values.clone());
        let decision = if values.iter().any(Option::is_none) {
            Decision::Missed
        } else {
            match (stat.mean, stat.ci95) {
                (Some(m), Some(ci)) => {
                    let (low, high) = (m - ci, m + ci);
                    let (good, bad) = if floor {
                        (low >= target, high < target)
                    } else {
                        (high <= target, low > target)
                    };
                    if good {
                        Decision::Met
                    } else if bad {
                        Decision::Missed
                    } else {
                        Decision::Undecided
                    }
                }
                _ => Decision::Undecided,
            }
        };
        ObjectiveAt {
            objective,
            target,
            stat,
            worst,
            seeds_missed,
            decision,
            steady_window: false,
        }
    }
}

/// How many seeds a count may use.
#[derive(Debug, Clone, Copy)]
pub struct SeedBudget {
    /// Seeds a count runs before it may be called undecided and more are added (at least 5); a
    /// count clear of every target may stop after two (see [`measure`]).
    pub start: usize,
    /// The most a count may use before it is reported undecided.
    pub max: usize,
}

/// The fewest seeds a count runs before it may stop on a clear miss (racing): two, the fewest
/// an interval needs.
const RACE_SEEDS: usize = 2;

/// Runs `candidate` with `workers` for each seed, in parallel, in seed order. Each summary keeps
/// what the plan reads (counts, histograms of the whole run, advice, horizon) without its
/// per-second series and interval histograms: a day-long run's series is most of its summary,
/// and a count may hold twenty of them.
fn run_seeds(
    base: &Prepared<'_>,
    candidate: &Candidate,
    workers: u32,
    seeds: &[u64],
) -> Result<Vec<Summary>, RunError> {
    let threads = super::super::pool::threads_for(base.target(), seeds.len());
    let mut strategy = candidate.strategy.clone();
    strategy.workers = workers;
    let runs = super::super::pool::run_all(seeds, threads, |&seed| {
        let spec = base.variant(seed, &strategy)?;
        let mut summary = execute(&spec, Arc::new(Progress::default()), None)?;
        summary.timeseries = Vec::new();
        summary.histograms.intervals = Default::default();
        Ok(summary)
    });
    runs.into_iter().collect()
}

/// Measures one count: the starting seeds, then more while an objective is undecided.
/// `seeds` is the common list (at least `budget.max` long); returns the point and the runs made.
///
/// Racing: the starting seeds run a batch at a time (as many as run at once, at least
/// [`RACE_SEEDS`]); a count stops as soon as every objective's interval is on its passing side,
/// or when every seed so far missed an objective whose interval lies on the failing side. Over
/// two seeds the interval is 12.7 times the standard error (Student t, one degree of freedom):
/// only a count far from every target is decided that early.
pub fn measure(
    base: &Prepared<'_>,
    candidate: &Candidate,
    workers: u32,
    seeds: &[u64],
    budget: SeedBudget,
) -> Result<(Point, u32), RunError> {
    measure_judged(base, candidate, workers, seeds, budget, Judge::WholeRun)
}

/// Which part of each run the objectives are judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The whole run (warm-up and drain included).
    WholeRun,
    /// The full search's finalists: the steady-state window where every seed's run found one
    /// (a stationary scenario that did not saturate), the whole run otherwise — latency
    /// percentiles and the success rate read in the window, 429 share and costs always over
    /// the whole run — and every seed's own run must meet every objective besides the
    /// interval: a plan recommended for your traffic should hold in each window simulated,
    /// not only on average. A count passes only after the starting seeds (no early stop on
    /// two).
    EverySeedSteady,
    /// Screening: exactly the seeds given, passing when every seed's own run met every
    /// objective (no interval: a quick, optimistic first cut that the full sizing confirms).
    Screen,
    /// Confirmation on fresh seeds: exactly the seeds given, every seed's own run judged as the
    /// finalists are (in its steady window where every seed found one), passing when every
    /// seed met every objective.
    Confirm,
}

/// [`measure`], judging the objectives as `judge` says.
pub fn measure_judged(
    base: &Prepared<'_>,
    candidate: &Candidate,
    workers: u32,
    seeds: &[u64],
    budget: SeedBudget,
    judge: Judge,
) -> Result<(Point, u32), RunError> {
    if matches!(judge, Judge::Screen | Judge::Confirm) {
        let summaries = run_seeds(base, candidate, workers, seeds)?;
        let pooled = Pooled::of(&summaries);
        let as_judged = if judge == Judge::Confirm {
            Judge::EverySeedSteady
        } else {
            Judge::WholeRun
        };
        let objectives = objectives_of(&summaries, &pooled, as_judged);
        let mut p = point(workers, summaries, objectives, &pooled);
        p.passes = p.passed_seeds == p.seeds;
        p.undecided = false;
        return Ok((p, seeds.len() as u32));
    }
    let max = budget.max.min(seeds.len()).max(1);
    let start = budget.start.clamp(1, max);
    let batch = super::super::pool::threads_for(base.target(), start)
        .max(RACE_SEEDS)
        .min(start);
    let mut n = batch;
    let mut summaries = run_seeds(base, candidate, workers, &seeds[..n])?;
    loop {
        let pooled = Pooled::of(&summaries);
        let objectives = objectives_of(&summaries, &pooled, judge);
        let undecided = objectives.iter().any(|o| o.decision == Decision::Undecided);
        let decided_miss = objectives.iter().any(|o| o.decision == Decision::Missed);
        let clear_miss = objectives
            .iter()
            .any(|o| o.decision == Decision::Missed && o.seeds_missed as usize == n);
        let clear_pass = objectives.iter().all(ObjectiveAt::met);
        let every_seed = judge == Judge::EverySeedSteady;
        let done = if n < start {
            (clear_miss || decided_miss && every_seed) || clear_pass && !every_seed
        } else {
            !undecided || decided_miss || n >= max
        };
        if done {
            let runs = n as u32;
            return Ok((point(workers, summaries, objectives, &pooled), runs));
        }
        let more = if n < start {
            batch.min(start - n)
        } else {
            start.min(max - n)
        };
        summaries.extend(run_seeds(base, candidate, workers, &seeds[n..n + more])?);
        n += more;
    }
}

/// Each objective of the runs' `[slo]`, judged over the seeds.
fn objectives_of(summaries: &[Summary], pooled: &Pooled, judge: Judge) -> Vec<ObjectiveAt> {
    let Some(first) = summaries.first().and_then(|s| s.slo.as_ref()) else {
        return Vec::new();
    };
    let steady = judge == Judge::EverySeedSteady && all_steady(summaries);
    first
        .checks
        .iter()
        .map(|c| {
            let windowed = steady.then(|| in_window(summaries, c.name)).flatten();
            let (pooled_value, values) = match windowed {
                Some(values) => (None, values),
                None => (
                    pooled.value(c.name),
                    summaries
                        .iter()
                        .map(|s| {
                            s.slo
                                .as_ref()
                                .and_then(|v| v.checks.iter().find(|k| k.name == c.name)?.actual)
                        })
                        .collect(),
                ),
            };
            let mut at = ObjectiveAt::of(c.name, c.target, pooled_value, values);
            at.steady_window = windowed_objective(c.name) && steady;
            if judge == Judge::EverySeedSteady && at.seeds_missed > 0 {
                at.decision = Decision::Missed;
            }
            at
        })
        .collect()
}

/// Whether every seed's run found a steady-state window.
fn all_steady(summaries: &[Summary]) -> bool {
    summaries.iter().all(|s| {
        s.steady_state
            .as_ref()
            .is_some_and(|st| st.verdict == crate::summary::steady::SteadyVerdict::Steady)
    })
}

/// Whether an objective is judged in the steady window when there is one.
fn windowed_objective(objective: Objective) -> bool {
    matches!(
        objective,
        Objective::P50 | Objective::P90 | Objective::P95 | Objective::P99 | Objective::SuccessRate
    )
}

/// Each seed's value of `objective` in its steady window (`None`: not a windowed objective).
fn in_window(summaries: &[Summary], objective: Objective) -> Option<Vec<Option<f64>>> {
    windowed_objective(objective).then(|| {
        summaries
            .iter()
            .map(|s| {
                let st = s.steady_state.as_ref()?;
                let l = st.latency_ms.as_ref();
                match objective {
                    Objective::P50 => l?.p50,
                    Objective::P90 => l?.p90,
                    Objective::P95 => l?.p95,
                    Objective::P99 => l?.p99,
                    _ => st.success_rate,
                }
            })
            .collect()
    })
}

/// The seeds' runs taken as one: their latency histograms merged (decoded once per set of
/// seeds, not once per figure) and their counts summed.
struct Pooled {
    /// End-to-end latency of every seed's answers (`None` when a histogram does not decode).
    latency: Option<LatencyHistogram>,
    succeeded: u64,
    scheduled: u64,
    status_429: u64,
    attempts: u64,
}

impl Pooled {
    fn of(summaries: &[Summary]) -> Pooled {
        let latency = summaries.iter().try_fold(LatencyHistogram::default(), |mut merged, s| {
            merged.add(&LatencyHistogram::decode(&s.histograms.latency).ok()?);
            Some(merged)
        });
        let sum = |f: &dyn Fn(&Summary) -> u64| summaries.iter().map(f).sum::<u64>();
        Pooled {
            latency,
            succeeded: sum(&|s| s.requests.succeeded),
            scheduled: sum(&|s| s.requests.scheduled),
            status_429: sum(&|s| s.attempts.status_429),
            attempts: sum(&|s| s.attempts.total),
        }
    }

    /// An objective's figure over all seeds at once: a percentile of the merged latency, a
    /// ratio of summed counts; `None` for costs (their per-seed mean is the figure).
    fn value(&self, objective: Objective) -> Option<f64> {
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let quantile = |q: f64| self.latency.as_ref()?.quantile_ms(q);
        match objective {
            Objective::P50 => quantile(0.50),
            Objective::P90 => quantile(0.90),
            Objective::P95 => quantile(0.95),
            Objective::P99 => quantile(0.99),
            Objective::SuccessRate => ratio(self.succeeded, self.scheduled),
            Objective::Max429Share => ratio(self.status_429, self.attempts),
            Objective::MaxCostUsd | Objective::MaxCostPerDayUsd => None,
        }
    }
}

/// What the seeds' window offered, answered and spent, at the mean over seeds.
pub(super) fn demand_of(summaries: &[Summary]) -> Demand {
    let n = summaries.len().max(1) as f64;
    let mean = |f: fn(&Summary) -> u64| (summaries.iter().map(|s| f(s) as f64).sum::<f64>() / n).round() as u64;
    let costs: Option<Vec<f64>> = summaries.iter().map(|s| s.cost_usd).collect();
    Demand {
        offered: mean(|s| s.requests.scheduled),
        online: mean(|s| {
            s.horizon.as_ref().map_or(s.requests.scheduled, |h| {
                (h.requests_per_day * s.run.duration_s / 86_400.0).round() as u64
            })
        }),
        answered: mean(|s| s.requests.succeeded),
        cost_usd: costs.map(|c| c.iter().sum::<f64>() / n),
    }
}

/// The day and month of the traffic at the mean over seeds of its requests and cost.
fn horizon_of(summaries: &[Summary]) -> Option<Horizon> {
    let first = summaries.first()?;
    Some(Horizon::of(&first.run, demand_of(summaries)))
}

/// The point of a measured count.
fn point(workers: u32, summaries: Vec<Summary>, objectives: Vec<ObjectiveAt>, pooled: &Pooled) -> Point {
    let passes_of = |s: &Summary| s.slo.as_ref().is_none_or(|v| v.pass);
    let stat = |f: Figure| Stat::of(summaries.iter().map(f.read).collect());
    // Judged in the steady windows, a seed passes when its own windowed values do; otherwise
    // when its run's own verdict does.
    let passed = if objectives.iter().any(|o| o.steady_window) {
        (0..summaries.len())
            .filter(|&i| objectives.iter().all(|o| !o.missed_by_seed(i)))
            .count() as u32
    } else {
        summaries.iter().filter(|s| passes_of(s)).count() as u32
    };
    let missed = objectives
        .iter()
        .filter(|o| !o.met())
        .map(|o| o.objective.to_string())
        .collect();
    Point {
        workers,
        seeds: summaries.len() as u32,
        passed_seeds: passed,
        passes: objectives.iter().all(ObjectiveAt::met),
        undecided: objectives.iter().any(|o| o.decision == Decision::Undecided)
            && objectives.iter().all(|o| o.decision != Decision::Missed),
        horizon: horizon_of(&summaries),
        missed,
        objectives,
        success_rate: Stat::around(
            pooled.value(Objective::SuccessRate),
            summaries.iter().map(figures::SUCCESS_RATE.read).collect(),
        ),
        p95_ms: Stat::around(
            pooled.value(Objective::P95),
            summaries.iter().map(figures::P95.read).collect(),
        ),
        p99_ms: Stat::around(
            pooled.value(Objective::P99),
            summaries.iter().map(figures::P99.read).collect(),
        ),
        goodput_rps: stat(figures::GOODPUT),
        share_429: Stat::around(
            pooled.value(Objective::Max429Share),
            summaries.iter().map(figures::SHARE_429.read).collect(),
        ),
        cost_per_hour_usd: stat(figures::COST_PER_HOUR),
        attempts_per_request: stat(figures::ATTEMPTS_PER_REQUEST),
        offered: Stat::of(summaries.iter().map(|s| Some(s.requests.scheduled as f64)).collect()),
        sample: summaries.into_iter().next(),
    }
}
