//! The search for one candidate's fewest passing workers: bracket from the guess by galloping
//! steps, bisect to the smallest passing count, confirm every count up to the recommendation
//! (runs near the threshold are noisy), then a few more counts for the curves and the knee.

use std::collections::BTreeMap;

use super::point::Judge;
use super::{evaluate, prose, CandidatePlan, Costs, PlanOptions, Point, HEADROOM, KNEE_SHARE};
use crate::prepare::Prepared;
use crate::run::RunError;
use crate::scenario::Candidate;

/// What a search is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Search {
    /// Today's traffic: brackets from an analytic guess, confirms the minimum, and measures
    /// points for the curves.
    Full,
    /// A growth what-if: starts from a better guess (the theory, or the minimum already found,
    /// scaled), so it steps more finely and needs only the minimum.
    GrowthCheck,
    /// The full search's screening of one combination: two seeds, passing when both met every
    /// objective, only the minimum.
    Screen,
    /// The full search's sizing of a finalist: as `Full`, but every seed must meet every
    /// objective, judged on the steady-state window where every seed found one; without the
    /// extra points for the curves.
    Finalist,
}

impl Search {
    /// The first galloping step, as a share of the guess; later steps double.
    fn first_step(self) -> f64 {
        match self {
            Search::Full | Search::Screen | Search::Finalist => 0.1,
            Search::GrowthCheck => 0.03,
        }
    }

    /// Whether points for the curves are measured.
    fn curves(self) -> bool {
        self == Search::Full
    }

    /// Whether every count from the minimum to the recommendation is confirmed.
    fn confirms(self) -> bool {
        matches!(self, Search::Full | Search::Finalist)
    }

    /// How a count's objectives are judged.
    fn judge(self) -> Judge {
        match self {
            Search::Full | Search::GrowthCheck => Judge::WholeRun,
            Search::Screen => Judge::Screen,
            Search::Finalist => Judge::EverySeedSteady,
        }
    }
}

/// The counts measured so far for one candidate, and the runs they took.
struct Sizer<'a> {
    base: &'a Prepared<'a>,
    candidate: &'a Candidate,
    seeds: &'a [u64],
    options: &'a PlanOptions,
    min: u32,
    max: u32,
    runs: &'a mut u32,
    points: BTreeMap<u32, Point>,
    judge: Judge,
}

impl Sizer<'_> {
    /// Whether `w` workers meet the objectives with every seed (measured once per count).
    fn pass(&mut self, w: u32) -> Result<bool, RunError> {
        if let std::collections::btree_map::Entry::Vacant(e) = self.points.entry(w) {
            e.insert(evaluate(
                self.base,
                self.candidate,
                w,
                self.seeds,
                self.options,
                self.runs,
                self.judge,
            )?);
        }
        Ok(self.points[&w].passes)
    }

    /// The largest count known to fail (0: none) and the smallest known to pass, galloping from
    /// the guess in steps of 10%, 20%, 40% … of it (at least one worker), so a good guess costs
    /// a few runs and a poor one still brackets quickly.
    fn bracket(&mut self, guess: u32, search: Search) -> Result<(u32, Option<u32>), RunError> {
        // Below the range's smallest count nothing is measured: it counts as failing.
        let (mut lo, mut hi) = (self.min - 1, None);
        let mut w = guess.clamp(self.min, self.max);
        let step =
            |k: u32| ((f64::from(guess) * search.first_step() * f64::from(1u32 << k.min(20))).ceil() as u32).max(1);
        if self.pass(w)? {
            hi = Some(w);
            let mut k = 0;
            while w > self.min {
                let down = w.saturating_sub(step(k)).max(self.min);
                k += 1;
                if self.pass(down)? {
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
            let mut tried = vec![w];
            while w < self.max {
                w = w.saturating_add(step(k)).min(self.max);
                k += 1;
                tried.push(w);
                if self.pass(w)? {
                    hi = Some(w);
                    break;
                }
                lo = w;
                // Two bigger steps and no better than before them: the quota or the upstream
                // binds, and more workers will not meet the objectives either. (One step is
                // not enough to tell: figures over seeds move by a few percent on their own.)
                let two_back = tried.len().checked_sub(3).map(|i| tried[i]);
                if let Some(b) = two_back.filter(|_| k >= 3) {
                    if !improves(&self.points[&b], &self.points[&w]) {
                        break;
                    }
                }
            }
        }
        Ok((lo, hi))
    }

    /// Bisects between a failing `lo` and a passing `hi` to the smallest passing count; returns
    /// it with the largest failing count found.
    fn bisect(&mut self, mut lo: u32, hi: Option<u32>) -> Result<(u32, Option<u32>), RunError> {
        let Some(mut h) = hi else { return Ok((lo, None)) };
        while h - lo > 1 {
            let mid = lo + (h - lo) / 2;
            if self.pass(mid)? {
                h = mid;
            } else {
                lo = mid;
            }
        }
        Ok((lo, Some(h)))
    }

    /// Near the threshold, runs are noisy and a count can pass while the one above it fails:
    /// every count from the minimum to the recommendation must pass, or the minimum moves up
    /// past the failure.
    fn confirm(&mut self, mut min: Option<u32>) -> Result<Option<u32>, RunError> {
        while let Some(m) = min {
            let mut failed = None;
            for w in m..=self.headroom(m) {
                if !self.pass(w)? {
                    failed = Some(w);
                }
            }
            min = match failed {
                None => break,
                Some(f) if f < self.max => Some(f + 1),
                Some(_) => None,
            };
        }
        Ok(min)
    }

    /// The recommendation for a minimum of `m`: 10% more, at least one more, at most the most.
    fn headroom(&self, m: u32) -> u32 {
        ((f64::from(m) * HEADROOM).ceil() as u32).max(m + 1).min(self.max)
    }
}

/// Sizes one candidate: bracket, bisect, confirm, then a few points for the curves.
pub(super) fn size(
    base: &Prepared<'_>,
    candidate: &Candidate,
    guess: u32,
    options: &PlanOptions,
    seeds: &[u64],
    runs: &mut u32,
    search: Search,
) -> Result<CandidatePlan, RunError> {
    let mut sizer = Sizer {
        base,
        candidate,
        seeds,
        options,
        min: options.min_workers.clamp(1, options.max_workers.max(1)),
        max: options.max_workers.max(1),
        runs,
        points: BTreeMap::new(),
        judge: search.judge(),
    };
    let (lo, hi) = sizer.bracket(guess, search)?;
    let (lo, min) = sizer.bisect(lo, hi)?;
    let min = if search.confirms() { sizer.confirm(min)? } else { min };
    let recommended = min.map(|m| sizer.headroom(m));
    // Points for the curves: below, at and above the answer, up to where goodput stops growing.
    // Without curves (a growth what-if) only the minimum is needed: its cost per hour stands
    // for the recommendation's (the API's cost follows the requests, not the workers).
    if search.curves() {
        let anchor = min.unwrap_or(lo);
        let extra = [anchor / 2, anchor * 3 / 2, anchor * 2, anchor * 4];
        let (min, max) = (sizer.min, sizer.max);
        for w in extra.into_iter().chain(recommended).filter(|w| (min..=max).contains(w)) {
            sizer.pass(w)?;
        }
    }
    let points: Vec<Point> = sizer.points.into_values().collect();
    Ok(candidate_plan(candidate, points, min, recommended, lo))
}

/// The candidate's plan from its measured points.
pub(super) fn candidate_plan(
    candidate: &Candidate,
    points: Vec<Point>,
    min: Option<u32>,
    recommended: Option<u32>,
    lo: u32,
) -> CandidatePlan {
    let knee = knee(&points);
    let binding = knee
        .and_then(|k| points.iter().find(|p| p.workers == k))
        .and_then(prose::binding);
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
    // The other settings come from the recommended count's run; without one, from the count
    // that met the most objectives (the closest), so a plan that fails still says what to set.
    let advice_at = recommended.or_else(|| super::most_met(&points).map(|p| p.workers));
    let advice = advice_at
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
    let long_limits = super::verdict::long_limits(&points, recommended);
    let mut why = prose::why(min, recommended, lo, &points);
    let missed: Vec<&str> = long_limits
        .iter()
        .filter(|l| !l.pass)
        .map(|l| l.limit.label())
        .collect();
    if !missed.is_empty() {
        why.push_str(&format!(
            " It does not pass: its traffic does not fit the {} (see the verdict).",
            missed.join(" and the ")
        ));
    }
    CandidatePlan {
        passes: recommended.is_some() && long_limits.iter().all(|l| l.pass),
        long_limits,
        name: candidate.name.clone(),
        min_workers: min,
        recommended_workers: recommended,
        knee_workers: knee,
        binding,
        cost_usd,
        points,
        advice,
        advice_workers: advice_at,
        why,
        deployment: None,
    }
}

/// True when `b` is meaningfully better than `a`: goodput up by more than 3%, p95 down by more
/// than 5%, or success up by more than half a point.
pub(super) fn improves(a: &Point, b: &Point) -> bool {
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
