//! The full search in plan.md and plan.html: what was searched, the screening, how the
//! finalists degrade, the confirmation on fresh seeds, the Pareto front and its alternatives.

use crate::commands::plan::full::{front::FrontPoint, FullSearch};
use crate::commands::plan::CapacityPlan;
use crate::format::{secs, usd_hour as usd};
use crate::stats::Stat;

use super::plots::{Chart, Rule};

/// The front table's columns.
pub const FRONT_COLUMNS: [&str; 8] = [
    "plan",
    "workers",
    "verdict",
    "cost / hour",
    "p95",
    "success",
    "429 share",
    "seeds",
];

/// The robustness table's columns.
pub const STRESS_COLUMNS: [&str; 5] = ["plan", "workers", "under", "holds", "success · p95"];

/// What the front table shows.
pub fn front_note(s: &FullSearch) -> String {
    let passing = s.front.iter().filter(|p| p.passes).count();
    if passing > 0 {
        format!(
            "The Pareto front of the {passing} passing points (every objective met, the day and the month within the \
             daily quota and the monthly spend cap; of {} fully sized): no other passing point is cheaper, faster, \
             answers more and sees fewer 429s all at once (plans whose figures are identical shown once).",
            s.front.len()
        )
    } else {
        format!(
            "No point passed (every objective met, the day and the month within the daily quota and the monthly \
             spend cap); the Pareto front of all {} fully sized points (plans whose figures are identical shown once):",
            s.front.len()
        )
    }
}

/// The points on the front, cheapest first.
pub fn front_cells(s: &FullSearch, recommended: Option<(&str, u32)>) -> Vec<Vec<String>> {
    let mut on: Vec<&FrontPoint> = s.front.iter().filter(|p| p.on_front).collect();
    on.sort_by(|a, b| {
        let c = |p: &FrontPoint| p.cost_per_hour_usd.mean.unwrap_or(f64::MAX);
        c(a).total_cmp(&c(b)).then(a.workers.cmp(&b.workers))
    });
    on.into_iter()
        .map(|p| {
            let mark = if recommended == Some((p.candidate.as_str(), p.workers)) {
                " ← recommended"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", p.candidate),
                p.workers.to_string(),
                if p.passes { "passes" } else { "misses" }.into(),
                usd_cell(&p.cost_per_hour_usd),
                ms_cell(&p.p95_ms),
                share_cell(&p.success_rate),
                share_cell(&p.share_429),
                p.seeds.to_string(),
            ]
        })
        .collect()
}

/// A cost with its interval.
fn usd_cell(s: &Stat) -> String {
    match (s.mean, s.ci95) {
        (Some(m), Some(c)) => format!("{} ± ${c:.2}", usd(Some(m))),
        (Some(m), None) => usd(Some(m)),
        _ => "—".into(),
    }
}

/// A latency with its interval, in seconds.
fn ms_cell(s: &Stat) -> String {
    match (s.mean, s.ci95) {
        (Some(m), Some(c)) => format!("{} ± {}", secs(m / 1000.0), secs(c / 1000.0)),
        (Some(m), None) => secs(m / 1000.0),
        _ => "—".into(),
    }
}

/// A share with its interval, in percent.
fn share_cell(s: &Stat) -> String {
    match (s.mean, s.ci95) {
        (Some(m), Some(c)) => format!("{:.1}% ± {:.1}%", m * 100.0, c * 100.0),
        (Some(m), None) => format!("{:.1}%", m * 100.0),
        _ => "—".into(),
    }
}

/// One row per finalist and stress.
pub fn stress_cells(s: &FullSearch) -> Vec<Vec<String>> {
    s.robustness
        .iter()
        .flat_map(|r| {
            r.results.iter().map(move |x| {
                vec![
                    r.candidate.clone(),
                    r.workers.to_string(),
                    x.label.clone(),
                    if x.holds {
                        "yes".to_string()
                    } else if x.undecided {
                        format!("not shown: seeds straddle {}", x.missed.join(", "))
                    } else {
                        format!("no: misses {}", x.missed.join(", "))
                    },
                    format!("{} · {}", share_cell(&x.success_rate), ms_cell(&x.p95_ms)),
                ]
            })
        })
        .collect()
}

/// What was searched, in lines.
pub fn space_lines(s: &FullSearch) -> Vec<String> {
    let mut out: Vec<String> = s
        .dimensions
        .iter()
        .map(|d| format!("`{}`: {} ({})", d.setting, d.values.join("; "), d.source))
        .collect();
    out.extend(s.not_searched.iter().map(|n| format!("not searched — {n}")));
    out
}

/// The effort and the screening in a sentence.
pub fn effort_line(s: &FullSearch) -> String {
    let e = &s.effort;
    let passed = s.screened.iter().filter(|x| x.min_workers.is_some()).count();
    format!(
        "{} combinations screened on 2 seeds each ({} runs; {passed} passed at some worker count), {} finalists sized in full \
         ({} runs), robustness {} runs, confirmation on fresh seeds {} runs: {} runs in {} for the search.",
        s.combinations,
        e.screen_runs,
        s.finalists.len(),
        e.finalist_runs,
        e.robustness_runs,
        e.confirm_runs,
        e.screen_runs + e.finalist_runs + e.robustness_runs + e.confirm_runs,
        secs(e.wall_time_s)
    )
}

/// The recommendation's plan and workers.
fn recommended(p: &CapacityPlan) -> Option<(&str, u32)> {
    let r = p.recommendation.as_ref()?;
    let searched = p
        .search
        .as_ref()
        .and_then(|s| s.confirmation.as_ref())
        .map_or(r.workers, |c| c.searched_workers);
    Some((r.candidate.as_str(), searched))
}

/// The section in Markdown (empty without a full search).
pub fn markdown(p: &CapacityPlan) -> String {
    let Some(s) = &p.search else { return String::new() };
    // With a recommendation the reason is its "Why" line at the top of the plan.
    let mut out = if p.recommendation.is_some() {
        "\n### The full search\n\n".to_string()
    } else {
        format!("\n### The full search\n\n{}\n\n", s.why)
    };
    out.push_str(&format!("{}\n\n", effort_line(s)));
    for l in space_lines(s) {
        out.push_str(&format!("- {l}\n"));
    }
    if let Some(r) = &p.recommendation {
        out.push_str("\nThe recommended plan, as run (paste into `[strategy]`):\n\n```toml\n");
        out.push_str(&format!("workers = {}\n", r.workers));
        for (k, v) in &r.settings {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push_str("```\n");
    }
    out.push_str(&format!("\n{}\n\n", front_note(s)));
    out.push_str(&super::plan::md_table(&FRONT_COLUMNS, &front_cells(s, recommended(p))));
    for a in &s.alternatives {
        out.push_str(&format!(
            "- **{}**: {} at {} workers — {}\n",
            a.label, a.candidate, a.workers, a.why
        ));
    }
    let stress = stress_cells(s);
    if !stress.is_empty() {
        out.push_str("\nHow the cheapest passing plans degrade:\n\n");
        out.push_str(&super::plan::md_table(&STRESS_COLUMNS, &stress));
    }
    out
}

/// Cost against p95 of every fully sized point: misses, passes, the front among the passing
/// points, the recommendation; the p95 objective as a rule.
pub fn chart(p: &CapacityPlan) -> Option<Chart> {
    let s = p.search.as_ref()?;
    let xy = |q: &FrontPoint| Some((q.cost_per_hour_usd.mean?, q.p95_ms.mean? / 1000.0));
    let misses: Vec<(f64, f64)> = s.front.iter().filter(|q| !q.passes).filter_map(xy).collect();
    let passes: Vec<(f64, f64)> = s.front.iter().filter(|q| q.passes).filter_map(xy).collect();
    let mut front: Vec<(f64, f64)> = s
        .front
        .iter()
        .filter(|q| q.passes && q.on_front)
        .filter_map(xy)
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut chart = Chart::new("Plans run: cost against p95", "cost per hour (USD)", "p95 (s)")
        .dots("misses an objective", 7, 3, misses)
        .dots("passes", 0, 4, passes)
        .line("Pareto front of the passing points", 2, front);
    if let Some(point) = recommended(p).and_then(|(name, w)| {
        s.front
            .iter()
            .find(|q| q.candidate == name && q.workers == w)
            .and_then(xy)
    }) {
        chart = chart.dots("recommended", 3, 8, vec![point]);
    }
    if let Some(t) = p
        .candidates
        .iter()
        .flat_map(|c| c.points.iter())
        .flat_map(|pt| pt.objectives.iter())
        .find(|o| o.objective == crate::scenario::slo::Objective::P95)
    {
        chart.rules.push(Rule {
            name: format!("SLO p95 {}", secs(t.target / 1000.0)),
            y: t.target / 1000.0,
        });
    }
    chart.x_format = |x: &f64| usd(Some(*x));
    let xs = s.front.iter().filter_map(|q| q.cost_per_hour_usd.mean);
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    if lo < hi {
        let pad = (hi - lo) * 0.05;
        chart.x_range = Some((lo - pad, hi + pad));
    }
    Some(chart)
}
