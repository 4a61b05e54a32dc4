//! The mock's behaviour settings: a named preset patched key by key.
//!
//! [`MockSettings`] is what people write (the `[target.mock]` table of a scenario, or a profile
//! file for `stampede mock --profile FILE`); every key is optional. [`MockProfile`] is the
//! resolved form the model runs on: a preset (`tier1` unless `preset` says otherwise) with the
//! settings applied on top.

mod billing;
mod faults;
mod keys;
mod network;
mod settings;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{self, Limits, Tier};
use crate::dist::{DurationDist, NumberDist};
use crate::ranges::{SHARE, SLOWDOWN, USD};

pub use billing::{prices_of, BatchSettings, ServiceTier, ServiceTiers, SpendLimit};
pub use faults::{FaultRates, FaultWindow};
pub use keys::MAX_API_KEY_BYTES;
pub use network::{Network, NETWORK_PRESETS};
pub use settings::{MockSettings, ModelSettings};

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

/// A mock profile could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The preset name is not known.
    #[error("unknown mock profile {0:?}; expected a preset ({presets}) or a .toml file", presets = catalog::PRESETS.join(", "))]
    UnknownPreset(String),
    /// A profile file could not be read (not a regular file, too large, not UTF-8).
    #[error(transparent)]
    Io(#[from] crate::input_file::InputError),
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
    /// The billing account's monthly spend cap in USD (0 = none); enforced as a 30-day rolling
    /// spend window.
    #[serde(default)]
    pub monthly_cap_usd: f64,
    /// The spend-based rate limit (`None`: none).
    #[serde(default)]
    pub spend_limit: Option<SpendLimit>,
    /// Prices of the served models (from the catalog in force when the profile was resolved).
    #[serde(default)]
    pub prices: BTreeMap<String, catalog::Price>,
    /// Flex and Priority.
    #[serde(default = "standard_service_tiers")]
    pub service_tiers: ServiceTiers,
    /// The Batch API: how long a job takes once started, and the per-model quota of enqueued
    /// tokens it waits behind.
    #[serde(default)]
    pub batch: BatchSettings,
    /// How long an implicit cache entry lives after its last use (0 = no implicit caching).
    #[serde(default = "default_implicit_cache_ttl", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub implicit_cache_ttl: Duration,
    /// Quota window semantics.
    pub window: QuotaWindow,
    /// 429 body shape.
    pub error_shape: ErrorShape,
    /// Time to first token on an idle upstream.
    pub latency: DurationDist,
    /// Time to first token added per 1,000 uncached input tokens (prefill; zero: none).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "String")]
    pub latency_per_1k_input: Duration,
    /// The tokenizer's density in characters per token, for every model not in
    /// `model_chars_per_token`.
    #[serde(default = "default_chars_per_token")]
    pub chars_per_token: f64,
    /// Models whose tokenizer has its own density.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_chars_per_token: BTreeMap<String, f64>,
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
    /// Accepted API keys; empty accepts any. Written as `"[redacted]"` wherever the profile is
    /// serialised (a run's summary, its report, logs); only
    /// [`to_handoff_json`](MockProfile::to_handoff_json) writes them, for a mock in another
    /// process.
    #[serde(serialize_with = "keys::redacted")]
    pub api_keys: Vec<String>,
    /// Whether a missing key gets 403.
    pub require_key: bool,
}

fn default_chars_per_token() -> f64 {
    crate::tokens::DEFAULT_CHARS_PER_TOKEN
}

fn standard_service_tiers() -> ServiceTiers {
    ServiceTiers::of_preset("tier1")
}

/// How long an implicit cache entry lives: Google publishes no figure; five minutes is an
/// assumption (requests with a shared prefix "in a short amount of time" hit, per the caching
/// docs).
fn default_implicit_cache_ttl() -> Duration {
    Duration::from_secs(300)
}

impl MockProfile {
    /// The tokenizer rule of `model`: its own density, else the profile's.
    pub fn token_rule(&self, model: &str) -> crate::tokens::TokenRule {
        self.token_rules().of(model)
    }

    /// Every model's tokenizer rule.
    pub fn token_rules(&self) -> crate::tokens::TokenRules {
        use crate::tokens::TokenRule;
        crate::tokens::TokenRules {
            default: TokenRule {
                chars_per_token: self.chars_per_token,
            },
            models: self
                .model_chars_per_token
                .iter()
                .map(|(m, d)| (m.clone(), TokenRule { chars_per_token: *d }))
                .collect(),
        }
    }

    /// A preset by name: one of [`catalog::PRESETS`].
    pub fn preset(name: &str) -> Result<MockProfile, ProfileError> {
        let (tier, models) = catalog::tier_limits(name).ok_or_else(|| ProfileError::UnknownPreset(name.into()))?;
        let prices = prices_of(models.keys());
        Ok(MockProfile {
            preset: name.to_string(),
            tier,
            models,
            monthly_cap_usd: catalog::tier_entry(name).and_then(|t| t.monthly_cap_usd).unwrap_or(0.0),
            spend_limit: SpendLimit::of_preset(name),
            prices,
            service_tiers: ServiceTiers::of_preset(name),
            implicit_cache_ttl: default_implicit_cache_ttl(),
            batch: BatchSettings::default(),
            window: QuotaWindow::Sliding,
            error_shape: ErrorShape::V2025,
            latency: DurationDist::Lognormal {
                median: Duration::from_millis(900),
                p99: Duration::from_secs(6),
            },
            latency_per_1k_input: Duration::ZERO,
            chars_per_token: default_chars_per_token(),
            model_chars_per_token: BTreeMap::new(),
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
            let text =
                crate::input_file::read_to_string(Path::new(name_or_file), crate::input_file::InputKind::Profile)?;
            let profile: MockProfile = serde_json::from_str(&text).map_err(|e| ProfileError::Parse {
                path: name_or_file.into(),
                message: e.to_string(),
            })?;
            keys::check(&profile.api_keys).map_err(ProfileError::Invalid)?;
            Ok(profile)
        } else if name_or_file.ends_with(".toml") {
            let settings = MockSettings::from_file(Path::new(name_or_file))?;
            if let Some(file) = &settings.catalog {
                let dir = Path::new(name_or_file).parent().unwrap_or(Path::new(""));
                crate::catalog::data::install(&dir.join(file)).map_err(|message| ProfileError::Parse {
                    path: name_or_file.into(),
                    message: format!("catalog: {message}"),
                })?;
            }
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
                if let Some(d) = m.chars_per_token {
                    self.model_chars_per_token.insert(name.clone(), d);
                }
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
            latency_per_1k_input,
            chars_per_token,
            decode_tps,
            output_tokens,
            thinking_tokens,
            stream_chunk_tokens,
            max_concurrent,
            overload_slowdown,
            fault_windows,
            network,
            api_keys,
            require_key,
            implicit_cache_ttl
        );
        if let Some(errors) = &s.errors {
            self.errors = errors.clone();
        }
        s.check_ranges().map_err(ProfileError::Invalid)?;
        if let Some(limit) = s.spend_limit {
            self.spend_limit = limit.is_active().then_some(limit);
        }
        let tiers = &mut self.service_tiers;
        if let Some(rpm) = s.priority_rpm {
            tiers.priority_rpm = Some(rpm);
        }
        if s.priority_offered == Some(false) {
            tiers.priority_rpm = None;
        }
        if let Some(d) = &s.flex_latency {
            tiers.flex_latency = d.clone();
        }
        if let Some(x) = s.flex_shed_at {
            tiers.flex_shed_at = x;
        }
        if let Some(d) = &s.batch_turnaround {
            self.batch.turnaround = d.clone();
        }
        if let Some(n) = s.batch_enqueued_tokens {
            self.batch.enqueued_tokens = n;
        }
        self.prices = prices_of(self.models.keys());
        self.backlog = s.backlog.unwrap_or(self.max_concurrent);
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), ProfileError> {
        let invalid = ProfileError::Invalid;
        keys::check(&self.api_keys).map_err(invalid)?;
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
            return Err(invalid(
                "stream_chunk_tokens: expected 1 to 1000000000 tokens, got 0".into(),
            ));
        }
        USD.check("monthly_cap_usd", self.monthly_cap_usd).map_err(invalid)?;
        if let Some(l) = self.spend_limit {
            l.check().map_err(invalid)?;
        }
        SHARE
            .check("flex_shed_at", self.service_tiers.flex_shed_at)
            .map_err(invalid)?;
        SLOWDOWN
            .check("overload_slowdown", self.overload_slowdown)
            .map_err(invalid)?;
        Ok(())
    }

    /// The whole profile as JSON with its real API keys, to hand to a mock in another process
    /// (`stampede plan`'s hosting probe); everything else serialises the keys redacted.
    pub fn to_handoff_json(&self) -> Result<String, serde_json::Error> {
        let mut v = serde_json::to_value(self)?;
        v["api_keys"] = serde_json::to_value(&self.api_keys)?;
        serde_json::to_string(&v)
    }

    /// The quota limits of a model, or `None` when the mock does not serve it.
    pub fn limits(&self, model: &str) -> Option<Limits> {
        self.models.get(model).copied()
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
    fn keys_are_redacted_except_in_the_handoff() {
        let s: MockSettings = toml::from_str("api_keys = [\"AIzaSecret1\", \"k2\"]").unwrap();
        let p = MockProfile::preset("tier1").unwrap().patched(&s).unwrap();
        let written = serde_json::to_string(&p).unwrap();
        assert!(!written.contains("AIzaSecret1"), "{written}");
        assert!(
            written.contains("\"api_keys\":[\"[redacted]\",\"[redacted]\"]"),
            "{written}"
        );
        let handed: MockProfile = serde_json::from_str(&p.to_handoff_json().unwrap()).unwrap();
        assert_eq!(handed.api_keys, ["AIzaSecret1", "k2"]);
        assert_eq!(handed, p);
        for bad in ["\"\"", "\" k\"", "\"k\\u0007\"", "\"clé\"", "\"[redacted]\""] {
            let s: MockSettings = toml::from_str(&format!("api_keys = [{bad}]")).unwrap();
            let e = MockProfile::preset("tier1").unwrap().patched(&s).unwrap_err();
            assert!(e.to_string().contains("api_keys"), "{bad}: {e}");
        }
    }

    #[test]
    fn profile_round_trips_through_toml() {
        let p = MockProfile::preset("tier2").unwrap();
        let text = toml::to_string(&p).unwrap();
        let back: MockProfile = toml::from_str(&text).unwrap();
        assert_eq!(p, back);
    }
}
