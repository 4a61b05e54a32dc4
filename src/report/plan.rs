//! The plan outputs: `plan.json`, `plan.md` and `plan.html` (curves of goodput, p95 with the
//! SLO line and the knee marked, 429 share and cost against workers, one colour per candidate).

use std::path::{Path, PathBuf};

use minijinja::{context, Value};

use super::plots::{Chart, Rule};
use crate::commands::plan::{CandidatePlan, CapacityPlan, Point};
use crate::format::{ms, secs};
use crate::scenario::slo::Objective;
use crate::stats::Stat;

fn mean_ci(s: &Stat, show: impl Fn(f64) -> String) -> String {
    match (s.mean, s.ci95) {
        // Seeds that all agree: no interval to show.
        (Some(m), Some(ci)) if ci.abs() < 1e-9 => format!("{} ± 0", show(m)),
        (Some(m), Some(ci)) => format!("{} ± {}", show(m), show(ci)),
        (Some(m), None) => show(m),
        _ => "—".into(),
    }
}

/// A latency over seeds, its interval in the mean's own unit ("20.71 s ± 0.35 s", never
/// "20.71 s ± 350 ms").
fn mean_ms(s: &Stat) -> String {
    match (s.mean, s.ci95) {
        (Some(m), Some(ci)) => crate::format::ms_pm(m, ci),
        _ => mean_ci(s, |v| ms(Some(v))),
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${}", crate::format::count(v.round() as u64))
    } else {
        format!("${v:.2}")
    }
}

/// The cells of a point's row: workers, verdict, seeds passing, success, p95, goodput, 429
/// share, cost per hour.
fn point_cells(p: &Point) -> Vec<String> {
    vec![
        p.workers.to_string(),
        verdict(p).to_string(),
        format!("{}/{}", p.passed_seeds, p.seeds),
        mean_ci(&p.success_rate, pct),
        mean_ms(&p.p95_ms),
        mean_ci(&p.goodput_rps, |v| format!("{v:.2}/s")),
        mean_ci(&p.share_429, pct),
        mean_ci(&p.cost_per_hour_usd, usd),
    ]
}

/// A count's verdict in a word (words, not glyphs: every font has them).
fn verdict(p: &Point) -> &'static str {
    if p.passes {
        "pass"
    } else if p.undecided {
        "undecided"
    } else {
        "miss"
    }
}

/// The column headers of [`point_cells`].
const POINT_COLUMNS: [&str; 8] = [
    "workers",
    "SLO",
    "seeds meeting all",
    "success",
    "p95",
    "goodput",
    "429 share",
    "cost / hour",
];

/// The candidates table: name (★ for the best), fewest passing, recommended, knee, cost per
/// hour, day and month.
fn candidate_cells(p: &CapacityPlan) -> Vec<Vec<String>> {
    let opt = |v: Option<u32>| v.map_or("—".into(), |v| v.to_string());
    p.candidates
        .iter()
        .map(|c| {
            let verdict = if p.best.as_deref() == Some(c.name.as_str()) {
                "best".to_string()
            } else if c.passes {
                "passes".to_string()
            } else if c.recommended_workers.is_none() {
                "no count met the objectives".to_string()
            } else {
                let limits: Vec<&str> = c
                    .long_limits
                    .iter()
                    .filter(|l| !l.pass)
                    .map(|l| l.limit.label())
                    .collect();
                format!("does not fit the {}", limits.join(" and "))
            };
            vec![
                c.name.clone(),
                verdict,
                opt(c.min_workers),
                opt(c.recommended_workers),
                opt(c.knee_workers),
                c.cost_usd.map_or("—".into(), |k| usd(k.hour)),
                c.cost_usd.map_or("—".into(), |k| usd(k.day)),
                c.cost_usd.map_or("—".into(), |k| usd(k.month)),
            ]
        })
        .collect()
}

/// The growth what-ifs: factor, rate, whether the plan holds, what it misses, the next plan.
fn growth_cells(p: &CapacityPlan) -> Vec<Vec<String>> {
    let opt = |v: Option<u32>| v.map_or("—".into(), |v| v.to_string());
    p.growth
        .iter()
        .map(|g| {
            vec![
                format!("×{}", g.factor),
                format!("{:.2}/s", g.rate_rps),
                if g.holds {
                    "holds".into()
                } else {
                    format!("misses {}", g.missed.join(", "))
                },
                opt(g.min_workers),
                opt(g.recommended_workers),
                g.cost_per_hour_usd.map_or("—".into(), usd),
            ]
        })
        .collect()
}

/// The column headers of [`growth_cells`].
const GROWTH_COLUMNS: [&str; 6] = [
    "growth",
    "traffic",
    "the plan",
    "fewest passing then",
    "recommended then",
    "cost / hour",
];

/// One sentence on where the best plan breaks.
fn growth_note(p: &CapacityPlan) -> String {
    let best = p.best.as_deref().unwrap_or("—");
    let workers = p
        .candidates
        .iter()
        .find(|c| c.name == best)
        .and_then(|c| c.recommended_workers)
        .map_or("—".into(), |w| w.to_string());
    match p.breaks_at {
        Some(f) => format!("Growth: the plan ({best}, {workers} workers) breaks at ×{f} of today's traffic; the next plan at each growth:"),
        None => format!("Growth: the plan ({best}, {workers} workers) holds at every growth checked:"),
    }
}

/// The column headers of [`candidate_cells`].
const CANDIDATE_COLUMNS: [&str; 8] = [
    "candidate",
    "verdict",
    "fewest passing",
    "recommended",
    "knee",
    "cost / hour",
    "/ day",
    "/ month",
];

pub(super) fn md_table(columns: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", columns.join(" | "));
    out.push_str(&" --- |".repeat(columns.len()));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// Where a candidate's other settings were read: the recommended count, or the closest.
fn advice_source(c: &crate::commands::plan::CandidatePlan) -> String {
    match (c.recommended_workers, c.advice_workers) {
        (Some(_), _) => "Other settings, read from the run at the recommended count".into(),
        (None, Some(w)) => format!(
            "Other settings, read from the run at {}, the count closest to passing",
            crate::format::workers(w)
        ),
        _ => "Other settings".into(),
    }
}

/// A candidate's reason, with what binds at its knee.
fn reason(c: &crate::commands::plan::CandidatePlan) -> String {
    match (&c.binding, c.knee_workers) {
        (Some(b), Some(k)) => format!(
            "{} Adding workers stops helping at {k} (the knee: more no longer raise goodput or cut p95) — {b}.",
            c.why
        ),
        _ => c.why.clone(),
    }
}

/// The hosting probe's figures as rows of (measure, value).
fn hosting_cells(p: &CapacityPlan) -> Vec<Vec<String>> {
    let Some(h) = &p.hosting else { return Vec::new() };
    let mib = |v: f64| format!("{v:.1} MiB");
    let mut rows = vec![
        vec![
            "probe".into(),
            format!(
                "{} workers, {} of traffic at {:.1}/s, {} requests, {} attempts",
                h.workers,
                secs(h.probe_s),
                h.probe_rps,
                h.requests,
                h.attempts
            ),
        ],
        vec![
            "peak in flight / queued".into(),
            format!("{} / {}", h.peak_in_flight, h.peak_queued),
        ],
    ];
    if let (Some(heap), Some(per)) = (h.heap_peak_mib, h.heap_per_in_flight_kib) {
        rows.push(vec![
            "heap at peak, above idle".into(),
            format!("{} ({per:.1} KiB per in-flight request)", mib(heap)),
        ]);
    }
    if let Some((before, peak)) = h.rss_mib {
        rows.push(vec![
            "plan process RSS before / at peak (search included)".into(),
            format!("{} / {}", mib(before), mib(peak)),
        ]);
    }
    rows.push(vec![
        "client CPU".into(),
        format!("{:.3} s ({:.3} ms per attempt)", h.cpu_s, h.cpu_ms_per_attempt),
    ]);
    rows.push(vec![
        "busiest attempt rate".into(),
        format!("{:.1}/s", h.peak_attempt_rps),
    ]);
    rows.push(vec![
        "buy".into(),
        format!(
            "{} and {} vCPU",
            h.memory_mib
                .map_or("memory not measured".into(), |m| format!("{m:.0} MiB")),
            h.vcpu
        ),
    ]);
    rows
}

/// How many seeds a count ran, and the rule that added more.
fn seeds_line(p: &CapacityPlan) -> String {
    format!(
        "seeds: {} per count, up to {} where an objective's 95% interval straddled its target (seeds {} to {})",
        p.seeds_start,
        p.seeds.len(),
        p.seeds.first().copied().unwrap_or(0),
        p.seeds.last().copied().unwrap_or(0)
    )
}

/// The plan's answer first: the recommendation with its settings, or, when no candidate
/// passes, the closest plan, what it misses by and what would make it pass.
fn verdict_lines(p: &CapacityPlan) -> Vec<String> {
    if let Some(r) = &p.recommendation {
        let mut settings = vec![format!("workers = {}", r.workers)];
        settings.extend(r.settings.iter().map(|(k, v)| format!("{k} = {v}")));
        let cost = r.cost_usd.map_or(String::new(), |c| {
            format!(
                " Expected cost: {} an hour, {} a day, {} a month.",
                usd(c.hour),
                usd(c.day),
                usd(c.month)
            )
        });
        let mut lines = vec![format!(
            "**Recommendation**: {}, with {}.{cost}",
            r.candidate,
            settings.join(", ")
        )];
        lines.extend(r.chosen_because.as_ref().map(|w| format!("Why {}: {w}", r.candidate)));
        return lines;
    }
    let Some(c) = &p.closest else {
        return vec!["**No plan passes**, and no count was measured.".into()];
    };
    let mut lines = vec![format!(
        "**No plan passes.** The closest is {} at {}, which misses:",
        c.candidate,
        crate::format::workers(c.workers)
    )];
    lines.extend(c.misses.iter().map(|m| format!("- {m}")));
    lines.push(format!("What binds there, and what would make it pass: {}", c.change));
    lines
}

/// `plan.md`.
pub fn markdown(p: &CapacityPlan) -> String {
    let mut out = format!(
        "## stampede plan · {}\n\ntarget **{}** · objectives: {} · {} · {} of traffic per run · {} runs in {}\n\n",
        p.scenario,
        p.target,
        p.slo.join(", "),
        seeds_line(p),
        secs(p.duration_s),
        p.runs,
        secs(p.wall_time_s)
    );
    if let Some(catalog) = &p.catalog {
        out.push_str(&format!("costs priced by {catalog}\n\n"));
    }
    out.push_str(&crate::summary::Assumption::markdown(&p.rests_on));
    out.push_str(&format!(
        "First guess: **{}** — {} (traffic {:.2}/s, service {:.3} s × {:.2} attempts = {:.2} erlangs, the workers it keeps busy on average).\n\n",
        crate::format::workers(p.guess.workers),
        p.guess.method,
        p.guess.rate_rps,
        p.guess.service_s,
        p.guess.attempts_per_request,
        p.guess.load
    ));
    for line in verdict_lines(p) {
        out.push_str(&format!("{line}\n\n"));
    }
    out.push_str(&md_table(&CANDIDATE_COLUMNS, &candidate_cells(p)));
    out.push_str(&super::plan_search::markdown(p));
    out.push_str(&super::plan_deploy::markdown(p));
    if !p.growth.is_empty() {
        out.push_str(&format!("\n{}\n\n", growth_note(p)));
        out.push_str(&md_table(&GROWTH_COLUMNS, &growth_cells(p)));
        for g in p.growth.iter().filter(|g| g.min_workers.is_none() && !g.holds) {
            out.push_str(&format!("\n- ×{}: {}", g.factor, g.why.as_deref().unwrap_or("")));
        }
        out.push('\n');
    }
    if let Some(h) = &p.hosting {
        out.push_str(&format!("\n### What to host it on\n\n{}\n\n", h.why));
        out.push_str(&md_table(&["measure", "value"], &hosting_cells(p)));
    }
    if let Some(e) = &p.hosting_error {
        out.push_str(&format!(
            "\n### What to host it on\n\nNot measured: the hosting probe failed ({e}).\n"
        ));
    }
    for c in &p.candidates {
        out.push_str(&format!("\n### {}\n\n{}\n\n", c.name, reason(c)));
        let rows: Vec<Vec<String>> = c.points.iter().map(point_cells).collect();
        out.push_str(&md_table(&POINT_COLUMNS, &rows));
        if !c.advice.is_empty() {
            out.push_str(&format!("\n{}:\n\n", advice_source(c)));
            for r in &c.advice {
                out.push_str(&format!(
                    "- `{} = {}` (ran with `{}`): {}\n",
                    r.setting, r.value, r.current, r.why
                ));
            }
        }
    }
    out
}

/// The curves against workers, one line per candidate; the SLO's latency target and each
/// candidate's knee drawn.
fn charts(p: &CapacityPlan) -> Vec<Chart> {
    // Every count in the tables is drawn. When they span more than a factor of 20 (a search
    // that galloped far past the answer), the workers axis is logarithmic so the region around
    // the answer is not squashed against the left edge.
    let counts = p
        .candidates
        .iter()
        .flat_map(|c| c.points.iter().map(|pt| f64::from(pt.workers)));
    let (lo, hi) = counts.fold((f64::MAX, 0.0f64), |(a, b), w| (a.min(w), b.max(w)));
    let log = hi / lo.max(1.0) > 20.0;
    let x = |w: u32| if log { f64::from(w).log10() } else { f64::from(w) };
    let x_label = if log { "workers (log scale)" } else { "workers" };
    let groups = identical_groups(p);
    let line = |title: &str, y: &str, f: &dyn Fn(&Point) -> Option<f64>| {
        let mut chart = Chart::new(title, x_label, y);
        if log {
            chart.x_format = super::plots::log_ticks;
            chart.x_ticks = super::plots::LOG_TICKS;
        }
        for (label, i, c) in &groups {
            let points = c
                .points
                .iter()
                .filter_map(|pt| f(pt).map(|v| (x(pt.workers), v)))
                .collect();
            chart = chart.line(label, *i, points);
        }
        // One marker per knee: candidates whose knees coincide share it.
        let mut knees: Vec<(u32, Vec<&str>)> = Vec::new();
        for c in &p.candidates {
            if let Some(k) = c.knee_workers {
                match knees.iter_mut().find(|(w, _)| *w == k) {
                    Some((_, names)) => names.push(&c.name),
                    None => knees.push((k, vec![&c.name])),
                }
            }
        }
        for (k, names) in knees {
            chart.marks.push(Rule {
                name: format!("knee ({k}), {}", names.join(", ")),
                y: x(k),
            });
        }
        chart
    };
    let top_ms = p
        .candidates
        .iter()
        .flat_map(|c| c.points.iter().filter_map(|pt| pt.p95_ms.mean))
        .fold(0.0, f64::max);
    let (unit, scale) = if top_ms > 10_000.0 { ("s", 1000.0) } else { ("ms", 1.0) };
    let mut p95 = line(
        "p95 end-to-end latency by workers",
        &format!("latency ({unit})"),
        &|pt| pt.p95_ms.mean.map(|v| v / scale),
    );
    if let Some(y) = objective_target(p, Objective::P95) {
        p95.rules.push(Rule {
            name: format!("SLO p95 {}", ms(Some(y))),
            y: y / scale,
        });
    }
    let mut success = line("Success rate by workers", "share answered (%)", &|pt| {
        pt.success_rate.mean.map(|v| v * 100.0)
    });
    let target = objective_target(p, Objective::SuccessRate);
    if let Some(target) = target {
        success.rules.push(Rule {
            name: format!("SLO success rate {:.1}%", target * 100.0),
            y: target * 100.0,
        });
    }
    // From just under the lowest value (or target) to 100%: the differences that decide a
    // plan are a few points wide.
    let floor = success
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|pt| pt.1))
        .chain(target.map(|t| t * 100.0))
        .fold(100.0, f64::min);
    success.y_range = Some(((floor - (100.0 - floor).max(1.0) * 0.2).max(0.0).floor(), 100.5));
    let mut charts = vec![
        line("Goodput by workers", "answered per second", &|pt| pt.goodput_rps.mean),
        p95,
        success,
    ];
    // A chart of zeros says nothing: without a 429 at any count the page says so in words.
    if !no_429s(p) {
        charts.push(line("429 share by workers", "share of attempts (%)", &|pt| {
            pt.share_429.mean.map(|v| v * 100.0)
        }));
    }
    charts.push(line("Cost per hour by workers", "USD per hour", &|pt| {
        pt.cost_per_hour_usd.mean
    }));
    charts
}

/// True when no count of any candidate saw a 429.
fn no_429s(p: &CapacityPlan) -> bool {
    p.candidates
        .iter()
        .flat_map(|c| c.points.iter())
        .all(|pt| pt.share_429.mean.is_none_or(|v| v == 0.0))
}

/// The candidates as the charts draw them: candidates whose measured points are the same
/// within the noise (the same counts, and at each count goodput, p95, success, 429 share and
/// cost within their 95% intervals of each other, or 0.5%) are one line labelled with every
/// name, so a line that hides others does not look like a missing one. Each with its palette
/// colour.
fn identical_groups(p: &CapacityPlan) -> Vec<(String, usize, &CandidatePlan)> {
    let same = |a: &CandidatePlan, b: &CandidatePlan| {
        a.points.len() == b.points.len()
            && a.points
                .iter()
                .zip(&b.points)
                .all(|(x, y)| crate::commands::plan::verdict::same_within_noise(x, y))
    };
    let mut groups: Vec<(Vec<&str>, usize, &CandidatePlan)> = Vec::new();
    for (i, c) in p.candidates.iter().enumerate() {
        match groups.iter_mut().find(|(_, _, g)| same(g, c)) {
            Some((names, _, _)) => names.push(&c.name),
            None => groups.push((vec![&c.name], i, c)),
        }
    }
    groups
        .into_iter()
        .map(|(names, i, c)| {
            let label = if names.len() > 1 {
                format!("{} (the same within the noise)", names.join(" = "))
            } else {
                names[0].to_string()
            };
            (label, i, c)
        })
        .collect()
}

/// The target of an objective, from the verdicts the plan's runs made.
fn objective_target(p: &CapacityPlan, objective: Objective) -> Option<f64> {
    p.candidates
        .iter()
        .flat_map(|c| c.points.iter())
        .flat_map(|pt| pt.objectives.iter())
        .find(|o| o.objective == objective)
        .map(|o| o.target)
}

/// `plan.html`.
pub fn html(p: &CapacityPlan) -> String {
    let env = super::pages("plan.html", include_str!("templates/plan.html"));
    let plots: Vec<Value> = charts(p)
        .iter()
        .map(|c| Value::from_safe_string(c.inline_svg()))
        .collect();
    env.get_template("plan.html")
        .and_then(|t| {
            let candidates: Vec<Value> = p
                .candidates
                .iter()
                .map(|c| {
                    context! {
                        name => c.name,
                        why => reason(c),
                        rows => c.points.iter().map(point_cells).collect::<Vec<_>>(),
                        advice => c.advice,
                        advice_source => advice_source(c),
                    }
                })
                .collect();
            t.render(context! {
                p => p,
                summary_columns => CANDIDATE_COLUMNS,
                summary_rows => candidate_cells(p),
                growth_note => growth_note(p),
                growth_columns => GROWTH_COLUMNS,
                growth_rows => growth_cells(p),
                hosting_rows => hosting_cells(p),
                deploy_columns => super::plan_deploy::COLUMNS,
                deploy_rows => super::plan_deploy::cells(p),
                deploy_note => super::plan_deploy::note(p),
                point_columns => POINT_COLUMNS,
                candidates => candidates,
                plots => plots,
                no_429s => no_429s(p),
                seeds => seeds_line(p),
                verdict_lines => verdict_lines(p),
                window => secs(p.duration_s),
                wall => secs(p.wall_time_s),
                version => env!("CARGO_PKG_VERSION"),
                search => p.search.as_ref().map(|s| context! {
                    why => s.why,
                    effort => super::plan_search::effort_line(s),
                    front_note => super::plan_search::front_note(s),
                    space => super::plan_search::space_lines(s),
                    front_columns => super::plan_search::FRONT_COLUMNS,
                    front_rows => super::plan_search::front_cells(s, p.recommendation.as_ref().map(|r| (r.candidate.as_str(), s.confirmation.as_ref().map_or(r.workers, |c| c.searched_workers)))),
                    alternatives => s.alternatives,
                    stress_columns => super::plan_search::STRESS_COLUMNS,
                    stress_rows => super::plan_search::stress_cells(s),
                    chart => super::plan_search::chart(p).map(|c| Value::from_safe_string(c.inline_svg())),
                    settings => p.recommendation.as_ref().map(|r| r.settings.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>()),
                }),
            })
        })
        .expect("plan page renders")
}

/// Writes plan.json, plan.md and plan.html into `dir`.
pub fn write_all(p: &CapacityPlan, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(p).map_err(std::io::Error::other)? + "\n";
    super::write_files(
        dir,
        [("plan.json", json), ("plan.md", markdown(p)), ("plan.html", html(p))],
    )
}
