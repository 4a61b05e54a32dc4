//! What refused an attempt with 429, as a client reads it from the error body (the quota id,
//! the spend limit's description): one attribution, shared by the strategy's retry rules, the
//! metrics and every sentence of the advice that names a binding limit.

use serde::{Deserialize, Serialize};

/// What refused an attempt with 429, read from its body: the one attribution every sentence
/// that names a binding limit is built on. Ordered from the most fundamental (no client setting
/// lifts it) down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKind {
    /// The model's requests per day (RPD).
    Rpd,
    /// The billing account's monthly spend cap.
    MonthlyCap,
    /// The spend-based rate limit (spend over a rolling window of minutes).
    SpendLimit,
    /// The model's requests per minute (RPM).
    Rpm,
    /// The model's input tokens per minute (TPM).
    Tpm,
    /// A 429 that names no quota (a bare 429, another server's overload).
    Unnamed,
}

impl QuotaKind {
    /// Every kind, most fundamental first.
    pub const ALL: [QuotaKind; 6] = [
        QuotaKind::Rpd,
        QuotaKind::MonthlyCap,
        QuotaKind::SpendLimit,
        QuotaKind::Rpm,
        QuotaKind::Tpm,
        QuotaKind::Unnamed,
    ];

    /// Its key in summaries: `rpd`, `monthly_cap`, `spend_limit`, `rpm`, `tpm`, `unnamed`.
    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::Rpd => "rpd",
            QuotaKind::MonthlyCap => "monthly_cap",
            QuotaKind::SpendLimit => "spend_limit",
            QuotaKind::Rpm => "rpm",
            QuotaKind::Tpm => "tpm",
            QuotaKind::Unnamed => "unnamed",
        }
    }

    /// The kind of a summary key.
    pub fn from_key(key: &str) -> Option<QuotaKind> {
        QuotaKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Its name in sentences.
    pub fn label(self) -> &'static str {
        match self {
            QuotaKind::Rpd => "the daily request quota (RPD)",
            QuotaKind::MonthlyCap => "the monthly spend cap",
            QuotaKind::SpendLimit => "the spend-based rate limit",
            QuotaKind::Rpm => "the requests-per-minute quota (RPM)",
            QuotaKind::Tpm => "the input-tokens-per-minute quota (TPM)",
            QuotaKind::Unnamed => "429s that name no quota",
        }
    }
}
