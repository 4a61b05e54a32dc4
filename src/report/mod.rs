//! Outputs of a run, all made from a [`Summary`] (never from engine internals):
//! `summary.json`, `summary.md`, `timeseries.csv` and `report.html`.
//!
//! `stampede report SUMMARY.json` re-renders every one of them from a saved summary, because
//! the summary carries the histograms and the time series.

pub mod calibration;
pub mod compare;
pub mod hlog;
pub mod plan;
pub mod plan_deploy;
pub mod plan_search;
pub mod plots;
pub mod png;
pub mod text;
pub mod view;

use std::path::{Path, PathBuf};

use minijinja::{context, Environment, Value};

use crate::metrics::SecondRow;
use crate::summary::Summary;
use plots::Chart;
use view::View;

fn templates() -> Environment<'static> {
    let mut env = pages("report.html", include_str!("templates/report.html"));
    env.add_template("summary.md", include_str!("templates/summary.md"))
        .expect("markdown template parses");
    env
}

/// `summary.md`: the verdict and figures as Markdown, for a CI step summary or a PR comment.
pub fn markdown(s: &Summary) -> String {
    let text = templates()
        .get_template("summary.md")
        .and_then(|t| t.render(context! { v => View::of(s) }))
        .expect("markdown renders");
    single_blank_lines(&text)
}

/// The text with runs of blank lines (left by optional template sections) cut to one.
fn single_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if !(line.is_empty() && out.ends_with("\n\n")) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A CSV column: its header and how to read its value from a second's row.
pub type CsvColumn = (&'static str, fn(&SecondRow) -> u64);

/// The columns of `timeseries.csv`, in order.
pub const CSV_COLUMNS: [CsvColumn; 21] = [
    ("second", |r| r.second),
    ("offered", |r| r.offered),
    ("started", |r| r.started),
    ("retries", |r| r.retries),
    ("completed", |r| r.completed),
    ("succeeded", |r| r.succeeded),
    ("failed", |r| r.failed),
    ("dropped", |r| r.dropped),
    ("status_429", |r| r.status_429),
    ("errors", |r| r.errors),
    ("inflight", |r| u64::from(r.inflight)),
    ("inflight_max", |r| u64::from(r.inflight_max)),
    ("workers_busy", |r| u64::from(r.workers_busy)),
    ("concurrency_limit", |r| u64::from(r.concurrency_limit)),
    ("breakers_open", |r| u64::from(r.breakers_open)),
    ("queue_depth", |r| u64::from(r.queue_depth)),
    ("queue_max", |r| u64::from(r.queue_max)),
    ("tokens_in", |r| r.tokens_in),
    ("tokens_out", |r| r.tokens_out),
    ("cost_micro_usd", |r| r.cost_micro_usd),
    ("batch_jobs", |r| u64::from(r.batch_jobs)),
];

/// `timeseries.csv`: one row per second.
pub fn timeseries_csv(s: &Summary) -> String {
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|(name, _)| *name).collect();
    let mut out = header.join(",") + "\n";
    for r in &s.timeseries {
        let values: Vec<String> = CSV_COLUMNS.iter().map(|(_, value)| value(r).to_string()).collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// Most points a time series plot draws: longer runs are read in bins of several seconds, or
/// the lines turn into a solid band.
const MAX_POINTS: usize = 150;

/// How a bin of several seconds shows its rows.
#[derive(Clone, Copy)]
pub(crate) enum Agg {
    /// Mean of the per-second counts: still "per second".
    Mean,
    /// The last row's value: a gauge read at the end of the bin.
    Last,
    /// The largest value in the bin.
    Max,
}

/// What a plotted point of `width` seconds shows, for a chart title: ` (mean over 5 s bins)`.
pub(crate) fn bin_note(agg: Agg, width: usize) -> String {
    match (agg, width) {
        (Agg::Mean, 1) => String::new(),
        (Agg::Mean, w) => format!(" (mean over {w} s bins)"),
        (Agg::Max, 1) => " (highest in each second)".into(),
        (Agg::Max, w) => format!(" (highest in each {w} s bin)"),
        (Agg::Last, 1) => " (end of each second)".into(),
        (Agg::Last, w) => format!(" (end of each {w} s bin)"),
    }
}

/// Seconds per plotted point for a series of `seconds` rows.
pub(crate) fn bin_width_for(seconds: usize) -> usize {
    seconds.div_ceil(MAX_POINTS).max(1)
}

fn bin_width(s: &Summary) -> usize {
    bin_width_for(s.timeseries.len())
}

/// One point per bin of [`bin_width`] seconds, at the bin's start.
fn series(s: &Summary, agg: Agg, f: impl Fn(&SecondRow) -> f64) -> Vec<(f64, f64)> {
    binned(&s.timeseries, bin_width(s), agg, f)
}

/// One point per bin of `width` seconds of `rows`, at the bin's start.
pub(crate) fn binned(rows: &[SecondRow], width: usize, agg: Agg, f: impl Fn(&SecondRow) -> f64) -> Vec<(f64, f64)> {
    rows.chunks(width)
        .map(|rows| {
            let values = rows.iter().map(&f);
            let y = match agg {
                Agg::Mean => values.sum::<f64>() / rows.len() as f64,
                Agg::Last => values.last().unwrap_or(0.0),
                Agg::Max => values.fold(0.0, f64::max),
            };
            (rows[0].second as f64, y)
        })
        .collect()
}

/// The latency plots: one percentile spectrum per measure (end to end with the SLO's latency
/// targets, queue wait, service time, time to first token when answers were streamed), end to
/// end per lane when there are lanes, and the end-to-end histogram.
fn latency_plots(s: &Summary) -> Vec<Chart> {
    let mut plots = Vec::new();
    let slo_lines: Vec<(String, f64)> = s
        .slo
        .iter()
        .flat_map(|v| v.checks.iter())
        .filter(|c| c.name.is_latency())
        .map(|c| (format!("SLO {}", c.name), c.target))
        .collect();
    // Without streaming the first token is the whole answer: time to first token would repeat
    // end to end, so it is drawn only when some answers were streamed.
    let measures = [
        (
            "latency",
            "End-to-end latency by percentile",
            "answered requests",
            0,
            true,
        ),
        ("queue_wait", "Queue wait by percentile", "every request", 2, true),
        ("service", "Service time by percentile", "successful attempts", 3, true),
        (
            "ttft",
            "Time to first token by percentile",
            "streamed answers",
            1,
            s.requests.streamed > 0,
        ),
    ];
    for (key, title, name, color, wanted) in measures {
        let Some(h) = s.histogram(key).filter(|h| wanted && h.count() > 0) else {
            continue;
        };
        let rules: &[(String, f64)] = if key == "latency" { &slo_lines } else { &[] };
        plots.push(plots::spectrum(title, &[(name.to_string(), color, &h)], rules));
    }
    if s.histograms.lanes.len() > 1 {
        let lanes: Vec<(String, crate::histogram::LatencyHistogram)> = s
            .histograms
            .lanes
            .iter()
            .filter_map(|(name, text)| {
                crate::histogram::LatencyHistogram::decode(text)
                    .ok()
                    .map(|h| (name.clone(), h))
            })
            .collect();
        let refs: Vec<(String, usize, &crate::histogram::LatencyHistogram)> =
            lanes.iter().enumerate().map(|(i, (n, h))| (n.clone(), i, h)).collect();
        plots.push(plots::spectrum("End-to-end latency by lane", &refs, &slo_lines));
    }
    if let Some(h) = s.histogram("latency").filter(|h| h.count() > 0) {
        plots.push(plots::histogram(
            "End-to-end latency of answered requests (up to p99.9)",
            &h,
        ));
    }
    plots
}

/// Every chart of `report.html`, in page order: latency, then time series.
pub fn charts(s: &Summary) -> Vec<Chart> {
    let mut all = latency_plots(s);
    all.extend(time_plots(s));
    all
}

/// The time series plots, one concern each.
fn time_plots(s: &Summary) -> Vec<Chart> {
    const T: &str = "time since start (s)";
    let width = bin_width(s);
    let (mean, end) = (bin_note(Agg::Mean, width), bin_note(Agg::Last, width));
    let within = if width == 1 {
        "second".to_string()
    } else {
        format!("{width} s bin")
    };
    // Each point covers a whole bin: its step runs to the end of that bin.
    let stepped = |c: Chart| c.bins(width as f64);
    let mut plots = vec![
        stepped(
            // Offered is drawn last, thinnest, on top: when every request fails (a spent daily
            // quota) attempts and failures equal it, and drawn first it hid under them.
            Chart::new(&format!("Requests per second{mean}"), T, "requests per second")
                .line(
                    "failed + dropped",
                    3,
                    series(s, Agg::Mean, |r| (r.failed + r.dropped) as f64),
                )
                .line("answered", 2, series(s, Agg::Mean, |r| r.succeeded as f64))
                .line("attempts sent", 1, series(s, Agg::Mean, |r| r.started as f64))
                .line("offered", 0, series(s, Agg::Mean, |r| r.offered as f64)),
        ),
        stepped(
            Chart::new(
                &format!("429s, other errors and retries per second{mean}"),
                T,
                "per second",
            )
            .line("429 answers", 3, series(s, Agg::Mean, |r| r.status_429 as f64))
            .line("other failed attempts", 4, series(s, Agg::Mean, |r| r.errors as f64))
            .line("retries sent", 1, series(s, Agg::Mean, |r| r.retries as f64)),
        ),
        stepped(
            Chart::new(&format!("In flight and queued{end}"), T, "requests")
                .whole()
                .line("attempts in flight", 0, series(s, Agg::Last, |r| f64::from(r.inflight)))
                .line("queue depth", 1, series(s, Agg::Last, |r| f64::from(r.queue_depth)))
                .line(
                    &format!("queue depth, max in {within}"),
                    7,
                    series(s, Agg::Max, |r| f64::from(r.queue_max)),
                ),
        ),
        stepped(
            Chart::new(&format!("Workers{end}"), T, "workers")
                .whole()
                .line(
                    "busy (sending, or waiting to retry)",
                    0,
                    series(s, Agg::Last, |r| f64::from(r.workers_busy)),
                )
                .line(
                    "concurrency limit",
                    7,
                    series(s, Agg::Last, |r| f64::from(r.concurrency_limit)),
                ),
        ),
    ];
    plots.extend(optional_plots(s, &end).into_iter().map(stepped));
    plots.push(stepped(
        Chart::new(
            &format!("Tokens per second, answered attempts{mean}"),
            T,
            "tokens per second",
        )
        .line("input", 0, series(s, Agg::Mean, |r| r.tokens_in as f64))
        .line("output", 1, series(s, Agg::Mean, |r| r.tokens_out as f64)),
    ));
    plots.push(cost_plot(s));
    // Past four hours the time axis reads in hours.
    if s.timeseries.len() > 4 * 3600 {
        plots = plots.into_iter().map(Chart::in_hours).collect();
    }
    plots
}

/// The time series only some runs have: breakers (a plan with breakers), Batch API jobs (a
/// batch lane). `end` notes how each point reads its bin.
fn optional_plots(s: &Summary, end: &str) -> Vec<Chart> {
    const T: &str = "time since start (s)";
    let mut plots = Vec::new();
    if s.run.strategy.breaker.is_some() {
        plots.push(
            Chart::new(&format!("Circuit breakers not closed{end}"), T, "breakers")
                .whole()
                .line(
                    "open or half-open",
                    3,
                    series(s, Agg::Last, |r| f64::from(r.breakers_open)),
                ),
        );
    }
    if s.batch.is_some() {
        plots.push(
            Chart::new(&format!("Batch API jobs in flight{end}"), T, "jobs")
                .whole()
                .line(
                    "submitted, not ended",
                    4,
                    series(s, Agg::Last, |r| f64::from(r.batch_jobs)),
                ),
        );
    }
    plots
}

/// The cost so far, from the per-second spend: a running sum, one point per second's end.
fn cost_plot(s: &Summary) -> Chart {
    let mut spent = 0u64;
    let cost: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
        .chain(s.timeseries.iter().map(|r| {
            spent += r.cost_micro_usd;
            (r.second as f64 + 1.0, spent as f64 / 1e6)
        }))
        .collect();
    Chart::new("Cost so far", "time since start (s)", "cost (USD)").line("spent", 2, cost)
}

/// `report.html`: one self-contained page with inline SVG plots and CSS.
pub fn html(s: &Summary) -> String {
    let (latency, time) = (latency_plots(s), time_plots(s));
    let safe = |v: Vec<Chart>| {
        v.iter()
            .map(|c| Value::from_safe_string(c.inline_svg()))
            .collect::<Vec<_>>()
    };
    templates()
        .get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                v => View::of(s),
                plots => context! { latency => safe(latency), time => safe(time) },
                version => env!("CARGO_PKG_VERSION"),
            })
        })
        .expect("report renders")
}

/// The files rendered from a summary: `summary.md`, `timeseries.csv`, `report.html` and
/// `latency.hlog`, as (file name, content).
pub fn rendered(s: &Summary) -> [(&'static str, String); 4] {
    [
        ("summary.md", markdown(s)),
        ("timeseries.csv", timeseries_csv(s)),
        ("report.html", html(s)),
        ("latency.hlog", hlog::interval_log(s)),
    ]
}

/// Writes every output of a run into `dir` (created if needed): `summary.json` and the
/// [`rendered`] files; returns the paths written.
pub fn write_all(s: &Summary, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(s).map_err(std::io::Error::other)? + "\n";
    let mut written = write_files(dir, [("summary.json", json)])?;
    written.extend(write_files(dir, rendered(s))?);
    Ok(written)
}

/// `DIR/{a, b, c}`: the files written, for the terminal.
pub fn listing(dir: &Path, written: &[PathBuf]) -> String {
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    format!("{}/{{{}}}", dir.display(), names.join(", "))
}

/// Writes `(file name, content)` pairs into `dir`, each whole or not at all (a temporary file
/// renamed into place); returns the paths written.
pub(crate) fn write_files<const N: usize>(dir: &Path, files: [(&str, String); N]) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        crate::out_file::write(&path, content.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// A template environment holding `name`, the layout every page extends (`page.html`) and the
/// stylesheet it includes.
pub(crate) fn pages(name: &'static str, source: &'static str) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_template("base.css", include_str!("templates/base.css"))
        .expect("stylesheet parses");
    env.add_template("page.html", include_str!("templates/page.html"))
        .expect("page layout parses");
    env.add_template("rests_on.html", include_str!("templates/rests_on.html"))
        .expect("template parses");
    env.add_template(name, source).expect("template parses");
    env
}
