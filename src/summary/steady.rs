//! The run's steady state: the part of the traffic window after the warm-up, where the system
//! no longer depends on having started empty, with its figures beside the whole run's — or why
//! there is none: the offered traffic is not stationary, or the run never settled (the queue
//! still growing at the end: more arrives than is answered, so every figure depends on the
//! run's length).
//!
//! Read from the per-second series and the interval latency histograms alone, so a merged
//! shard run gets it too:
//! - **stationary arrivals**: the offered requests in 10 s bins must look like one rate — their
//!   dispersion index (variance over mean, times bins − 1) under the 99.9% point of χ² (Poisson
//!   arrivals give about 1 per bin; a ramp, a day's curve or bursts far more);
//! - **warm-up**: MSER-5 (White 1997) on the requests in the system each second (in flight plus
//!   queued): the truncation, in batches of 5 s, that minimises the standard error of the mean of
//!   what is left, searched over the first half;
//! - **saturation**: a least-squares line through the queue depth after the warm-up (GuideLLM
//!   looks at the slope of concurrency and TTFT the same way): a slope over 3 standard errors and
//!   at least one request every 10 s, with at least 10 queued at the end, is a queue that never
//!   stopped growing.

use serde::{Deserialize, Serialize};
use stampede_mock::dist::normal_quantile;

use crate::histogram::{LatencyHistogram, LatencyStats};
use crate::metrics::SecondRow;

/// Seconds per bin of the stationarity test.
const BIN_S: usize = 10;
/// Seconds per batch of MSER-5.
const BATCH_S: usize = 5;
/// The shortest traffic window analysed.
const MIN_WINDOW_S: usize = 60;

/// What the steady-state analysis found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SteadyVerdict {
    /// A steady window was found; its figures are given.
    Steady,
    /// The queue kept growing to the end: over-saturated, no steady state.
    Saturated,
    /// The offered traffic changes over the window (a ramp, phases, a day's curve, bursts).
    NotStationary,
    /// The window is shorter than a minute: too short to tell.
    TooShort,
}

/// The run's steady state (see the module's doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    /// What was found.
    pub verdict: SteadyVerdict,
    /// The steady window's start and end, seconds from the start (the end is the traffic
    /// window's: the drain after it is left out).
    pub window_s: Option<(f64, f64)>,
    /// The warm-up left out, in seconds.
    pub warmup_s: f64,
    /// Latency of the requests answered inside the window.
    pub latency_ms: Option<LatencyStats>,
    /// Requests answered over requests that ended inside the window.
    pub success_rate: Option<f64>,
    /// Requests answered per second inside the window.
    pub goodput_rps: Option<f64>,
    /// The queue's growth after the warm-up, requests per second (least squares).
    pub queue_slope_per_s: f64,
    /// That slope over its standard error.
    pub queue_slope_t: f64,
    /// Offered requests per 10 s bin: their dispersion statistic over its 99.9% point (above
    /// 1: not one rate).
    pub dispersion_ratio: f64,
    /// What it means, in a sentence.
    pub sentence: String,
}

/// Least squares through `(x, y)`: (slope, slope / its standard error; ±∞ for an exact line
/// that is not flat).
fn slope(points: &[(f64, f64)]) -> (f64, f64) {
    let Some(l) = crate::stats::line(points) else {
        return (0.0, 0.0);
    };
    let t = if l.b_se > 0.0 {
        l.b / l.b_se
    } else if l.b == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(l.b)
    };
    (l.b, t)
}

/// The dispersion statistic of offered counts per bin over the χ² 99.9% point for its degrees
/// of freedom (Wilson–Hilferty).
fn dispersion_ratio(rows: &[SecondRow]) -> f64 {
    let bins: Vec<f64> = rows
        .chunks_exact(BIN_S)
        .map(|c| c.iter().map(|r| r.offered as f64).sum())
        .collect();
    let k = bins.len() as f64;
    let mean = bins.iter().sum::<f64>() / k;
    if mean <= 0.0 || bins.len() < 2 {
        return 0.0;
    }
    let d: f64 = bins.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / mean;
    let nu = k - 1.0;
    let z = normal_quantile(0.999);
    let point = nu * (1.0 - 2.0 / (9.0 * nu) + z * (2.0 / (9.0 * nu)).sqrt()).powi(3);
    d / point
}

/// MSER-5: seconds of warm-up to leave out of `occupancy` (per second).
fn mser5(occupancy: &[f64]) -> usize {
    let batches: Vec<f64> = occupancy
        .chunks_exact(BATCH_S)
        .map(|c| c.iter().sum::<f64>() / BATCH_S as f64)
        .collect();
    let k = batches.len();
    let mut best = (f64::INFINITY, 0usize);
    for d in 0..=k / 2 {
        let rest = &batches[d..];
        let n = rest.len() as f64;
        let mean = rest.iter().sum::<f64>() / n;
        let stat = rest.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n * n);
        if stat < best.0 - 1e-12 {
            best = (stat, d);
        }
    }
    best.1 * BATCH_S
}

impl SteadyState {
    /// The analysis of a run's traffic window of `duration_s` from its per-second rows and its
    /// latency intervals (`interval_s` long, encoded).
    pub fn of(rows: &[SecondRow], intervals: &[String], interval_s: f64, duration_s: f64) -> SteadyState {
        let end = (duration_s.floor() as usize).min(rows.len());
        let window = &rows[..end];
        let mut s = SteadyState {
            verdict: SteadyVerdict::TooShort,
            window_s: None,
            warmup_s: 0.0,
            latency_ms: None,
            success_rate: None,
            goodput_rps: None,
            queue_slope_per_s: 0.0,
            queue_slope_t: 0.0,
            dispersion_ratio: 0.0,
            sentence: format!("No steady-state window: {end} s of traffic is too short to tell (a minute at least)."),
        };
        if end < MIN_WINDOW_S {
            return s;
        }
        s.dispersion_ratio = dispersion_ratio(window);
        let occupancy: Vec<f64> = window
            .iter()
            .map(|r| f64::from(r.inflight) + f64::from(r.queue_depth))
            .collect();
        let warm = mser5(&occupancy);
        s.warmup_s = warm as f64;
        let queue: Vec<(f64, f64)> = window[warm..]
            .iter()
            .map(|r| (r.second as f64, f64::from(r.queue_depth)))
            .collect();
        (s.queue_slope_per_s, s.queue_slope_t) = slope(&queue);
        let last_queue = window.last().map_or(0, |r| r.queue_depth);
        if s.queue_slope_t > 3.0 && s.queue_slope_per_s >= 0.1 && last_queue >= 10 {
            s.verdict = SteadyVerdict::Saturated;
            s.sentence = format!(
                "Never reached a steady state: the queue grew by {:.1} requests a second from {} s to the end of the traffic \
                 ({} queued when it stopped; slope {:.1} standard errors above zero): more arrives than is answered, so the \
                 whole-run figures depend on how long the run is.",
                s.queue_slope_per_s, warm, last_queue, s.queue_slope_t
            );
            return s;
        }
        if s.dispersion_ratio > 1.0 {
            s.verdict = SteadyVerdict::NotStationary;
            s.sentence = format!(
                "No steady-state window: the offered traffic is not one rate over the run (the spread of its requests per 10 s \
                 is {:.1}× the most that steady random arrivals show 999 times in 1,000), so the whole-run figures are the ones \
                 to read.",
                s.dispersion_ratio
            );
            return s;
        }
        s.verdict = SteadyVerdict::Steady;
        s.window_s = Some((warm as f64, end as f64));
        let steady = &window[warm..];
        let answered: u64 = steady.iter().map(|r| r.succeeded).sum();
        let ended: u64 = steady.iter().map(|r| r.completed).sum();
        s.success_rate = (ended > 0).then(|| answered as f64 / ended as f64);
        s.goodput_rps = Some(answered as f64 / (end - warm).max(1) as f64);
        let mut h = LatencyHistogram::default();
        if interval_s > 0.0 {
            let first = (warm as f64 / interval_s).ceil() as usize;
            let last = (end as f64 / interval_s).floor() as usize;
            for text in intervals.iter().take(last).skip(first) {
                if let Ok(x) = LatencyHistogram::decode(text) {
                    h.add(&x);
                }
            }
        }
        s.latency_ms = (h.count() > 0).then(|| h.stats());
        let left_out = if warm == 0 {
            "MSER-5 on the requests in the system found no warm-up to leave out; the drain after the traffic is left out".to_string()
        } else {
            format!("the first {warm} s of warm-up left out by MSER-5 on the requests in the system, the drain after the traffic too")
        };
        s.sentence = format!(
            "Steady state from {warm} s to {end} s ({left_out}): p95 {}, {} answered, {:.2}/s.",
            crate::format::ms(s.latency_ms.as_ref().and_then(|l| l.p95)),
            crate::format::pct(s.success_rate),
            s.goodput_rps.unwrap_or(0.0)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: u64, f: impl Fn(u64) -> (u64, u32)) -> Vec<SecondRow> {
        (0..n)
            .map(|s| {
                let (offered, queue) = f(s);
                SecondRow {
                    second: s,
                    offered,
                    completed: offered,
                    succeeded: offered,
                    inflight: 10,
                    queue_depth: queue,
                    ..SecondRow::default()
                }
            })
            .collect()
    }

    #[test]
    fn a_growing_queue_is_saturation_and_a_ramp_is_not_stationary() {
        let growing = rows(300, |s| (10, (s / 2) as u32));
        let st = SteadyState::of(&growing, &[], 1.0, 300.0);
        assert_eq!(st.verdict, SteadyVerdict::Saturated, "{}", st.sentence);
        assert!((st.queue_slope_per_s - 0.5).abs() < 0.01, "{}", st.queue_slope_per_s);
        let ramp = rows(300, |s| (1 + s / 10, 0));
        let st = SteadyState::of(&ramp, &[], 1.0, 300.0);
        assert_eq!(st.verdict, SteadyVerdict::NotStationary, "{}", st.sentence);
        let flat = rows(300, |s| (10 + s % 3, u32::from(s < 20) * 30));
        let st = SteadyState::of(&flat, &[], 1.0, 300.0);
        assert_eq!(st.verdict, SteadyVerdict::Steady, "{}", st.sentence);
        // The 20 s of a full queue at the start are left out, not more than a batch past them.
        assert!((20.0..=25.0).contains(&st.warmup_s), "{}", st.warmup_s);
        assert_eq!(st.window_s, Some((st.warmup_s, 300.0)));
        assert_eq!(
            SteadyState::of(&flat[..40], &[], 1.0, 40.0).verdict,
            SteadyVerdict::TooShort
        );
    }
}
