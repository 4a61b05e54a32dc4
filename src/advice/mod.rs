//! What one run says to change: recommended settings and warnings, each with the figures
//! behind it. Read from the summary alone (never engine internals), so `stampede report`
//! gives the same advice for a saved run.
//!
//! - **what binds** ([`binding`]): the daily quota, the monthly spend cap, the per-minute
//!   quota, the upstream, the workers — the first that applies leads the warnings, and no
//!   setting is advised that it argues against.
//! - **workers**: Little's law at the busiest 10 seconds' arrival rate, each request holding
//!   its worker for the mean service time times the attempts it took, plus 25% headroom. When a
//!   quota binds, each answer holds a worker for one service time (refusals return at once) and
//!   the count is never raised: workers cannot make a spent quota admit more.
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
use crate::summary::advice::{Advice, Recommendation};
use crate::summary::Summary;

pub mod binding;
mod replicas;
mod warnings;

use binding::Binding;

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
    let bound = binding::binding(s);
    a.binding = bound
        .zip(binding::sentence(s))
        .map(|(b, sentence)| crate::summary::advice::BindingNote {
            limit: b.key().into(),
            sentence,
        });
    {
        let st = &s.run.strategy;
        workers(s, st, bound, &mut a);
        if bound != Some(Binding::DailyQuota) {
            rate_limit(s, st, &mut a);
        }
        queue(s, st, &mut a);
        attempt_timeout(s, st, &mut a);
        retry(s, st, &mut a);
    }
    replicas::per_replica(s, &mut a);
    warnings::warnings(s, &mut a);
    // The binding limit's warning leads: it is the change that matters first.
    if let Some(b) = bound {
        if let Some(i) = a.warnings.iter().position(|w| w.kind == b.warning_kind()) {
            let w = a.warnings.remove(i);
            a.warnings.insert(0, w);
        }
    }
    a
}

/// The mock's quota of the run's model: (rpm, tpm), 0 = unlimited; `None` when unknown.
fn quota(s: &Summary) -> Option<(u64, u64)> {
    s.run.mock_quota()
}

fn workers(s: &Summary, st: &StrategySpec, bound: Option<Binding>, a: &mut Advice) {
    let Some(service_ms) = s.service_ms.mean else {
        return;
    };
    // Dropped requests never held a worker: attempts per request that was sent.
    let sent = s.requests.scheduled - s.requests.dropped;
    if s.attempts.total == 0 || sent == 0 {
        return;
    }
    let per_request = (s.attempts.total as f64 / sent as f64).max(1.0);
    // Requests answered through the Batch API hold no worker: size for the online ones.
    let online_share = s
        .batch
        .as_ref()
        .map_or(1.0, |b| 1.0 - b.answered as f64 / s.requests.scheduled.max(1) as f64);
    let peak_rate = s.throughput.peak_offered_10s as f64 / 10.0 * online_share;
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
    // The whole deployment's workers (every replica's).
    let current = u64::from(st.workers) * u64::from(st.replicas.max(1));
    // A quota binds: workers past what the quota admits only collect refusals. Size the pool
    // for the rate the quota is spent at, and never above what the run had.
    if let Some(b) = bound.filter(|b| b.is_quota()) {
        // While a window's quota lasts it is spent at the arrival rate: size for that, each
        // answer holding a worker for one service time (refusals return at once).
        let busy = peak_rate * service_ms / 1000.0;
        let value = ((busy * HEADROOM).ceil().max(1.0) as u64).min(current.max(1));
        let why = format!(
            "The {} binds (see the first warning): no worker count changes how many requests it admits. While it \
             lasts it is spent at the arrival rate: the busiest 10 s ({peak_rate:.1}/s), each answer holding a \
             worker for {} (mean service time), keep {busy:.1} workers busy (Little's law); with 25% headroom, \
             {value}{}. Workers past that only collect 429s once it is spent.",
            b.label().trim_start_matches("the "),
            secs(service_ms),
            if value == current {
                ", the count the run had"
            } else {
                ""
            }
        );
        a.recommendations.push(Recommendation {
            setting: "workers".into(),
            value: value.to_string(),
            current: current.to_string(),
            why,
        });
        return;
    }
    // A per-minute quota admits a whole minute's requests at once, so it does not cap the
    // workers a burst can use; it caps what the traffic gets over minutes, which workers cannot
    // change.
    if let Some((rpm, _)) = quota(s).filter(|(rpm, _)| *rpm > 0 && peak_rate * 60.0 > *rpm as f64) {
        why.push_str(&format!(
            " Bursts above the quota of {rpm} RPM ({:.1} requests per second over minutes) are served from the \
             minute's quota while it lasts; serving the busiest rate for longer needs a quota of at least {} RPM.",
            rpm as f64 / 60.0,
            (peak_rate * 60.0).ceil() as u64
        ));
    }
    a.recommendations.push(Recommendation {
        setting: "workers".into(),
        value: value.to_string(),
        current: current.to_string(),
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
    if binding::minute_quota_too_small(s) {
        return;
    }
    match quota(s) {
        Some((rpm, tpm)) if rpm > 0 || tpm > 0 => {
            // One replica's bucket: the deployment's share of the quota split over its replicas.
            let bucket = |quota: u64| client_bucket(quota, u64::from(st.replicas.max(1)));
            let mut parts = Vec::new();
            if rpm > 0 {
                parts.push(format!("rpm = {}", bucket(rpm)));
            }
            if tpm > 0 {
                parts.push(format!("tpm = {}", bucket(tpm)));
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

/// One replica's client bucket for a quota of `quota`: 95% of it, split over `replicas` (at
/// least 1 each when split).
fn client_bucket(quota: u64, replicas: u64) -> u64 {
    let whole = (quota as f64 * QUOTA_SHARE).floor() as u64;
    match replicas {
        0 | 1 => whole,
        n => (whole / n).max(1),
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
    // A refusal by the daily quota or the monthly cap is not worth retrying within the run.
    let spent = at.refused(stampede_mock::quota_kind::QuotaKind::Rpd)
        + at.refused(stampede_mock::quota_kind::QuotaKind::MonthlyCap);
    let failed_retryable =
        (at.status_429 - spent.min(at.status_429)) + at.status_5xx + at.transport_errors + at.timeouts;
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
    let overload = binding::upstream_failures(s);
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_bucket_is_split_per_replica() {
        // 95% of 1,000 RPM and of 100,000 TPM over four replicas; a quota too small to split
        // still leaves each replica one.
        assert_eq!(super::client_bucket(1_000, 4), 237);
        assert_eq!(super::client_bucket(100_000, 4), 23_750);
        assert_eq!(super::client_bucket(4, 4), 1);
        assert_eq!(super::client_bucket(1_000, 1), 950);
    }
}
