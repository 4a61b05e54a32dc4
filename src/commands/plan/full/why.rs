//! Step 6 and the record of the full search: the front, the labelled alternatives, the
//! recommendation's settings as run, and why the winner wins, in sentences with figures.

use super::{front, robust};
use super::{Alternative, Confirmation, Finals, FullSearch};
use crate::commands::plan::{verdict, CandidatePlan, PlanRecommendation};

/// The labelled alternatives: the cheapest passing point, the fastest passing point within 10%
/// of the recommendation's cost, the plan that answers most at twice the traffic.
pub(super) fn alternatives(
    front: &[front::FrontPoint],
    recommended: Option<(&str, u32, f64)>,
    robustness: &[robust::Robustness],
) -> Vec<Alternative> {
    let mut out = Vec::new();
    let passing: Vec<&front::FrontPoint> = front.iter().filter(|p| p.passes).collect();
    let cost = |p: &front::FrontPoint| p.cost_per_hour_usd.mean.unwrap_or(f64::MAX);
    let p95 = |p: &front::FrontPoint| p.p95_ms.mean.unwrap_or(f64::MAX);
    // The cheapest; of points whose costs are the same within the noise (the API's cost follows
    // the answers, so a plan that sheds a few requests is not cheaper for it) the one answering
    // most, then with the fewest workers.
    let lowest = passing.iter().min_by(|a, b| cost(a).total_cmp(&cost(b)));
    let answered = |p: &front::FrontPoint| p.success_rate.mean.unwrap_or(0.0);
    let cheapest = lowest.and_then(|low| {
        passing
            .iter()
            .filter(|p| verdict::close_within_noise(&p.cost_per_hour_usd, &low.cost_per_hour_usd))
            .min_by(|a, b| {
                answered(b)
                    .total_cmp(&answered(a))
                    .then(a.workers.cmp(&b.workers))
                    .then(cost(a).total_cmp(&cost(b)))
            })
            .map(|c| (c, low))
    });
    if let Some((c, low)) = cheapest {
        let lower = if cost(low) < cost(c) {
            format!(
                "; {} at {} workers costs {} but answers {:.1}%, the same cost within the noise",
                low.candidate,
                low.workers,
                crate::format::usd_hour(Some(cost(low))),
                answered(low) * 100.0
            )
        } else {
            String::new()
        };
        out.push(Alternative {
            label: "cheapest".into(),
            candidate: c.candidate.clone(),
            workers: c.workers,
            why: format!(
                "the lowest cost of any passing point: {} an hour (p95 {}, {:.1}% answered){lower}",
                crate::format::usd_hour(Some(cost(c))),
                crate::format::secs(p95(c) / 1000.0),
                answered(c) * 100.0
            ),
        });
    }
    if let Some((_, _, budget)) = recommended {
        let within = budget * 1.10;
        if let Some(f) = passing
            .iter()
            .filter(|p| cost(p) <= within)
            .min_by(|a, b| p95(a).total_cmp(&p95(b)).then(a.workers.cmp(&b.workers)))
        {
            out.push(Alternative {
                label: "fastest within budget".into(),
                candidate: f.candidate.clone(),
                workers: f.workers,
                why: format!(
                    "the lowest p95 of the passing points within 10% of the recommendation's cost ({} an hour): p95 {} at {} an hour",
                    crate::format::usd_hour(Some(within)),
                    crate::format::secs(p95(f) / 1000.0),
                    crate::format::usd_hour(Some(cost(f)))
                ),
            });
        }
    }
    let at_2x = |r: &robust::Robustness| r.success_at_2x().unwrap_or(0.0);
    let most = robustness
        .iter()
        .filter(|r| r.success_at_2x().is_some())
        .max_by(|a, b| at_2x(a).total_cmp(&at_2x(b)));
    // Within a tenth of a point of the most, the recommendation itself carries the label.
    let most = most.map(|m| {
        robustness
            .iter()
            .find(|r| recommended.is_some_and(|(n, ..)| n == r.candidate) && at_2x(m) - at_2x(r) <= 0.001)
            .unwrap_or(m)
    });
    if let Some(r) = most {
        out.push(Alternative {
            label: "most robust to ×2 traffic".into(),
            candidate: r.candidate.clone(),
            workers: r.workers,
            why: format!(
                "answers the most at twice today's traffic: {:.1}% of requests",
                r.success_at_2x().unwrap_or(0.0) * 100.0
            ),
        });
    }
    out
}

/// Step 6 and the record: the front, the alternatives, the winner's reason; the recommendation
/// carries the settings exactly as run and, when fresh seeds raised them, the confirmed workers.
pub(super) fn summarise(
    finals: Finals,
    robustness: Vec<robust::Robustness>,
    confirmation: Option<Confirmation>,
    plans: &[CandidatePlan],
    recommendation: Option<&mut PlanRecommendation>,
) -> FullSearch {
    let front = front::points(plans);
    let effort = finals.effort.clone();
    let rec = recommendation.as_ref().map(|r| {
        let cost = r.cost_usd.map_or(0.0, |c| c.hour);
        (r.candidate.clone(), r.workers, cost)
    });
    let alternatives = alternatives(&front, rec.as_ref().map(|(n, w, c)| (n.as_str(), *w, *c)), &robustness);
    let why = why(
        plans,
        &robustness,
        confirmation.as_ref(),
        &finals.not_confirmed,
        rec.as_ref().map(|(n, ..)| n.as_str()),
        &finals.finalists.iter().map(|(c, _)| c.name.clone()).collect::<Vec<_>>(),
    );
    if let Some(r) = recommendation {
        // The search's reason replaces the verdict's: it says why this plan beat the combinations
        // tried, the stresses and the fresh seeds, where the verdict lists every tied name.
        r.chosen_because = Some(why.clone());
        r.settings = settings_of(&r.strategy);
        if let Some(c) = confirmation.as_ref().filter(|c| c.workers != c.searched_workers) {
            r.workers = c.workers;
            r.strategy.workers = c.workers;
        }
    }
    FullSearch {
        dimensions: finals.space.dimensions,
        not_searched: finals.space.not_searched,
        combinations: finals.space.combinations.len() as u32,
        screened: finals.screened,
        finalists: finals.finalists.iter().map(|(c, _)| c.name.clone()).collect(),
        robustness,
        front,
        alternatives,
        confirmation,
        not_confirmed: finals.not_confirmed,
        why,
        effort,
    }
}

/// The plan's searched settings in scenario syntax, as run (`workers` apart): the retry, queue
/// and timeouts always; the rate limit, fallback, service tiers and replicas when set.
fn settings_of(s: &crate::strategy::StrategySpec) -> std::collections::BTreeMap<String, String> {
    let inline = |v: Result<toml::Value, toml::ser::Error>| v.map_or_else(|e| e.to_string(), |v| v.to_string());
    let mut out = std::collections::BTreeMap::new();
    out.insert("retry".into(), inline(toml::Value::try_from(&s.retry)));
    out.insert("queue".into(), inline(toml::Value::try_from(&s.queue)));
    out.insert("timeout".into(), inline(toml::Value::try_from(&s.timeout)));
    if s.rate_limit.rpm > 0 || s.rate_limit.tpm > 0 {
        out.insert("rate_limit".into(), inline(toml::Value::try_from(&s.rate_limit)));
    }
    if let Some(f) = &s.fallback {
        out.insert("fallback".into(), inline(toml::Value::try_from(f)));
    }
    if !s.service_tier.is_empty() {
        out.insert("service_tier".into(), inline(toml::Value::try_from(&s.service_tier)));
    }
    if s.replicas > 1 {
        out.insert("replicas".into(), s.replicas.to_string());
    }
    out
}

/// The first sentences of the reason: the winner's cost against the other passing plans and
/// against the best of the candidates as written.
fn opening(plans: &[CandidatePlan], best: &str, tied: &[String], finalists: &[String]) -> String {
    let hour = |c: &CandidatePlan| {
        c.cost_usd.map(|k| k.hour).unwrap_or(f64::MAX)
            + c.deployment.as_ref().and_then(|d| d.hosting_usd_hour).unwrap_or(0.0)
    };
    let Some(winner) = plans.iter().find(|c| c.name == best) else {
        return String::new();
    };
    let passing = plans.iter().filter(|c| c.passes).count();
    let workers = winner.recommended_workers.unwrap_or(0);
    let mut out = format!(
        "{best} at {workers} workers costs {} an hour; {passing} plan{} passed.",
        crate::format::usd_hour(Some(hour(winner))),
        if passing == 1 { "" } else { "s" }
    );
    let others = tied.iter().filter(|t| t.as_str() != best).count();
    if others > 0 {
        out.push_str(&format!(
            " {others} other{} cost{} the same within the noise (their 95% intervals overlap, or under 2% apart); among \
             them the one that holds best under stress, then the larger margin to the tightest objective, is named.",
            if others == 1 { "" } else { "s" },
            if others == 1 { "s" } else { "" }
        ));
    }
    let written = plans
        .iter()
        .filter(|c| c.passes && !finalists.contains(&c.name))
        .min_by(|a, b| hour(a).total_cmp(&hour(b)));
    match written {
        Some(w) if w.name == best => {
            out.push_str(" It is one of the candidates as written: no searched combination passed for less.")
        }
        Some(w) => {
            let (a, b) = (hour(w), hour(winner));
            out.push_str(&format!(
                " The best of the candidates as written, {} at {} workers, costs {} an hour: {}.",
                w.name,
                w.recommended_workers.unwrap_or(0),
                crate::format::usd_hour(Some(a)),
                if a > b * 1.02 {
                    format!(
                        "the search saves {} an hour ({:.0}%)",
                        crate::format::usd_hour(Some(a - b)),
                        (a - b) / a * 100.0
                    )
                } else {
                    "the same within 2%".to_string()
                }
            ));
        }
        None => out.push_str(" None of the candidates as written passed."),
    }
    out
}

/// Why the winner wins: the cost rule, the stresses, the fresh seeds.
fn why(
    plans: &[CandidatePlan],
    robustness: &[robust::Robustness],
    confirmation: Option<&Confirmation>,
    not_confirmed: &[Confirmation],
    best: Option<&str>,
    finalists: &[String],
) -> String {
    let Some(best) = best else {
        return "No plan searched met every objective: see the closest plan.".into();
    };
    let tied = verdict::tied_names(plans);
    let mut why = opening(plans, best, &tied, finalists);
    why.push_str(&precedence(plans, best, &tied, confirmation, not_confirmed));
    if let Some(r) = robustness.iter().find(|r| r.candidate == best) {
        why.push_str(&under_stress(r));
    }
    if let Some(c) = confirmation {
        why.push_str(&on_fresh_seeds(c));
    }
    why
}

/// Why the winner comes before the plans tied with it or preferred to it: none confirmed on
/// every fresh seed, the ones before it missed there, or it degrades more gracefully.
fn precedence(
    plans: &[CandidatePlan],
    best: &str,
    tied: &[String],
    confirmation: Option<&Confirmation>,
    not_confirmed: &[Confirmation],
) -> String {
    let before: Vec<&Confirmation> = not_confirmed.iter().filter(|c| c.candidate != best).collect();
    let confirmed = confirmation.is_some_and(|c| c.passed_seeds as usize == c.seeds.len());
    if !confirmed && confirmation.is_some() {
        format!(
            " No plan tried ({}) met every objective on every one of the seeds the search never used: these \
             objectives hold on average but not in every {} window of this traffic; {best} is the first by the rule \
             above.",
            std::iter::once(best)
                .chain(before.iter().map(|c| c.candidate.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            crate::format::secs(window_s(plans))
        )
    } else if !before.is_empty() {
        format!(
            " {} came first by that rule but missed an objective on some of the seeds the search never used \
             ({}); {best} is the first that met every objective on all of them.",
            before
                .iter()
                .map(|c| c.candidate.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            before
                .iter()
                .map(|c| format!("{} of {} at {} workers", c.passed_seeds, c.seeds.len(), c.workers))
                .collect::<Vec<_>>()
                .join("; ")
        )
    } else if tied.first().map(String::as_str) != Some(best) && tied.iter().any(|t| t == best) {
        format!(
            " Among the plans tied on cost, {best} degrades most gracefully, so it is recommended over {}.",
            tied.first().map_or("", String::as_str)
        )
    } else {
        String::new()
    }
}

/// The stresses the winner holds under, and how far it falls under the others (or that its
/// seeds straddle a target).
fn under_stress(r: &robust::Robustness) -> String {
    let held: Vec<&str> = r.results.iter().filter(|x| x.holds).map(|x| x.label.as_str()).collect();
    let figures = |x: &robust::StressResult| {
        format!(
            "{} ({:.1}% answered, p95 {})",
            x.label,
            x.success_rate.mean.unwrap_or(0.0) * 100.0,
            x.p95_ms.mean.map_or("—".into(), |m| crate::format::secs(m / 1000.0))
        )
    };
    let listed = |undecided: bool| -> Vec<String> {
        r.results
            .iter()
            .filter(|x| !x.holds && x.undecided == undecided)
            .map(figures)
            .collect()
    };
    let (missed, undecided) = (listed(false), listed(true));
    let mut out = format!(" Under stress it holds {} of {}", held.len(), r.results.len());
    if !held.is_empty() {
        out.push_str(&format!(" ({})", held.join(", ")));
    }
    if !missed.is_empty() {
        out.push_str(&format!("; it misses under {}", missed.join("; ")));
    }
    if !undecided.is_empty() {
        out.push_str(&format!(
            "; under {} its seeds straddle a target (not shown to hold)",
            undecided.join("; ")
        ));
    }
    out.push('.');
    out
}

/// The confirmation on fresh seeds: how many met every objective, at which workers, and the
/// spread of the traffic they offered.
fn on_fresh_seeds(c: &Confirmation) -> String {
    let offered = match (
        c.offered.values.iter().flatten().copied().reduce(f64::min),
        c.offered.values.iter().flatten().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => format!(" (they offered {lo:.0} to {hi:.0} requests)"),
        _ => String::new(),
    };
    let judged = if c.steady_window {
        " (judged in each run's steady-state window)"
    } else {
        ""
    };
    let mut out = if c.workers == c.searched_workers {
        format!(
            " Re-run at {} workers on {} seeds the search never used{offered}: {} of them met every objective{judged}.",
            c.workers,
            c.seeds.len(),
            c.passed_seeds
        )
    } else {
        format!(
            " Re-run on {} seeds the search never used{offered}, {} workers missed an objective on some; raised to \
             {}: {} of {} met every objective{judged}.",
            c.seeds.len(),
            c.searched_workers,
            c.workers,
            c.passed_seeds,
            c.seeds.len()
        )
    };
    if let Some(more) = c.raised_without_gain {
        out.push_str(&format!(
            " {more} workers met them on no more seeds, so more workers are not the remedy: the misses come from the traffic's heavier \
             windows, not from the client's concurrency."
        ));
    }
    out
}

/// The traffic window of the plans' runs (s), read from a point's run.
fn window_s(plans: &[CandidatePlan]) -> f64 {
    plans
        .iter()
        .flat_map(|c| c.points.iter())
        .find_map(|p| p.sample.as_ref().map(|s| s.run.duration_s))
        .unwrap_or(0.0)
}
