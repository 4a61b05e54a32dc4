//! `[target]`: where the requests go.

use std::path::Path;

use serde::{Deserialize, Serialize};
use stampede_mock::{MockProfile, MockSettings};

/// The kinds of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The mock's model in-process, in virtual time: fast and deterministic.
    #[default]
    Sim,
    /// The mock served over real HTTP on 127.0.0.1, in real time.
    Mock,
    /// Gemini's REST API (the real service unless `base_url` says otherwise).
    Gemini,
    /// An OpenAI-compatible `chat/completions` server.
    Openai,
}

impl TargetKind {
    /// Every kind, in the order help texts list them.
    pub const ALL: [TargetKind; 4] = [
        TargetKind::Sim,
        TargetKind::Mock,
        TargetKind::Gemini,
        TargetKind::Openai,
    ];

    /// Whether the target sends real traffic over the network (everything but `sim`).
    pub fn is_live(self) -> bool {
        self != TargetKind::Sim
    }

    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Sim => "sim",
            TargetKind::Mock => "mock",
            TargetKind::Gemini => "gemini",
            TargetKind::Openai => "openai",
        }
    }
}

impl std::str::FromStr for TargetKind {
    type Err = String;

    /// Reads a kind by the name [`TargetKind::as_str`] gives it.
    fn from_str(s: &str) -> Result<TargetKind, String> {
        TargetKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = TargetKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown target {s:?}; expected one of {}", names.join(", "))
        })
    }
}

fn default_model() -> String {
    "gemini-2.5-flash".into()
}

/// `[target]`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Target kind.
    #[serde(default)]
    pub kind: TargetKind,
    /// Model to call.
    #[serde(default = "default_model")]
    pub model: String,
    /// Mock behaviour: a preset name or a profile `.toml` file (relative to the scenario).
    #[serde(default)]
    pub profile: Option<String>,
    /// Key-by-key overrides of the profile.
    #[serde(default)]
    pub mock: Option<MockSettings>,
    /// Endpoint override for HTTP targets.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Spend cap in USD: refuse a run whose estimate is above it, stop one that reaches it
    /// (default $1 for a billed target; see `spend`).
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Schedule at most this many requests.
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// `thinkingConfig.thinkingBudget` sent with every request (0 turns thinking off on the
    /// models that allow it; unset leaves the model's default).
    #[serde(default)]
    pub thinking_budget: Option<i64>,
    /// `thinkingConfig.thinkingLevel` sent with every request (Gemini 3.x: `"minimal"`,
    /// `"low"`, `"medium"`, `"high"`); the mock and the simulator think a share of each answer
    /// by level (docs/src/mock.md). Not with `thinking_budget`: Gemini refuses both.
    #[serde(default)]
    #[schemars(with = "Option<ThinkingLevelKey>")]
    pub thinking_level: Option<stampede_mock::thinking::ThinkingLevel>,
    /// Name of the environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// HTTP version to plain `http://` targets: `"1.1"` (keep-alive, a connection per request
    /// in flight) or `"2"` (cleartext HTTP/2, one connection); `https://` negotiates.
    #[serde(default)]
    pub http: crate::backend::HttpVersion,
}

impl Default for TargetSpec {
    fn default() -> Self {
        TargetSpec {
            kind: TargetKind::Sim,
            model: default_model(),
            profile: None,
            mock: None,
            base_url: None,
            max_cost_usd: None,
            max_requests: None,
            thinking_budget: None,
            thinking_level: None,
            api_key_env: None,
            http: crate::backend::HttpVersion::default(),
        }
    }
}

impl TargetSpec {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.model.trim().is_empty() {
            return Err("target.model must name a model, such as \"gemini-2.5-flash\"".into());
        }
        stampede_mock::ranges::USD.check_some("target.max_cost_usd", self.max_cost_usd)?;
        if self.thinking_budget.is_some_and(|b| b < -1) {
            return Err("target.thinking_budget must be -1 (the model decides), 0 (off) or a token count".into());
        }
        if self.thinking_budget.is_some() && self.thinking_level.is_some() {
            return Err(
                "target: set thinking_level or thinking_budget, not both (Gemini refuses a request with both)".into(),
            );
        }
        if let Some(level) = self.thinking_level {
            let catalog = stampede_mock::catalog::data::current();
            let accepted = catalog.models.get(&self.model).map(|m| &m.thinking_levels);
            if let Some(levels) = accepted.filter(|l| !l.is_empty() && !l.contains(&level)) {
                let names: Vec<&str> = levels.iter().map(|l| l.as_str()).collect();
                return Err(format!(
                    "target.thinking_level: {} does not accept \"{}\" (Gemini answers 400); it accepts {}",
                    self.model,
                    level.as_str(),
                    names.join(", ")
                ));
            }
        }
        if let Some(url) = &self.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "target.base_url must start with http:// or https://, got {url:?}"
                ));
            }
        }
        Ok(())
    }

    /// Checks that `profile` serves the target's model and every model in `models`.
    pub fn check_serves(&self, profile: &MockProfile, models: &[String]) -> Result<(), String> {
        for model in std::iter::once(&self.model).chain(models) {
            if !profile.models.contains_key(model) {
                let guess = crate::spec_error::did_you_mean(model, profile.models.keys().map(String::as_str))
                    .map_or(String::new(), |k| format!(" (did you mean \"{k}\"?)"));
                return Err(format!(
                    "the mock profile does not serve model \"{}\"{guess}; it serves {:?} (add it under \
                     [target.mock.models])",
                    crate::spec_error::shown(model),
                    profile.models.keys().collect::<Vec<_>>()
                ));
            }
        }
        Ok(())
    }

    /// The mock profile without checking which models it serves (a scenario for a real API
    /// may name models the mock does not know; running it in sim or mock then says so).
    pub fn profile_unchecked(&self, base_dir: &Path) -> Result<MockProfile, String> {
        let name = self.profile.as_deref().unwrap_or("tier1");
        let base = if name.ends_with(".toml") {
            let path = base_dir.join(name);
            MockProfile::load(&path.display().to_string())
        } else {
            MockProfile::preset(name)
        }
        .map_err(|e| e.to_string())?;
        match &self.mock {
            Some(settings) if settings.catalog.is_some() => Err(
                "target.mock.catalog: a scenario names its catalog at its top level (catalog = \"FILE\"), or a \
                 profile file does"
                    .into(),
            ),
            Some(settings) => base.patched(settings).map_err(|e| e.to_string()),
            None => Ok(base),
        }
    }
}

/// `thinking_level` as a scenario writes it (the schema's view; the reader also takes the wire's
/// upper case).
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ThinkingLevelKey {
    /// As little thinking as the model allows.
    Minimal,
    /// Less thinking.
    Low,
    /// The default of the 3.5-and-later Flash models.
    Medium,
    /// The most thinking.
    High,
}
