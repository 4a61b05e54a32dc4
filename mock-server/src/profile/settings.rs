//! What people write: every key optional, applied on top of a preset.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ErrorShape, FaultRates, FaultWindow, Network, ProfileError, QuotaWindow, SpendLimit};
use crate::dist::{DurationDist, NumberDist};
use crate::input_file::{read_to_string, InputKind};

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
    /// This model's tokenizer density in characters per token (see the profile's key).
    pub chars_per_token: Option<f64>,
}

/// What a user writes: every key optional, applied on top of `preset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockSettings {
    /// The preset to start from (in a profile file; in a scenario `target.profile` names it).
    pub preset: Option<String>,
    /// A catalog file (relative to the profile file) extending the embedded one, put in force
    /// before the preset is read (in a profile file; a scenario says it at its top level).
    pub catalog: Option<String>,
    /// Requests per minute for every model (0 = unlimited).
    pub rpm: Option<u64>,
    /// Input tokens per minute for every model (0 = unlimited).
    pub tpm: Option<u64>,
    /// Requests per day for every model (0 = unlimited).
    pub rpd: Option<u64>,
    /// The billing account's monthly spend cap in USD (0 = none); the tier presets set the
    /// tier's cap. `stampede` checks a run's spend, carried over to 30 days, against it.
    pub monthly_cap_usd: Option<f64>,
    /// The spend-based rate limit, e.g. `{ usd = 10.0, window = "10m" }` (`usd = 0` turns the
    /// preset's off); the tier presets fill it from the catalog.
    pub spend_limit: Option<SpendLimit>,
    /// Priority requests per minute per model before the rest are served at Standard (0 = no
    /// limit); the paid presets set an illustrative figure.
    pub priority_rpm: Option<u64>,
    /// `false`: the project cannot use Priority (every Priority request is served at Standard),
    /// as on Tier 1 and the free tier.
    pub priority_offered: Option<bool>,
    /// Extra time to first token of a Flex answer.
    pub flex_latency: Option<DurationDist>,
    /// Share of `max_concurrent` in use above which Flex requests get 503 (0..=1).
    pub flex_shed_at: Option<f64>,
    /// Batch API: time from a job's start to its results, e.g. `{ dist = "constant", value =
    /// "2s" }`.
    pub batch_turnaround: Option<DurationDist>,
    /// Batch API: input tokens of running jobs allowed per model at once (0 = unlimited).
    pub batch_enqueued_tokens: Option<u64>,
    /// How long an implicit cache entry lives after its last use ("0s" turns implicit caching
    /// off).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub implicit_cache_ttl: Option<std::time::Duration>,
    /// Per-model quota overrides; a model not known to the preset is added.
    pub models: Option<BTreeMap<String, ModelSettings>>,
    /// Quota window semantics.
    pub window: Option<QuotaWindow>,
    /// 429 body shape.
    pub error_shape: Option<ErrorShape>,
    /// Base service time: time to first token on an idle upstream.
    pub latency: Option<DurationDist>,
    /// Time to first token added per 1,000 input tokens not served from a cache (prefill):
    /// time to first token = `latency` + this × uncached input / 1,000.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub latency_per_1k_input: Option<std::time::Duration>,
    /// The tokenizer's density: a text of `c` characters is `ceil(c / chars_per_token)`
    /// tokens (countTokens, usage and the TPM quota); 4 unless set. stampede synthesises prompts
    /// at the density of the profile it runs with.
    pub chars_per_token: Option<f64>,
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

impl MockSettings {
    /// Every number written in its range ([`crate::ranges`]), before it is laid over a preset
    /// (a spend limit of `usd = -1` is refused here, not read as "off").
    pub fn check_ranges(&self) -> Result<(), String> {
        use crate::ranges::{CHARS_PER_TOKEN, QUOTA, SHARE, SLOWDOWN, TOKENS, USD};
        for (k, v) in [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("rpd", self.rpd),
            ("priority_rpm", self.priority_rpm),
        ] {
            v.map_or(Ok(0), |v| QUOTA.check_count(k, v))?;
        }
        for (model, m) in self.models.iter().flatten() {
            for (k, v) in [("rpm", m.rpm), ("tpm", m.tpm), ("rpd", m.rpd)] {
                v.map_or(Ok(0), |v| QUOTA.check_count(&format!("models.{model:?}.{k}"), v))?;
            }
            CHARS_PER_TOKEN.check_some(&format!("models.{model:?}.chars_per_token"), m.chars_per_token)?;
        }
        CHARS_PER_TOKEN.check_some("chars_per_token", self.chars_per_token)?;
        if let Some(d) = self.latency_per_1k_input {
            crate::ranges::Range {
                kind: "prefill time",
                min: 0.0,
                above_min: false,
                max: 60.0,
                unit: "s",
                keys: "`latency_per_1k_input`",
            }
            .check_duration("latency_per_1k_input", d)?;
        }
        USD.check_some("monthly_cap_usd", self.monthly_cap_usd)?;
        if let Some(l) = &self.spend_limit {
            l.check()?;
        }
        SHARE.check_some("flex_shed_at", self.flex_shed_at)?;
        SLOWDOWN.check_some("overload_slowdown", self.overload_slowdown)?;
        if let Some(n) = self.batch_enqueued_tokens {
            TOKENS.check_count("batch_enqueued_tokens", n)?;
        }
        if let Some(n) = self.stream_chunk_tokens {
            crate::ranges::Range { min: 1.0, ..TOKENS }.check_count("stream_chunk_tokens", u64::from(n))?;
        }
        Ok(())
    }

    /// Reads a profile file; errors name the file, line and column.
    pub fn from_file(path: &Path) -> Result<MockSettings, ProfileError> {
        let text = read_to_string(path, InputKind::Profile)?;
        MockSettings::parse(&text, &path.display().to_string())
    }

    /// Parses a profile's text (every number checked against its range); messages name
    /// `shown` (the file), the line and the column.
    pub fn parse(text: &str, shown: &str) -> Result<MockSettings, ProfileError> {
        let settings: MockSettings = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: shown.to_string(),
            message: e.to_string(),
        })?;
        settings.check_ranges().map_err(|message| ProfileError::Parse {
            path: shown.to_string(),
            message,
        })?;
        Ok(settings)
    }
}
