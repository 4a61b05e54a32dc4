//! The scenario file: what traffic to send, to which target, with which calling plan, against
//! which SLO.
//!
//! Unknown keys are refused, durations are humantime strings, and every error names the file,
//! line and column and says what was expected. Type and range errors come from the TOML parser;
//! checks across keys run after parsing and blame the key or table they concern.

pub mod candidates;
pub mod hosting;
pub mod plan;
pub mod slo;
pub mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stampede_mock::input_file::{self, InputKind};
use toml::Spanned;

use crate::spec_error::{self, SpecError};
use crate::strategy::StrategySpec;
use crate::traffic::{TrafficPlan, TrafficSpec};
pub use candidates::Candidate;
pub use slo::SloSpec;
pub use target::{TargetKind, TargetSpec};

/// A scenario as written.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name; also the default output folder `reports/<name>/`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// What the scenario shows.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every random stream (traffic, mock behaviour, retry jitter).
    #[serde(default)]
    pub seed: u64,
    /// A catalog file (relative to the scenario) extending the embedded models, prices and tier
    /// presets, as `--catalog FILE` does: your project's own limits and prices.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub catalog: Option<Spanned<String>>,
    /// How long traffic is generated; requests in flight at the end are waited for.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub duration: Duration,
    /// Where requests go.
    #[serde(default = "unspanned")]
    #[schemars(with = "TargetSpec", default = "TargetSpec::default")]
    pub target: Spanned<TargetSpec>,
    /// What is sent.
    #[schemars(with = "TrafficSpec")]
    pub traffic: Spanned<TrafficSpec>,
    /// The calling plan.
    #[serde(default = "unspanned")]
    #[schemars(with = "StrategySpec", default = "StrategySpec::default")]
    pub strategy: Spanned<StrategySpec>,
    /// Service-level objectives; a breach makes `stampede run` exit 1.
    #[serde(default = "unspanned")]
    #[schemars(with = "SloSpec", default = "SloSpec::default")]
    pub slo: Spanned<SloSpec>,
    /// Strategies for `stampede compare` and `stampede plan`: each a `[strategy]` table (with a
    /// `name`) laid over the scenario's `[strategy]`; as written here, before that layering.
    #[serde(default)]
    #[schemars(with = "Vec<StrategySpec>")]
    pub strategies: Vec<Spanned<StrategySpec>>,
    /// What the client's replicas run on and cost (`plan` adds it to the API's cost).
    #[serde(default)]
    #[schemars(with = "Option<hosting::HostingSpec>")]
    pub hosting: Option<Spanned<hosting::HostingSpec>>,
    /// What `stampede plan` searches (workers only by default; the whole calling plan with
    /// `search = "full"`).
    #[serde(default)]
    #[schemars(with = "Option<plan::PlanSpec>")]
    pub plan: Option<Spanned<plan::PlanSpec>>,
}

/// The JSON Schema of scenario files, generated from the types that parse them. Editors complete
/// and check keys from it (VS Code with Even Better TOML, or taplo, through a
/// `#:schema ./schemas/scenario.schema.json` comment or a `.taplo.toml` rule); the committed copy
/// in `schemas/` is kept equal to this by a test.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Scenario)).expect("a schema is JSON");
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "description".into(),
            "A stampede scenario file (TOML): traffic, target, calling plan and SLO.".into(),
        );
    }
    schema
}

/// The most requests one run may schedule.
pub const MAX_REQUESTS: u64 = 1_000_000_000;

/// The longest traffic window: a year and a day (enough for a month's caps and a day's quota,
/// in virtual time).
pub const MAX_DURATION: Duration = Duration::from_secs(stampede_mock::ranges::WINDOW.max as u64);

/// The longest scenario name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Refuses models Google has shut down (the catalog's status and dates), naming the
/// replacement: a plan for a model that no longer answers is no plan.
fn refuse_shut_down(models: &[String]) -> Result<(), String> {
    use stampede_mock::catalog::{data, lifecycle};
    let today = lifecycle::today();
    for m in models {
        if let lifecycle::Standing::Refused(why) = lifecycle::standing(data::current(), m, &today) {
            return Err(why);
        }
    }
    Ok(())
}

/// A scenario name becomes the output folder `reports/<name>/`: a plain, printable word.
pub fn check_name(name: &str) -> Result<(), String> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed == "."
        || trimmed == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name.chars().count() > MAX_NAME_CHARS
    {
        return Err(format!(
            "name must be a word usable as a folder name: 1 to {MAX_NAME_CHARS} printable characters, no `/` or `\\`, \
             not `.` or `..` (got \"{}\")",
            crate::spec_error::shown(name)
        ));
    }
    Ok(())
}

/// A traffic window is above zero and at most [`MAX_DURATION`].
pub fn check_duration(d: Duration) -> Result<(), String> {
    stampede_mock::ranges::WINDOW.check_duration("duration", d).map(drop)
}

/// A default value for a table the file leaves out (it has no position in the file).
fn unspanned<T: Default>() -> Spanned<T> {
    Spanned::new(0..0, T::default())
}

/// A scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, not a regular file, too large, not UTF-8).
    #[error(transparent)]
    Io(#[from] stampede_mock::input_file::InputError),
    /// The file is not a valid scenario; the message has file, line and column.
    #[error("{0}")]
    Invalid(String),
}

/// A scenario with where it came from, and its traffic prepared.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its text (to point at errors found later).
    pub text: String,
    /// The traffic, checked (a trace is scanned once, here).
    pub traffic: TrafficPlan,
    /// The `[strategy]` table as written, under which candidates are laid.
    strategy_table: toml::Table,
    /// The `[[strategies]]`, resolved.
    candidates: Vec<Candidate>,
    /// The mock profile (`profile` patched by `[target.mock]`), read once here; which models
    /// it must serve is checked per run.
    profile: stampede_mock::MockProfile,
}

impl Scenario {
    /// The name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// Parses and checks a scenario's text; `path` is used in messages and to find files the
    /// scenario names (profiles, traces) relative to it.
    pub fn parse(text: &str, path: &Path) -> Result<LoadedScenario, ScenarioError> {
        let shown = path.display().to_string();
        let fail = |e: SpecError| ScenarioError::Invalid(spec_error::render(&shown, text, &e));
        // Typed, for positions and unknown keys; raw, for layering presets under the user's keys.
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| fail(spec_error::from_toml(&e)))?;
        let raw: toml::Table = toml::from_str(text).map_err(|e| fail(spec_error::from_toml(&e)))?;
        let strategy_table = raw
            .get("strategy")
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default();
        if scenario.strategy.get_ref().preset.is_some() {
            let span = scenario.strategy.span();
            let resolved =
                crate::strategy::presets::resolve(&strategy_table).map_err(|m| fail(SpecError::at(span.clone(), m)))?;
            scenario.strategy = Spanned::new(span, resolved);
        }
        let raw_entries: Vec<toml::Table> = raw
            .get("strategies")
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_table().cloned()).collect())
            .unwrap_or_default();
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(file) = &scenario.catalog {
            stampede_mock::catalog::data::install(&base_dir.join(file.get_ref()))
                .map_err(|m| fail(SpecError::at(file.span(), format!("catalog: {m}"))))?;
        }
        let traffic = TrafficPlan::prepare(scenario.traffic.get_ref(), &base_dir, &scenario.target.get_ref().model)
            .map_err(fail)?;
        let candidates =
            candidates::resolve_entries(&strategy_table, &raw_entries, &scenario.strategies).map_err(fail)?;
        let profile = scenario
            .target
            .get_ref()
            .profile_unchecked(&base_dir)
            .map_err(|m| fail(SpecError::at(scenario.target.span(), m)))?;
        let loaded = LoadedScenario {
            scenario,
            path: path.to_path_buf(),
            text: text.to_string(),
            traffic,
            strategy_table,
            candidates,
            profile,
        };
        loaded.check().map_err(fail)?;
        Ok(loaded)
    }

    /// Reads, parses and checks a scenario file.
    pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
        let text = input_file::read_to_string(path, InputKind::Scenario)?;
        Scenario::parse(&text, path)
    }
}

impl LoadedScenario {
    /// Checks across keys, after parsing.
    fn check(&self) -> Result<(), SpecError> {
        let s = &self.scenario;
        check_name(s.name()).map_err(|m| SpecError::at(s.name.span(), m))?;
        check_duration(s.duration).map_err(SpecError::whole)?;
        self.check_volume(s.duration, s.target.get_ref().max_requests)
            .map_err(SpecError::whole)?;
        s.strategy
            .get_ref()
            .validate()
            .map_err(|m| SpecError::at(s.strategy.span(), m))?;
        s.slo.get_ref().validate().map_err(|m| SpecError::at(s.slo.span(), m))?;
        if let Some(h) = &s.hosting {
            h.get_ref().validate().map_err(|m| SpecError::at(h.span(), m))?;
        }
        if let Some(p) = &s.plan {
            p.get_ref().validate().map_err(|m| SpecError::at(p.span(), m))?;
        }
        s.target
            .get_ref()
            .validate()
            .map_err(|m| SpecError::at(s.target.span(), m))?;
        // A scenario for a real API may call models the mock does not serve.
        let api = matches!(s.target.get_ref().kind, TargetKind::Gemini | TargetKind::Openai);
        let check_models = |models: &[String]| {
            refuse_shut_down(models)?;
            match api {
                true => Ok(()),
                false => self.mock_profile_for(models).map(drop),
            }
        };
        // The target's model first, blamed on its own line; then the plan's other models.
        check_models(std::slice::from_ref(&s.target.get_ref().model))
            .map_err(|m| SpecError::at_key(s.target.span(), "model", m))?;
        check_models(&self.models_for(s.strategy.get_ref())).map_err(|m| SpecError::at(s.strategy.span(), m))?;
        self.check_reserve(s.strategy.get_ref())
            .map_err(|m| SpecError::at(s.strategy.span(), m))?;
        for (i, c) in self.candidates.iter().enumerate() {
            check_models(&self.models_for(&c.strategy)).map_err(|m| SpecError::at(s.strategies[i].span(), m))?;
            self.check_reserve(&c.strategy)
                .map_err(|m| SpecError::at(s.strategies[i].span(), m))?;
        }
        Ok(())
    }

    /// Refuses a schedule of more than [`MAX_REQUESTS`] requests over `window` (unless
    /// `max_requests` cuts it), counting spikes at their height: such a run could not end in a
    /// sane time or memory, and the message says how many it would send.
    pub fn check_volume(&self, window: Duration, max_requests: Option<u64>) -> Result<(), String> {
        let Some(rate) = self.traffic.mean_rate() else {
            // A closed loop sends as fast as its answers come back, but each user sends at
            // least one request, and the users are bounded in the ranges table.
            let users = self
                .scenario
                .traffic
                .get_ref()
                .users
                .as_ref()
                .map_or(1, |u| *u.get_ref());
            stampede_mock::ranges::USERS.check_count("users", u64::from(users))?;
            return Ok(());
        };
        let secs = window.as_secs_f64();
        let spikes: f64 = self
            .scenario
            .traffic
            .get_ref()
            .spikes
            .as_ref()
            .map(|s| {
                s.get_ref()
                    .iter()
                    .map(|k| (k.factor - 1.0).max(0.0) * rate * k.length.as_secs_f64().min(secs))
                    .sum()
            })
            .unwrap_or(0.0);
        let planned = rate * secs + spikes;
        let capped = max_requests.map_or(planned, |m| planned.min(m as f64));
        if capped > MAX_REQUESTS as f64 {
            return Err(format!(
                "this traffic would schedule about {} requests in {}; at most {} are allowed in one run \
                 (shorten duration, lower the rate, or set max_requests)",
                crate::format::count(planned.min(u64::MAX as f64) as u64),
                humantime::format_duration(window),
                crate::format::count(MAX_REQUESTS)
            ));
        }
        Ok(())
    }

    /// `strategy.reserve`, `strategy.service_tier` and `strategy.pin_prefix` may only name
    /// lanes the traffic has.
    pub fn check_reserve(&self, strategy: &StrategySpec) -> Result<(), String> {
        let lanes = self.traffic.lane_names();
        let named = [("reserve", strategy.reserve.keys().collect::<Vec<_>>())]
            .into_iter()
            .chain([("service_tier", strategy.service_tier.keys().collect())])
            .chain([("pin_prefix", strategy.pin_prefix.iter().collect())])
            .chain([("online", strategy.online.iter().collect())]);
        for (key, names) in named {
            if let Some(k) = names.into_iter().find(|k| !lanes.contains(k)) {
                return Err(format!(
                    "strategy.{key} names lane {k:?}, but the traffic's lanes are {}",
                    lanes.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The directory files named by the scenario are relative to.
    pub fn base_dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// Every model a run with `strategy` may call: the traffic's, then its fallback model.
    pub fn models_for(&self, strategy: &StrategySpec) -> Vec<String> {
        let mut models = self.traffic.models.clone();
        if let Some(m) = strategy.fallback.as_ref().and_then(|f| f.model.clone()) {
            if !models.contains(&m) {
                models.push(m);
            }
        }
        models
    }

    /// The mock behaviour for sim and mock targets: the profile patched by `[target.mock]`,
    /// serving every model the run may call.
    pub fn mock_profile(&self) -> Result<stampede_mock::MockProfile, String> {
        self.mock_profile_for(&self.models_for(self.scenario.strategy.get_ref()))
    }

    /// A copy whose mock behaves as `change` makes it: the plan's what-ifs (a window of 503s, a
    /// slower region) run the same traffic against a changed upstream.
    pub fn with_profile(&self, change: impl FnOnce(&mut stampede_mock::MockProfile)) -> LoadedScenario {
        let mut changed = self.clone();
        change(&mut changed.profile);
        changed
    }

    /// The mock profile, checked to serve `models` (read when the scenario was loaded).
    pub fn mock_profile_for(&self, models: &[String]) -> Result<stampede_mock::MockProfile, String> {
        self.scenario.target.get_ref().check_serves(&self.profile, models)?;
        Ok(self.profile.clone())
    }
}

#[cfg(test)]
mod tests;
