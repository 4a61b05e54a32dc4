//! The counters the mock exposes at `/__stampede/stats` and `/metrics`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name answers for models the profile does not serve are counted under in stats and
/// metrics: one bounded entry, whatever names clients send.
pub const UNKNOWN_MODEL: &str = "(unknown)";

/// Counters the mock exposes at `/__stampede/stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Seconds since the model started (virtual in the simulator).
    pub uptime_s: f64,
    /// Answers being served now (admitted, not finished).
    pub inflight: i64,
    /// Requests holding an upstream place.
    pub upstream_busy: u32,
    /// Requests waiting for an upstream place.
    pub upstream_waiting: u32,
    /// Answers per model and HTTP status.
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Quota use per key (by index, never the key itself), model and dimension.
    pub quota: Vec<QuotaUsage>,
}

/// Use of one quota dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// Index of the API key in order of first use (keys are never shown).
    pub key_index: usize,
    /// The model called, as named in the URL.
    pub model: String,
    /// `rpm`, `tpm` or `rpd`.
    pub dimension: String,
    /// Amount used in the current window.
    pub used: u64,
    /// The limit (0 = unlimited).
    pub limit: u64,
}
