//! The summary table printed on the terminal after a run.

use super::view::View;
use crate::summary::Summary;

/// The terminal summary: verdict, key figures, latency table, outcomes.
pub fn table(s: &Summary) -> String {
    let v = View::of(s);
    let mut out = String::new();
    out.push_str(&format!(
        "stampede · {} · target {} · model {} · seed {} · {}\n",
        v.scenario, v.target, v.model, v.seed, v.verdict
    ));
    out.push_str(&format!("{}\n\n", v.mode));
    let r = &s.requests;
    out.push_str(&format!(
        "requests   scheduled {}  succeeded {}  failed {}  dropped {}\n",
        r.scheduled, r.succeeded, r.failed, r.dropped
    ));
    for f in &v.figures {
        out.push_str(&format!("{:<13}{:>10}   {}\n", f.label, f.value, f.note));
    }
    if !v.steady.is_empty() {
        out.push_str(&format!("{}\n", crate::format::wrap(&v.steady, 110, 0)));
    }
    out.push('\n');
    out.push_str(&format!(
        "{:<21}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n",
        "latency", "count", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    ));
    for l in &v.latency {
        out.push_str(&format!(
            "{:<21}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n",
            l.metric, l.count, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max
        ));
    }
    out.push_str(
        "(latency counts from each request's intended start, when the schedule meant it to start; schedule lag = \
         how late the engine took it in; terms: docs/src/glossary.md)\n",
    );
    out.push_str(&replica_lines(&v));
    if !v.checks.is_empty() {
        out.push_str("\nSLO\n");
        for c in &v.checks {
            out.push_str(&format!(
                "  {:<14} target {:<12} measured {:<12} {}\n",
                c.name,
                c.target,
                c.actual,
                if c.pass { "met" } else { "MISSED" }
            ));
        }
    }
    // One line per breakdown: the failures by last error, then the same failures by why the
    // client stopped, then the drops by cause.
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for o in v.outcomes.iter().filter(|o| o.group != "requests") {
        let item = format!("{} {}", o.label, o.count);
        match groups.iter_mut().find(|(g, _)| *g == o.group) {
            Some((_, items)) => items.push(item),
            None => groups.push((&o.group, vec![item])),
        }
    }
    if !groups.is_empty() {
        out.push('\n');
    }
    for (group, items) in groups {
        out.push_str(&format!("{group}: {}\n", items.join(" · ")));
    }
    let tokens: Vec<String> = v
        .tokens
        .iter()
        .map(|t| format!("{} {} ({})", t.label, t.count, t.share))
        .collect();
    if !tokens.is_empty() {
        out.push_str(&format!("tokens, as the API counted them: {}\n", tokens.join(" · ")));
    }
    let attempts: Vec<String> = v.attempts.iter().map(|a| format!("{} {}", a.label, a.count)).collect();
    if !attempts.is_empty() {
        out.push_str(&format!("attempts by result: {}\n", attempts.join(" · ")));
    }
    out.push_str(&crate::summary::Assumption::lines(&v.rests_on));
    if let Some(b) = &v.advice.binding {
        out.push_str(&format!("\nwhat binds: {}\n", b.sentence));
    }
    if !v.advice.warnings.is_empty() {
        out.push_str("\nwarnings\n");
        for w in &v.advice.warnings {
            out.push_str(&format!("  ! {}\n", w.message));
        }
    }
    if !v.advice.recommendations.is_empty() {
        out.push_str("\nrecommended (why: summary.md or report.html)\n");
        for r in &v.advice.recommendations {
            out.push_str(&format!(
                "  {:<16} {}   (this run: {})\n",
                r.setting, r.value, r.current
            ));
        }
    }
    out
}

/// The per-replica table, when the run had more than one replica.
fn replica_lines(v: &View) -> String {
    if v.replicas.len() < 2 {
        return String::new();
    }
    let mut out = format!(
        "\n{:<12}{:>10}{:>10}{:>8}{:>10}{:>10}{:>10}{:>11}{:>8}\n",
        "replica", "scheduled", "answered", "429s", "p50", "p95", "p99", "in flight", "queue"
    );
    for r in &v.replicas {
        out.push_str(&format!(
            "{:<12}{:>10}{:>10}{:>8}{:>10}{:>10}{:>10}{:>11}{:>8}\n",
            r.name, r.scheduled, r.success, r.status_429, r.p50, r.p95, r.p99, r.peak_inflight, r.peak_queue
        ));
    }
    out.push_str(&format!("({})\n", v.replica_note));
    out
}
