//! The attempts of a run: how many, how they ended, and what refused them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stampede_mock::quota_kind::QuotaKind;

use super::ratio;
use crate::metrics::Metrics;

/// Attempt counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    /// Attempts sent.
    pub total: u64,
    /// Retries: attempts after the first on the same model (hedges and the first attempt
    /// on the fallback model not counted).
    pub retries: u64,
    /// Hedges sent.
    pub hedges: u64,
    /// Attempts cancelled because another attempt of the request answered first.
    pub cancelled: u64,
    /// Attempts sent to the fallback model.
    pub fallback: u64,
    /// Attempts per scheduled request (retry amplification).
    pub per_request: Option<f64>,
    /// 429 answers.
    pub status_429: u64,
    /// Those of them that said when to retry (RetryInfo `retryDelay` or `Retry-After`).
    #[serde(default)]
    pub status_429_with_delay: u64,
    /// 5xx answers.
    pub status_5xx: u64,
    /// Connection failures, resets, cut bodies.
    pub transport_errors: u64,
    /// Attempts cancelled by a timeout.
    pub timeouts: u64,
    /// 429s from a spend limit (the spend-based rate limit or the monthly cap).
    #[serde(default)]
    pub status_429_spend: u64,
    /// Seconds from the start to the first spend-limit refusal (null when none).
    #[serde(default)]
    pub first_spend_refusal_s: Option<f64>,
    /// Attempts by result (`200`, `429`, `timeout`...).
    pub by_result: BTreeMap<String, u64>,
    /// 429s by what refused them, read from their bodies (`rpd`, `monthly_cap`, `spend_limit`,
    /// `rpm`, `tpm`, `unnamed`): how many and when the first came.
    #[serde(default)]
    pub refused_by: BTreeMap<String, Refused>,
}

/// The 429s one limit gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    /// Attempts it refused.
    pub attempts: u64,
    /// Seconds from the start to the first refusal.
    pub first_s: f64,
}

impl Attempts {
    /// Attempts `kind` refused.
    pub fn refused(&self, kind: QuotaKind) -> u64 {
        self.refused_by.get(kind.key()).map_or(0, |r| r.attempts)
    }

    /// The run's attempts by result.
    pub(super) fn of(m: &Metrics) -> Attempts {
        let o = &m.overall;
        let a = &m.attempts;
        let seconds = |d: std::time::Duration| (d.as_secs_f64() * 1e3).round() / 1e3;
        // The spend limits together: the spend-based rate limit and the monthly cap.
        let spend = [QuotaKind::SpendLimit, QuotaKind::MonthlyCap]
            .iter()
            .filter_map(|k| a.refused_by.get(k).copied())
            .reduce(|x, y| (x.0 + y.0, x.1.min(y.1)));
        Attempts {
            total: a.total,
            retries: a.retries,
            hedges: a.hedges,
            cancelled: a.cancelled,
            fallback: a.fallback,
            per_request: ratio(a.total, o.scheduled),
            status_429: a.status_429,
            status_429_with_delay: a.status_429_with_delay,
            status_5xx: a.status_5xx,
            transport_errors: a.transport,
            timeouts: a.timeouts,
            status_429_spend: spend.map_or(0, |s| s.0),
            first_spend_refusal_s: spend.map(|s| seconds(s.1)),
            refused_by: a
                .refused_by
                .iter()
                .map(|(k, &(attempts, first))| {
                    (
                        k.key().to_string(),
                        Refused {
                            attempts,
                            first_s: seconds(first),
                        },
                    )
                })
                .collect(),
            by_result: a.by_result.clone(),
        }
    }
}
