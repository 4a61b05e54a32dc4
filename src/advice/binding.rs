//! What binds a run: the one limit the advice is built around.
//!
//! Limits are ranked from the most fundamental down — the daily quota, the monthly spend cap,
//! the spend-based rate limit, the per-minute quotas (requests or tokens, whichever refused
//! more), the client's own rate limit, the upstream's capacity, the client's workers — because no change
//! lower in the list lifts one above it: more workers cannot answer requests a spent quota
//! refuses. The first that applies binds; the warnings lead with it and no setting is advised
//! that it argues against (no extra workers while a quota binds).

use super::quota;
use crate::summary::horizon::LongLimit;
use crate::summary::Summary;
use stampede_mock::quota_kind::QuotaKind;

/// Share of attempts failing upstream (5xx, timeouts, transport) from which the upstream binds.
pub(super) const UPSTREAM_SHARE: f64 = 0.05;

/// A limit a run can meet, most fundamental first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binding {
    /// The model's requests per day: the day's traffic does not fit, or it refused attempts.
    DailyQuota,
    /// The tier's monthly spend cap: a month of the demand offered does not fit, or it refused
    /// attempts.
    MonthlySpendCap,
    /// The spend-based rate limit: a window of minutes at the run's rate of spend does not
    /// fit, or it refused attempts.
    SpendLimit,
    /// The requests-per-minute quota: it refused attempts, more than the token quota did.
    RequestsPerMinute,
    /// The input-tokens-per-minute quota: it refused attempts, more than the request quota did.
    TokensPerMinute,
    /// The client's own rate limit: requests waited for it while the answers came at its rate.
    ClientRateLimit,
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
            Binding::DailyQuota
                | Binding::MonthlySpendCap
                | Binding::SpendLimit
                | Binding::RequestsPerMinute
                | Binding::TokensPerMinute
        )
    }

    /// The warning kind that states this limit.
    pub fn warning_kind(self) -> &'static str {
        match self {
            Binding::DailyQuota => LongLimit::DailyQuota.key(),
            Binding::MonthlySpendCap => LongLimit::MonthlySpendCap.key(),
            Binding::SpendLimit => LongLimit::SpendLimit.key(),
            Binding::RequestsPerMinute | Binding::TokensPerMinute => "quota_too_small",
            Binding::ClientRateLimit => "client_rate_limit",
            Binding::Upstream => "upstream",
            Binding::Workers => "workers",
        }
    }

    /// Its key in `advice.binding.limit`.
    pub fn key(self) -> &'static str {
        match self {
            Binding::DailyQuota => "daily_quota",
            Binding::MonthlySpendCap => "monthly_spend_cap",
            Binding::SpendLimit => "spend_limit",
            Binding::RequestsPerMinute => "rpm",
            Binding::TokensPerMinute => "tpm",
            Binding::ClientRateLimit => "client_rate_limit",
            Binding::Upstream => "upstream",
            Binding::Workers => "workers",
        }
    }

    /// Its name in sentences.
    pub fn label(self) -> &'static str {
        match self {
            Binding::DailyQuota => QuotaKind::Rpd.label(),
            Binding::MonthlySpendCap => QuotaKind::MonthlyCap.label(),
            Binding::SpendLimit => QuotaKind::SpendLimit.label(),
            Binding::RequestsPerMinute => QuotaKind::Rpm.label(),
            Binding::TokensPerMinute => QuotaKind::Tpm.label(),
            Binding::ClientRateLimit => "the client's own rate limit (strategy.rate_limit)",
            Binding::Upstream => "the upstream (overload answers, timeouts, transport errors)",
            Binding::Workers => "the client's workers",
        }
    }
}

/// The most fundamental limit the run met; `None` when nothing bound it. A long limit the
/// window carried over to a day or a month does not fit comes first (no client setting lifts
/// it); then the limits that refused this window's attempts, named from their 429 bodies.
pub fn binding(s: &Summary) -> Option<Binding> {
    let long_missed = |l: LongLimit| s.horizon.as_ref().is_some_and(|h| h.missed().any(|c| c.limit == l));
    let in_window = binding_in_window(s);
    [
        (LongLimit::DailyQuota, Binding::DailyQuota),
        (LongLimit::MonthlySpendCap, Binding::MonthlySpendCap),
        (LongLimit::SpendLimit, Binding::SpendLimit),
    ]
    .into_iter()
    .find(|&(l, b)| long_missed(l) && in_window.is_none_or(|w| b <= w))
    .map(|(_, b)| b)
    .or(in_window)
}

/// The limit that held this window back: what refused its attempts (the daily quota, the
/// monthly cap, the spend-based limit, RPM or TPM), else the client's rate limit, the upstream
/// or the workers.
pub fn binding_in_window(s: &Summary) -> Option<Binding> {
    let refused = |k: QuotaKind| s.attempts.refused(k);
    if daily_quota_give_ups(s) > 0 || refused(QuotaKind::Rpd) > 0 {
        return Some(Binding::DailyQuota);
    }
    if refused(QuotaKind::MonthlyCap) > 0 {
        return Some(Binding::MonthlySpendCap);
    }
    if refused(QuotaKind::SpendLimit) > 0 || (s.attempts.refused_by.is_empty() && s.attempts.status_429_spend > 0) {
        return Some(Binding::SpendLimit);
    }
    if let Some(minute) = minute_quota(s) {
        return Some(minute);
    }
    if client_rate_limit_binds(s) {
        return Some(Binding::ClientRateLimit);
    }
    let at = &s.attempts;
    if at.total > 0 && upstream_failures(s) as f64 / at.total as f64 >= UPSTREAM_SHARE {
        return Some(Binding::Upstream);
    }
    (s.requests.waited > 0).then_some(Binding::Workers)
}

/// What binds, in a sentence: the binding limit; and when a long limit binds over the day or
/// month while another held this window back, both.
pub fn sentence(s: &Summary) -> Option<String> {
    let b = binding(s)?;
    Some(match binding_in_window(s) {
        Some(w) if w != b => format!(
            "{} in this window; over the day and month, {}",
            describe(s, w),
            describe(s, b)
        ),
        _ => describe(s, b),
    })
}

/// The binding limit and the figures that show it, in a sentence: the same words wherever a
/// binding limit is named (the run's advice, the plan's knee, its growth what-ifs).
pub fn describe(s: &Summary, b: Binding) -> String {
    let at = &s.attempts;
    let total = at.total.max(1) as f64;
    let refusals = |k: QuotaKind| match s.attempts.refused_by.get(k.key()) {
        Some(r) => format!(
            "{} attempts ({:.1}%) refused by it, the first {} after the start",
            crate::format::count(r.attempts),
            r.attempts as f64 / total * 100.0,
            crate::format::secs(r.first_s)
        ),
        None => "the demand offered does not fit it over the day or month (see its warning), though it refused \
                 nothing in this window"
            .into(),
    };
    let model = &s.run.model;
    let (rpm, tpm) = quota(s).unwrap_or((0, 0));
    // A live target's limits are not known to stampede (its 429s name them; `stampede
    // calibrate` reads them from a recording): never "0 RPM".
    let size = |v: u64, unit: &str| {
        if v > 0 {
            format!(", {} {unit}", crate::format::count(v))
        } else {
            " (its size is not known here: the target's 429 bodies name it)".to_string()
        }
    };
    match b {
        Binding::DailyQuota => format!("{} of {model}: {}", b.label(), refusals(QuotaKind::Rpd)),
        Binding::MonthlySpendCap => format!("{}: {}", b.label(), refusals(QuotaKind::MonthlyCap)),
        Binding::SpendLimit => format!("{}: {}", b.label(), refusals(QuotaKind::SpendLimit)),
        Binding::RequestsPerMinute => format!(
            "{} of {model}{}: {}; the traffic offers {:.0} requests a minute on average",
            b.label(),
            size(rpm, "RPM"),
            refusals(QuotaKind::Rpm),
            s.throughput.offered_rps * 60.0
        ),
        Binding::TokensPerMinute => format!(
            "{} of {model}{}: {}; the traffic offers {} input tokens a minute on average ({:.0}% of it)",
            b.label(),
            size(tpm, "TPM"),
            refusals(QuotaKind::Tpm),
            crate::format::count(offered_tokens_per_minute(s).round() as u64),
            tokens_quota_share(s) * 100.0
        ),
        Binding::ClientRateLimit => {
            let st = &s.run.strategy;
            let l = &st.rate_limit;
            let (rpm, tpm) = st.deployment_rate_limit();
            let each = match (st.replicas > 1, l.shared) {
                (true, false) => format!(" per replica; rpm = {rpm}, tpm = {tpm} over {} replicas", st.replicas),
                (true, true) => format!(", one bucket {} replicas share", st.replicas),
                _ => String::new(),
            };
            format!(
                "{} (rpm = {}, tpm = {}{each}): {} of {} requests waited in the client, attempts went out at {:.0} a \
                 minute",
                b.label(),
                l.rpm,
                l.tpm,
                crate::format::count(s.requests.waited),
                crate::format::count(s.requests.scheduled),
                s.throughput.attempt_rps * 60.0
            )
        }
        Binding::Upstream => format!(
            "{}: {} of {} attempts failed upstream ({} 5xx, {} timed out, {} transport errors)",
            b.label(),
            crate::format::count(upstream_failures(s)),
            crate::format::count(at.total),
            at.status_5xx,
            at.timeouts,
            at.transport_errors
        ),
        Binding::Workers => format!(
            "{}: {} of {} requests waited for one",
            b.label(),
            crate::format::count(s.requests.waited),
            crate::format::count(s.requests.scheduled)
        ),
    }
}

/// Share of attempts a per-minute quota must refuse to bind when the average is under it.
const MINUTE_REFUSED_SHARE: f64 = 0.05;

/// The per-minute quota that binds: the one that refused more attempts (RPM or TPM), when its
/// refusals are a real share of the attempts or the traffic's average is at its limit. A
/// summary written before refusals were attributed falls back on the average rate against RPM.
fn minute_quota(s: &Summary) -> Option<Binding> {
    let (rpm, tpm) = (s.attempts.refused(QuotaKind::Rpm), s.attempts.refused(QuotaKind::Tpm));
    if s.attempts.refused_by.is_empty() {
        return (minute_quota_too_small(s) && s.attempts.status_429 > 0).then_some(Binding::RequestsPerMinute);
    }
    let (kind, n) = if tpm > rpm {
        (Binding::TokensPerMinute, tpm)
    } else {
        (Binding::RequestsPerMinute, rpm)
    };
    let share = n as f64 / s.attempts.total.max(1) as f64;
    let at_limit = match kind {
        Binding::TokensPerMinute => tokens_quota_share(s) >= 0.95,
        _ => minute_quota_too_small(s),
    };
    (n > 0 && (share >= MINUTE_REFUSED_SHARE || at_limit)).then_some(kind)
}

/// Whether the traffic's average rate is above the per-minute request quota.
pub fn minute_quota_too_small(s: &Summary) -> bool {
    quota(s).is_some_and(|(rpm, _)| rpm > 0 && s.throughput.offered_rps * 60.0 > rpm as f64)
}

/// The traffic's average input tokens per minute over the token quota (0 without one).
pub fn tokens_quota_share(s: &Summary) -> f64 {
    match quota(s) {
        Some((_, tpm)) if tpm > 0 => offered_tokens_per_minute(s) / tpm as f64,
        _ => 0.0,
    }
}

/// The mean planned prompt of a request in tokens (shared system prompts and documents
/// included).
pub fn planned_input_per_request(s: &Summary) -> f64 {
    s.tokens.planned_input as f64 / s.requests.scheduled.max(1) as f64
}

/// The input tokens per minute the traffic offered on average.
pub fn offered_tokens_per_minute(s: &Summary) -> f64 {
    s.throughput.offered_rps * planned_input_per_request(s) * 60.0
}

/// Whether the client's own rate limit binds: requests waited in the client, and the
/// attempts went out at (about) the limit's rate.
pub fn client_rate_limit_binds(s: &Summary) -> bool {
    // Every replica's bucket together (or the one they share).
    let (rpm, tpm) = s.run.strategy.deployment_rate_limit();
    if s.requests.waited == 0 || (rpm == 0 && tpm == 0) {
        return false;
    }
    let attempts_per_minute = s.throughput.attempt_rps * 60.0;
    let tokens_per_minute = s.throughput.attempt_rps * planned_input_per_request(s) * 60.0;
    (rpm > 0 && attempts_per_minute >= 0.9 * rpm as f64)
        || (tpm > 0 && tokens_per_minute >= 0.9 * tpm as f64)
        || (rpm > 0 && s.throughput.offered_rps * 60.0 > rpm as f64)
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
