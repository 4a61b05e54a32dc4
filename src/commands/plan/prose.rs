//! What the plan says in words: what binds at the knee, why a count was recommended (or why
//! none was), and the objectives as the reader wrote them.

use super::{Point, HEADROOM};
use crate::scenario::slo::Bound;
use crate::summary::SloCheck;

/// What holds goodput and latency at the knee: the limit that binds its run, named from what
/// refused the attempts (as the run's advice names it), else the upstream's own latency.
pub(super) fn binding(p: &Point) -> Option<String> {
    let s = p.sample.as_ref()?;
    use crate::advice::binding::{binding, describe, Binding};
    Some(match binding(s) {
        // Workers do not bind where adding them stops helping.
        Some(b) if b != Binding::Workers => describe(s, b),
        _ => format!(
            "the upstream's own latency: {} of requests answered and p95 ({}) close to what more workers reach",
            p.success_rate.mean.map_or("—".into(), |v| format!("{:.1}%", v * 100.0)),
            crate::format::ms(p.p95_ms.mean)
        ),
    })
}

/// Why the search ended where it did: the minimum and the count below it that failed, or the
/// count closest to passing and what it missed.
pub(super) fn why(min: Option<u32>, recommended: Option<u32>, lo: u32, points: &[Point]) -> String {
    let at = |w: u32| points.iter().find(|p| p.workers == w);
    match min {
        Some(m) => {
            let seeds = at(m).map_or(0, |p| p.seeds);
            let below = m.checked_sub(1).and_then(|b| at(b).or_else(|| at(lo)));
            let failing = below.map_or(String::new(), |p| {
                format!("; at {} {}", crate::format::workers(p.workers), misses(p))
            });
            format!(
                "{} met every objective ({seeds} seeds, each objective's 95% interval clear of its \
                 target){failing}. Recommended: {} ({}% headroom, at least one more).",
                crate::format::workers(m),
                recommended.unwrap_or(m),
                ((HEADROOM - 1.0) * 100.0).round()
            )
        }
        None => {
            let largest = points.last().map_or(0, |p| p.workers);
            let closest = super::most_met(points);
            format!(
                "No worker count tried met the objectives: the largest tried was {largest} (the search stops when a \
                 larger step no longer helps){}.",
                closest.map_or(String::new(), |p| format!(
                    "; at {} {}",
                    crate::format::workers(p.workers),
                    misses(p)
                ))
            )
        }
    }
}

/// What a count missed, each objective with its figures: `missed p95: 9.48 s ± 4.10 s over
/// 5 seeds against ≤ 8.00 s (worst seed 14.2 s)`.
fn misses(p: &Point) -> String {
    let parts = miss_list(p);
    if parts.is_empty() {
        "every objective was met".into()
    } else {
        parts.join("; ")
    }
}

/// Each objective a count did not meet, in words with its figures.
pub(super) fn miss_list(p: &Point) -> Vec<String> {
    p.objectives
        .iter()
        .filter(|o| !o.met())
        .map(|o| miss(o, p.seeds))
        .collect()
}

/// One objective not met, in words with its figures.
pub(super) fn miss(o: &super::ObjectiveAt, seeds: u32) -> String {
    let show = |v: Option<f64>| match o.objective.bound() {
        Bound::Share => v.map_or("—".into(), |v| format!("{:.1}%", v * 100.0)),
        Bound::Usd => crate::format::usd(v),
        Bound::Ms => crate::format::ms(v),
    };
    // The interval in the mean's own unit, and "± 0" when every seed agreed.
    let interval = match (o.stat.ci95, o.stat.mean) {
        (Some(ci), Some(m)) if o.objective.bound() == Bound::Ms => crate::format::ms_pm(m, ci),
        (Some(ci), _) if ci.abs() < 1e-9 => format!("{} ± 0", show(o.stat.mean)),
        (Some(ci), _) => format!("{} ± {}", show(o.stat.mean), show(Some(ci)).trim_start_matches('$')),
        (None, _) => show(o.stat.mean),
    };
    let verdict = match o.decision {
        super::Decision::Undecided => "undecided on",
        _ => "missed",
    };
    format!(
        "{verdict} {}: {interval} over {seeds} seeds against {} {} ({} of {seeds} seeds missed it; worst {})",
        o.objective,
        o.objective.sign(),
        show(Some(o.target)),
        o.seeds_missed,
        show(o.worst)
    )
}

/// An objective as a line: `p95 ≤ 3.50 s`, `success_rate ≥ 99.0%`.
pub(super) fn objective(c: &SloCheck) -> String {
    let target = match c.name.bound() {
        Bound::Share => format!("{:.1}%", c.target * 100.0),
        Bound::Usd => format!("${:.2}", c.target),
        Bound::Ms => crate::format::ms(Some(c.target)),
    };
    format!("{} {} {target}", c.name, c.name.sign())
}
