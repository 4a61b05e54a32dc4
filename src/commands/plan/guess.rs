//! The search's first guess, from a pilot run at the scenario's own settings: the offered load
//! `a = λ·S·attempts` (Little's law), and when the SLO sets a latency percentile, the fewest
//! M/M/c servers whose response-time percentile meets it; otherwise `1.25·a`.

use super::Guess;
use crate::queueing::MMc;
use crate::scenario::LoadedScenario;
use crate::summary::Summary;

/// The first guess, from a pilot run at the scenario's own settings.
pub(super) fn first_guess(loaded: &LoadedScenario, pilot: &Summary, max_workers: u32) -> Guess {
    let rate = loaded.traffic.request_rate().unwrap_or(pilot.throughput.offered_rps);
    let service_s = pilot.service_ms.mean.unwrap_or(1000.0) / 1000.0;
    let sent = (pilot.requests.scheduled - pilot.requests.dropped).max(1);
    let attempts = (pilot.attempts.total as f64 / sent as f64).max(1.0);
    let load = rate * service_s * attempts;
    let slo = loaded.scenario.slo.get_ref();
    let latency_target = [(0.95, slo.p95), (0.99, slo.p99), (0.90, slo.p90), (0.50, slo.p50)]
        .into_iter()
        .find_map(|(q, t)| t.map(|t| (q, t.as_secs_f64())));
    let theory = latency_target
        .and_then(|(q, t)| MMc::servers_for_response(rate, service_s * attempts, q, t, max_workers).map(|c| (q, t, c)));
    let (workers, method) = match theory {
        Some((q, t, c)) => (
            c,
            format!(
                "M/M/c: the fewest servers whose p{} response time is at most {t:.2} s at {rate:.2}/s and {:.3} s each",
                q * 100.0,
                service_s * attempts
            ),
        ),
        None => (
            (load * 1.25).ceil().max(1.0) as u32,
            format!("Little's law: {load:.2} erlangs plus 25%"),
        ),
    };
    Guess {
        rate_rps: rate,
        service_s,
        attempts_per_request: attempts,
        load,
        workers: workers.clamp(1, max_workers),
        method,
        from_theory: theory.is_some(),
    }
}
