//! The figures of a summary, formatted once for every output (terminal, Markdown, HTML).

use serde::Serialize;

use crate::format::{count, ms, pct, rate, secs, usd};
use crate::histogram::LatencyStats;
use crate::scenario::slo::Bound;
use crate::summary::Summary;

pub mod replicas;
mod usage;

/// A key figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What it is.
    pub label: String,
    /// The value.
    pub value: String,
    /// What it means or how it was measured.
    pub note: String,
}

/// One row of the latency table.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    /// What is measured.
    pub metric: String,
    /// How it is measured.
    pub note: String,
    /// How many values were recorded.
    pub count: String,
    /// Mean of the values.
    pub mean: String,
    /// Median.
    pub p50: String,
    /// 90th percentile.
    pub p90: String,
    /// 95th percentile.
    pub p95: String,
    /// 99th percentile.
    pub p99: String,
    /// 99.9th.
    pub p999: String,
    /// Largest value recorded.
    pub max: String,
}

impl LatencyRow {
    fn new(metric: &str, note: &str, s: &LatencyStats) -> LatencyRow {
        LatencyRow {
            metric: metric.into(),
            note: note.into(),
            count: count(s.count),
            mean: ms(s.mean),
            p50: ms(s.p50),
            p90: ms(s.p90),
            p95: ms(s.p95),
            p99: ms(s.p99),
            p999: ms(s.p999),
            max: ms(s.max),
        }
    }
}

/// A row of a counted breakdown.
#[derive(Debug, Clone, Serialize)]
pub struct CountRow {
    /// Group (`failed`, `dropped`, `attempts`).
    pub group: String,
    /// What was counted.
    pub label: String,
    /// How many.
    pub count: String,
    /// Share of the group's whole.
    pub share: String,
}

/// One SLO check, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    /// Objective name.
    pub name: String,
    /// The objective.
    pub target: String,
    /// What was measured.
    pub actual: String,
    /// Met or not.
    pub pass: bool,
}

/// One lane, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct LaneRow {
    /// Lane name.
    pub name: String,
    /// Requests the lane scheduled.
    pub scheduled: String,
    /// Success share.
    pub success: String,
    /// Requests of the lane the client dropped.
    pub dropped: String,
    /// Median latency.
    pub p50: String,
    /// 95th percentile latency.
    pub p95: String,
    /// 99th percentile latency.
    pub p99: String,
    /// Queue wait p95.
    pub queue_p95: String,
}

/// Everything the outputs print.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: Option<String>,
    /// Target kind.
    pub target: String,
    /// Model the traffic calls by default.
    pub model: String,
    /// Seed of the run, so a reader can run it again.
    pub seed: u64,
    /// One line on how the run was carried out.
    pub mode: String,
    /// The steady-state window's sentence (or why there is none); empty for old summaries.
    pub steady: String,
    /// Overall verdict: `PASS`, `FAIL` or `no SLO`.
    pub verdict: String,
    /// Whether the verdict passed (true when there is no SLO).
    pub pass: bool,
    /// SLO checks.
    pub checks: Vec<CheckRow>,
    /// Key figures.
    pub figures: Vec<Figure>,
    /// Latency rows.
    pub latency: Vec<LatencyRow>,
    /// Outcome breakdown.
    pub outcomes: Vec<CountRow>,
    /// Tokens of answered requests as the API counted them, against the planned sizes.
    pub tokens: Vec<CountRow>,
    /// Attempt breakdown.
    pub attempts: Vec<CountRow>,
    /// One row per lane (empty rows left out).
    pub lanes: Vec<LaneRow>,
    /// Per client replica (empty with one).
    pub replicas: Vec<replicas::ReplicaRow>,
    /// How the load was spread over the replicas (empty with one).
    pub replica_note: String,
    /// The strategy, pretty JSON.
    pub strategy: String,
    /// The mock profile, pretty JSON.
    pub mock_profile: Option<String>,
    /// Run metadata (label, value).
    pub metadata: Vec<(String, String)>,
    /// Recommended settings and warnings.
    pub advice: crate::summary::advice::Advice,
    /// What the figures rest on, each with how to replace it.
    pub rests_on: Vec<crate::summary::Assumption>,
}

fn share(n: u64, of: u64) -> String {
    pct((of > 0).then(|| n as f64 / of as f64))
}

impl View {
    /// Formats a summary: every figure the terminal table, summary.md and report.html print.
    pub fn of(s: &Summary) -> View {
        let (verdict, pass, checks) = slo_rows(s);
        View {
            scenario: s.run.scenario.clone(),
            description: s.run.description.clone(),
            target: s.run.target.clone(),
            model: s.run.model.clone(),
            seed: s.run.seed,
            mode: mode(s),
            steady: s
                .steady_state
                .as_ref()
                .map_or_else(String::new, |st| st.sentence.clone()),
            verdict,
            pass,
            checks,
            figures: key_figures(s),
            latency: latency_rows(s),
            outcomes: outcome_rows(s),
            tokens: token_rows(s),
            attempts: attempt_rows(s),
            lanes: lane_rows(s),
            replicas: replicas::rows(s),
            replica_note: replicas::note(s),
            strategy: serde_json::to_string_pretty(&s.run.strategy).unwrap_or_default(),
            mock_profile: s
                .run
                .mock_profile
                .as_ref()
                .map(|p| serde_json::to_string_pretty(p).unwrap_or_default()),
            metadata: metadata(s),
            advice: s.advice.clone(),
            rests_on: s.run.rests_on.clone(),
        }
    }
}

/// How the run was made: simulated or live, and how long it covered.
fn mode(s: &Summary) -> String {
    if s.run.simulated {
        format!(
            "simulated {} of traffic ({} until the last answer) in {} of wall time",
            secs(s.run.duration_s),
            secs(s.run.elapsed_s),
            secs(s.run.wall_time_s)
        )
    } else {
        format!(
            "live run: {} of traffic, {} of wall time",
            secs(s.run.duration_s),
            secs(s.run.wall_time_s)
        )
    }
}

/// The SLO's verdict, whether it passed, and one row per objective.
fn slo_rows(s: &Summary) -> (String, bool, Vec<CheckRow>) {
    match &s.slo {
        None => ("no SLO".to_string(), true, Vec::new()),
        Some(v) => (
            if v.pass { "PASS" } else { "FAIL" }.to_string(),
            v.pass,
            v.checks
                .iter()
                .map(|c| {
                    let show = match c.name.bound() {
                        Bound::Share => pct,
                        Bound::Usd => usd,
                        Bound::Ms => ms,
                    };
                    let target = format!("{} {}", c.name.sign(), show(Some(c.target)));
                    let actual = show(c.actual);
                    CheckRow {
                        name: c.name.to_string(),
                        target,
                        actual,
                        pass: c.pass,
                    }
                })
                .collect(),
        ),
    }
}

/// A cost note with the catalog that priced it ("…; priced by stampede's catalog of 2026-12-03").
fn priced_by(s: &Summary, note: String) -> String {
    match &s.run.catalog {
        Some(c) => format!("{note}; priced by {c}"),
        None => note,
    }
}

/// The cards across the top of the page: success, p95, goodput, 429s, retries, cost, decode speed.
fn key_figures(s: &Summary) -> Vec<Figure> {
    let (r, a) = (&s.requests, &s.attempts);
    let mut figures = vec![
        Figure {
            label: "success".into(),
            value: pct(r.success_rate),
            note: format!("{} of {} requests answered", count(r.succeeded), count(r.scheduled)),
        },
        Figure {
            label: "p95 latency".into(),
            value: ms(s.latency_ms.p95),
            note: format!(
                "end to end from intended start; p50 {}, p99 {}",
                ms(s.latency_ms.p50),
                ms(s.latency_ms.p99)
            ),
        },
        Figure {
            label: "goodput".into(),
            value: rate(s.throughput.goodput_rps),
            note: offered_note(s),
        },
        Figure {
            label: "429s".into(),
            value: count(a.status_429),
            note: format!("{} of {} attempts", share(a.status_429, a.total), count(a.total)),
        },
        Figure {
            label: "retries".into(),
            value: count(a.retries),
            note: format!(
                "{} attempts per request",
                a.per_request.map_or("—".to_string(), |v| format!("{v:.2}"))
            ),
        },
        Figure {
            label: "cost".into(),
            value: usd(s.cost_usd),
            note: priced_by(
                s,
                if s.tokens.cached > 0 {
                    format!(
                        "{} in ({} cached, saving {}) / {} out tokens",
                        count(s.tokens.input),
                        count(s.tokens.cached),
                        usd(s.cost_split.as_ref().map(|c| c.cache_saving_usd)),
                        count(s.tokens.output + s.tokens.thinking)
                    )
                } else {
                    format!(
                        "{} in / {} out tokens",
                        count(s.tokens.input),
                        count(s.tokens.output + s.tokens.thinking)
                    )
                },
            ),
        },
    ];
    if let Some(st) = &s.stream {
        let tps = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0} tok/s"));
        let modelled = !crate::summary::decode_unmodelled(s);
        figures.push(Figure {
            label: "decode speed".into(),
            value: if modelled {
                tps(st.output_tokens_per_s.p50)
            } else {
                "—".into()
            },
            note: if modelled {
                format!(
                    "median after the first chunk, {} streamed answers; slowest 10% {}",
                    count(st.answers),
                    tps(st.output_tokens_per_s.slowest_10pct)
                )
            } else {
                "not modelled: the mock's decode_tps is 0 (see the warnings)".into()
            },
        });
    }
    figures
}

/// What was offered, over which window: the traffic window, and when arrivals ended well
/// before it (a trace shorter than `duration`), the rate while they lasted too.
fn offered_note(s: &Summary) -> String {
    let t = &s.throughput;
    let window = s.run.duration_s;
    let span = s.arrival_span_s();
    let peak = count(t.peak_offered_1s);
    if span > 0.0 && span < 0.95 * window {
        format!(
            "offered {} over the {} window; arrivals ended at {}: {} while they lasted; peak {peak} in 1 s",
            rate(t.offered_rps),
            secs(window),
            secs(span),
            rate(s.requests.scheduled as f64 / span)
        )
    } else {
        format!(
            "offered {} over the {} window; peak {peak} in 1 s",
            rate(t.offered_rps),
            secs(window)
        )
    }
}

/// The latency table: end to end, first token, queue, service, schedule lag, connections, streaming.
fn latency_rows(s: &Summary) -> Vec<LatencyRow> {
    let mut latency = vec![
        LatencyRow::new(
            "end to end",
            "intended start → answer, answered requests",
            &s.latency_ms,
        ),
        LatencyRow::new("time to first token", "intended start → first token", &s.ttft_ms),
        LatencyRow::new("queue wait", "arrival → first attempt sent", &s.queue_wait_ms),
        LatencyRow::new(
            "service",
            "attempt sent → answer, successful online attempts (batched ones: the batch lane's turnaround)",
            &s.service_ms,
        ),
        LatencyRow::new("schedule lag", "intended start → taken in", &s.schedule_lag_ms),
    ];
    if let Some(c) = &s.connections {
        if c.dns_ms.count > 0 {
            latency.push(LatencyRow::new("DNS lookup", "per new connection", &c.dns_ms));
        }
        latency.push(LatencyRow::new(
            "connection set-up",
            "DNS + TCP + TLS, per new connection (pooled afterwards)",
            &c.connect_ms,
        ));
    }
    if let Some(st) = &s.stream {
        latency.push(LatencyRow::new(
            "inter-chunk gap",
            "one streamed chunk → the next",
            &st.inter_chunk_ms,
        ));
        latency.push(LatencyRow::new(
            "time per output token",
            "after the first chunk, per streamed answer (the API's token counts)",
            &st.time_per_output_token_ms,
        ));
    }
    latency
}

/// Token truth: what the API counted against what the scenario planned.
fn token_rows(s: &Summary) -> Vec<CountRow> {
    // Token truth: what the API counted against what the scenario planned.
    let planned = |counted: u64, planned: u64| {
        if planned == 0 {
            "—".to_string()
        } else {
            format!(
                "{:+.1}% vs {} planned",
                (counted as f64 / planned as f64 - 1.0) * 100.0,
                count(planned)
            )
        }
    };
    let t = &s.tokens;
    // Thinking has no planned size, and a row only when the model thought.
    let tokens: Vec<CountRow> = [
        ("input", t.input, t.planned_input),
        ("output", t.output, t.planned_output),
        ("thinking (billed as output)", t.thinking, 0),
    ]
    .into_iter()
    .filter(|&(label, counted, _)| counted > 0 || !label.starts_with("thinking"))
    .map(|(label, counted, plan)| CountRow {
        group: "tokens, as the API counted them".into(),
        label: label.into(),
        count: count(counted),
        share: planned(counted, plan),
    })
    .collect();
    let mut rows = tokens;
    if t.cached > 0 {
        rows.insert(
            1,
            CountRow {
                group: "tokens, as the API counted them".into(),
                label: "of the input, cached".into(),
                count: count(t.cached),
                share: format!("{} of the input", share(t.cached, t.input)),
            },
        );
    }
    rows.extend(usage::usage_rows(s));
    rows
}

/// Requests by outcome, then failures by last error and by why they were given up, and drops by cause.
fn outcome_rows(s: &Summary) -> Vec<CountRow> {
    let r = &s.requests;
    let mut outcomes = vec![
        CountRow {
            group: "requests".into(),
            label: "succeeded".into(),
            count: count(r.succeeded),
            share: share(r.succeeded, r.scheduled),
        },
        CountRow {
            group: "requests".into(),
            label: "failed".into(),
            count: count(r.failed),
            share: share(r.failed, r.scheduled),
        },
        CountRow {
            group: "requests".into(),
            label: "dropped".into(),
            count: count(r.dropped),
            share: share(r.dropped, r.scheduled),
        },
    ];
    for (k, v) in &r.failed_by {
        outcomes.push(CountRow {
            group: "failed, by last error".into(),
            label: k.clone(),
            count: count(*v),
            share: share(*v, r.scheduled),
        });
    }
    for (k, v) in &r.gave_up {
        outcomes.push(CountRow {
            group: "the same failures, by why the client stopped".into(),
            label: k.replace('_', " "),
            count: count(*v),
            share: share(*v, r.scheduled),
        });
    }
    for (k, v) in &r.dropped_by {
        outcomes.push(CountRow {
            group: "dropped, by cause".into(),
            label: k.replace('_', " "),
            count: count(*v),
            share: share(*v, r.scheduled),
        });
    }
    outcomes
}

/// Attempts by result.
fn attempt_rows(s: &Summary) -> Vec<CountRow> {
    let a = &s.attempts;
    let attempts: Vec<CountRow> = a
        .by_result
        .iter()
        .map(|(k, v)| CountRow {
            group: "attempts".into(),
            label: k.clone(),
            count: count(*v),
            share: share(*v, a.total),
        })
        .collect();
    attempts
}

/// One row per lane.
fn lane_rows(s: &Summary) -> Vec<LaneRow> {
    let lanes: Vec<LaneRow> = s
        .lanes
        .iter()
        .map(|(name, l)| LaneRow {
            name: name.clone(),
            scheduled: count(l.scheduled),
            success: share(l.succeeded, l.scheduled),
            dropped: count(l.dropped),
            p50: ms(l.latency_ms.p50),
            p95: ms(l.latency_ms.p95),
            p99: ms(l.latency_ms.p99),
            queue_p95: ms(l.queue_wait_ms.p95),
        })
        .collect();
    lanes
}

/// The run's metadata, as label and value.
fn metadata(s: &Summary) -> Vec<(String, String)> {
    let metadata = vec![
        ("stampede version".into(), s.stampede_version.clone()),
        ("started at".into(), s.run.started_at.clone()),
        ("wall time".into(), secs(s.run.wall_time_s)),
        (
            "time covered".into(),
            format!(
                "{} ({})",
                secs(s.run.elapsed_s),
                if s.run.simulated { "simulated" } else { "live" }
            ),
        ),
        ("traffic window".into(), secs(s.run.duration_s)),
        (
            "stopped early".into(),
            s.run.stopped_early.clone().unwrap_or_else(|| "no".into()),
        ),
    ];
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SecondRow;

    #[test]
    fn the_offered_rate_names_its_window_and_traffic_that_ended_early() {
        let mut s = crate::summary::empty_for_tests();
        s.run.duration_s = 100.0;
        s.requests.scheduled = 50;
        s.throughput.offered_rps = 0.5;
        // Arrivals in seconds 0..=9 only: the traffic stopped at 10 s of a 100 s window.
        s.timeseries = (0..100)
            .map(|second| SecondRow {
                second,
                offered: if second < 10 { 5 } else { 0 },
                ..SecondRow::default()
            })
            .collect();
        let note = offered_note(&s);
        assert!(note.contains("over the 100.0 s window"), "{note}");
        assert!(
            note.contains("arrivals ended at 10.0 s: 5.00/s while they lasted"),
            "{note}"
        );
        // Traffic to the end of the window: the window alone.
        s.timeseries[99].offered = 1;
        assert!(!offered_note(&s).contains("arrivals ended"), "{}", offered_note(&s));
    }
}
