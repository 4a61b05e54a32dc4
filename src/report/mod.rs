//! Outputs of a run, all made from a [`Summary`] (never from engine internals):
//! `summary.json`, `summary.md`, `timeseries.csv` and `report.html`.
//!
//! `stampede report SUMMARY.json` re-renders every one of them from a saved summary, because
//! the summary carries the histograms and the time series.

pub mod compare;
pub mod format;
pub mod plots;
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
    templates()
        .get_template("summary.md")
        .and_then(|t| t.render(context! { v => View::of(s) }))
        .expect("markdown renders")
}

/// A CSV column: its header and how to read its value from a second's row.
pub type CsvColumn = (&'static str, fn(&SecondRow) -> u64);

/// The columns of `timeseries.csv`, in order.
pub const CSV_COLUMNS: [CsvColumn; 19] = [
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

fn series(s: &Summary, f: impl Fn(&SecondRow) -> f64) -> Vec<(f64, f64)> {
    s.timeseries.iter().map(|r| (r.second as f64, f(r))).collect()
}

/// The page's plots: latency (spectrum, histogram) and time series.
fn plot_set(s: &Summary) -> (Vec<String>, Vec<String>) {
    let mut latency = Vec::new();
    let names = [
        ("queue_wait", "queue wait", 2),
        ("service", "service time", 3),
        ("ttft", "time to first token", 1),
        ("latency", "end to end", 0),
    ];
    let hists: Vec<(String, usize, crate::metrics::LatencyHistogram)> = names
        .iter()
        .filter_map(|(key, name, color)| s.histogram(key).map(|h| (name.to_string(), *color, h)))
        .filter(|(_, _, h)| h.count() > 0)
        .collect();
    // Without streaming, the first token is the whole answer: time to first token equals end
    // to end and would hide it, so it is drawn only when some answers were streamed. End to end
    // is drawn last, on top.
    let hists: Vec<_> = hists
        .into_iter()
        .filter(|(name, _, _)| name != "time to first token" || s.requests.streamed > 0)
        .collect();
    let refs: Vec<(String, usize, &crate::metrics::LatencyHistogram)> =
        hists.iter().map(|(n, c, h)| (n.clone(), *c, h)).collect();
    let slo_lines: Vec<(String, f64)> = s
        .slo
        .iter()
        .flat_map(|v| v.checks.iter())
        .filter(|c| c.name.starts_with('p'))
        .map(|c| (format!("SLO {}", c.name), c.target))
        .collect();
    latency.push(plots::spectrum("Latency by percentile", &refs, &slo_lines));
    if let Some(h) = s.histogram("latency") {
        latency.push(plots::histogram(
            "End-to-end latency of answered requests (up to p99.9)",
            &h,
        ));
    }
    let mut rate = Chart::new("Requests per second", "time since start (s)", "requests per second")
        .line("offered", 0, series(s, |r| r.offered as f64))
        .line("attempts sent", 1, series(s, |r| r.started as f64))
        .line("answered", 2, series(s, |r| r.succeeded as f64))
        .line("failed + dropped", 3, series(s, |r| (r.failed + r.dropped) as f64));
    rate.steps = true;
    let mut trouble = Chart::new(
        "429s, other errors and retries per second",
        "time since start (s)",
        "per second",
    )
    .line("429 answers", 3, series(s, |r| r.status_429 as f64))
    .line("other failed attempts", 4, series(s, |r| r.errors as f64))
    .line("retries sent", 1, series(s, |r| r.retries as f64));
    trouble.steps = true;
    let mut depth = Chart::new(
        "In flight and queued (end of each second)",
        "time since start (s)",
        "requests",
    )
    .line("attempts in flight", 0, series(s, |r| f64::from(r.inflight)))
    .line("queue depth", 1, series(s, |r| f64::from(r.queue_depth)))
    .line("queue depth, max in second", 7, series(s, |r| f64::from(r.queue_max)));
    depth.steps = true;
    (latency, vec![rate.svg(), trouble.svg(), depth.svg()])
}

/// `report.html`: one self-contained page with inline SVG plots and CSS.
pub fn html(s: &Summary) -> String {
    let (latency, time) = plot_set(s);
    let safe = |v: Vec<String>| v.into_iter().map(Value::from_safe_string).collect::<Vec<_>>();
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

/// Writes every output of a run into `dir` (created if needed); returns the paths written.
pub fn write_all(s: &Summary, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "summary.json",
            serde_json::to_string_pretty(s).map_err(std::io::Error::other)? + "\n",
        ),
        ("summary.md", markdown(s)),
        ("timeseries.csv", timeseries_csv(s)),
        ("report.html", html(s)),
    ];
    write_files(dir, files)
}

/// Writes `(file name, content)` pairs into `dir`; returns the paths written.
pub(crate) fn write_files<const N: usize>(dir: &Path, files: [(&str, String); N]) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}

/// A template environment holding `name` and the stylesheet every page includes.
pub(crate) fn pages(name: &'static str, source: &'static str) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_template("base.css", include_str!("templates/base.css"))
        .expect("stylesheet parses");
    env.add_template(name, source).expect("template parses");
    env
}
