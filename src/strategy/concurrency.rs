//! Concurrency limits: how many workers may be busy at once.
//!
//! `fixed` is the worker pool. The adaptive algorithms follow Netflix's concurrency-limits
//! (defaults from overload-control.md); each is fed one sample per finished attempt — its
//! round-trip time, the requests in flight, and whether it was dropped (429, 503, timeout):
//!
//! - **AIMD**: on a drop or an RTT above `timeout`, `limit × backoff` (0.9); otherwise, when at
//!   least half the limit is in use, `limit + 1`.
//! - **Vegas**: queue estimate `ceil(L · (1 − rtt_noload / rtt))` with `rtt_noload` the lowest RTT
//!   seen; with `lg = max(1, floor(log10 L))`, alpha = 3·lg, beta = 6·lg: grow by beta when the
//!   queue ≤ lg, by lg when it is below alpha, shrink by lg above beta or on a drop. A sample
//!   with a new lowest RTT only records it, and every `30 · L` samples the no-load RTT is probed
//!   afresh from the current sample. Unlike Netflix's, dropped samples never set the no-load
//!   RTT: a 429 or 503 comes back at once without doing the work, and would make every later
//!   answer look queued.
//! - **Gradient2**: `gradient = clamp(1.5 · long_rtt / rtt, 0.5, 1)`, `new = L · gradient + 4`,
//!   `L = 0.8·L + 0.2·new`, the long RTT an exponential average over 600 samples; a drop halves
//!   the limit.
//!
//! The limit always stays within [min, max], and `max` never exceeds `workers`.

use std::time::Duration;

use super::policy::{Observation, Policy};
use crate::backend::ErrorKind;
use serde::{Deserialize, Serialize};

/// The algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// `workers`, always.
    #[default]
    Fixed,
    /// Additive increase, multiplicative decrease.
    Aimd,
    /// TCP Vegas-style queue estimate.
    Vegas,
    /// Netflix Gradient2.
    Gradient2,
}

/// `[strategy.concurrency]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencySpec {
    /// How the limit adapts (or `fixed`).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Starting limit (default 20, at most `max`).
    #[serde(default)]
    pub initial: Option<u32>,
    /// Lowest limit (AIMD default 20, others 1).
    #[serde(default)]
    pub min: Option<u32>,
    /// Highest limit (default: `workers`).
    #[serde(default)]
    pub max: Option<u32>,
    /// AIMD: multiplier on a drop.
    #[serde(default)]
    pub backoff: Option<f64>,
    /// AIMD: an RTT above this counts as a drop.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
}

/// A concurrency limit.
#[derive(Debug, Clone)]
pub struct Limiter {
    algorithm: Algorithm,
    limit: f64,
    min: f64,
    max: f64,
    backoff: f64,
    timeout: Duration,
    rtt_noload: Option<f64>,
    long_rtt: Option<f64>,
    samples: u64,
    probe_count: u64,
}

/// Vegas re-learns its no-load RTT every `30 × limit` samples (Netflix's `probeMultiplier`).
const VEGAS_PROBE_MULTIPLIER: f64 = 30.0;

impl Limiter {
    /// The limit for `workers` workers.
    pub fn new(spec: &ConcurrencySpec, workers: u32) -> Limiter {
        let max = f64::from(spec.max.unwrap_or(workers).min(workers).max(1));
        let default_min = if spec.algorithm == Algorithm::Aimd { 20 } else { 1 };
        let min = f64::from(spec.min.unwrap_or(default_min)).min(max).max(1.0);
        let initial = match spec.algorithm {
            Algorithm::Fixed => max,
            _ => f64::from(spec.initial.unwrap_or(20)).clamp(min, max),
        };
        Limiter {
            algorithm: spec.algorithm,
            limit: initial,
            min,
            max,
            backoff: spec.backoff.unwrap_or(0.9),
            timeout: spec.timeout.unwrap_or(Duration::from_secs(5)),
            rtt_noload: None,
            long_rtt: None,
            samples: 0,
            probe_count: 0,
        }
    }

    /// Workers that may be busy now.
    pub fn limit(&self) -> usize {
        self.limit.floor().max(1.0) as usize
    }

    /// Whether the limit moves.
    pub fn is_adaptive(&self) -> bool {
        self.algorithm != Algorithm::Fixed
    }

    /// One finished attempt: its RTT, the attempts in flight when it ended, and whether it was
    /// dropped (throttled, overloaded or timed out).
    pub fn on_sample(&mut self, rtt: Duration, inflight: usize, dropped: bool) {
        let rtt_s = rtt.as_secs_f64().max(1e-6);
        self.samples += 1;
        let l = self.limit;
        let next = match self.algorithm {
            Algorithm::Fixed => l,
            Algorithm::Aimd => {
                if dropped || rtt > self.timeout {
                    l * self.backoff
                } else if inflight as f64 * 2.0 >= l {
                    l + 1.0
                } else {
                    l
                }
            }
            Algorithm::Vegas => {
                self.probe_count += 1;
                let probe = self.probe_count as f64 >= VEGAS_PROBE_MULTIPLIER * l;
                match self.rtt_noload {
                    _ if dropped => {}
                    Some(noload) if !probe && rtt_s >= noload => {}
                    _ => {
                        // A new lowest RTT, or time to probe it again: learn it, keep the limit.
                        self.rtt_noload = Some(rtt_s);
                        self.probe_count = 0;
                        return;
                    }
                }
                let noload = self.rtt_noload.unwrap_or(rtt_s);
                let lg = l.log10().floor().max(1.0);
                let queue = (l * (1.0 - noload / rtt_s)).ceil();
                if dropped {
                    l - lg
                } else if queue <= lg {
                    l + 6.0 * lg
                } else if queue < 3.0 * lg {
                    l + lg
                } else if queue > 6.0 * lg {
                    l - lg
                } else {
                    l
                }
            }
            Algorithm::Gradient2 => {
                if dropped {
                    l / 2.0
                } else {
                    let long = self.long_rtt.map_or(rtt_s, |long| {
                        let n = self.samples.min(600) as f64;
                        long + (rtt_s - long) / n
                    });
                    self.long_rtt = Some(long);
                    let gradient = (1.5 * long / rtt_s).clamp(0.5, 1.0);
                    let new = l * gradient + 4.0;
                    0.8 * l + 0.2 * new
                }
            }
        };
        self.limit = next.clamp(self.min, self.max);
    }
}

impl Policy for Limiter {
    fn observe(&mut self, _now: tokio::time::Instant, seen: &Observation) {
        let congested = matches!(seen.error, Some(ErrorKind::Status(429 | 503) | ErrorKind::Timeout));
        self.on_sample(seen.took, seen.running, congested);
    }

    fn limit(&self) -> Option<usize> {
        Some(Limiter::limit(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(src: &str, workers: u32) -> Limiter {
        Limiter::new(&toml::from_str(src).unwrap(), workers)
    }

    const MS: Duration = Duration::from_millis(100);

    #[test]
    fn fixed_is_the_worker_pool() {
        let mut l = limiter("", 16);
        l.on_sample(MS, 16, true);
        assert_eq!(l.limit(), 16);
    }

    #[test]
    fn aimd_grows_by_one_and_backs_off_by_ten_percent() {
        let mut l = limiter("algorithm = \"aimd\"", 200);
        assert_eq!(l.limit(), 20);
        l.on_sample(MS, 10, false);
        assert_eq!(l.limit(), 21, "half the limit in use: +1");
        l.on_sample(MS, 5, false);
        assert_eq!(l.limit(), 21, "little in use: unchanged");
        l.on_sample(MS, 10, true);
        assert_eq!(l.limit(), 20, "21 × 0.9 = 18.9, but never below min (20)");
        let mut big = limiter("algorithm = \"aimd\"\ninitial = 100", 200);
        big.on_sample(MS, 50, true);
        assert!((big.limit - 90.0).abs() < 1e-9, "×0.9 on a drop");
        l.on_sample(Duration::from_secs(6), 1, false);
        assert_eq!(l.limit(), 20, "an RTT above 5 s counts as a drop");
        let mut capped = limiter("algorithm = \"aimd\"\ninitial = 30", 25);
        assert_eq!(capped.limit(), 25, "max is the worker pool");
        capped.on_sample(MS, 25, false);
        assert_eq!(capped.limit(), 25);
    }

    #[test]
    fn vegas_grows_without_a_queue_and_shrinks_with_one() {
        let mut l = limiter("algorithm = \"vegas\"\ninitial = 20", 1000);
        // A fast rejection teaches nothing about the no-load RTT.
        l.on_sample(MS / 10, 20, true);
        assert_eq!(l.limit(), 19, "a drop: −lg");
        // The first answer only sets the no-load RTT.
        l.on_sample(MS, 19, false);
        assert_eq!(l.limit(), 19);
        // No queue (rtt equals the no-load rtt): +6·lg = +6 (then 25, 26 after a second).
        l.on_sample(MS, 19, false);
        assert_eq!(l.limit(), 25);
        l.on_sample(MS, 25, false);
        assert_eq!(l.limit(), 31);
        l.limit = 26.0;
        // RTT twice the no-load RTT: queue = ceil(26 · 0.5) = 13 > beta (6): −1.
        l.on_sample(2 * MS, 26, false);
        assert_eq!(l.limit(), 25);
        l.on_sample(MS, 25, true);
        assert_eq!(l.limit(), 24);
        // After 30 × limit samples the no-load RTT is probed afresh: 150 ms becomes the new
        // floor, so 150 ms then reads as no queue.
        let slower = MS + MS / 2;
        for _ in 0..(30 * 24) {
            l.limit = 24.0;
            l.on_sample(slower, 24, false);
        }
        assert_eq!(l.rtt_noload, Some(0.15));
        l.limit = 24.0;
        l.on_sample(slower, 24, false);
        assert_eq!(l.limit(), 30);
    }

    #[test]
    fn gradient2_follows_the_rtt_gradient() {
        let mut l = limiter("algorithm = \"gradient2\"\ninitial = 50", 1000);
        // Steady RTT: gradient 1, the limit creeps up by 0.2·4 per sample.
        l.on_sample(MS, 50, false);
        assert!((l.limit - 50.8).abs() < 1e-9);
        // RTT ten times the first: the long average moves to (0.1 + 1.0) / 2 = 0.55 s (it is a
        // plain mean over the first 600 samples), gradient = 1.5 · 0.55 / 1.0 = 0.825.
        l.on_sample(10 * MS, 50, false);
        let expected = 0.8 * 50.8 + 0.2 * (50.8 * 0.825 + 4.0);
        assert!((l.limit - expected).abs() < 1e-9, "{} vs {expected}", l.limit);
        // Once the long average has settled at 100 ms, one sample ten times slower hits the
        // gradient's floor of 0.5.
        let mut settled = limiter("algorithm = \"gradient2\"\ninitial = 50", 1000);
        for _ in 0..600 {
            settled.on_sample(MS, 50, false);
        }
        let before = settled.limit;
        settled.on_sample(10 * MS, 50, false);
        assert!((settled.limit - (0.8 * before + 0.2 * (before * 0.5 + 4.0))).abs() < 1e-9);
        l.on_sample(MS, 50, true);
        assert!(l.limit() < 25);
    }
}
