//! The mock's behaviour settings: a named preset patched key by key.
//!
//! [`MockSettings`] is what people write (the `[target.mock]` table of a scenario, or a profile
//! file for `stampede mock --profile FILE`); every key is optional. [`MockProfile`] is the
//! resolved form the model runs on: a preset (`tier1` unless `preset` says otherwise) with the
//! settings applied on top.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{self, Limits, Tier};
use crate::dist::{DurationDist, NumberDist};

/// How a per-minute or per-day quota window moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuotaWindow {
    /// A sliding window: a request is admitted when fewer than the limit were admitted in the
    /// last 60 s (or 24 h). `retryDelay` is the time until the oldest of them leaves the window.
    #[default]
    Sliding,
    /// Fixed windows aligned to whole minutes (days) since the mock started; `retryDelay` is the
    /// time until the next window opens.
    Fixed,
}

/// Which 429 body the mock sends (see gemini-wire.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub enum ErrorShape {
    /// QuotaFailure, Help, RetryInfo; `retryDelay` in whole seconds, rounded up.
    #[default]
    #[serde(rename = "2025")]
    V2025,
    /// Help, QuotaFailure, RetryInfo; the message names the metric, limit and model and says
    /// "Please retry in 1.93201115s."; `retryDelay` is whole seconds, rounded down, as observed.
    #[serde(rename = "2026")]
    V2026,
    /// `{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", ...}}`
    /// with no details at all.
    #[serde(rename = "bare")]
    Bare,
}

/// Chances of each injected fault, per request that passed the quota (each 0..=1, sum ≤ 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultRates {
    /// 429 RESOURCE_EXHAUSTED in the profile's body shape, with `retryDelay` set to
    /// `retry_delay_429`: a quota storm without waiting for a minute window (dynamic shared
    /// quota behaves like this).
    pub rate_429: f64,
    /// The delay injected 429s ask for.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub retry_delay_429: Duration,
    /// 500 INTERNAL.
    pub rate_500: f64,
    /// 503 UNAVAILABLE ("The model is overloaded").
    pub rate_503: f64,
    /// 504 DEADLINE_EXCEEDED.
    pub rate_504: f64,
    /// The connection is cut before a complete answer.
    pub rate_reset: f64,
    /// No answer at all until the client gives up.
    pub rate_hang: f64,
    /// A stream that stops half way, without `finishReason`.
    pub rate_truncate: f64,
    /// A 200 whose body is not valid JSON.
    pub rate_malformed: f64,
    /// Headers held back for `slow_headers`, then a normal answer.
    pub rate_slow_headers: f64,
    /// How long slow headers are held back.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub slow_headers: Duration,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            rate_429: 0.0,
            retry_delay_429: Duration::from_secs(1),
            rate_500: 0.0,
            rate_503: 0.0,
            rate_504: 0.0,
            rate_reset: 0.0,
            rate_hang: 0.0,
            rate_truncate: 0.0,
            rate_malformed: 0.0,
            rate_slow_headers: 0.0,
            slow_headers: Duration::from_secs(10),
        }
    }
}

impl FaultRates {
    fn check(&self) -> Result<(), String> {
        let rates = [
            ("rate_429", self.rate_429),
            ("rate_500", self.rate_500),
            ("rate_503", self.rate_503),
            ("rate_504", self.rate_504),
            ("rate_reset", self.rate_reset),
            ("rate_hang", self.rate_hang),
            ("rate_truncate", self.rate_truncate),
            ("rate_malformed", self.rate_malformed),
            ("rate_slow_headers", self.rate_slow_headers),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1, got {r}"));
            }
        }
        let sum: f64 = rates.iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("fault rates add up to {sum}, more than 1"));
        }
        Ok(())
    }

    /// Whether any fault can happen.
    pub fn any(&self) -> bool {
        self.rate_429
            + self.rate_500
            + self.rate_503
            + self.rate_504
            + self.rate_reset
            + self.rate_hang
            + self.rate_truncate
            + self.rate_malformed
            + self.rate_slow_headers
            > 0.0
    }
}

/// A time window with its own fault rates ("from 60 s to 90 s, 80% 503s"), replacing the
/// profile's rates while it lasts. Times count from the mock's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultWindow {
    /// Start of the window.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub start: Duration,
    /// End of the window.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub end: Duration,
    /// Fault rates inside the window.
    pub errors: FaultRates,
    /// The models it hits (empty: every model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// A network path standing for a region: round-trip time, jitter and loss.
///
/// Each answer is delayed by `rtt` plus a uniform jitter in `[-jitter, +jitter]`; with chance
/// `loss` a request also suffers one retransmission timeout (`rto`, by default the larger of
/// 200 ms, Linux's minimum, and 2×rtt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(try_from = "RawNetwork", into = "RawNetwork")]
pub struct Network {
    /// Preset name, or `custom`.
    pub name: String,
    /// Round-trip time added to every answer.
    pub rtt: Duration,
    /// Half-width of the uniform jitter around `rtt`.
    pub jitter: Duration,
    /// Chance of one retransmission per request.
    pub loss: f64,
    /// Retransmission timeout.
    pub rto: Duration,
}

impl Network {
    /// A named network preset.
    pub fn preset(name: &str) -> Option<Network> {
        let ms = Duration::from_millis;
        let (rtt, jitter, loss) = match name {
            "local" => (ms(0), ms(0), 0.0),
            "same-region" => (ms(2), Duration::from_micros(500), 0.0),
            "cross-region" => (ms(40), ms(4), 0.001),
            "cross-continent" => (ms(150), ms(15), 0.005),
            _ => return None,
        };
        Some(Network {
            name: name.to_string(),
            rtt,
            jitter,
            loss,
            rto: (2 * rtt).max(ms(200)),
        })
    }
}

/// Names accepted by [`Network::preset`].
pub const NETWORK_PRESETS: [&str; 4] = ["local", "same-region", "cross-region", "cross-continent"];

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum RawNetwork {
    Named(String),
    Custom(NetworkTable),
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NetworkTable {
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "String")]
    rtt: Duration,
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "String")]
    jitter: Duration,
    #[serde(default)]
    loss: f64,
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "Option<String>")]
    rto: Option<Duration>,
}

impl TryFrom<RawNetwork> for Network {
    type Error = String;
    fn try_from(raw: RawNetwork) -> Result<Self, String> {
        match raw {
            RawNetwork::Named(name) => Network::preset(&name)
                .ok_or_else(|| format!("unknown network preset {name:?}; expected one of {NETWORK_PRESETS:?}")),
            RawNetwork::Custom(t) => {
                if !(0.0..=1.0).contains(&t.loss) {
                    return Err(format!("loss must be between 0 and 1, got {}", t.loss));
                }
                if t.jitter > t.rtt {
                    return Err("jitter must not exceed rtt".into());
                }
                Ok(Network {
                    name: "custom".into(),
                    rtt: t.rtt,
                    jitter: t.jitter,
                    loss: t.loss,
                    rto: t.rto.unwrap_or((2 * t.rtt).max(Duration::from_millis(200))),
                })
            }
        }
    }
}

impl From<Network> for RawNetwork {
    fn from(n: Network) -> Self {
        if n.name != "custom" && Network::preset(&n.name).as_ref() == Some(&n) {
            return RawNetwork::Named(n.name);
        }
        RawNetwork::Custom(NetworkTable {
            rtt: n.rtt,
            jitter: n.jitter,
            loss: n.loss,
            rto: Some(n.rto),
        })
    }
}

/// Quota overrides for one model (`[target.mock.models."gemini-2.5-pro"]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Requests per minute (0 = unlimited).
    pub rpm: Option<u64>,
    /// Input tokens per minute (0 = unlimited).
    pub tpm: Option<u64>,
    /// Requests per day (0 = unlimited).
    pub rpd: Option<u64>,
}

/// What a user writes: every key optional, applied on top of `preset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockSettings {
    /// The preset to start from (in a profile file; in a scenario `target.profile` names it).
    pub preset: Option<String>,
    /// Requests per minute for every model (0 = unlimited).
    pub rpm: Option<u64>,
    /// Input tokens per minute for every model (0 = unlimited).
    pub tpm: Option<u64>,
    /// Requests per day for every model (0 = unlimited).
    pub rpd: Option<u64>,
    /// The billing account's monthly spend cap in USD (0 = none); the tier presets set the
    /// tier's cap. `stampede` checks a run's spend, carried over to 30 days, against it.
    pub monthly_cap_usd: Option<f64>,
    /// Per-model quota overrides; a model not known to the preset is added.
    pub models: Option<BTreeMap<String, ModelSettings>>,
    /// Quota window semantics.
    pub window: Option<QuotaWindow>,
    /// 429 body shape.
    pub error_shape: Option<ErrorShape>,
    /// Base service time: time to first token on an idle upstream.
    pub latency: Option<DurationDist>,
    /// Output tokens per second added on top of `latency` (0 = none).
    pub decode_tps: Option<NumberDist>,
    /// Answer length when the client does not ask for one.
    pub output_tokens: Option<NumberDist>,
    /// Thinking tokens per answer (billed as output).
    pub thinking_tokens: Option<NumberDist>,
    /// Output tokens per streamed chunk.
    pub stream_chunk_tokens: Option<u32>,
    /// Upstream capacity: requests served at once (0 = unlimited).
    pub max_concurrent: Option<u32>,
    /// Requests that may wait for the upstream before 503s start (default: `max_concurrent`).
    pub backlog: Option<u32>,
    /// Service-time growth at full capacity: time × (1 + slowdown × busy / max_concurrent).
    pub overload_slowdown: Option<f64>,
    /// Fault rates.
    pub errors: Option<FaultRates>,
    /// Scheduled fault windows.
    pub fault_windows: Option<Vec<FaultWindow>>,
    /// Network path (a preset name or a table).
    pub network: Option<Network>,
    /// Accepted API keys; empty accepts any key.
    pub api_keys: Option<Vec<String>>,
    /// Whether a request without a key gets 403 (as the real service does).
    pub require_key: Option<bool>,
}

/// A mock profile could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The preset name is not known.
    #[error("unknown mock profile {0:?}; expected a preset ({presets}) or a .toml file", presets = catalog::PRESETS.join(", "))]
    UnknownPreset(String),
    /// A profile file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A profile file is not valid.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message with line and column.
        message: String,
    },
    /// The combined settings do not make sense.
    #[error("invalid mock settings: {0}")]
    Invalid(String),
}

/// The resolved behaviour of the mock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MockProfile {
    /// The preset the profile started from.
    pub preset: String,
    /// Decides quota names in 429 bodies.
    pub tier: Tier,
    /// Quota limits per model; a model not listed answers 404.
    pub models: BTreeMap<String, Limits>,
    /// The billing account's monthly spend cap in USD (0 = none).
    #[serde(default)]
    pub monthly_cap_usd: f64,
    /// Quota window semantics.
    pub window: QuotaWindow,
    /// 429 body shape.
    pub error_shape: ErrorShape,
    /// Time to first token on an idle upstream.
    pub latency: DurationDist,
    /// Output tokens per second (0 = decode adds no time).
    pub decode_tps: NumberDist,
    /// Answer length when the client gives no hint.
    pub output_tokens: NumberDist,
    /// Thinking tokens per answer.
    pub thinking_tokens: NumberDist,
    /// Output tokens per streamed chunk.
    pub stream_chunk_tokens: u32,
    /// Upstream capacity (0 = unlimited).
    pub max_concurrent: u32,
    /// Waiting room in front of the upstream.
    pub backlog: u32,
    /// Service-time growth at full capacity.
    pub overload_slowdown: f64,
    /// Fault rates outside fault windows.
    pub errors: FaultRates,
    /// Scheduled fault windows.
    pub fault_windows: Vec<FaultWindow>,
    /// Network path.
    pub network: Network,
    /// Accepted API keys; empty accepts any.
    pub api_keys: Vec<String>,
    /// Whether a missing key gets 403.
    pub require_key: bool,
}

impl MockProfile {
    /// A preset by name: one of [`catalog::PRESETS`].
    pub fn preset(name: &str) -> Result<MockProfile, ProfileError> {
        let (tier, models) = catalog::tier_limits(name).ok_or_else(|| ProfileError::UnknownPreset(name.into()))?;
        Ok(MockProfile {
            preset: name.to_string(),
            tier,
            models,
            monthly_cap_usd: catalog::tier_entry(name).and_then(|t| t.monthly_cap_usd).unwrap_or(0.0),
            window: QuotaWindow::Sliding,
            error_shape: ErrorShape::V2025,
            latency: DurationDist::Lognormal {
                median: Duration::from_millis(900),
                p99: Duration::from_secs(6),
            },
            decode_tps: NumberDist::Constant(0.0),
            output_tokens: NumberDist::Lognormal {
                median: 300.0,
                p99: 2000.0,
            },
            thinking_tokens: NumberDist::Constant(0.0),
            stream_chunk_tokens: 16,
            max_concurrent: 0,
            backlog: 0,
            overload_slowdown: 0.0,
            errors: FaultRates::default(),
            fault_windows: Vec::new(),
            network: Network::preset("local").expect("local preset"),
            api_keys: Vec::new(),
            require_key: true,
        })
    }

    /// A preset name or a profile file (anything ending `.toml`), without further settings.
    pub fn load(name_or_file: &str) -> Result<MockProfile, ProfileError> {
        if name_or_file.ends_with(".json") {
            // A whole profile as serialised by stampede (how `stampede plan` hands the
            // scenario's profile to a mock in another process).
            let text = std::fs::read_to_string(name_or_file).map_err(|source| ProfileError::Io {
                path: name_or_file.into(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|e| ProfileError::Parse {
                path: name_or_file.into(),
                message: e.to_string(),
            })
        } else if name_or_file.ends_with(".toml") {
            let settings = MockSettings::from_file(Path::new(name_or_file))?;
            let base = settings.preset.clone().unwrap_or_else(|| "tier1".into());
            MockProfile::preset(&base)?.patched(&settings)
        } else {
            MockProfile::preset(name_or_file)
        }
    }

    /// This profile with `settings` applied on top.
    pub fn patched(mut self, s: &MockSettings) -> Result<MockProfile, ProfileError> {
        for model_limits in self.models.values_mut() {
            if let Some(v) = s.rpm {
                model_limits.rpm = v;
            }
            if let Some(v) = s.tpm {
                model_limits.tpm = v;
            }
            if let Some(v) = s.rpd {
                model_limits.rpd = v;
            }
        }
        if let Some(models) = &s.models {
            for (name, m) in models {
                let limits = self.models.entry(name.clone()).or_insert(Limits {
                    rpm: s.rpm.unwrap_or(0),
                    tpm: s.tpm.unwrap_or(0),
                    rpd: s.rpd.unwrap_or(0),
                });
                limits.rpm = m.rpm.unwrap_or(limits.rpm);
                limits.tpm = m.tpm.unwrap_or(limits.tpm);
                limits.rpd = m.rpd.unwrap_or(limits.rpd);
            }
        }
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = &s.$field { self.$field = v.clone(); } )* };
        }
        take!(
            monthly_cap_usd,
            window,
            error_shape,
            latency,
            decode_tps,
            output_tokens,
            thinking_tokens,
            stream_chunk_tokens,
            max_concurrent,
            overload_slowdown,
            fault_windows,
            network,
            api_keys,
            require_key
        );
        if let Some(errors) = &s.errors {
            self.errors = errors.clone();
        }
        self.backlog = s.backlog.unwrap_or(self.max_concurrent);
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), ProfileError> {
        let invalid = ProfileError::Invalid;
        self.errors.check().map_err(invalid)?;
        for w in &self.fault_windows {
            if w.end <= w.start {
                return Err(invalid(format!(
                    "fault window ending at {} does not start before it ends",
                    humantime::format_duration(w.end)
                )));
            }
            w.errors.check().map_err(invalid)?;
            if let Some(m) = w.models.iter().find(|m| !self.models.contains_key(*m)) {
                return Err(invalid(format!(
                    "fault window names model {m:?}, which this profile does not serve (it serves {})",
                    self.models.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if self.stream_chunk_tokens == 0 {
            return Err(invalid("stream_chunk_tokens must be at least 1".into()));
        }
        if !(self.monthly_cap_usd >= 0.0 && self.monthly_cap_usd.is_finite()) {
            return Err(invalid("monthly_cap_usd must be a finite amount ≥ 0".into()));
        }
        if self.overload_slowdown.is_nan() || self.overload_slowdown < 0.0 {
            return Err(invalid("overload_slowdown must be ≥ 0".into()));
        }
        Ok(())
    }

    /// The quota limits of a model, or `None` when the mock does not serve it.
    pub fn limits(&self, model: &str) -> Option<Limits> {
        self.models.get(model).copied()
    }
}

impl MockSettings {
    /// Reads a profile file; errors name the file, line and column.
    pub fn from_file(path: &Path) -> Result<MockSettings, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_patch_a_preset() {
        let s: MockSettings = toml::from_str(
            r#"
            rpm = 60
            latency = { dist = "constant", value = "250ms" }
            max_concurrent = 8
            network = "cross-continent"
            errors = { rate_503 = 0.1 }
            [models."gemini-2.5-pro"]
            rpm = 5
            "#,
        )
        .unwrap();
        let p = MockProfile::preset("tier1").unwrap().patched(&s).unwrap();
        assert_eq!(p.limits("gemini-2.5-flash").unwrap().rpm, 60);
        assert_eq!(p.limits("gemini-2.5-flash").unwrap().tpm, 1_000_000);
        assert_eq!(p.limits("gemini-2.5-pro").unwrap().rpm, 5);
        assert_eq!(p.backlog, 8);
        assert_eq!(p.network.rtt, Duration::from_millis(150));
        assert_eq!(p.errors.rate_503, 0.1);
        assert_eq!(p.latency, DurationDist::Constant(Duration::from_millis(250)));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(toml::from_str::<MockSettings>("rpn = 5").is_err());
        assert!(toml::from_str::<MockSettings>("network = \"mars\"").is_err());
        let s: MockSettings = toml::from_str("errors = { rate_500 = 0.7, rate_503 = 0.7 }").unwrap();
        assert!(MockProfile::preset("tier1").unwrap().patched(&s).is_err());
        assert!(MockProfile::preset("tier9").is_err());
    }

    #[test]
    fn profile_round_trips_through_toml() {
        let p = MockProfile::preset("tier2").unwrap();
        let text = toml::to_string(&p).unwrap();
        let back: MockProfile = toml::from_str(&text).unwrap();
        assert_eq!(p, back);
    }
}
