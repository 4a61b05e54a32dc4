//! The warnings of a run: what a reader should not miss, each with its figures.

use super::binding::{
    binding_in_window, daily_quota_give_ups, describe, minute_quota_too_small, offered_tokens_per_minute,
    planned_input_per_request, upstream_failures, Binding, UPSTREAM_SHARE,
};
use super::{quota, secs, window_seconds};
use crate::summary::advice::{Advice, Warning};
use crate::summary::horizon::LongLimit;
use crate::summary::Summary;
use stampede_mock::quota_kind::QuotaKind;

fn warn(a: &mut Advice, kind: &str, message: String) {
    a.warnings.push(Warning {
        kind: kind.into(),
        message,
    });
}

/// Every warning of the run, in the order they are checked (`advise` moves the binding one
/// first).
pub(super) fn warnings(s: &Summary, a: &mut Advice) {
    long_limits(s, a);
    let at = &s.attempts;
    // (kind, what, count, the share of attempts from which it is worth a warning)
    let shares = [
        ("retries", "Retries", at.retries, 0.2),
        ("throttled", "429 refusals", at.status_429, 0.05),
    ];
    for (kind, what, n, floor) in shares {
        let share = n as f64 / at.total.max(1) as f64;
        if n > 0 && share >= floor {
            let message = format!(
                "{what} made up {:.0}% of attempts ({} of {}).",
                share * 100.0,
                crate::format::count(n),
                crate::format::count(at.total)
            );
            warn(a, kind, message);
        }
    }
    if let Some((rpm, _)) = quota(s).filter(|_| minute_quota_too_small(s)) {
        let offered = s.throughput.offered_rps;
        warn(
            a,
            "quota_too_small",
            format!(
                "The traffic offered {offered:.1} requests per second on average ({:.0} per minute) against a \
                 quota of {rpm} RPM: over a long run at most {:.0}% of it can be answered, whatever the client \
                 does. Serving it all needs a quota of at least {:.0} RPM (a higher tier, or a quota increase \
                 for your project), or moving {:.0}% of the requests to another model.",
                offered * 60.0,
                (rpm as f64 / (offered * 60.0) * 100.0).min(100.0),
                (offered * 60.0).ceil(),
                (1.0 - rpm as f64 / (offered * 60.0)) * 100.0
            ),
        );
    }
    tokens_quota(s, a);
    client_rate_limit(s, a);
    quota_spent(s, a);
    upstream(s, a);
    if crate::summary::decode_unmodelled(s) {
        warn(
            a,
            "decode_not_modelled",
            "Answers were streamed from a mock whose decode_tps is 0: decode time is not modelled, so each \
             answer arrives whole after its first token — time to first token equals end to end, inter-chunk gaps \
             are near zero and the decode speed means nothing. Set [target.mock] decode_tps (for example \
             { dist = \"lognormal\", median = 120, p99 = 250 } tokens per second) to measure streaming."
                .into(),
        );
    }
    queue_drain(s, a);
    lane_waits(s, a);
    lane_losses(s, a);
    let r = &s.requests;
    if r.dropped > 0 {
        let reasons: Vec<String> = r.dropped_by.iter().map(|(k, v)| format!("{v} {k}")).collect();
        warn(
            a,
            "dropped",
            format!(
                "{} requests ({:.1}%) were dropped by the client without an answer: {}.",
                r.dropped,
                r.dropped as f64 * 100.0 / r.scheduled.max(1) as f64,
                reasons.join(", ")
            ),
        );
    }
    let open: usize = s.timeseries.iter().filter(|row| row.breakers_open > 0).count();
    if open > 0 {
        let first = s.timeseries.iter().position(|row| row.breakers_open > 0).unwrap_or(0);
        warn(
            a,
            "breaker_open",
            format!("A circuit breaker was open or half-open for {open} s, first at t = {first} s."),
        );
    }
    if let Some(p99) = s.schedule_lag_ms.p99.filter(|p| *p > 10.0 && !s.run.simulated) {
        warn(
            a,
            "schedule_lag",
            format!(
                "The load generator fell behind: requests started up to {} late (p99). Latency is measured from \
                 the intended start and includes it, but the offered rate was not met on time.",
                secs(p99)
            ),
        );
    }
    if let Some(why) = &s.run.stopped_early {
        warn(
            a,
            "stopped_early",
            format!("The run stopped early ({why}); the figures cover part of the traffic."),
        );
    }
}

/// The daily quota and the monthly spend cap, when the window carried over to a day or a
/// month does not fit them, and requests that gave up because the daily quota was spent.
fn long_limits(s: &Summary, a: &mut Advice) {
    let gave_up = daily_quota_give_ups(s);
    let missed: Vec<_> = s.horizon.iter().flat_map(|h| h.missed()).collect();
    for check in &missed {
        let mut message = check.message.clone();
        if check.limit == LongLimit::DailyQuota && gave_up > 0 {
            message.push_str(&format!(
                " In this run {} requests already gave up because it was spent.",
                crate::format::count(gave_up)
            ));
        }
        warn(a, check.limit.key(), message);
    }
    let spend_warned = missed.iter().any(|c| c.limit == LongLimit::SpendLimit);
    let refused = s.attempts.status_429_spend;
    if refused > 0 && !spend_warned {
        warn(
            a,
            LongLimit::SpendLimit.key(),
            format!(
                "{refused} attempts were refused by a spend limit (429 RESOURCE_EXHAUSTED naming the spend-based rate \
                 limit or the monthly cap): the project spent its allowance, and no worker count or retry policy \
                 buys more. What would fit: a higher tier, a cheaper model, or flex or the batch lane."
            ),
        );
    }
    let daily_warned = missed.iter().any(|c| c.limit == LongLimit::DailyQuota);
    if gave_up > 0 && !daily_warned {
        warn(
            a,
            LongLimit::DailyQuota.key(),
            format!(
                "{gave_up} requests gave up because the daily quota (RPD) of {} was spent: it resets at midnight \
                 Pacific, so no retry or worker count answers them today.",
                s.run.model
            ),
        );
    }
}

/// Attempts failing upstream (5xx, timeouts, transport errors) in a share that makes the
/// upstream the limit.
fn upstream(s: &Summary, a: &mut Advice) {
    let at = &s.attempts;
    let n = upstream_failures(s);
    let share = n as f64 / at.total.max(1) as f64;
    if n > 0 && share >= UPSTREAM_SHARE {
        warn(
            a,
            "upstream",
            format!(
                "{n} attempts ({:.0}%) failed upstream: {} 5xx, {} timed out, {} transport errors. The upstream's \
                 capacity binds: more workers or faster retries send more into it.",
                share * 100.0,
                at.status_5xx,
                at.timeouts,
                at.transport_errors
            ),
        );
    }
}

/// The token quota (TPM), when it is what refused the attempts.
fn tokens_quota(s: &Summary, a: &mut Advice) {
    if binding_in_window(s) != Some(Binding::TokensPerMinute) {
        return;
    }
    let Some((_, tpm)) = quota(s) else { return };
    // The busiest 10 s of arrivals, at the mean prompt, carried over to a minute.
    let peak =
        (s.throughput.peak_offered_10s as f64 * 6.0 * planned_input_per_request(s)).max(offered_tokens_per_minute(s));
    warn(
        a,
        "quota_too_small",
        format!(
            "TPM binds, not RPM: {}. A request rate limit does not help: a client-side token limit \
             (rate_limit = {{ tpm = {} }}) queues the excess in the client instead of spending attempts on \
             refusals; serving the busiest 10 s as they come needs about {} TPM (a higher tier or a quota \
             increase), or shorter prompts, or part of the traffic on another model.",
            describe(s, Binding::TokensPerMinute),
            (tpm as f64 * 0.95).floor() as u64,
            crate::format::count(peak.ceil() as u64)
        ),
    );
}

/// The client's own rate limit, when it holds the traffic back.
fn client_rate_limit(s: &Summary, a: &mut Advice) {
    if binding_in_window(s) != Some(Binding::ClientRateLimit) {
        return;
    }
    warn(
        a,
        "client_rate_limit",
        format!(
            "Your own rate limit binds: {}. Latency here is the client's queue, not the upstream's: raise the \
             limit toward the project's quota, or accept the wait.",
            describe(s, Binding::ClientRateLimit)
        ),
    );
}

/// The longest stretch of seconds with 429s and no answer.
fn quota_spent(s: &Summary, a: &mut Advice) {
    let (mut best, mut start, mut run) = ((0usize, 0usize), 0usize, 0usize);
    for (i, row) in s.timeseries.iter().enumerate() {
        if row.succeeded == 0 && row.status_429 > 0 {
            if run == 0 {
                start = i;
            }
            run = i + 1 - start;
            if run > best.1 {
                best = (start, run);
            }
        } else if row.succeeded > 0 {
            run = 0;
        }
        // A second with neither answers nor 429s (no arrival) neither ends nor extends it.
    }
    if best.1 >= 5 {
        // What refused them: the limit with the most refusals, and when it first did.
        let by = s
            .attempts
            .refused_by
            .iter()
            .max_by_key(|(_, r)| r.attempts)
            .and_then(|(k, r)| Some((QuotaKind::from_key(k)?, r.first_s)));
        let what = match by {
            Some((kind, first)) => format!(
                "{} was spent (its first refusal came {} after the start)",
                kind.label(),
                crate::format::secs(first)
            ),
            None => "the quota was spent".into(),
        };
        let retries = if s.attempts.retries > 0 {
            "; retries only collected refusals"
        } else {
            "; no request was retried"
        };
        warn(
            a,
            "quota_spent",
            format!(
                "From {} to {} after the start no request was answered while 429s kept coming: {what}{retries}.",
                crate::format::secs(best.0 as f64),
                crate::format::secs((best.0 + best.1) as f64)
            ),
        );
    }
}

/// A queue still holding requests when the traffic stopped, or long after its peak.
fn queue_drain(s: &Summary, a: &mut Advice) {
    let rows = &s.timeseries;
    let Some((peak_at, peak)) = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.queue_max))
        .max_by_key(|&(i, q)| (q, std::cmp::Reverse(i)))
    else {
        return;
    };
    if peak == 0 {
        return;
    }
    let end = window_seconds(s);
    let empty_after = rows[peak_at..]
        .iter()
        .position(|r| r.queue_depth == 0)
        .map(|d| peak_at + d);
    match empty_after {
        None => warn(
            a,
            "queue_not_drained",
            format!(
                "The queue peaked at {peak} at t = {peak_at} s and never drained: requests were still waiting when \
                 the run ended."
            ),
        ),
        Some(t) if end > 0 && t >= end => warn(
            a,
            "queue_not_drained",
            format!(
                "The queue peaked at {peak} at t = {peak_at} s and still held {} requests when the traffic stopped at \
                 t = {end} s; it emptied at t = {t} s.",
                rows[end - 1].queue_depth
            ),
        ),
        Some(t) if t - peak_at >= 10 => warn(
            a,
            "queue_not_drained",
            format!(
                "The queue peaked at {peak} at t = {peak_at} s and took {} s to drain.",
                t - peak_at
            ),
        ),
        _ => {}
    }
}

/// A lane whose requests waited in the queue far longer than another lane's.
/// A lane's name and one of its figures.
type LaneFigure<'a> = (&'a String, f64);

/// The lanes with the largest and the smallest figure; `None` without lanes.
fn extremes<'a>(lanes: &'a [LaneFigure<'a>]) -> Option<(&'a LaneFigure<'a>, &'a LaneFigure<'a>)> {
    let largest = lanes.iter().max_by(|x, y| x.1.total_cmp(&y.1))?;
    let smallest = lanes.iter().min_by(|x, y| x.1.total_cmp(&y.1))?;
    Some((largest, smallest))
}

/// Lanes that lost far more of their requests than others: one lane's work held the workers
/// while the other's deadlines ran out.
fn lane_losses(s: &Summary, a: &mut Advice) {
    let lost = |l: &crate::summary::LaneSummary| (l.failed + l.dropped) as f64 / l.scheduled.max(1) as f64;
    let shares: Vec<(&String, f64)> = s
        .lanes
        .iter()
        .filter(|(_, l)| l.scheduled > 0)
        .map(|(n, l)| (n, lost(l)))
        .collect();
    let Some((worst, best)) = extremes(&shares) else {
        return;
    };
    if worst.0 != best.0 && worst.1 >= 0.05 && worst.1 >= 5.0 * best.1 {
        let l = &s.lanes[worst.0];
        warn(
            a,
            "lane_lost",
            format!(
                "Lane {} lost {} of {} requests ({:.1}%: {} dropped, {} failed) while lane {} lost {:.1}%; lane {} \
                 waited {} in the queue at p95. The other lane's work held the workers while its deadlines ran out.",
                worst.0,
                l.failed + l.dropped,
                l.scheduled,
                worst.1 * 100.0,
                l.dropped,
                l.failed,
                best.0,
                best.1 * 100.0,
                worst.0,
                crate::format::ms(l.queue_wait_ms.p95),
            ),
        );
    }
}

fn lane_waits(s: &Summary, a: &mut Advice) {
    let waits: Vec<(&String, f64)> = s
        .lanes
        .iter()
        .filter_map(|(name, l)| l.queue_wait_ms.p95.map(|p| (name, p)))
        .collect();
    let Some((slow, fast)) = extremes(&waits) else {
        return;
    };
    if slow.0 != fast.0 && slow.1 >= 1000.0 && slow.1 >= 5.0 * fast.1.max(1.0) {
        warn(
            a,
            "lane_wait",
            format!(
                "Lane {} waited {} in the queue at p95, lane {} {}: one lane is starving the other.",
                slow.0,
                secs(slow.1),
                fast.0,
                secs(fast.1)
            ),
        );
    }
}
