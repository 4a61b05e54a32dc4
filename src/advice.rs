//! What one run says to change: recommended settings and warnings, each with the figures
//! behind it. Read from the summary alone (never engine internals), so `stampede report`
//! gives the same advice for a saved run.
//!
//! - **workers**: Little's law at the busiest 10 seconds' arrival rate, each request holding
//!   its worker for the mean service time times the attempts it took, plus 25% headroom. Not
//!   capped by a per-minute quota (it admits a minute's requests at once); when the busiest
//!   rate is above the quota, the reason says what quota it needs.
//! - **rate limit**: after 429s, when the traffic's average rate fits in the quota (the 429s
//!   came from bursts), a client bucket at 95% of the mock's quota (or of your project's, for a
//!   live target). Above the quota no pacing helps; a warning says so instead.
//! - **queue**: the depth the drain rate (the busiest 10 s of answers, capped by the quota)
//!   clears within the latency objective (or the total timeout), and a queue deadline of that
//!   objective less the median service time.
//! - **attempt timeout**: 1.5 × the p99.9 of successful attempts' service time (2 × the slowest
//!   with fewer than 1000 of them).
//! - **retry**: what the failures seen call for (retrying 429s at all, honouring RetryInfo,
//!   jitter, a budget when retries dominate).
//! - **warnings**: retries' and 429s' share of attempts, traffic above the quota, seconds with
//!   429s and no answers, a queue that did not drain, lanes that waited far longer or lost far
//!   more than others, requests dropped, breakers open, a load generator that fell behind.

use crate::strategy::StrategySpec;
use crate::summary::advice::{Advice, Recommendation, Warning};
use crate::summary::Summary;

/// Headroom on the Little's-law worker count.
const HEADROOM: f64 = 1.25;
/// Share of the quota a client-side limit should use.
const QUOTA_SHARE: f64 = 0.95;

fn secs(ms: f64) -> String {
    crate::format::ms(Some(ms))
}

/// The seconds of the traffic window (arrivals), as opposed to the drain after it.
fn window_seconds(s: &Summary) -> usize {
    (s.run.duration_s.ceil() as usize).min(s.timeseries.len())
}

/// The advice of a run.
pub fn advise(s: &Summary) -> Advice {
    let mut a = Advice::default();
    {
        let st = &s.run.strategy;
        workers(s, st, &mut a);
        rate_limit(s, st, &mut a);
        queue(s, st, &mut a);
        attempt_timeout(s, st, &mut a);
        retry(s, st, &mut a);
    }
    warnings(s, &mut a);
    a
}

/// The mock's quota of the run's model: (rpm, tpm), 0 = unlimited; `None` when unknown.
fn quota(s: &Summary) -> Option<(u64, u64)> {
    s.run.mock_quota()
}

fn workers(s: &Summary, st: &StrategySpec, a: &mut Advice) {
    let Some(service_ms) = s.service_ms.mean else {
        return;
    };
    // Dropped requests never held a worker: attempts per request that was sent.
    let sent = s.requests.scheduled - s.requests.dropped;
    if s.attempts.total == 0 || sent == 0 {
        return;
    }
    let per_request = (s.attempts.total as f64 / sent as f64).max(1.0);
    let peak_rate = s.throughput.peak_offered_10s as f64 / 10.0;
    let hold_s = service_ms / 1000.0 * per_request;
    let busy = peak_rate * hold_s;
    let value = (busy * HEADROOM).ceil().max(1.0) as u64;
    let mut why = format!(
        "At the busiest 10 s arrival rate ({peak_rate:.1}/s), each request holding a worker for {} \
         (mean service time {} × {per_request:.2} attempts per request sent) keeps {busy:.1} workers busy (Little's law); \
         with 25% headroom, {value}.",
        secs(hold_s * 1000.0),
        secs(service_ms),
    );
    // A per-minute quota admits a whole minute's requests at once, so it does not cap the
    // workers a burst can use; it caps what the traffic gets over minutes, which workers cannot
    // change.
    if let Some((rpm, _)) = quota(s).filter(|(rpm, _)| *rpm > 0 && peak_rate * 60.0 > *rpm as f64) {
        why.push_str(&format!(
            " The quota of {rpm} RPM admits {:.1} requests per second over minutes: once a minute's quota is \
             spent, extra workers only collect 429s, and serving the busiest rate needs a quota of at least {} RPM.",
            rpm as f64 / 60.0,
            (peak_rate * 60.0).ceil() as u64
        ));
    }
    a.recommendations.push(Recommendation {
        setting: "workers".into(),
        value: value.to_string(),
        current: st.workers.to_string(),
        why,
    });
}

fn rate_limit(s: &Summary, st: &StrategySpec, a: &mut Advice) {
    let throttled = s.attempts.status_429;
    if throttled == 0 || st.rate_limit.rpm > 0 || st.adaptive_rate {
        return;
    }
    let share = throttled as f64 / s.attempts.total.max(1) as f64;
    let current = "none".to_string();
    // When the traffic's average rate is above the quota, no client pacing creates capacity,
    // and a token bucket admits less in a burst than a per-minute quota would: the
    // `quota_too_small` warning says so instead.
    if quota(s).is_some_and(|(rpm, _)| rpm > 0 && s.throughput.offered_rps * 60.0 > rpm as f64) {
        return;
    }
    match quota(s) {
        Some((rpm, tpm)) if rpm > 0 || tpm > 0 => {
            let mut parts = Vec::new();
            if rpm > 0 {
                parts.push(format!("rpm = {}", (rpm as f64 * QUOTA_SHARE).floor() as u64));
            }
            if tpm > 0 {
                parts.push(format!("tpm = {}", (tpm as f64 * QUOTA_SHARE).floor() as u64));
            }
            a.recommendations.push(Recommendation {
                setting: "rate_limit".into(),
                value: format!("{{ {} }}", parts.join(", ")),
                current,
                why: format!(
                    "{throttled} attempts ({:.0}%) were refused with 429 by the quota of {} ({rpm} RPM, {tpm} TPM). \
                     A client-side bucket at 95% of it queues the excess in the client instead of spending \
                     attempts on refusals.",
                    share * 100.0,
                    s.run.model
                ),
            });
        }
        _ => a.recommendations.push(Recommendation {
            setting: "rate_limit".into(),
            value: "95% of your project's quota for this model".into(),
            current,
            why: format!(
                "{throttled} attempts ({:.0}%) were refused with 429. The 429 bodies name the quota that \
                 ran out; a client-side bucket just under it queues the excess in the client instead.",
                share * 100.0
            ),
        }),
    }
}

fn queue(s: &Summary, st: &StrategySpec, a: &mut Advice) {
    let window = &s.timeseries[..window_seconds(s)];
    let peak = s.timeseries.iter().map(|r| r.queue_max).max().unwrap_or(0);
    let queued = window.iter().any(|r| r.queue_depth > 0);
    let objective = s
        .slo
        .iter()
        .flat_map(|v| v.checks.iter())
        .filter(|c| c.name.is_latency())
        .map(|c| (c.name.to_string(), c.target))
        .min_by(|x, y| x.1.total_cmp(&y.1));
    let (target_name, target_ms) =
        objective.unwrap_or(("timeout.total".into(), st.timeout.total.as_secs_f64() * 1000.0));
    if !queued {
        return;
    }
    // What the run showed it can answer: the busiest 10 seconds of answers, and no more than the
    // quota lets through.
    let answered: Vec<u64> = s.timeseries.iter().map(|r| r.succeeded).collect();
    let best = answered
        .windows(10.min(answered.len()))
        .map(|w| w.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let observed = best as f64 / 10.0f64.min(answered.len() as f64);
    let quota_rate = quota(s).map(|(rpm, _)| rpm as f64 / 60.0).filter(|r| *r > 0.0);
    let drain = quota_rate.map_or(observed, |q| observed.min(q));
    if drain <= 0.0 {
        return;
    }
    let drain_basis = match quota_rate {
        Some(q) if q < observed => format!(
            "The run answered up to {observed:.1} requests per second (busiest 10 s), but the quota lets through \
             {q:.1} over time."
        ),
        _ => format!("The run answered up to {observed:.1} requests per second (busiest 10 s)."),
    };
    let service_p50 = s.service_ms.p50.unwrap_or(0.0);
    let wait_ms = (target_ms - service_p50).max(0.0);
    let capacity = (drain * wait_ms / 1000.0).floor().max(1.0) as u64;
    let deadline_s = (wait_ms / 1000.0).floor().max(1.0) as u64;
    let current_deadline = st
        .queue
        .deadline
        .map_or("none".into(), |d| humantime::format_duration(d).to_string());
    a.recommendations.push(Recommendation {
        setting: "queue".into(),
        value: format!("{{ capacity = {capacity}, deadline = \"{deadline_s}s\" }}"),
        current: format!("{{ capacity = {}, deadline = {current_deadline} }}", st.queue.capacity),
        why: format!(
            "{drain_basis} To be answered within the {target_name} target of {} a request may wait {} (the target \
             less the median service time {}): at {drain:.1}/s the queue clears {capacity} in that time. A request \
             behind more would miss the target anyway; failing it fast frees the client. The queue peaked at \
             {peak}.",
            secs(target_ms),
            secs(wait_ms),
            secs(service_p50),
        ),
    });
}

fn attempt_timeout(s: &Summary, st: &StrategySpec, a: &mut Advice) {
    let (Some(p999), count) = (s.service_ms.p999, s.service_ms.count) else {
        return;
    };
    if count < 20 {
        return;
    }
    // Fewer samples say less about the tail: more margin.
    let (basis, factor) = if count >= 1000 {
        ("p99.9", 1.5)
    } else {
        ("slowest", 2.0)
    };
    let value = (p999 * factor / 1000.0).ceil().max(1.0) as u64;
    a.recommendations.push(Recommendation {
        setting: "timeout.attempt".into(),
        value: format!("\"{value}s\""),
        current: format!("\"{}\"", humantime::format_duration(st.timeout.attempt)),
        why: format!(
            "The {basis} of {count} successful attempts took {}; an attempt still running at {factor}× that \
             ({value} s, rounded up to whole seconds) is more likely stuck than slow, and cutting it frees its \
             worker for a retry.",
            secs(p999)
        ),
    });
}

fn retry(s: &Summary, st: &StrategySpec, a: &mut Advice) {
    use crate::strategy::retry::{BackoffPolicy, Jitter};
    let r = &st.retry;
    let at = &s.attempts;
    let failed_retryable = at.status_429 + at.status_5xx + at.transport_errors + at.timeouts;
    let mut changes = Vec::new();
    let mut reasons = Vec::new();
    if failed_retryable > 0 && (r.max_attempts <= 1 || r.policy == BackoffPolicy::None) {
        changes.push("policy = \"exponential\", jitter = \"full\", max_attempts = 4".to_string());
        reasons.push(format!(
            "{failed_retryable} attempts failed with retryable errors (429, 5xx, transport, timeout) and none was retried"
        ));
    }
    if at.retries > 0 && r.jitter == Jitter::None {
        changes.push("jitter = \"full\"".into());
        reasons.push(format!(
            "{} retries went without jitter, in lock-step waves",
            at.retries
        ));
    }
    if at.status_429_with_delay > 0 && !r.honor_retry_delay {
        changes.push("honor_retry_delay = true".into());
        reasons.push(format!(
            "{} of the {} 429s said when the quota would have room (RetryInfo retryDelay); the client retried \
             sooner",
            at.status_429_with_delay, at.status_429
        ));
    }
    let retry_share = at.retries as f64 / at.total.max(1) as f64;
    let overload = at.status_5xx + at.timeouts + at.transport_errors;
    if retry_share > 0.5 && overload > at.status_429 && r.budget.is_none() && st.throttle.is_none() {
        changes.push("budget = { kind = \"grpc\" }".into());
        reasons.push(format!(
            "retries were {:.0}% of attempts; a retry budget stops them multiplying the load when most attempts fail",
            retry_share * 100.0
        ));
    }
    if changes.is_empty() {
        return;
    }
    a.recommendations.push(Recommendation {
        setting: "retry".into(),
        value: format!("{{ {} }}", changes.join(", ")),
        current: format!(
            "{{ policy = {}, jitter = {}, max_attempts = {}, honor_retry_delay = {} }}",
            serde_json::to_string(&r.policy).unwrap_or_default(),
            serde_json::to_string(&r.jitter).unwrap_or_default(),
            r.max_attempts,
            r.honor_retry_delay
        ),
        why: format!("{}.", capitalise(&reasons.join("; "))),
    });
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().collect::<String>() + c.as_str())
}

fn warn(a: &mut Advice, kind: &str, message: String) {
    a.warnings.push(Warning {
        kind: kind.into(),
        message,
    });
}

fn warnings(s: &Summary, a: &mut Advice) {
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
                "{what} made up {:.0}% of attempts ({n} of {}).",
                share * 100.0,
                at.total
            );
            warn(a, kind, message);
        }
    }
    if let Some((rpm, _)) = quota(s).filter(|(rpm, _)| *rpm > 0) {
        let offered = s.throughput.offered_rps;
        if offered * 60.0 > rpm as f64 {
            warn(
                a,
                "quota_too_small",
                format!(
                    "The traffic offered {offered:.1} requests per second on average ({:.0} per minute) against a \
                     quota of {rpm} RPM: over a long run at most {:.0}% of it can be answered, whatever the client \
                     does.",
                    offered * 60.0,
                    (rpm as f64 / (offered * 60.0) * 100.0).min(100.0)
                ),
            );
        }
    }
    quota_spent(s, a);
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

/// The longest stretch of seconds with 429s and no answer.
fn quota_spent(s: &Summary, a: &mut Advice) {
    let (mut best, mut start, mut run) = ((0usize, 0usize), 0usize, 0usize);
    for (i, row) in s.timeseries.iter().enumerate() {
        if row.succeeded == 0 && row.status_429 > 0 {
            if run == 0 {
                start = i;
            }
            run += 1;
            if run > best.1 {
                best = (start, run);
            }
        } else {
            run = 0;
        }
    }
    if best.1 >= 5 {
        warn(
            a,
            "quota_spent",
            format!(
                "From t = {} s to t = {} s no request was answered while 429s kept coming: the quota was spent \
                 and retries only collected refusals.",
                best.0,
                best.0 + best.1
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
