//! The `[traffic]` section as written, and its checks.

use serde::{Deserialize, Serialize};
use stampede_mock::dist::NumberDist;
use toml::Spanned;

use super::arrival::{ArrivalProcess, Constant, Poisson};
use crate::spec_error::SpecError;

/// A rate in requests per second: finite and not negative.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate(pub f64);

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(v: f64) -> Result<Rate, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(Rate(v))
        } else {
            Err(format!(
                "a rate must be a finite number of requests per second ≥ 0, got {v}"
            ))
        }
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.0
    }
}

/// The arrival process families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// Evenly spaced at `rate`.
    Constant,
    /// Poisson at mean `rate`.
    Poisson,
}

/// `[traffic]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// The arrival process.
    pub arrival: Spanned<ArrivalKind>,
    /// Mean requests per second (constant, poisson).
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Prompt sizes in tokens.
    #[serde(default = "default_input_tokens")]
    pub input_tokens: NumberDist,
    /// Answer sizes in tokens.
    #[serde(default = "default_output_tokens")]
    pub output_tokens: NumberDist,
}

fn default_input_tokens() -> NumberDist {
    NumberDist::Lognormal {
        median: 800.0,
        p99: 6000.0,
    }
}

fn default_output_tokens() -> NumberDist {
    NumberDist::Lognormal {
        median: 300.0,
        p99: 2000.0,
    }
}

impl TrafficSpec {
    /// Checks that the process has the keys it needs.
    pub fn validate(&self) -> Result<(), SpecError> {
        match *self.arrival.get_ref() {
            ArrivalKind::Constant | ArrivalKind::Poisson => {
                if self.rate.is_none() {
                    return Err(SpecError::at(
                        self.arrival.span(),
                        format!("arrival = \"{}\" needs `rate` (requests per second)", self.kind_name()),
                    ));
                }
            }
        }
        Ok(())
    }

    fn kind_name(&self) -> &'static str {
        match *self.arrival.get_ref() {
            ArrivalKind::Constant => "constant",
            ArrivalKind::Poisson => "poisson",
        }
    }

    /// Builds the arrival process (after [`validate`](Self::validate)).
    pub fn arrival_process(&self) -> Box<dyn ArrivalProcess> {
        let rate = self.rate.map_or(0.0, |r| r.0);
        match *self.arrival.get_ref() {
            ArrivalKind::Constant => Box::new(Constant::new(rate)),
            ArrivalKind::Poisson => Box::new(Poisson::new(rate)),
        }
    }
}
