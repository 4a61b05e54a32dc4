//! `stampede merge`: shards of one run added up into the run's summary. Counters add, HDR
//! histograms add exactly, per-second series add on the shards' common start; the objectives
//! are judged again on the sum. Summaries of different runs (scenario text, seed, window or
//! shard count) are refused, and missing shards are named.

use std::path::PathBuf;

use crate::metrics::Metrics;
use crate::summary::replicas::ReplicaSummary;
use crate::summary::shard_part::{MergeInfo, ShardPart};
use crate::summary::Summary;

/// The largest number a shard's raw figures may carry: far above any run, and low enough that
/// 256 shards' sums cannot overflow.
const MAX_FIGURE: f64 = 9e15;

/// Merges shard summaries (each with the path it was read from, for messages) into one.
pub fn merge(shards: Vec<(PathBuf, Summary)>) -> Result<Summary, String> {
    let mut parts: Vec<(PathBuf, Summary, ShardPart)> = Vec::with_capacity(shards.len());
    for (path, mut summary) in shards {
        let part = summary.shard.take().ok_or_else(|| {
            format!(
                "{}: not a shard's summary (it has no \"shard\" part: run each shard with --shard I/N)",
                path.display()
            )
        })?;
        check_part(&part).map_err(|e| format!("{}: shard.metrics: {e}", path.display()))?;
        parts.push((path, summary, part));
    }
    let Some((first_path, first, first_part)) = parts.first() else {
        return Err("no summaries to merge".into());
    };
    for (path, s, p) in &parts[1..] {
        let differs = |what: &str| {
            format!(
                "{} and {} are not shards of one run: their {what} differ",
                first_path.display(),
                path.display()
            )
        };
        if p.count != first_part.count {
            return Err(differs("shard counts"));
        }
        if s.run.seed != first.run.seed {
            return Err(differs("seeds"));
        }
        if p.fingerprint != first_part.fingerprint {
            return Err(differs("scenarios or traffic windows (fingerprints)"));
        }
        if p.metrics.intervals.interval != first_part.metrics.intervals.interval {
            return Err(differs("latency log intervals"));
        }
    }
    parts.sort_by_key(|(_, _, p)| p.index);
    check_complete(&parts)?;
    Ok(merged(parts))
}

/// Every shard of 0..count present, once.
fn check_complete(parts: &[(PathBuf, Summary, ShardPart)]) -> Result<(), String> {
    let count = parts[0].2.count;
    for pair in parts.windows(2) {
        if pair[0].2.index == pair[1].2.index {
            return Err(format!(
                "{} and {} are both shard {}/{count}",
                pair[0].0.display(),
                pair[1].0.display(),
                pair[0].2.index
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !parts.iter().any(|(_, _, p)| p.index == *i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shard{} {} of {count}: a merge of some shards is not the run",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    Ok(())
}

/// A shard's raw figures, read from a file: every number bounded and every per-second row at
/// its own index (a row's second is where it is added).
fn check_part(part: &ShardPart) -> Result<(), String> {
    let value = serde_json::to_value(&part.metrics).map_err(|e| e.to_string())?;
    check_numbers(&value, "metrics")?;
    let m = &part.metrics;
    for (i, row) in m.series.rows.iter().enumerate() {
        if row.second != i as u64 {
            return Err(format!("series.rows[{i}].second: expected {i}, got {}", row.second));
        }
    }
    let o = &m.overall;
    if o.succeeded + o.failed + o.dropped != o.scheduled {
        return Err(format!(
            "overall.scheduled: expected succeeded + failed + dropped ({}), got {}",
            o.succeeded + o.failed + o.dropped,
            o.scheduled
        ));
    }
    Ok(())
}

fn check_numbers(v: &serde_json::Value, at: &str) -> Result<(), String> {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if x.abs() <= MAX_FIGURE => Ok(()),
            _ => Err(format!("{at}: {n} is out of range (at most {MAX_FIGURE:e})")),
        },
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_numbers(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, x)| check_numbers(x, &format!("{at}.{k}"))),
        _ => Ok(()),
    }
}

/// The run's summary from its shards, sorted by index.
fn merged(parts: Vec<(PathBuf, Summary, ShardPart)>) -> Summary {
    let mut total: Metrics = parts[0].2.metrics.clone();
    for (_, _, p) in &parts[1..] {
        total.merge(&p.metrics);
    }
    let (_, first, first_part) = &parts[0];
    let mut meta = first.run.clone();
    meta.elapsed_s = parts.iter().map(|(_, s, _)| s.run.elapsed_s).fold(0.0, f64::max);
    meta.wall_time_s = parts.iter().map(|(_, s, _)| s.run.wall_time_s).fold(0.0, f64::max);
    meta.started_at = parts
        .iter()
        .map(|(_, s, _)| s.run.started_at.clone())
        .min()
        .unwrap_or_default();
    let stopped: Vec<String> = parts
        .iter()
        .filter_map(|(_, s, p)| {
            s.run
                .stopped_early
                .as_ref()
                .map(|why| format!("shard {}: {why}", p.index))
        })
        .collect();
    meta.stopped_early = (!stopped.is_empty()).then(|| stopped.join("; "));
    let mut summary = Summary::build(meta, &total, &first_part.lanes, &first_part.slo);
    summary.advice = crate::advice::advise(&summary);
    summary
        .advice
        .warnings
        .extend(first_part.input_warnings.iter().cloned());
    summary.replicas = parts
        .iter()
        .map(|(_, _, p)| ReplicaSummary::of(p.index, &p.metrics))
        .collect();
    let starts = parts.iter().map(|(_, _, p)| p.started_unix_ms);
    let spread = starts.clone().max().unwrap_or(0) - starts.min().unwrap_or(0);
    summary.merged = Some(MergeInfo {
        shards: first_part.count,
        start_at: first_part.start_at.clone(),
        start_spread_ms: (!first.run.simulated).then_some(spread),
    });
    summary
}
