//! Arrival processes: when each request is due.
//!
//! Each process is a pure pacer in the style of vegeta's: given the previous due time and how
//! many requests came before, it says when the next one is due. It never reads a clock, so it is
//! tested with tables and statistics, and the same seed always gives the same times.

use std::time::Duration;

use rand_distr::{Distribution, Exp};
use stampede_mock::rng::StreamRng;

/// A source of due times, as offsets from the start of the run.
pub trait ArrivalProcess: Send {
    /// When request number `count` (0-based) is due, given the previous one was due at `prev`
    /// (zero for the first). `None` ends the traffic.
    fn next(&mut self, prev: Duration, count: u64, rng: &mut StreamRng) -> Option<Duration>;

    /// The long-run mean rate in requests per second (for estimates and first guesses).
    fn mean_rate(&self) -> f64;
}

/// Evenly spaced: request `n` is due at `n / rate`, computed from `n` so no rounding accumulates.
#[derive(Debug, Clone)]
pub struct Constant {
    rate: f64,
}

impl Constant {
    /// `rate` requests per second; 0 sends nothing.
    pub fn new(rate: f64) -> Constant {
        Constant { rate }
    }
}

impl ArrivalProcess for Constant {
    fn next(&mut self, _prev: Duration, count: u64, _rng: &mut StreamRng) -> Option<Duration> {
        (self.rate > 0.0).then(|| Duration::from_secs_f64(count as f64 / self.rate))
    }

    fn mean_rate(&self) -> f64 {
        self.rate
    }
}

/// Poisson: independent exponential gaps with mean `1 / rate`.
#[derive(Debug, Clone)]
pub struct Poisson {
    rate: f64,
    gap: Option<Exp<f64>>,
}

impl Poisson {
    /// `rate` requests per second on average; 0 sends nothing.
    pub fn new(rate: f64) -> Poisson {
        Poisson {
            rate,
            gap: (rate > 0.0).then(|| Exp::new(rate).expect("positive rate")),
        }
    }
}

impl ArrivalProcess for Poisson {
    fn next(&mut self, prev: Duration, _count: u64, rng: &mut StreamRng) -> Option<Duration> {
        let gap = self.gap.as_ref()?.sample(rng);
        Some(prev + Duration::from_secs_f64(gap))
    }

    fn mean_rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_mock::rng::stream_rng;

    fn times(p: &mut dyn ArrivalProcess, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = stream_rng(seed, "arrivals");
        let mut prev = Duration::ZERO;
        (0..n as u64)
            .map(|i| {
                prev = p.next(prev, i, &mut rng).unwrap();
                prev.as_secs_f64()
            })
            .collect()
    }

    #[test]
    fn constant_is_evenly_spaced_without_drift() {
        let t = times(&mut Constant::new(3.0), 30_001, 1);
        assert_eq!(t[0], 0.0);
        assert!((t[1] - 1.0 / 3.0).abs() < 1e-9);
        assert!((t[30_000] - 10_000.0).abs() < 1e-9);
        assert!(Constant::new(0.0)
            .next(Duration::ZERO, 0, &mut stream_rng(1, "x"))
            .is_none());
    }

    #[test]
    fn poisson_has_its_rate_and_unit_cv() {
        let t = times(&mut Poisson::new(20.0), 200_000, 7);
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((1.0 / mean - 20.0).abs() / 20.0 < 0.01, "rate {}", 1.0 / mean);
        assert!((cv - 1.0).abs() < 0.02, "cv {cv}");
        assert_eq!(times(&mut Poisson::new(20.0), 10, 7), t[..10]);
    }
}
