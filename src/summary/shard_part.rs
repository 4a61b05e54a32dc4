//! What a shard's summary carries for `stampede merge` (its raw figures, which add up
//! exactly), and what a merged summary says of its shards.

use serde::{Deserialize, Serialize};

use super::advice::Warning;
use crate::metrics::Metrics;
use crate::scenario::slo::SloSpec;

/// What a shard's `summary.json` carries for `stampede merge` (absent in other summaries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPart {
    /// Which shard, from 0.
    pub index: u16,
    /// How many shards the run has.
    pub count: u16,
    /// `crate::shard::fingerprint` of the run: the scenario's text, seed, window and shard count.
    pub fingerprint: String,
    /// The common start asked for (`--start-at`), RFC 3339.
    #[serde(default)]
    pub start_at: Option<String>,
    /// When this shard's traffic started, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// The lanes' names, by index.
    pub lanes: Vec<String>,
    /// The scenario's `[slo]`, judged again on the merged figures.
    pub slo: SloSpec,
    /// Warnings about the run's inputs (catalog, pinned caches), said once in the merge.
    pub input_warnings: Vec<Warning>,
    /// The shard's raw figures, which add up exactly.
    pub metrics: Metrics,
}

/// What a merged summary says of its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// How many shards were merged.
    pub shards: u16,
    /// The common start asked for, if the shards were given one.
    #[serde(default)]
    pub start_at: Option<String>,
    /// The latest shard's start after the earliest's, in milliseconds: the per-second series
    /// are aligned on each shard's own start, so this is how far apart their seconds may be
    /// (null for simulated shards, whose clocks are virtual and start together).
    pub start_spread_ms: Option<u64>,
}
