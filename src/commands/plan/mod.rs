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

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::commands::hosting::{Hosting, ProbeOptions};
use crate::engine::Progress;
use crate::queueing::MMc;
use crate::run::{execute, RunError};
use crate::run_spec::{RunOptions, RunSpec};
use crate::scenario::Candidate;
use crate::scenario::LoadedScenario;
use crate::stats::Stat;
use crate::summary::advice::Recommendation;
use crate::summary::Summary;

/// The schema id of plan.json.
pub const SCHEMA: &str = "stampede.plan/v1";

/// Headroom on the smallest passing worker count.
const HEADROOM: f64 = 1.1;
/// Goodput within this share of the best seen counts as "no longer growing" (the knee).
const KNEE_SHARE: f64 = 0.97;

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Target, duration and seed overrides.
    pub run: RunOptions,
    /// Seeds per point.
    pub seeds: u32,
    /// Largest worker count tried.
    pub max_workers: u32,
    /// The calling plans to size.
    pub candidates: Vec<Candidate>,
    /// Traffic growth factors to check the best plan against (1.5 = 50% more traffic).
    pub growth: Vec<f64>,
    /// Measure the client's memory and CPU at the best plan (`None`: skip).
    pub probe: Option<ProbeOptions>,
}

/// One worker count, run with every seed.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Workers.
    pub workers: u32,
    /// Seeds whose run met every objective.
    pub passed_seeds: u32,
    /// True when every seed met every objective.
    pub passes: bool,
    /// Objectives missed by at least one seed.
    pub missed: Vec<String>,
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
    /// The first seed's run (advice for the other settings comes from it).
    #[serde(skip)]
    pub sample: Option<Summary>,
}

/// The plan for one candidate calling plan.
#[derive(Debug, Clone, Serialize)]
pub struct CandidatePlan {
    /// Candidate name.
    pub name: String,
    /// The fewest workers that met the SLO with every seed (`None`: not up to the maximum).
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
    /// The other settings, read from the recommended count's run (as `stampede run` advises).
    pub advice: Vec<Recommendation>,
    /// Why, in a sentence or two with the figures.
    pub why: String,
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
    /// Expected cost per hour at that growth and recommendation (USD).
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
    /// Seeds run at every point.
    pub seeds: Vec<u64>,
    /// Traffic window (s).
    pub duration_s: f64,
    /// The first guess.
    pub guess: Guess,
    /// One plan per candidate.
    pub candidates: Vec<CandidatePlan>,
    /// The cheapest candidate that meets the SLO (fewest workers on a tie).
    pub best: Option<String>,
    /// The best plan against grown traffic, by factor.
    pub growth: Vec<GrowthCheck>,
    /// The smallest growth factor checked at which the best plan no longer meets the SLO.
    pub breaks_at: Option<f64>,
    /// What to buy to host the best plan, measured from the live client.
    pub hosting: Option<Hosting>,
    /// Why the hosting probe could not measure, when it failed (the plan stands without it).
    pub hosting_error: Option<String>,
    /// Simulation runs made.
    pub runs: u32,
    /// Wall time of the whole search (s).
    pub wall_time_s: f64,
}

/// Runs `strategy` with `workers` for every seed, in parallel.
fn evaluate(base: &RunSpec<'_>, candidate: &Candidate, workers: u32, seeds: &[u64]) -> Result<Point, RunError> {
    // In seed order, as the first error met is the one returned.
    let mut ordered = seeds.to_vec();
    ordered.sort_unstable();
    let threads = super::pool::threads_for(base.target, ordered.len());
    let runs = super::pool::run_all(&ordered, threads, |&seed| {
        let mut spec = base.clone();
        spec.seed = seed;
        spec.strategy = candidate.strategy.clone();
        spec.strategy.workers = workers;
        execute(&spec, Arc::new(Progress::default()), None)
    });
    let summaries = runs.into_iter().collect::<Result<Vec<Summary>, RunError>>()?;
    let passes_of = |s: &Summary| s.slo.as_ref().is_none_or(|v| v.pass);
    let mut missed: Vec<String> = summaries
        .iter()
        .flat_map(|s| s.slo.iter().flat_map(|v| v.checks.iter()))
        .filter(|c| !c.pass)
        .map(|c| c.name.clone())
        .collect();
    missed.sort();
    missed.dedup();
    let stat = |f: &dyn Fn(&Summary) -> Option<f64>| Stat::of(summaries.iter().map(f).collect());
    let passed = summaries.iter().filter(|s| passes_of(s)).count() as u32;
    Ok(Point {
        workers,
        passed_seeds: passed,
        passes: passed as usize == summaries.len(),
        missed,
        success_rate: stat(&|s| s.requests.success_rate),
        p95_ms: stat(&|s| s.latency_ms.p95),
        p99_ms: stat(&|s| s.latency_ms.p99),
        goodput_rps: stat(&|s| Some(s.throughput.goodput_rps)),
        share_429: stat(&|s| s.share_429()),
        cost_per_hour_usd: stat(&|s| s.cost_usd.map(|c| c / s.run.duration_s.max(1e-9) * 3600.0)),
        sample: summaries.into_iter().next(),
    })
}

/// The first guess, from a pilot run at the scenario's own settings.
fn first_guess(loaded: &LoadedScenario, pilot: &Summary, max_workers: u32) -> Guess {
    let rate = loaded.traffic.mean_rate().unwrap_or(pilot.throughput.offered_rps);
    let service_s = pilot.service_ms.mean.unwrap_or(1000.0) / 1000.0;
    let sent = (pilot.requests.scheduled - pilot.requests.dropped).max(1);
    let attempts = (pilot.attempts.total as f64 / sent as f64).max(1.0);
    let load = rate * service_s * attempts;
    let slo = loaded.scenario.slo.get_ref();
    let latency_target = [(0.95, slo.p95), (0.99, slo.p99), (0.90, slo.p90), (0.50, slo.p50)]
        .into_iter()
        .find_map(|(q, t)| t.map(|t| (q, t.as_secs_f64())));
    let theory = latency_target
        .and_then(|(q, t)| MMc::servers_for_response(rate, service_s * attempts, q, t, max_workers).map(|c| (q, t, c)));
    let (workers, method) = match theory {
        Some((q, t, c)) => (
            c,
            format!(
                "M/M/c: the fewest servers whose p{} response time is at most {t:.2} s at {rate:.2}/s and {:.3} s each",
                q * 100.0,
                service_s * attempts
            ),
        ),
        None => (
            (load * 1.25).ceil().max(1.0) as u32,
            format!("Little's law: {load:.2} erlangs plus 25%"),
        ),
    };
    Guess {
        rate_rps: rate,
        service_s,
        attempts_per_request: attempts,
        load,
        workers: workers.clamp(1, max_workers),
        method,
    }
}

/// True when `b` is meaningfully better than `a`: goodput up by more than 3%, p95 down by more
/// than 5%, or success up by more than half a point.
fn improves(a: &Point, b: &Point) -> bool {
    let goodput = matches!((a.goodput_rps.mean, b.goodput_rps.mean), (Some(x), Some(y)) if y > x * (2.0 - KNEE_SHARE));
    let p95 = matches!((a.p95_ms.mean, b.p95_ms.mean), (Some(x), Some(y)) if y < x * 0.95);
    let success = matches!((a.success_rate.mean, b.success_rate.mean), (Some(x), Some(y)) if y > x + 0.005);
    goodput || p95 || success
}

/// The smallest count past which no larger one tried raises goodput by more than 3% or cuts
/// p95 by more than 5%; `None` when the largest count tried still improves on every smaller one.
fn knee(points: &[Point]) -> Option<u32> {
    let i = (0..points.len()).find(|&i| !points[i + 1..].iter().any(|b| improves(&points[i], b)))?;
    // At the last count there is nothing larger to compare with: no knee shown.
    (i + 1 < points.len()).then(|| points[i].workers)
}

/// What holds goodput and latency at the knee.
fn binding(p: &Point) -> Option<String> {
    let s = p.sample.as_ref()?;
    let goodput = p.goodput_rps.mean?;
    let rpm = s
        .run
        .mock_profile
        .as_ref()
        .and_then(|m| m.get("models")?.get(&s.run.model)?.get("rpm")?.as_u64())
        .unwrap_or(0);
    let share_429 = p.share_429.mean.unwrap_or(0.0);
    Some(
        if rpm > 0 && (share_429 >= 0.01 || goodput * 60.0 >= 0.9 * rpm as f64) {
            format!(
                "the quota: {rpm} RPM ({:.2}/s); {:.1}% of attempts refused with 429 and {goodput:.2} answered per \
                 second over the traffic window there",
                rpm as f64 / 60.0,
                share_429 * 100.0,
            )
        } else if s.attempts.status_5xx > 0 {
            format!("the upstream: {} overload answers (5xx) there", s.attempts.status_5xx)
        } else {
            format!(
                "the upstream's own latency: {} of requests answered and p95 ({}) close to what more workers reach",
                p.success_rate.mean.map_or("—".into(), |v| format!("{:.1}%", v * 100.0)),
                crate::format::ms(p.p95_ms.mean)
            )
        },
    )
}

/// Sizes one candidate: bracket, bisect, then a few points for the curves.
fn size(
    base: &RunSpec<'_>,
    candidate: &Candidate,
    guess: u32,
    options: &PlanOptions,
    seeds: &[u64],
    runs: &mut u32,
    curves: bool,
) -> Result<CandidatePlan, RunError> {
    let max = options.max_workers.max(1);
    let mut points: BTreeMap<u32, Point> = BTreeMap::new();
    let mut pass = |w: u32, points: &mut BTreeMap<u32, Point>| -> Result<bool, RunError> {
        if let std::collections::btree_map::Entry::Vacant(e) = points.entry(w) {
            *runs += seeds.len() as u32;
            e.insert(evaluate(base, candidate, w, seeds)?);
        }
        Ok(points[&w].passes)
    };
    // lo: the largest count known to fail (0: none); hi: the smallest known to pass.
    let (mut lo, mut hi) = (0u32, None);
    // Galloping from the guess: steps of 10%, 20%, 40% … of it (at least one worker), so a
    // good guess costs a few runs and a poor one still brackets quickly.
    let mut w = guess.clamp(1, max);
    // A growth what-if starts from a better guess (the theory, or the minimum found for today's
    // traffic, scaled), so it starts with smaller steps.
    let first_step = if curves { 0.1 } else { 0.03 };
    let step = |k: u32| ((f64::from(guess) * first_step * f64::from(1u32 << k.min(20))).ceil() as u32).max(1);
    if pass(w, &mut points)? {
        hi = Some(w);
        let mut k = 0;
        while w > 1 {
            let down = w.saturating_sub(step(k)).max(1);
            k += 1;
            if pass(down, &mut points)? {
                hi = Some(down);
                w = down;
            } else {
                lo = down;
                break;
            }
        }
    } else {
        lo = w;
        let mut k = 0;
        while w < max {
            let before = w;
            w = w.saturating_add(step(k)).min(max);
            k += 1;
            if pass(w, &mut points)? {
                hi = Some(w);
                break;
            }
            lo = w;
            // A bigger step and no better: the quota or the upstream binds, and more workers
            // will not meet the objectives either.
            if k >= 3 && !improves(&points[&before], &points[&w]) {
                break;
            }
        }
    }
    let min = match hi {
        Some(mut h) => {
            while h - lo > 1 {
                let mid = lo + (h - lo) / 2;
                if pass(mid, &mut points)? {
                    h = mid;
                } else {
                    lo = mid;
                }
            }
            Some(h)
        }
        None => None,
    };
    let headroom = |m: u32| ((f64::from(m) * HEADROOM).ceil() as u32).max(m + 1).min(max);
    // Near the threshold, runs are noisy and a count can pass while the one above it fails:
    // every count from the minimum to the recommendation must pass, or the minimum moves up
    // past the failure.
    let mut min = min;
    if curves {
        while let Some(m) = min {
            let mut failed = None;
            for w in m..=headroom(m) {
                if !pass(w, &mut points)? {
                    failed = Some(w);
                }
            }
            min = match failed {
                None => break,
                Some(f) if f < max => Some(f + 1),
                Some(_) => None,
            };
        }
    }
    let recommended = min.map(headroom);
    // Points for the curves: below, at and above the answer, up to where goodput stops growing.
    let anchor = min.unwrap_or(lo);
    // Without curves (a growth what-if) only the minimum is needed: its cost per hour stands
    // for the recommendation's (the API's cost follows the requests, not the workers).
    let extra = if curves {
        vec![anchor / 2, anchor * 3 / 2, anchor * 2, anchor * 4]
    } else {
        Vec::new()
    };
    for w in extra
        .into_iter()
        .chain(recommended.filter(|_| curves))
        .filter(|w| (1..=max).contains(w))
    {
        pass(w, &mut points)?;
    }
    let points: Vec<Point> = points.into_values().collect();
    let knee = knee(&points);
    let binding = knee
        .and_then(|k| points.iter().find(|p| p.workers == k))
        .and_then(binding);
    let at = |w: u32| points.iter().find(|p| p.workers == w);
    let cost_usd = recommended
        .and_then(at)
        .or_else(|| min.and_then(at))
        .and_then(|p| p.cost_per_hour_usd.mean)
        .map(|hour| Costs {
            hour,
            day: hour * 24.0,
            month: hour * 24.0 * 30.0,
        });
    let advice = recommended
        .and_then(at)
        .and_then(|p| p.sample.as_ref())
        .map(|s| {
            s.advice
                .recommendations
                .iter()
                .filter(|r| r.setting != "workers")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let why = match min {
        Some(m) => {
            let below = m.checked_sub(1).and_then(|b| at(b).or_else(|| at(lo)));
            let failing = below.map_or(String::new(), |p| {
                format!(
                    "; {} workers missed {} with {} of {} seeds passing",
                    p.workers,
                    p.missed.join(", "),
                    p.passed_seeds,
                    seeds.len()
                )
            });
            format!(
                "{m} workers met every objective with all {} seeds{failing}. Recommended: {} ({}% headroom, at least one more).",
                seeds.len(),
                recommended.unwrap_or(m),
                ((HEADROOM - 1.0) * 100.0).round()
            )
        }
        None => {
            let last = points.last();
            format!(
                "No worker count tried (up to {}; the search stops when a larger step no longer helps) met the objectives{}.",
                last.map_or(0, |p| p.workers),
                last.map_or(String::new(), |p| format!(
                    "; at {} workers: missed {}, success {}",
                    p.workers,
                    p.missed.join(", "),
                    p.success_rate.mean.map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
                ))
            )
        }
    };
    Ok(CandidatePlan {
        name: candidate.name.clone(),
        min_workers: min,
        recommended_workers: recommended,
        knee_workers: knee,
        binding,
        cost_usd,
        points,
        advice,
        why,
    })
}

/// Plans every candidate.
pub fn plan(loaded: &LoadedScenario, options: &PlanOptions) -> Result<CapacityPlan, RunError> {
    let slo = loaded.scenario.slo.get_ref();
    if slo.is_empty() {
        return Err(RunError::Input(
            "plan needs objectives to meet: add an [slo] section (p95, success_rate, max_429_share, ...)".into(),
        ));
    }
    let wall = std::time::Instant::now();
    let base = RunSpec::new(loaded, &options.run);
    let seeds: Vec<u64> = (0..u64::from(options.seeds.max(1))).map(|i| base.seed + i).collect();
    let pilot = execute(&base, Arc::new(Progress::default()), None)?;
    let mut runs = 1;
    let guess = first_guess(loaded, &pilot, options.max_workers.max(1));
    let mut candidates = Vec::new();
    for c in &options.candidates {
        candidates.push(size(&base, c, guess.workers, options, &seeds, &mut runs, true)?);
    }
    let best = candidates
        .iter()
        .filter(|c| c.recommended_workers.is_some())
        .min_by(|a, b| {
            let cost = |c: &CandidatePlan| c.cost_usd.map_or(f64::MAX, |k| k.hour);
            cost(a)
                .total_cmp(&cost(b))
                .then(a.recommended_workers.cmp(&b.recommended_workers))
        })
        .map(|c| c.name.clone());
    let mut growth = Vec::new();
    let best_plan = best.as_ref().and_then(|b| {
        let c = candidates.iter().find(|c| &c.name == b)?;
        Some((
            options.candidates.iter().find(|o| &o.name == b)?,
            c.recommended_workers?,
        ))
    });
    if let Some((candidate, recommended)) = best_plan {
        if !options.growth.is_empty() && loaded.traffic.mean_rate().is_none() {
            return Err(RunError::Input(
                "growth what-ifs need open-loop traffic (a closed loop's rate follows its latency)".into(),
            ));
        }
        for &factor in &options.growth {
            let mut grown = loaded.clone();
            grown.traffic = loaded.traffic.grown(factor);
            let base = RunSpec::new(&grown, &options.run);
            runs += seeds.len() as u32;
            let at_plan = evaluate(&base, candidate, recommended, &seeds)?;
            let next = if at_plan.passes {
                None
            } else {
                // Theory at the grown rate, or the minimum scaled when there is no latency target.
                let theory = first_guess(&grown, &pilot, options.max_workers.max(1));
                let guess = match candidates
                    .iter()
                    .find(|c| c.name == candidate.name)
                    .and_then(|c| c.min_workers)
                {
                    Some(m) if !theory.method.starts_with("M/M/c") => (f64::from(m) * factor).ceil() as u32,
                    _ => theory.workers,
                };
                Some(size(&base, candidate, guess, options, &seeds, &mut runs, false)?)
            };
            let cost = match &next {
                None => at_plan.cost_per_hour_usd.mean,
                Some(n) => n.cost_usd.map(|c| c.hour),
            };
            growth.push(GrowthCheck {
                factor,
                rate_rps: grown.traffic.mean_rate().unwrap_or(0.0),
                holds: at_plan.passes,
                missed: at_plan.missed.clone(),
                min_workers: next.as_ref().and_then(|n| n.min_workers),
                recommended_workers: next.as_ref().map_or(Some(recommended), |n| n.recommended_workers),
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
    }
    let breaks_at = growth.iter().filter(|g| !g.holds).map(|g| g.factor).reduce(f64::min);
    let hosting = match (&options.probe, best_plan) {
        (Some(probe), Some((candidate, recommended))) => {
            let sample = candidates
                .iter()
                .find(|c| c.name == candidate.name)
                .and_then(|c| c.points.iter().find(|p| p.workers == recommended))
                .and_then(|p| p.sample.as_ref());
            let busiest = sample.map_or(
                crate::commands::hosting::Busiest {
                    arrival_rps: 0.0,
                    attempt_rps: 0.0,
                },
                |s| {
                    let arrival_rps = s.throughput.peak_offered_10s as f64 / 10.0;
                    crate::commands::hosting::Busiest {
                        arrival_rps,
                        attempt_rps: arrival_rps * s.attempts.per_request.unwrap_or(1.0).max(1.0),
                    }
                },
            );
            Some(crate::commands::hosting::probe(
                loaded,
                candidate,
                recommended,
                busiest,
                probe,
            ))
        }
        _ => None,
    };
    let (hosting, hosting_error) = match hosting {
        Some(Ok(h)) => (Some(h), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let slo_lines = pilot
        .slo
        .iter()
        .flat_map(|v| v.checks.iter())
        .map(|c| {
            let (sign, target) = match c.name.as_str() {
                "success_rate" => ("≥", format!("{:.1}%", c.target * 100.0)),
                "max_429_share" => ("≤", format!("{:.1}%", c.target * 100.0)),
                "max_cost_usd" | "max_cost_per_day_usd" => ("≤", format!("${:.2}", c.target)),
                _ => ("≤", crate::format::ms(Some(c.target))),
            };
            format!("{} {sign} {target}", c.name)
        })
        .collect();
    Ok(CapacityPlan {
        schema: SCHEMA.into(),
        scenario: loaded.scenario.name().to_string(),
        target: base.target.as_str().to_string(),
        slo: slo_lines,
        seeds,
        duration_s: base.duration.as_secs_f64(),
        guess,
        candidates,
        best,
        growth,
        breaks_at,
        hosting,
        hosting_error,
        runs,
        wall_time_s: wall.elapsed().as_secs_f64(),
    })
}
