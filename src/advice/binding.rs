//! What binds a run: the one limit the advice is built around.
//!
//! Limits are ranked from the most fundamental down — the daily quota, the monthly spend cap,
//! the spend-based rate limit, the per-minute quota, the upstream's capacity, the client's workers — because no change
//! lower in the list lifts one above it: more workers cannot answer requests a spent quota
//! refuses. The first that applies binds; the warnings lead with it and no setting is advised
//! that it argues against (no extra workers while a quota binds).

use super::quota;
use crate::summary::horizon::LongLimit;
use crate::summary::Summary;

/// Share of attempts failing upstream (5xx, timeouts, transport) from which the upstream binds.
pub(super) const UPSTREAM_SHARE: f64 = 0.05;

/// A limit a run can meet, most fundamental first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binding {
    /// The model's requests per day: the day's traffic does not fit, or requests gave up on it.
    DailyQuota,
    /// The tier's monthly spend cap: a month at the run's rate of spend does not fit.
    MonthlySpendCap,
    /// The spend-based rate limit: a window of minutes at the run's rate of spend does not
    /// fit, or it refused attempts.
    SpendLimit,
    /// The per-minute quota: the traffic's average rate is above it and it refused attempts.
    MinuteQuota,
    /// The upstream: a share of attempts failed with 5xx, timeouts or transport errors.
    Upstream,
    /// The client's workers: requests waited in the queue.
    Workers,
}

impl Binding {
    /// Whether the limit is a quota or cap of the API, which no client setting lifts.
    pub fn is_quota(self) -> bool {
        matches!(
            self,
            Binding::DailyQuota | Binding::MonthlySpendCap | Binding::SpendLimit | Binding::MinuteQuota
        )
    }

    /// The warning kind that states this limit.
    pub fn warning_kind(self) -> &'static str {
        match self {
            Binding::DailyQuota => LongLimit::DailyQuota.key(),
            Binding::MonthlySpendCap => LongLimit::MonthlySpendCap.key(),
            Binding::SpendLimit => LongLimit::SpendLimit.key(),
            Binding::MinuteQuota => "quota_too_small",
            Binding::Upstream => "upstream",
            Binding::Workers => "workers",
        }
    }
}

/// The most fundamental limit the run met; `None` when nothing bound it.
pub fn binding(s: &Summary) -> Option<Binding> {
    let long_missed = |l: LongLimit| s.horizon.as_ref().is_some_and(|h| h.missed().any(|c| c.limit == l));
    if long_missed(LongLimit::DailyQuota) || daily_quota_give_ups(s) > 0 {
        return Some(Binding::DailyQuota);
    }
    if long_missed(LongLimit::MonthlySpendCap) {
        return Some(Binding::MonthlySpendCap);
    }
    if long_missed(LongLimit::SpendLimit) || s.attempts.status_429_spend > 0 {
        return Some(Binding::SpendLimit);
    }
    if minute_quota_too_small(s) && s.attempts.status_429 > 0 {
        return Some(Binding::MinuteQuota);
    }
    let at = &s.attempts;
    if at.total > 0 && upstream_failures(s) as f64 / at.total as f64 >= UPSTREAM_SHARE {
        return Some(Binding::Upstream);
    }
    (s.requests.waited > 0).then_some(Binding::Workers)
}

/// Whether the traffic's average rate is above the per-minute request quota.
pub fn minute_quota_too_small(s: &Summary) -> bool {
    quota(s).is_some_and(|(rpm, _)| rpm > 0 && s.throughput.offered_rps * 60.0 > rpm as f64)
}

/// Attempts that failed upstream: 5xx answers, timeouts and transport errors.
pub(super) fn upstream_failures(s: &Summary) -> u64 {
    let at = &s.attempts;
    at.status_5xx + at.timeouts + at.transport_errors
}

/// Requests that gave up because the daily quota was spent.
pub(super) fn daily_quota_give_ups(s: &Summary) -> u64 {
    s.requests
        .gave_up
        .get(LongLimit::DailyQuota.key())
        .copied()
        .unwrap_or(0)
}
