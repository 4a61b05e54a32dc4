//! `stampede compare`: several strategies on identical traffic, side by side.
//!
//! Every strategy runs the same scenario with the same seeds: the same planned requests (the
//! traffic's random streams depend only on the seed) and the same mock behaviour for the same
//! request and attempt number (the mock's draws are keyed by them) — common random numbers, so
//! differences come from the strategies and not from luck. With several seeds, each figure is
//! reported as the mean over seeds with a 95% confidence interval (Student's t).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::Progress;
use crate::run::{execute, RunError};
use crate::run_spec::{RunOptions, RunSpec};
use crate::scenario::{Candidate, LoadedScenario};
use crate::stats::{cell, Stat};
use crate::summary::Summary;

/// The schema id of compare.json.
pub const SCHEMA: &str = "stampede.compare/v1";

/// Whether a figure is better high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Higher is better.
    Higher,
    /// Lower is better.
    Lower,
    /// Neither: shown for information, never marked best.
    Neither,
}

/// How a figure is read from a run's summary.
type Reader = Box<dyn Fn(&Summary) -> Option<f64> + Send + Sync>;

/// A compared figure.
#[derive(Serialize, Deserialize)]
pub struct Metric {
    /// Key in compare.json.
    pub key: String,
    /// Row label.
    pub label: String,
    /// Unit (empty for counts and ratios).
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// Shown only when some strategy has a value other than zero.
    #[serde(skip)]
    optional: bool,
    #[serde(skip, default = "no_reader")]
    read: Reader,
}

fn no_reader() -> Reader {
    Box::new(|_| None)
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric").field("key", &self.key).finish()
    }
}

impl Clone for Metric {
    fn clone(&self) -> Metric {
        Metric {
            read: no_reader(),
            key: self.key.clone(),
            label: self.label.clone(),
            unit: self.unit.clone(),
            ..*self
        }
    }
}

impl PartialEq for Metric {
    fn eq(&self, other: &Metric) -> bool {
        (&self.key, &self.label, &self.unit, self.better) == (&other.key, &other.label, &other.unit, other.better)
    }
}

impl Metric {
    fn new(key: &str, label: &str, unit: &str, better: Better, read: Reader) -> Metric {
        Metric {
            key: key.into(),
            label: label.into(),
            unit: unit.into(),
            better,
            optional: false,
            read,
        }
    }

    /// The same figure, shown only when it is not zero everywhere.
    fn optional(mut self) -> Metric {
        self.optional = true;
        self
    }

    /// The row label with its unit.
    pub fn row_label(&self) -> String {
        if self.unit.is_empty() {
            self.label.clone()
        } else {
            format!("{} ({})", self.label, self.unit)
        }
    }
}

fn served(s: &Summary, how: &str) -> Option<f64> {
    Some(s.requests.served_by.get(how).copied().unwrap_or(0) as f64)
}

/// Every compared figure: the whole run's, then — when the traffic has several lanes — each
/// lane's success rate and p50/p99 latency, so a starving lane shows.
pub fn metrics(lanes: &[String]) -> Vec<Metric> {
    use Better::{Higher, Lower, Neither};
    let mut all = vec![
        Metric::new(
            "success_rate",
            "success",
            "%",
            Higher,
            Box::new(|s| s.requests.success_rate.map(|v| v * 100.0)),
        ),
        Metric::new(
            "goodput_rps",
            "goodput",
            "req/s",
            Higher,
            Box::new(|s| Some(s.throughput.goodput_rps)),
        ),
        Metric::new("p50_ms", "p50 latency", "ms", Lower, Box::new(|s| s.latency_ms.p50)),
        Metric::new("p95_ms", "p95 latency", "ms", Lower, Box::new(|s| s.latency_ms.p95)),
        Metric::new("p99_ms", "p99 latency", "ms", Lower, Box::new(|s| s.latency_ms.p99)),
        Metric::new(
            "attempts_per_request",
            "attempts per request",
            "",
            Lower,
            Box::new(|s| s.attempts.per_request),
        ),
        Metric::new(
            "status_429",
            "429s received",
            "",
            Lower,
            Box::new(|s| Some(s.attempts.status_429 as f64)),
        ),
        Metric::new(
            "status_5xx",
            "5xx received",
            "",
            Lower,
            Box::new(|s| Some(s.attempts.status_5xx as f64)),
        ),
        Metric::new(
            "retries",
            "retries sent",
            "",
            Lower,
            Box::new(|s| Some(s.attempts.retries as f64)),
        ),
        Metric::new(
            "dropped",
            "dropped by the client",
            "",
            Lower,
            Box::new(|s| Some(s.requests.dropped as f64)),
        ),
        Metric::new(
            "unanswered_input_tokens",
            "tokens sent without an answer",
            "",
            Lower,
            Box::new(|s| Some(s.waste.unanswered_input_tokens as f64)),
        ),
        Metric::new("cost_usd", "cost of answers", "USD", Lower, Box::new(|s| s.cost_usd)),
        Metric::new(
            "cost_with_unanswered_usd",
            "cost if unanswered prompts are billed",
            "USD",
            Lower,
            Box::new(|s| Some(s.cost_usd? + s.waste.unanswered_input_cost_usd?)),
        ),
        Metric::new(
            "hedges",
            "hedges sent",
            "",
            Neither,
            Box::new(|s| Some(s.attempts.hedges as f64)),
        )
        .optional(),
        Metric::new(
            "served_cache",
            "answered from the cache",
            "",
            Neither,
            Box::new(|s| served(s, "cache")),
        )
        .optional(),
        Metric::new(
            "served_dedup",
            "answered by joining a twin",
            "",
            Neither,
            Box::new(|s| served(s, "coalesced")),
        )
        .optional(),
        Metric::new(
            "served_fallback",
            "answered by the fallback model",
            "",
            Neither,
            Box::new(|s| served(s, "fallback")),
        )
        .optional(),
        Metric::new(
            "served_degraded",
            "degraded answers (counted as success)",
            "",
            Neither,
            Box::new(|s| served(s, "degraded")),
        )
        .optional(),
    ];
    if lanes.len() > 1 {
        for lane in lanes {
            let name = lane.clone();
            all.push(Metric::new(
                &format!("lane.{lane}.success_rate"),
                &format!("{lane}: success"),
                "%",
                Higher,
                Box::new(move |s| {
                    let l = s.lanes.get(&name)?;
                    (l.scheduled > 0).then(|| l.succeeded as f64 * 100.0 / l.scheduled as f64)
                }),
            ));
            let name = lane.clone();
            all.push(Metric::new(
                &format!("lane.{lane}.p50_ms"),
                &format!("{lane}: p50 latency"),
                "ms",
                Lower,
                Box::new(move |s| s.lanes.get(&name)?.latency_ms.p50),
            ));
            let name = lane.clone();
            all.push(Metric::new(
                &format!("lane.{lane}.p99_ms"),
                &format!("{lane}: p99 latency"),
                "ms",
                Lower,
                Box::new(move |s| s.lanes.get(&name)?.latency_ms.p99),
            ));
        }
    }
    all
}

/// One strategy's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// Name.
    pub name: String,
    /// Each figure over the seeds.
    pub metrics: BTreeMap<String, Stat>,
    /// The full summary of the first seed, its keys alongside `name` (`requests`,
    /// `latency_ms`, `cost_usd`, the strategy as run under `strategy`, histograms and series).
    #[serde(flatten)]
    pub summary: Summary,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Scenario name.
    pub scenario: String,
    /// Target kind.
    pub target: String,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Traffic window in seconds.
    pub duration_s: f64,
    /// Wall-clock time of the whole comparison.
    pub wall_time_s: f64,
    /// The compared figures, in table order.
    pub metrics: Vec<Metric>,
    /// One entry per strategy, in the order given.
    pub strategies: Vec<StrategyResult>,
    /// Per figure, the name of the strategy with the best mean (absent when it is shared).
    pub best: BTreeMap<String, String>,
}

/// Hears of each run of a comparison as it ends: strategy name, seed, summary or error.
pub type RunFinished<'a> = dyn Fn(&str, u64, &Result<Summary, RunError>) + Sync + 'a;

/// Runs every candidate on every seed and gathers the figures. Simulated runs are spread over
/// the machine's cores; live runs go one at a time so they do not disturb each other.
/// `finished` hears of each run as it ends (strategy name, seed, its summary or error).
pub fn compare(
    loaded: &LoadedScenario,
    candidates: &[Candidate],
    options: &RunOptions,
    seeds: u32,
    finished: &RunFinished<'_>,
) -> Result<Comparison, RunError> {
    let base = RunSpec::new(loaded, options);
    let seed_list: Vec<u64> = (0..u64::from(seeds.max(1))).map(|i| base.seed + i).collect();
    let jobs: Vec<(usize, u64)> = (0..candidates.len())
        .flat_map(|c| seed_list.iter().map(move |&s| (c, s)))
        .collect();
    let wall = std::time::Instant::now();
    let threads = super::pool::threads_for(base.target, jobs.len());
    let runs = super::pool::run_all(&jobs, threads, |&(c, seed)| {
        let mut spec = base.clone();
        spec.seed = seed;
        spec.strategy = candidates[c].strategy.clone();
        let summary = execute(&spec, Arc::new(Progress::default()), None);
        finished(&candidates[c].name, seed, &summary);
        summary
    });
    let mut results: BTreeMap<(usize, u64), Result<Summary, RunError>> = jobs.iter().copied().zip(runs).collect();
    let mut figures = metrics(&loaded.traffic.lane_names());
    let mut strategies = Vec::new();
    for (c, candidate) in candidates.iter().enumerate() {
        let mut summaries = Vec::new();
        for &seed in &seed_list {
            summaries.push(results.remove(&(c, seed)).expect("every job ran")?);
        }
        let metrics = figures
            .iter()
            .map(|m| (m.key.clone(), Stat::of(summaries.iter().map(|s| (m.read)(s)).collect())))
            .collect();
        let mut summary = summaries.swap_remove(0);
        summary.run.scenario = format!("{} · {}", loaded.scenario.name(), candidate.name);
        strategies.push(StrategyResult {
            name: candidate.name.clone(),
            metrics,
            summary,
        });
    }
    figures.retain(|m| {
        !m.optional
            || strategies
                .iter()
                .any(|s| s.metrics.get(&m.key).and_then(|v| v.mean).is_some_and(|v| v != 0.0))
    });
    let best = figures
        .iter()
        .filter_map(|m| {
            let key = &m.key;
            let mean = |r: &StrategyResult| r.metrics.get(key).and_then(|s| s.mean);
            let candidates = strategies.iter().filter(|r| mean(r).is_some());
            let pick = match m.better {
                Better::Higher => candidates.max_by(|a, b| mean(a).partial_cmp(&mean(b)).expect("finite")),
                Better::Lower => candidates.min_by(|a, b| mean(a).partial_cmp(&mean(b)).expect("finite")),
                Better::Neither => None,
            };
            // A best value shared with another strategy is no one's best.
            let best = pick.and_then(mean)?;
            let ties = strategies.iter().filter(|r| mean(r) == Some(best)).count();
            (ties == 1).then(|| (key.to_string(), pick.expect("picked").name.clone()))
        })
        .collect();
    Ok(Comparison {
        schema: SCHEMA.into(),
        scenario: loaded.scenario.name().to_string(),
        target: base.target.as_str().to_string(),
        seeds: seed_list,
        duration_s: base.duration.as_secs_f64(),
        wall_time_s: wall.elapsed().as_secs_f64(),
        metrics: figures,
        strategies,
        best,
    })
}

impl Comparison {
    /// The side-by-side table as text: one row per figure, one column per strategy, ★ on the
    /// best value of each row.
    pub fn table(&self) -> String {
        let names: Vec<&str> = self.strategies.iter().map(|s| s.name.as_str()).collect();
        let width = names.iter().map(|n| n.len()).max().unwrap_or(8).max(14) + 2;
        let label_width = self
            .metrics
            .iter()
            .map(|m| m.row_label().chars().count())
            .max()
            .unwrap_or(0)
            .max(30)
            + 2;
        let mut out = format!("{:<label_width$}", "");
        for n in &names {
            out.push_str(&format!("{n:>width$}"));
        }
        out.push('\n');
        for m in &self.metrics {
            out.push_str(&format!("{:<label_width$}", m.row_label()));
            for s in &self.strategies {
                let mut text = s
                    .metrics
                    .get(&m.key)
                    .map(|stat| cell(stat, &m.unit))
                    .unwrap_or_else(|| "—".into());
                if self.best.get(&m.key) == Some(&s.name) && self.strategies.len() > 1 {
                    text.push_str(" ★");
                } else {
                    text.push_str("  ");
                }
                out.push_str(&format!("{text:>width$}"));
            }
            out.push('\n');
        }
        out
    }
}
