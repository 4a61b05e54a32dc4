//! A saved summary's figures checked before `report` or `diff` trusts them: shares from 0 to 1,
//! latencies, rates, counts and costs finite and not negative, percentiles in order, and the
//! request counts adding up. A summary edited by hand (or cut, or from another tool) is refused
//! naming the field, instead of gating a build on a success rate of 7.5 or a negative p95.

use stampede_mock::ranges::{self, Range};

use super::figures::{self, Figure, Kind};
use super::Summary;
use crate::histogram::LatencyStats;

/// A figure that is finite and not negative: latencies, rates, counts, costs. (A range without
/// an upper bound but finiteness: a saved run may be arbitrarily long or dear.)
const NON_NEGATIVE: Range = Range {
    kind: "figure",
    min: 0.0,
    above_min: false,
    max: f64::MAX,
    unit: "",
    keys: "a summary's latencies, rates, counts and costs",
};

/// The figures of the registry checked by kind, with the field each is read from.
const FIGURES: &[(&str, Figure)] = &[
    ("requests.success_rate", figures::SUCCESS_RATE),
    ("throughput.goodput_rps", figures::GOODPUT),
    ("attempts.per_request", figures::ATTEMPTS_PER_REQUEST),
    ("attempts.status_429 / attempts.total", figures::SHARE_429),
    ("requests.dropped / requests.scheduled", figures::DROPPED_SHARE),
    ("cost_usd", figures::COST),
];

/// The range a figure of `kind` must be in.
fn range_of(kind: Kind) -> Range {
    match kind {
        Kind::Share => ranges::SHARE,
        Kind::Percent => Range {
            max: 100.0,
            ..ranges::SHARE
        },
        Kind::Ms | Kind::Rate | Kind::Count | Kind::Usd => NON_NEGATIVE,
    }
}

/// `min` to `max` in `stats` finite, ≥ 0 and in order (p50 ≤ p90 ≤ … ≤ max).
fn check_latency(field: &str, stats: &LatencyStats) -> Result<(), String> {
    let points = [
        ("mean", stats.mean),
        ("p50", stats.p50),
        ("p90", stats.p90),
        ("p95", stats.p95),
        ("p99", stats.p99),
        ("p999", stats.p999),
        ("max", stats.max),
    ];
    for (name, v) in points {
        NON_NEGATIVE.check_some(&format!("{field}.{name}"), v)?;
    }
    let ordered: Vec<(&str, f64)> = points[1..].iter().filter_map(|(n, v)| Some((*n, (*v)?))).collect();
    for pair in ordered.windows(2) {
        let ((a, x), (b, y)) = (pair[0], pair[1]);
        if x > y {
            return Err(format!(
                "{field}.{a}: expected at most {field}.{b} ({}), got {}",
                ranges::number(y),
                ranges::number(x)
            ));
        }
    }
    Ok(())
}

impl Summary {
    /// Checks every figure `report` and `diff` read against its range, and the counts against
    /// each other; the error names the field (`requests.success_rate: expected 0 to 1, got 7.5`).
    pub fn check_figures(&self) -> Result<(), String> {
        ranges::WINDOW.check("run.duration_s", self.run.duration_s)?;
        NON_NEGATIVE.check("run.elapsed_s", self.run.elapsed_s)?;
        for (field, figure) in FIGURES {
            range_of(figure.kind).check_some(field, (figure.read)(self))?;
        }
        for (field, stats) in [
            ("latency_ms", &self.latency_ms),
            ("queue_wait_ms", &self.queue_wait_ms),
            ("ttft_ms", &self.ttft_ms),
            ("service_ms", &self.service_ms),
            ("schedule_lag_ms", &self.schedule_lag_ms),
        ] {
            check_latency(field, stats)?;
        }
        let r = &self.requests;
        let sum = r.succeeded.checked_add(r.failed).and_then(|n| n.checked_add(r.dropped));
        if sum != Some(r.scheduled) {
            return Err(format!(
                "requests.scheduled: expected requests.succeeded + failed + dropped ({}), got {}",
                sum.map_or("more than 2^64".into(), |n| n.to_string()),
                r.scheduled
            ));
        }
        if let (Some(rate), true) = (r.success_rate, r.scheduled > 0) {
            let actual = r.succeeded as f64 / r.scheduled as f64;
            if (rate - actual).abs() > 1e-6 {
                return Err(format!(
                    "requests.success_rate: expected requests.succeeded / scheduled ({}), got {}",
                    ranges::number(actual),
                    ranges::number(rate)
                ));
            }
        }
        for (name, lane) in &self.lanes {
            let field = format!("lanes.{}", crate::spec_error::shown(name));
            if lane.succeeded.saturating_add(lane.failed).saturating_add(lane.dropped) != lane.scheduled {
                return Err(format!(
                    "{field}.scheduled: expected succeeded + failed + dropped, got {}",
                    lane.scheduled
                ));
            }
            check_latency(&format!("{field}.latency_ms"), &lane.latency_ms)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sound() -> Summary {
        let mut s = crate::summary::empty_for_tests();
        s.run.duration_s = 10.0;
        s.requests.scheduled = 4;
        s.requests.succeeded = 3;
        s.requests.failed = 1;
        s.requests.success_rate = Some(0.75);
        s.latency_ms.p50 = Some(10.0);
        s.latency_ms.p95 = Some(20.0);
        s
    }

    #[test]
    fn a_sound_summary_passes_and_a_bad_field_is_named() {
        sound().check_figures().unwrap();
        let mut s = sound();
        s.requests.success_rate = Some(7.5);
        assert_eq!(
            s.check_figures().unwrap_err(),
            "requests.success_rate: expected 0 to 1, got 7.5"
        );
        let mut s = sound();
        s.latency_ms.p95 = Some(-3.0);
        assert!(s
            .check_figures()
            .unwrap_err()
            .starts_with("latency_ms.p95: expected 0 or more (finite), got -3"));
        let mut s = sound();
        s.latency_ms.p50 = Some(30.0);
        assert!(s
            .check_figures()
            .unwrap_err()
            .starts_with("latency_ms.p50: expected at most latency_ms.p95"));
        let mut s = sound();
        s.requests.scheduled = 9;
        assert!(s.check_figures().unwrap_err().starts_with("requests.scheduled:"));
        let mut s = sound();
        s.cost_usd = Some(f64::INFINITY);
        assert!(s.check_figures().unwrap_err().starts_with("cost_usd:"));
    }
}
