//! How a finalist degrades: its recommended plan run again under twice the traffic, a minute of
//! 503s and a slower upstream, on the search's first seeds. A plan that still meets the
//! objectives, or misses them by less, degrades more gracefully.

use std::time::Duration;

use serde::Serialize;

use crate::commands::plan::point::{measure_judged, Judge, SeedBudget};
use crate::commands::plan::Point;
use crate::prepare::{Prepared, RunOptions};
use crate::run::RunError;
use crate::scenario::{Candidate, LoadedScenario};
use crate::stats::Stat;

/// Share of requests a fault window answers 503.
const BURST_503: f64 = 0.5;
/// Length of the fault window.
const BURST_LEN: Duration = Duration::from_secs(60);
/// How much slower the slow region's upstream is.
const SLOWDOWN: f64 = 1.5;
/// Traffic growth of the load what-if.
const GROWTH: f64 = 2.0;

/// One what-if.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stress {
    /// Twice today's traffic.
    Traffic2x,
    /// A minute of 503s on half the requests, in the middle of the window.
    Burst503,
    /// Every answer 1.5× slower, throughout (a slower region).
    SlowRegion,
}

impl Stress {
    /// All three.
    pub const ALL: [Stress; 3] = [Stress::Traffic2x, Stress::Burst503, Stress::SlowRegion];

    /// In words.
    pub fn label(self) -> &'static str {
        match self {
            Stress::Traffic2x => "×2 traffic",
            Stress::Burst503 => "60 s of 503s on half the requests",
            Stress::SlowRegion => "upstream 1.5× slower",
        }
    }

    /// The scenario under this stress (`None`: it does not apply, e.g. a closed loop's rate
    /// cannot be doubled).
    fn apply(self, loaded: &LoadedScenario) -> Option<LoadedScenario> {
        match self {
            Stress::Traffic2x => {
                loaded.traffic.request_rate()?;
                let mut grown = loaded.clone();
                grown.traffic = loaded.traffic.grown(GROWTH);
                Some(grown)
            }
            Stress::Burst503 => {
                let window = loaded.scenario.duration;
                let start = (window / 2).saturating_sub(BURST_LEN / 2);
                let end = (start + BURST_LEN).min(window);
                Some(loaded.with_profile(|p| {
                    p.fault_windows.push(stampede_mock::profile::FaultWindow {
                        start,
                        end,
                        errors: stampede_mock::profile::FaultRates {
                            rate_503: BURST_503,
                            ..Default::default()
                        },
                        models: Vec::new(),
                    })
                }))
            }
            Stress::SlowRegion => Some(loaded.with_profile(|p| p.latency = p.latency.scaled(SLOWDOWN))),
        }
    }
}

/// A finalist under one stress.
#[derive(Debug, Clone, Serialize)]
pub struct StressResult {
    /// Which.
    pub stress: Stress,
    /// In words.
    pub label: String,
    /// Whether every objective was still met (95% interval on the passing side).
    pub holds: bool,
    /// Objectives missed (or undecided).
    pub missed: Vec<String>,
    /// Not held, but not missed either: some objective's interval over the seeds still
    /// straddles its target.
    pub undecided: bool,
    /// Share of requests answered.
    pub success_rate: Stat,
    /// End-to-end p95 (ms).
    pub p95_ms: Stat,
    /// Cost per hour (USD).
    pub cost_per_hour_usd: Stat,
}

/// A finalist's robustness.
#[derive(Debug, Clone, Serialize)]
pub struct Robustness {
    /// The plan.
    pub candidate: String,
    /// Its workers.
    pub workers: u32,
    /// Each stress that applied.
    pub results: Vec<StressResult>,
}

impl Robustness {
    /// Stresses it held under.
    pub fn held(&self) -> usize {
        self.results.iter().filter(|r| r.holds).count()
    }

    /// Its success rate at twice the traffic (the "most robust to ×2 traffic" figure).
    pub fn success_at_2x(&self) -> Option<f64> {
        self.results
            .iter()
            .find(|r| r.stress == Stress::Traffic2x)
            .and_then(|r| r.success_rate.mean)
    }

    /// The lowest success rate under any stress (larger is more graceful).
    pub fn worst_success(&self) -> f64 {
        self.results
            .iter()
            .filter_map(|r| r.success_rate.mean)
            .fold(1.0, f64::min)
    }
}

/// Runs `candidate` at `workers` under each stress with `seeds` (all of them; no racing: the
/// figures are compared across finalists). Returns it and the runs made.
pub fn check(
    loaded: &LoadedScenario,
    run: &RunOptions,
    candidate: &Candidate,
    workers: u32,
    seeds: &[u64],
) -> Result<(Robustness, u32), RunError> {
    let mut results = Vec::new();
    let mut runs = 0;
    for stress in Stress::ALL {
        let Some(stressed) = stress.apply(loaded) else { continue };
        let base = Prepared::new(&stressed, run)?;
        let n = seeds.len();
        let (p, r) = measure_judged(
            &base,
            candidate,
            workers,
            seeds,
            SeedBudget { start: n, max: n },
            Judge::WholeRun,
        )?;
        runs += r;
        results.push(result(stress, &p));
    }
    Ok((
        Robustness {
            candidate: candidate.name.clone(),
            workers,
            results,
        },
        runs,
    ))
}

fn result(stress: Stress, p: &Point) -> StressResult {
    StressResult {
        stress,
        label: stress.label().to_string(),
        holds: p.passes,
        missed: p.missed.clone(),
        undecided: p.undecided,
        success_rate: p.success_rate.clone(),
        p95_ms: p.p95_ms.clone(),
        cost_per_hour_usd: p.cost_per_hour_usd.clone(),
    }
}
