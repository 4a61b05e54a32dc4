//! Rows of the counts table about what was spent and how: the cost by what is billed, the
//! batch lane, conversations' input by turn, and the service tiers.

use super::CountRow;
use crate::format::{count, ms, usd};
use crate::summary::Summary;

/// The cost by what is billed (when anything was cached or thought), the batch lane (when one
/// ran), conversations' mean input and cached share by turn (sessions traffic), and each service
/// tier's answers, downgrades, cost and p95 (when a tier other than Standard was asked for).
pub(super) fn usage_rows(s: &Summary) -> Vec<CountRow> {
    let mut rows = Vec::new();
    if let (Some(c), Some(total)) = (&s.cost_split, s.cost_usd) {
        if s.tokens.cached > 0 || s.tokens.thinking > 0 {
            let part = |v: f64| {
                if total > 0.0 {
                    format!("{:.1}% of the cost", v / total * 100.0)
                } else {
                    "—".into()
                }
            };
            let rows_shown = [
                ("fresh input", c.fresh_input_usd, true),
                ("cached input", c.cached_input_usd, s.tokens.cached > 0),
                ("output", c.output_usd, true),
                ("thinking", c.thinking_usd, s.tokens.thinking > 0),
            ];
            for (label, v, _) in rows_shown.into_iter().filter(|r| r.2) {
                rows.push(CountRow {
                    group: "cost, by what is billed".into(),
                    label: label.into(),
                    count: usd(Some(v)),
                    share: part(v),
                });
            }
            if s.tokens.cached > 0 {
                rows.push(CountRow {
                    group: "cost, by what is billed".into(),
                    label: "saved by caching".into(),
                    count: usd(Some(c.cache_saving_usd)),
                    share: "what the cached tokens would have cost as fresh input, less their cost".into(),
                });
            }
        }
    }
    if let Some(b) = &s.batch {
        let group = "batch lane (Batch API)";
        let mut row = |label: &str, count: String, share: String| {
            rows.push(CountRow {
                group: group.into(),
                label: label.into(),
                count,
                share,
            })
        };
        row("jobs", count(b.jobs), format!("{} answers", count(b.answered)));
        row(
            "turnaround",
            ms(b.turnaround_ms.p50),
            format!("median, submit to result; p95 {}", ms(b.turnaround_ms.p95)),
        );
        row(
            "cost at the batch price",
            usd(b.cost_usd),
            format!("saved {} against sending them online", usd(b.saving_usd)),
        );
    }
    for t in s.turns.iter().take(30) {
        rows.push(CountRow {
            group: "conversations: mean input tokens by turn".into(),
            label: format!("turn {}", t.turn),
            count: format!("{:.0}", t.mean_input_tokens),
            share: format!(
                "{:.0}% cached · {} answered · planned {:.0}",
                t.cached_share * 100.0,
                count(t.answered),
                t.mean_planned_input_tokens
            ),
        });
    }
    for (tier, t) in &s.service_tiers {
        let downgraded = if t.downgraded > 0 {
            format!(
                " · {} of {} served at standard",
                count(t.downgraded),
                count(t.requested)
            )
        } else {
            String::new()
        };
        rows.push(CountRow {
            group: "service tiers (answered attempts)".into(),
            label: tier.clone(),
            count: count(t.answered),
            share: format!("{} · p95 {}{downgraded}", usd(t.cost_usd), ms(t.latency_ms.p95)),
        });
    }
    rows
}
