//! Fallback: when a request is about to fail for one of the listed reasons, send it to another
//! model (with its own quota) or answer degraded (an answer without the model, counted apart).
//! One fallback per request.

use serde::{Deserialize, Serialize};

use super::policy::{Policy, Rescue};
use crate::backend::ErrorKind;

/// What triggers a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FallbackOn {
    /// The last error was a 429.
    #[serde(rename = "429")]
    S429,
    /// The last error was a 503.
    #[serde(rename = "503")]
    S503,
    /// Any 5xx.
    #[serde(rename = "5xx")]
    S5xx,
    /// The model's circuit breaker is open.
    Breaker,
    /// Timeouts (attempt or total).
    Timeout,
}

fn default_on() -> Vec<FallbackOn> {
    vec![FallbackOn::S429, FallbackOn::S503, FallbackOn::Breaker]
}

/// `[strategy.fallback]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackSpec {
    /// The model to fall back to.
    #[serde(default)]
    pub model: Option<String>,
    /// Answer degraded instead of calling another model.
    #[serde(default)]
    pub degraded: bool,
    /// What triggers it.
    #[serde(default = "default_on")]
    pub on: Vec<FallbackOn>,
}

impl FallbackSpec {
    /// Checks that exactly one way out is given.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.model, self.degraded) {
            (Some(_), false) | (None, true) => Ok(()),
            _ => Err("fallback needs either `model = \"...\"` or `degraded = true`".into()),
        }
    }

    /// Whether a failure with this last error (or an open breaker) triggers the fallback.
    pub fn triggered_by(&self, last: Option<ErrorKind>, breaker_open: bool) -> bool {
        self.on.iter().any(|on| match on {
            FallbackOn::Breaker => breaker_open,
            FallbackOn::S429 => last == Some(ErrorKind::Status(429)),
            FallbackOn::S503 => last == Some(ErrorKind::Status(503)),
            FallbackOn::S5xx => matches!(last, Some(ErrorKind::Status(s)) if s >= 500),
            FallbackOn::Timeout => last == Some(ErrorKind::Timeout),
        })
    }
}

/// The fallback policy of a run: its spec and where the fallback model sits in the run's models.
#[derive(Debug, Clone)]
pub struct Fallback {
    spec: FallbackSpec,
    model: Option<u8>,
}

impl Fallback {
    /// The fallback of `spec` over the run's `models`.
    pub fn new(spec: &FallbackSpec, models: &[std::sync::Arc<str>]) -> Fallback {
        let model = spec
            .model
            .as_deref()
            .and_then(|m| models.iter().position(|x| &**x == m))
            .map(|i| i as u8);
        Fallback {
            spec: spec.clone(),
            model,
        }
    }
}

impl Policy for Fallback {
    fn rescue(&self, last: Option<ErrorKind>, breaker_open: bool) -> Option<Rescue> {
        if !self.spec.triggered_by(last, breaker_open) {
            None
        } else if self.spec.degraded {
            Some(Rescue::Degraded)
        } else {
            self.model.map(Rescue::Model)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers() {
        let f: FallbackSpec = toml::from_str("model = \"gemini-2.5-flash\"").unwrap();
        assert!(f.validate().is_ok());
        assert!(f.triggered_by(Some(ErrorKind::Status(429)), false));
        assert!(f.triggered_by(None, true));
        assert!(!f.triggered_by(Some(ErrorKind::Timeout), false));
        let t: FallbackSpec = toml::from_str("degraded = true\non = [\"timeout\", \"5xx\"]").unwrap();
        assert!(t.triggered_by(Some(ErrorKind::Status(504)), false));
        assert!(!t.triggered_by(Some(ErrorKind::Status(429)), false));
        assert!(toml::from_str::<FallbackSpec>("").unwrap().validate().is_err());
    }
}
