//! The compare outputs: `compare.json`, `compare.md` and `compare.html` (the side-by-side table,
//! overlaid percentile spectra and time series, one colour per strategy in every plot).

use std::path::{Path, PathBuf};

use minijinja::{context, Value};
use serde::Serialize;

use super::plots::{self, Chart, PALETTE};
use crate::commands::compare::Comparison;
use crate::format::secs;

#[derive(Clone, Serialize)]
struct Cell {
    text: String,
    best: bool,
}

#[derive(Serialize)]
struct Row {
    label: String,
    cells: Vec<Cell>,
}

/// Strategies per table on the page: eight fit 1,400 px with the figure labels (names wrap);
/// more go on in a second table.
const PAGE_BLOCK: usize = 8;

/// One table of the page: a block of strategies (index, name, colour) and their rows.
#[derive(Serialize)]
struct Block {
    strategies: Vec<(usize, String, String)>,
    rows: Vec<Row>,
}

/// The page's tables: the strategies in blocks of [`PAGE_BLOCK`], each with every figure.
fn blocks(c: &Comparison) -> Vec<Block> {
    let all = rows(c);
    let indices: Vec<usize> = (0..c.strategies.len()).collect();
    indices
        .chunks(PAGE_BLOCK)
        .map(|chunk| Block {
            strategies: chunk
                .iter()
                .map(|&i| (i, c.strategies[i].name.clone(), color(i)))
                .collect(),
            rows: all
                .iter()
                .map(|r| Row {
                    label: r.label.clone(),
                    cells: chunk.iter().map(|&i| r.cells[i].clone()).collect(),
                })
                .collect(),
        })
        .collect()
}

fn rows(c: &Comparison) -> Vec<Row> {
    c.metrics
        .iter()
        .map(|m| Row {
            label: m.row_label(),
            cells: c
                .strategies
                .iter()
                .map(|s| {
                    let (text, best) = c.shown(m, s);
                    Cell { text, best }
                })
                .collect(),
        })
        .collect()
}

/// `compare.md`.
pub fn markdown(c: &Comparison) -> String {
    let mut out = format!(
        "## stampede compare · {} · {} strategies\n\ntarget **{}** · seeds {:?} · {} of traffic each, identical requests for every strategy\n\n",
        c.scenario,
        c.strategies.len(),
        c.target,
        c.seeds,
        secs(c.duration_s)
    );
    if let Some(catalog) = &c.catalog {
        out.push_str(&format!("costs priced by {catalog}\n\n"));
    }
    out.push_str(&crate::summary::Assumption::markdown(&c.rests_on));
    out.push_str(&format!("{}\n\n", crate::commands::compare::best::rule(&c.strategies)));
    for line in long_limits(c) {
        out.push_str(&format!("> {line}\n\n"));
    }
    out.push_str("| |");
    for s in &c.strategies {
        out.push_str(&format!(" {} |", s.name));
    }
    out.push_str("\n| --- |");
    out.push_str(&" ---: |".repeat(c.strategies.len()));
    out.push('\n');
    for row in rows(c) {
        out.push_str(&format!("| {} |", row.label));
        for cell in row.cells {
            out.push_str(&format!(" {}{} |", cell.text, if cell.best { " ★" } else { "" }));
        }
        out.push('\n');
    }
    out
}

/// From this many strategies on, each time series is drawn as small multiples.
const MULTIPLES_FROM: usize = 3;

fn color(i: usize) -> String {
    let c = PALETTE[i % PALETTE.len()];
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// The long limits (daily quota, monthly cap, spend-based limit) a strategy's traffic does not
/// fit, as sentences: once when every strategy misses it alike, else after the names of the
/// strategies that do (the cost-based ones differ by strategy: a batched or Flex lane spends
/// less); empty when they fit or are unknown.
pub fn long_limits(c: &Comparison) -> Vec<String> {
    // One line per limit: the demand offered is the traffic's, the same for every strategy on
    // identical requests, so the strategies that miss a limit share one sentence (the median's
    // figures), without what each happened to answer.
    let mut found: Vec<(
        crate::summary::horizon::LongLimit,
        Vec<(&str, &crate::summary::horizon::LimitCheck)>,
    )> = Vec::new();
    for s in &c.strategies {
        for l in s.summary.horizon.iter().flat_map(|h| h.missed()) {
            match found.iter_mut().find(|(k, _)| *k == l.limit) {
                Some((_, v)) => v.push((&s.name, l)),
                None => found.push((l.limit, vec![(&s.name, l)])),
            }
        }
    }
    found
        .into_iter()
        .map(|(_, mut missed)| {
            missed.sort_by(|a, b| a.1.needed.total_cmp(&b.1.needed));
            let median = missed[missed.len() / 2].1;
            let message = median.demand_message();
            if missed.len() == c.strategies.len() {
                message.to_string()
            } else {
                let names: Vec<&str> = missed.iter().map(|(n, _)| *n).collect();
                format!("{}: {message}", names.join(", "))
            }
        })
        .collect()
}

/// `compare.html`.
pub fn html(c: &Comparison) -> String {
    let hists: Vec<_> = c
        .strategies
        .iter()
        .map(|s| (s.name.clone(), s.summary.histogram("latency").unwrap_or_default()))
        .collect();
    let refs: Vec<_> = hists.iter().enumerate().map(|(i, (n, h))| (n.clone(), i, h)).collect();
    let spectrum = plots::spectrum("End-to-end latency of answered requests, by percentile", &refs, &[]).inline_svg();
    let time = time_plots(c);
    let safe = |v: Vec<String>| v.into_iter().map(Value::from_safe_string).collect::<Vec<_>>();
    let env = super::pages("compare.html", include_str!("templates/compare.html"));
    env.get_template("compare.html")
        .and_then(|t| {
            t.render(context! {
                c => c,
                blocks => blocks(c),
                rule => crate::commands::compare::best::rule_body(&c.strategies),
                long_limits => long_limits(c),
                seeds => format!("{:?}", c.seeds),
                window => secs(c.duration_s),
                wall => secs(c.wall_time_s),
                plots => context! {
                    latency => safe(vec![spectrum]),
                    time => time.into_iter().map(|(title, plots)| context! { title, plots => safe(plots) }).collect::<Vec<_>>(),
                },
                multiples => c.strategies.len() > MULTIPLES_FROM,
                strategies => c.strategies.iter().map(|s| serde_json::to_string_pretty(&s.summary.run.strategy).unwrap_or_default()).collect::<Vec<_>>(),
                version => env!("CARGO_PKG_VERSION"),
            })
        })
        .expect("compare page renders")
}

/// The time series of every strategy, one figure each (a chart, or small multiples under
/// their series' title).
fn time_plots(c: &Comparison) -> Vec<(String, Vec<String>)> {
    // Long runs are read in bins of several seconds, the same for every strategy.
    let seconds = c
        .strategies
        .iter()
        .map(|s| s.summary.timeseries.len())
        .max()
        .unwrap_or(0);
    let width = super::bin_width_for(seconds);
    let series = |agg, f, title: &str, y: &str| strategy_series(c, width, agg, f, title, y);
    let mut time = vec![
        series(
            super::Agg::Mean,
            |r| r.succeeded as f64,
            "Answered requests per second",
            "requests per second",
        ),
        series(
            super::Agg::Mean,
            |r| r.started as f64,
            "Attempts sent per second",
            "per second",
        ),
        series(
            super::Agg::Mean,
            |r| (r.status_429 + r.errors) as f64,
            "Failed attempts per second (429s, 5xx, timeouts, transport)",
            "per second",
        ),
        series(
            super::Agg::Max,
            |r| r.queue_max as f64,
            "Queue depth",
            "requests waiting",
        ),
    ];
    // What only some strategies have: an adaptive limit, circuit breakers.
    let adaptive = c
        .strategies
        .iter()
        .any(|s| s.summary.run.strategy.concurrency.algorithm != crate::strategy::concurrency::Algorithm::Fixed);
    if adaptive {
        time.push(series(
            super::Agg::Last,
            |r| r.concurrency_limit as f64,
            "Concurrency limit",
            "workers allowed",
        ));
    }
    let any_breaker = c
        .strategies
        .iter()
        .any(|s| s.summary.timeseries.iter().any(|r| r.breakers_open != 0));
    if any_breaker {
        time.push(series(
            super::Agg::Last,
            |r| r.breakers_open as f64,
            "Open circuit breakers",
            "breakers open",
        ));
    }
    time
}

/// One time series of every strategy, binned `width` seconds by `agg`: up to three strategies
/// share a chart; more get one small chart each (small multiples), on the same axes, so no line
/// hides under six others.
fn strategy_series(
    c: &Comparison,
    width: usize,
    agg: super::Agg,
    f: fn(&crate::metrics::SecondRow) -> f64,
    title: &str,
    y: &str,
) -> (String, Vec<String>) {
    let lines: Vec<Vec<(f64, f64)>> = c
        .strategies
        .iter()
        .map(|s| super::binned(&s.summary.timeseries, width, agg, f))
        .collect();
    let title = format!("{title}{}", super::bin_note(agg, width));
    if c.strategies.len() <= MULTIPLES_FROM {
        let mut chart = Chart::new(&title, "time since start (s)", y);
        for (i, (s, points)) in c.strategies.iter().zip(lines).enumerate() {
            chart = chart.line(&s.name, i, points);
        }
        return (String::new(), vec![chart.bins(width as f64).inline_svg()]);
    }
    let top = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    let end = lines.iter().flatten().map(|p| p.0).fold(0.0, f64::max) + width as f64;
    // The series' title heads the grid; each small chart is captioned with its strategy only,
    // so no caption is cut at the chart's width.
    let charts = c
        .strategies
        .iter()
        .zip(lines)
        .enumerate()
        .map(|(i, (s, points))| {
            let mut chart = Chart::new(&s.name, "time since start (s)", y).line("", i, points);
            chart.y_range = Some((0.0, if top > 0.0 { top * 1.08 } else { 1.0 }));
            chart.x_range = Some((0.0, end));
            chart.bins(width as f64).small().inline_svg()
        })
        .collect();
    (title, charts)
}

/// Writes compare.json, compare.md and compare.html into `dir`.
pub fn write_all(c: &Comparison, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "compare.json",
            serde_json::to_string_pretty(c).map_err(std::io::Error::other)? + "\n",
        ),
        ("compare.md", markdown(c)),
        ("compare.html", html(c)),
    ];
    super::write_files(dir, files)
}
