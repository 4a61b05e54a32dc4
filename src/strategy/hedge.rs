//! Hedged requests ("The Tail at Scale"): when an attempt is still running after a delay, send
//! a second copy; the first answer wins and the other is cancelled.
//!
//! The delay is fixed (`after`) or a percentile of the service times of successful attempts seen
//! so far (`percentile`, e.g. 0.95 — about 5% extra load for a much shorter tail); until
//! `min_samples` answers have been seen, a percentile hedge waits for them and sends none.

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{Observation, Policy};
use crate::histogram::LatencyHistogram;

fn d100() -> u32 {
    100
}

/// `[strategy.hedge]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    /// A fixed delay before the hedge.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub after: Option<Duration>,
    /// Or: the delay is this quantile of observed service times (0..1).
    #[serde(default)]
    pub percentile: Option<f64>,
    /// Answers needed before a percentile is trusted.
    #[serde(default = "d100")]
    pub min_samples: u32,
}

impl HedgeSpec {
    /// Checks that exactly one delay rule is given.
    pub fn validate(&self) -> Result<(), String> {
        match (self.after, self.percentile) {
            (Some(_), None) => Ok(()),
            (None, Some(p)) if p > 0.0 && p < 1.0 => Ok(()),
            (None, Some(p)) => Err(format!("hedge.percentile must be between 0 and 1, got {p}")),
            _ => Err("hedge needs either `after` (a delay) or `percentile` (such as 0.95)".into()),
        }
    }
}

/// The hedging policy with what it has observed.
#[derive(Debug, Clone)]
pub struct Hedger {
    spec: HedgeSpec,
    observed: LatencyHistogram,
}

impl Hedger {
    /// A policy with nothing observed yet.
    pub fn new(spec: HedgeSpec) -> Hedger {
        Hedger {
            spec,
            observed: LatencyHistogram::default(),
        }
    }

    /// The service time of a successful attempt.
    pub fn observe(&mut self, service: Duration) {
        self.observed.record(service);
    }

    /// How long after sending an attempt its hedge goes, if one goes.
    pub fn delay(&self) -> Option<Duration> {
        match (self.spec.after, self.spec.percentile) {
            (Some(d), _) => Some(d),
            (None, Some(p)) if self.observed.count() >= u64::from(self.spec.min_samples) => {
                self.observed.quantile_ms(p).map(|ms| secs_f64(ms / 1000.0))
            }
            _ => None,
        }
    }
}

impl Policy for Hedger {
    fn observe(&mut self, _now: tokio::time::Instant, seen: &Observation) {
        if seen.error.is_none() {
            Hedger::observe(self, seen.took);
        }
    }

    fn hedge_delay(&self) -> Option<Duration> {
        self.delay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_percentile_delays() {
        let fixed = Hedger::new(toml::from_str("after = \"2s\"").unwrap());
        assert_eq!(fixed.delay(), Some(Duration::from_secs(2)));
        let mut p = Hedger::new(toml::from_str("percentile = 0.9\nmin_samples = 10").unwrap());
        for ms in 1..=9 {
            p.observe(Duration::from_millis(ms * 100));
        }
        assert_eq!(p.delay(), None, "not enough samples yet");
        p.observe(Duration::from_millis(1000));
        let d = p.delay().unwrap().as_secs_f64();
        assert!((d - 0.9).abs() < 0.002, "{d}");
        assert!(toml::from_str::<HedgeSpec>("").unwrap().validate().is_err());
        assert!(toml::from_str::<HedgeSpec>("percentile = 1.5")
            .unwrap()
            .validate()
            .is_err());
    }
}
