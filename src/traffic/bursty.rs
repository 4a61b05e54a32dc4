//! On/off bursts: a Markov-modulated Poisson process with two states.
//!
//! In the base state requests arrive as Poisson at `base_rate`; bursts arrive after an
//! exponential gap of mean `burst_gap`, last an exponential time of mean `burst_length`, and
//! carry Poisson arrivals at `burst_rate`. The long-run mean rate is
//! `(base_rate · burst_gap + burst_rate · burst_length) / (burst_gap + burst_length)`, and the
//! gaps between requests are more variable than Poisson (CV above 1).

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use rand_distr::{Distribution, Exp};
use stampede_mock::rng::StreamRng;

use super::arrival::ArrivalProcess;

/// The on/off process.
#[derive(Debug, Clone)]
pub struct Bursty {
    base_rate: f64,
    burst_rate: f64,
    burst_length: f64,
    burst_gap: f64,
    in_burst: bool,
    t: f64,
    switch_at: Option<f64>,
}

impl Bursty {
    /// Rates in requests per second, lengths in seconds (both above zero).
    pub fn new(base_rate: f64, burst_rate: f64, burst_length: f64, burst_gap: f64) -> Bursty {
        Bursty {
            base_rate,
            burst_rate,
            burst_length,
            burst_gap,
            in_burst: false,
            t: 0.0,
            switch_at: None,
        }
    }

    fn sojourn(&self, rng: &mut StreamRng) -> f64 {
        let mean = if self.in_burst {
            self.burst_length
        } else {
            self.burst_gap
        };
        Exp::new(1.0 / mean).expect("positive mean").sample(rng)
    }
}

impl ArrivalProcess for Bursty {
    fn next(&mut self, _prev: Duration, _count: u64, rng: &mut StreamRng) -> Option<Duration> {
        if self.base_rate <= 0.0 && self.burst_rate <= 0.0 {
            return None;
        }
        let mut switch_at = match self.switch_at {
            Some(s) => s,
            None => self.t + self.sojourn(rng),
        };
        loop {
            let rate = if self.in_burst { self.burst_rate } else { self.base_rate };
            let candidate = if rate > 0.0 {
                self.t + Exp::new(rate).expect("positive rate").sample(rng)
            } else {
                f64::INFINITY
            };
            if candidate < switch_at {
                self.t = candidate;
                self.switch_at = Some(switch_at);
                return Some(secs_f64(candidate));
            }
            // Memoryless: at the switch, the state flips and the next gap is drawn afresh.
            self.t = switch_at;
            self.in_burst = !self.in_burst;
            switch_at = self.t + self.sojourn(rng);
        }
    }

    fn mean_rate(&self) -> f64 {
        (self.base_rate * self.burst_gap + self.burst_rate * self.burst_length) / (self.burst_gap + self.burst_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::arrival::tests::{rate_and_cv, times};

    #[test]
    fn mean_rate_and_burstiness() {
        // 2/s normally, 100/s in 5-second bursts every 60 s on average.
        let mut p = Bursty::new(2.0, 100.0, 5.0, 60.0);
        let expected = (2.0 * 60.0 + 100.0 * 5.0) / 65.0;
        assert!((p.mean_rate() - expected).abs() < 1e-12);
        let t = times(&mut p, 500_000, 11);
        let (rate, cv) = rate_and_cv(&t);
        assert!((rate / expected - 1.0).abs() < 0.03, "rate {rate} vs {expected}");
        assert!(cv > 2.0, "bursts make gaps irregular: cv {cv}");
        assert_eq!(times(&mut Bursty::new(2.0, 100.0, 5.0, 60.0), 50, 11), t[..50]);
    }
}
