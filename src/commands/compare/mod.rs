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
use crate::prepare::Prepared;
use crate::run::{execute_watched, RunError};
use crate::scenario::Candidate;
use crate::stats::Stat;
use crate::summary::figures::{self, Better, Figure, LaneFigure};
use crate::summary::Summary;

/// The schema id of compare.json.
pub const SCHEMA: &str = "stampede.compare/v1";

pub mod best;
mod table;

pub use table::TABLE_WIDTH;

/// How a compared figure is read: from the whole run, or from one lane of it.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Run(Figure),
    Lane(LaneFigure),
}

/// A compared figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// The lane it is read from, for lane figures.
    #[serde(skip)]
    lane: Option<String>,
    /// How it is read (absent in a compare.json read back: its figures are already there).
    #[serde(skip)]
    read: Option<Reader>,
}

impl PartialEq for Metric {
    fn eq(&self, other: &Metric) -> bool {
        (&self.key, &self.label, &self.unit, self.better) == (&other.key, &other.label, &other.unit, other.better)
    }
}

impl Metric {
    fn of(f: Figure) -> Metric {
        Metric {
            key: f.key.into(),
            label: f.label.into(),
            unit: f.kind.unit().into(),
            better: f.better,
            optional: f.optional,
            lane: None,
            read: Some(Reader::Run(f)),
        }
    }

    fn of_lane(lane: &str, f: LaneFigure) -> Metric {
        Metric {
            key: format!("lane.{lane}.{}", f.key),
            label: format!("{lane}: {}", f.label),
            unit: f.kind.unit().into(),
            better: f.better,
            optional: false,
            lane: Some(lane.to_string()),
            read: Some(Reader::Lane(f)),
        }
    }

    /// The figure from a run's summary, in the unit of [`Metric::unit`].
    fn value(&self, s: &Summary) -> Option<f64> {
        match self.read? {
            Reader::Run(f) => (f.read)(s).map(|v| f.kind.shown(v)),
            Reader::Lane(f) => (f.read)(s.lanes.get(self.lane.as_deref()?)?).map(|v| f.kind.shown(v)),
        }
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

/// Every compared figure: the whole run's, then — when the traffic has several lanes — each
/// lane's success rate and p50/p99 latency, so a starving lane shows.
pub fn metrics(lanes: &[String]) -> Vec<Metric> {
    use figures::*;
    let mut all: Vec<Metric> = [
        SUCCESS_RATE,
        GOODPUT,
        P50,
        P95,
        P99,
        ATTEMPTS_PER_REQUEST,
        STATUS_429,
        STATUS_5XX,
        RETRIES,
        DROPPED,
        UNANSWERED_INPUT_TOKENS,
        COST,
        COST_WITH_UNANSWERED,
        HEDGES,
        SERVED_CACHE,
        SERVED_DEDUP,
        SERVED_FALLBACK,
        SERVED_DEGRADED,
        CACHED_INPUT_TOKENS,
        CACHE_SAVING,
        COST_FLEX,
        COST_PRIORITY,
        PRIORITY_DOWNGRADED,
        BATCH_ANSWERED,
        BATCH_TURNAROUND,
        BATCH_SAVING,
    ]
    .into_iter()
    .map(Metric::of)
    .collect();
    if lanes.len() > 1 {
        for lane in lanes {
            all.extend([LANE_SUCCESS, LANE_P50, LANE_P99].map(|f| Metric::of_lane(lane, f)));
        }
    }
    all
}

/// One strategy's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// Its name (the candidate's).
    pub name: String,
    /// Each figure over the seeds.
    pub metrics: BTreeMap<String, Stat>,
    /// Whether every seed's run met the `[slo]` (null without one).
    #[serde(default)]
    pub met_slo: Option<bool>,
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
    /// Per figure, the strategy with the best mean among those that answer as well as any
    /// (see [`best`]); absent when none stands out beyond the noise.
    pub best: BTreeMap<String, String>,
    /// The catalog that priced every cost here and its date ("stampede's catalog of
    /// 2026-12-03").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// What every figure here rests on (latency and decode model, quotas, prices, token
    /// density), each with how to replace it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rests_on: Vec<crate::summary::Assumption>,
}

/// Hears of each run of a comparison as it ends: strategy name, seed, summary or error.
pub type RunFinished<'a> = dyn Fn(&str, u64, &Result<Summary, RunError>) + Sync + 'a;

/// Runs every candidate on every seed and gathers the figures. Simulated runs are spread over
/// the machine's cores; live runs go one at a time so they do not disturb each other.
/// `finished` hears of each run as it ends (strategy name, seed, its summary or error).
pub fn compare(
    base: &Prepared<'_>,
    candidates: &[Candidate],
    seeds: u32,
    finished: &RunFinished<'_>,
    live: Option<std::sync::Arc<crate::metrics::live::LiveMetrics>>,
) -> Result<Comparison, RunError> {
    let loaded = base.loaded();
    let seed_list: Vec<u64> = (0..u64::from(seeds.max(1))).map(|i| base.seed() + i).collect();
    let jobs: Vec<(usize, u64)> = (0..candidates.len())
        .flat_map(|c| seed_list.iter().map(move |&s| (c, s)))
        .collect();
    let wall = std::time::Instant::now();
    let threads = super::pool::threads_for(base.target(), jobs.len());
    let runs = super::pool::run_all(&jobs, threads, |&(c, seed)| {
        let summary = base
            .variant(seed, &candidates[c].strategy)
            .map_err(RunError::from)
            .and_then(|spec| execute_watched(&spec, Arc::new(Progress::default()), None, live.clone()));
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
            .map(|m| (m.key.clone(), Stat::of(summaries.iter().map(|s| m.value(s)).collect())))
            .collect();
        let met_slo = summaries
            .iter()
            .map(|s| s.slo.as_ref().map(|v| v.pass))
            .collect::<Option<Vec<bool>>>()
            .map(|v| v.iter().all(|p| *p));
        let mut summary = summaries.swap_remove(0);
        summary.run.scenario = format!("{} · {}", loaded.scenario.name(), candidate.name);
        strategies.push(StrategyResult {
            name: candidate.name.clone(),
            metrics,
            met_slo,
            summary,
        });
    }
    figures.retain(|m| {
        !m.optional
            || strategies
                .iter()
                .any(|s| s.metrics.get(&m.key).and_then(|v| v.mean).is_some_and(|v| v != 0.0))
    });
    let best = best::marks(&figures, &strategies);
    let rests_on = strategies
        .first()
        .map(|s| s.summary.run.rests_on.clone())
        .unwrap_or_default();
    Ok(Comparison {
        rests_on,
        schema: SCHEMA.into(),
        scenario: loaded.scenario.name().to_string(),
        target: base.target().as_str().to_string(),
        seeds: seed_list,
        duration_s: base.duration().as_secs_f64(),
        wall_time_s: wall.elapsed().as_secs_f64(),
        metrics: figures,
        strategies,
        best,
        catalog: Some(stampede_mock::catalog::data::in_force()),
    })
}

impl Comparison {
    /// A strategy's figure as every table shows it (mean ± interval, "—" when absent), and
    /// whether it is that figure's best.
    pub fn shown(&self, metric: &Metric, strategy: &StrategyResult) -> (String, bool) {
        let text = strategy
            .metrics
            .get(&metric.key)
            .map_or_else(|| "—".into(), |stat| crate::stats::cell(stat, &metric.unit));
        let best = self.strategies.len() > 1 && self.best.get(&metric.key) == Some(&strategy.name);
        (text, best)
    }

    /// The side-by-side table as text: one row per figure, one column per strategy, ★ on the
    /// best value of each row. Strategies come in blocks of as many as fit [`TABLE_WIDTH`]
    /// columns, each block with the figure labels.
    pub fn table(&self) -> String {
        table::text(self)
    }
}
