//! What one run advises, as it is saved in `summary.json`: recommended settings and warnings,
//! each with the figures behind it. The types live beside the summary that carries them; the
//! rules that fill them are in [`crate::advice`], above the summary.

use serde::{Deserialize, Serialize};

/// A setting to change (or keep), with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The scenario key: `workers`, `rate_limit`, `queue`, `timeout.attempt`, `retry`.
    pub setting: String,
    /// The recommended value, in scenario-file syntax.
    pub value: String,
    /// The value the run used.
    pub current: String,
    /// Why, with the run's figures.
    pub why: String,
}

/// Something in the run a reader should not miss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// A stable key: `daily_quota`, `monthly_spend_cap`, `retries`, `throttled`, `quota_too_small`,
    /// `quota_spent`, `upstream`, `decode_not_modelled`, `queue_not_drained`, `lane_wait`, `lane_lost`,
    /// `dropped`, `breaker_open`, `schedule_lag`, `stopped_early`.
    pub kind: String,
    /// The message, with figures.
    pub message: String,
}

/// The one limit that binds the run, named from what refused its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BindingNote {
    /// A stable key: `daily_quota`, `monthly_spend_cap`, `spend_limit`, `rpm`, `tpm`,
    /// `client_rate_limit`, `upstream`, `workers`.
    pub limit: String,
    /// The limit and the figures that show it binds, in a sentence.
    pub sentence: String,
}

/// Everything one run advises.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// What binds the run (absent when nothing does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingNote>,
    /// Settings to change.
    pub recommendations: Vec<Recommendation>,
    /// Things to look at.
    pub warnings: Vec<Warning>,
}
