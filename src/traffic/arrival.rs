//! Arrival processes: when each request is due.
//!
//! Each process is a pure pacer in the style of vegeta's: given the previous due time and how
//! many requests came before, it says when the next one is due. It never reads a clock, so it is
//! tested with tables and statistics, and the same seed always gives the same times. Processes
//! with a time-varying rate (ramp, diurnal) are Poisson processes with that rate, drawn by
//! thinning (Lewis and Shedler): candidates at the peak rate, each kept with probability
//! `rate(t) / peak`.

use stampede_mock::duration::secs as secs_f64;
use std::f64::consts::PI;
use std::time::Duration;

use rand::RngExt;
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

fn secs(s: f64) -> Duration {
    secs_f64(s.max(0.0))
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
        (self.rate > 0.0).then(|| secs(count as f64 / self.rate))
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
        Some(prev + secs(gap))
    }

    fn mean_rate(&self) -> f64 {
        self.rate
    }
}

/// A rate that varies with time.
pub trait RateFunction: Send {
    /// Requests per second at `t` seconds.
    fn rate(&self, t: f64) -> f64;
    /// The highest rate ever reached.
    fn peak(&self) -> f64;
    /// The long-run mean rate.
    fn mean(&self) -> f64;
}

/// A Poisson process whose rate follows a [`RateFunction`], drawn by thinning.
#[derive(Debug, Clone)]
pub struct Thinned<R> {
    rate: R,
    t: f64,
}

impl<R: RateFunction> Thinned<R> {
    /// The process of `rate`.
    pub fn new(rate: R) -> Thinned<R> {
        Thinned { rate, t: 0.0 }
    }
}

impl<R: RateFunction> ArrivalProcess for Thinned<R> {
    fn next(&mut self, _prev: Duration, _count: u64, rng: &mut StreamRng) -> Option<Duration> {
        let peak = self.rate.peak();
        if peak <= 0.0 {
            return None;
        }
        let gap = Exp::new(peak).expect("positive peak");
        loop {
            self.t += gap.sample(rng);
            if rng.random::<f64>() * peak < self.rate.rate(self.t) {
                return Some(secs(self.t));
            }
        }
    }

    fn mean_rate(&self) -> f64 {
        self.rate.mean()
    }
}

/// A linear ramp from `from` to `to` requests per second over `over`, then steady at `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Rate at the start.
    pub from: f64,
    /// Rate at the end of the ramp and after.
    pub to: f64,
    /// Length of the ramp in seconds.
    pub over: f64,
}

impl RateFunction for Ramp {
    fn rate(&self, t: f64) -> f64 {
        let f = if self.over > 0.0 { (t / self.over).min(1.0) } else { 1.0 };
        self.from + (self.to - self.from) * f
    }

    fn peak(&self) -> f64 {
        self.from.max(self.to)
    }

    fn mean(&self) -> f64 {
        (self.from + self.to) / 2.0
    }
}

/// A daily (or any period) curve: `mean · (1 + amplitude · cos(2π (t − peak_at) / period))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diurnal {
    /// Mean rate.
    pub mean: f64,
    /// Relative swing, 0..=1 (1: from zero to twice the mean).
    pub amplitude: f64,
    /// Period in seconds (86,400 for a day).
    pub period: f64,
    /// Seconds from the start at which the rate peaks.
    pub peak_at: f64,
}

impl RateFunction for Diurnal {
    fn rate(&self, t: f64) -> f64 {
        self.mean * (1.0 + self.amplitude * (2.0 * PI * (t - self.peak_at) / self.period).cos())
    }

    fn peak(&self) -> f64 {
        self.mean * (1.0 + self.amplitude)
    }

    fn mean(&self) -> f64 {
        self.mean
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use stampede_mock::rng::stream_rng;

    /// The first `n` due times of a process, in seconds.
    pub fn times(p: &mut dyn ArrivalProcess, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = stream_rng(seed, "arrivals");
        let mut prev = Duration::ZERO;
        let mut out = Vec::with_capacity(n);
        for i in 0..n as u64 {
            match p.next(prev, i, &mut rng) {
                Some(t) => {
                    prev = t;
                    out.push(t.as_secs_f64());
                }
                None => break,
            }
        }
        out
    }

    /// (mean rate, coefficient of variation of the gaps).
    pub fn rate_and_cv(t: &[f64]) -> (f64, f64) {
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        (1.0 / mean, var.sqrt() / mean)
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
        let (rate, cv) = rate_and_cv(&t);
        assert!((rate / 20.0 - 1.0).abs() < 0.01, "rate {rate}");
        assert!((cv - 1.0).abs() < 0.02, "cv {cv}");
        assert_eq!(times(&mut Poisson::new(20.0), 10, 7), t[..10]);
    }

    /// Counts arrivals in [a, b).
    fn count_in(t: &[f64], a: f64, b: f64) -> usize {
        t.iter().filter(|&&x| x >= a && x < b).count()
    }

    #[test]
    fn ramp_rates_follow_the_line() {
        // 10/s to 50/s over 1,000 s, then 50/s.
        let mut p = Thinned::new(Ramp {
            from: 10.0,
            to: 50.0,
            over: 1000.0,
        });
        let t = times(&mut p, 100_000, 3);
        // Table: expected count in each window = integral of the rate.
        let table = [
            (0.0, 100.0, 1_200.0),
            (450.0, 550.0, 3_000.0),
            (900.0, 1000.0, 4_800.0),
            (1100.0, 1200.0, 5_000.0),
        ];
        for (a, b, expected) in table {
            let n = count_in(&t, a, b) as f64;
            assert!(
                (n - expected).abs() < 4.0 * expected.sqrt(),
                "[{a}, {b}): {n} vs {expected}"
            );
        }
    }

    #[test]
    fn diurnal_swings_around_its_mean() {
        let d = Diurnal {
            mean: 10.0,
            amplitude: 0.8,
            period: 3600.0,
            peak_at: 900.0,
        };
        assert!((d.rate(900.0) - 18.0).abs() < 1e-9);
        assert!((d.rate(2700.0) - 2.0).abs() < 1e-9);
        let t = times(&mut Thinned::new(d), 400_000, 5);
        let hours = t[t.len() - 1] / 3600.0;
        let (rate, _) = rate_and_cv(&t);
        assert!((rate / 10.0 - 1.0).abs() < 0.01, "mean rate {rate} over {hours:.1} h");
        let peak = count_in(&t, 800.0, 1000.0) as f64 / 200.0;
        let trough = count_in(&t, 2600.0, 2800.0) as f64 / 200.0;
        assert!(peak > 16.0 && trough < 3.5, "peak {peak}/s, trough {trough}/s");
    }
}
