//! A run, prepared once: the scenario with the command line's overrides applied, every check
//! made, the models priced, the mock profile resolved, the API key looked up and the spend
//! guard consulted — before anything is sent.
//!
//! [`Prepared`] can only be had from [`Prepared::new`] (or [`Prepared::variant`] of one), so a
//! run that reaches [`crate::run::execute`] has passed every check. Commands that make many runs
//! (`plan`, `compare`, `bench`) prepare once and take cheap variants per seed and calling plan.

use std::sync::Arc;
use std::time::Duration;

use stampede_mock::catalog::{self, Price};

use crate::backend::connect::Endpoint;
use crate::backend::ApiKey;
use crate::engine::{EngineConfig, LaneConfig};
use crate::scenario::{LoadedScenario, TargetKind};
use crate::spend::{self, Estimate};
use crate::strategy::StrategySpec;
use crate::traffic::TrafficSource;

/// The real Gemini API.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// What the run is for, which decides how the spend guard treats a billed target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Purpose {
    /// One run: refused when its estimate is above the cap in force (a billed target always
    /// has one).
    #[default]
    Run,
    /// `runs` runs of the same traffic (compare): a billed target's estimate counts them all.
    Runs(u64),
    /// A search whose number of runs is not known in advance (plan): a billed target is refused.
    Search,
    /// `--dry-run`: the estimate only. No API key is looked up, and [`crate::run::execute`]
    /// refuses to run the result.
    DryRun,
}

/// Overrides from the command line (or from a command that runs the scenario its own way).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Target kind instead of the scenario's.
    pub target: Option<TargetKind>,
    /// Endpoint instead of the scenario's.
    pub base_url: Option<String>,
    /// Seed instead of the scenario's.
    pub seed: Option<u64>,
    /// Traffic window instead of the scenario's.
    pub duration: Option<Duration>,
    /// Request cap instead of the scenario's `max_requests`.
    pub max_requests: Option<u64>,
    /// Spend cap (USD) instead of the scenario's `target.max_cost_usd`.
    pub max_cost_usd: Option<f64>,
    /// The calling plan instead of the scenario's `[strategy]`.
    pub strategy: Option<StrategySpec>,
    /// API key for HTTP targets instead of the environment's (a mock this process started).
    pub key: Option<ApiKey>,
    /// What the run is for.
    pub purpose: Purpose,
    /// One shard of the run (`--shard I/N`): replica I of N.
    pub shard: Option<crate::shard::Shard>,
    /// The common start instant the shards were given (`--start-at`), as written.
    pub start_at: Option<String>,
}

/// Why a run cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Bad input: an override out of range, a model the profile does not serve, a missing key.
    #[error("{0}")]
    Input(String),
    /// The spend guard refuses to start; `estimate` is the line that says what it would cost.
    #[error("refusing to start: {why}")]
    Refused {
        /// The estimate, as [`Prepared::estimate_line`] prints it.
        estimate: String,
        /// Why.
        why: String,
    },
}

/// A checked, resolved run: everything [`crate::run::execute`] needs, nothing left to check.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    loaded: &'a LoadedScenario,
    target: TargetKind,
    seed: u64,
    duration: Duration,
    max_requests: Option<u64>,
    strategy: StrategySpec,
    models: Vec<String>,
    prices: Vec<Option<Price>>,
    engine: EngineConfig,
    endpoint: Endpoint,
    spend_cap: Option<f64>,
    billed: bool,
    dry_run: bool,
    shard: Option<crate::shard::Shard>,
    start_at: Option<String>,
}

impl<'a> Prepared<'a> {
    /// Applies `options` to the scenario and makes every check a run needs: the window and
    /// volume, the lanes the calling plan names, the models the mock serves, the API key, the
    /// endpoint, and the spend guard for `options.purpose`.
    pub fn new(loaded: &'a LoadedScenario, options: &RunOptions) -> Result<Prepared<'a>, PrepareError> {
        let s = &loaded.scenario;
        let t = s.target.get_ref();
        let target = options.target.unwrap_or(t.kind);
        let duration = options.duration.unwrap_or(s.duration);
        let max_requests = options.max_requests.or(t.max_requests);
        // The command line may override the window or the cap: the same bounds as the file's.
        crate::scenario::check_duration(duration).map_err(PrepareError::Input)?;
        loaded
            .check_volume(duration, max_requests)
            .map_err(PrepareError::Input)?;
        let base_url = options.base_url.clone().or_else(|| t.base_url.clone());
        let billed = spend::billed(target, base_url.as_deref());
        if billed && options.purpose == Purpose::Search {
            return Err(PrepareError::Input(spend::SEARCH_REFUSAL.to_string()));
        }
        let mut strategy = options.strategy.clone().unwrap_or_else(|| s.strategy.get_ref().clone());
        if let Some(shard) = options.shard {
            crate::shard::apply(&mut strategy, shard, target.is_live(), loaded.traffic.spec.is_closed())
                .map_err(PrepareError::Input)?;
        }
        let models = loaded.models_for(&strategy);
        // The key is looked up after the spend guard: an estimate, and its refusal, need none.
        let unkeyed = endpoint(loaded, target, base_url.clone(), &models, Some(ApiKey::new("")), billed)?;
        let spend_cap = options
            .max_cost_usd
            .or(t.max_cost_usd)
            .or_else(|| billed.then_some(spend::DEFAULT_CAP_USD));
        let seed = options.seed.unwrap_or(s.seed);
        let mut prepared = Prepared {
            loaded,
            target,
            seed,
            duration,
            max_requests,
            prices: models.iter().map(|m| catalog::price(m)).collect(),
            engine: engine_config(loaded, &strategy, &models, seed, duration, target),
            strategy,
            models,
            endpoint: unkeyed,
            spend_cap,
            billed,
            dry_run: options.purpose == Purpose::DryRun,
            shard: options.shard,
            start_at: options.start_at.clone(),
        };
        prepared.guard_spend(options.purpose)?;
        if target.is_live() && !prepared.dry_run {
            prepared.endpoint = endpoint(loaded, target, base_url, &prepared.models, options.key.clone(), billed)?;
        }
        Ok(prepared)
    }

    /// The same run with another seed and calling plan: only what depends on them is resolved
    /// again (the models a fallback adds, their prices and profile, the engine's lanes).
    pub fn variant(&self, seed: u64, strategy: &StrategySpec) -> Result<Prepared<'a>, PrepareError> {
        let mut next = self.clone();
        self.loaded.check_reserve(strategy).map_err(PrepareError::Input)?;
        let models = self.loaded.models_for(strategy);
        if models != self.models {
            if let Endpoint::Sim { profile } | Endpoint::Mock { profile, .. } = &mut next.endpoint {
                *profile = self.loaded.mock_profile_for(&models).map_err(PrepareError::Input)?;
            }
            next.prices = models.iter().map(|m| catalog::price(m)).collect();
            next.models = models;
        }
        next.seed = seed;
        next.strategy = strategy.clone();
        next.engine = engine_config(self.loaded, strategy, &next.models, seed, self.duration, self.target);
        Ok(next)
    }

    /// Refuses a billed or capped run whose estimate is above its cap (all `runs` together).
    fn guard_spend(&self, purpose: Purpose) -> Result<(), PrepareError> {
        let runs = match purpose {
            Purpose::Run | Purpose::DryRun if self.billed || self.spend_cap.is_some() => 1,
            Purpose::Runs(n) if self.billed => n.max(1),
            _ => return Ok(()),
        };
        let estimate = self.estimate();
        let cap = self.spend_cap.or(Some(spend::DEFAULT_CAP_USD).filter(|_| self.billed));
        match spend::refusal(self.billed, self.max_requests.is_some(), &estimate, cap, runs) {
            Some(why) => Err(PrepareError::Refused {
                estimate: self.line_of(&estimate),
                why,
            }),
            None => Ok(()),
        }
    }

    /// What the user should know about the catalog behind this run's costs: each model's
    /// deprecation, routing or preview status with its dates, and a catalog long unchecked.
    pub fn catalog_warnings(&self) -> Vec<String> {
        use stampede_mock::catalog::{data, lifecycle};
        let today = lifecycle::today();
        let mut out = Vec::new();
        for m in &self.models {
            if let lifecycle::Standing::Warn(why) = lifecycle::standing(data::current(), m, &today) {
                out.push(format!("Model status: {why}."));
            }
        }
        let thinks_by_default = |m: &String| data::current().models.get(m).and_then(|e| e.default_thinking_level);
        let no_thinking = self.endpoint.profile().is_some_and(|p| {
            p.thinking_tokens == stampede_mock::dist::NumberDist::Constant(0.0)
                && self.thinking() == stampede_mock::thinking::Thinking::default()
        });
        for (m, level) in self.models.iter().filter_map(|m| Some((m, thinks_by_default(m)?))) {
            if no_thinking {
                out.push(format!(
                    "Thinking: {m} thinks at {} by default, billed as output, but the mock produces no thinking \
                     tokens unless asked: set target.thinking_level = \"{}\" (the mock then thinks {} tokens per \
                     answer token, an assumption: docs/src/mock.md) or give the profile's thinking_tokens.",
                    level.wire(),
                    level.as_str(),
                    level.tokens_per_answer_token()
                ));
            }
        }
        if let Some(line) = lifecycle::staleness(data::current(), &lifecycle::date_days_ago(data::STALE_AFTER_DAYS)) {
            out.push(format!("Catalog: {line}."));
        }
        out
    }

    /// For each model without a price: the catalog snippet that adds one.
    pub fn unpriced_warnings(&self) -> Vec<String> {
        let unpriced = self.models.iter().zip(&self.prices).filter(|(_, p)| p.is_none());
        unpriced
            .map(|(m, _)| format!("Cost unknown: {}", spend::unpriced_help(m)))
            .collect()
    }

    /// What every Gemini-shaped call asks of thinking: the scenario's budget or level.
    pub fn thinking(&self) -> stampede_mock::thinking::Thinking {
        let t = self.loaded.scenario.target.get_ref();
        stampede_mock::thinking::Thinking {
            budget: t.thinking_budget,
            level: t.thinking_level,
        }
    }

    /// Characters per token of the prompts this run synthesises, per model: the profile's
    /// (`chars_per_token`, 4 unless set; `stampede calibrate` measures it). A live target's
    /// scenario profile says it too, though nothing else of it applies there; a profile that
    /// cannot serve the run's models leaves the default of 4.
    pub fn token_rules(&self) -> stampede_mock::tokens::TokenRules {
        match self.endpoint.profile() {
            Some(p) => p.token_rules(),
            None => self
                .loaded
                .mock_profile_for(&self.models)
                .map(|p| p.token_rules())
                .unwrap_or_default(),
        }
    }

    /// The scenario.
    pub fn loaded(&self) -> &'a LoadedScenario {
        self.loaded
    }
    /// Target kind.
    pub fn target(&self) -> TargetKind {
        self.target
    }
    /// Seed of every random stream of the run (traffic, mock behaviour, jitter).
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Traffic window.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// A window shorter than the scenario's day: the day's arrival rate over the window's in
    /// the scenario's own shape (`None`: the window is a day or more, or the scenario defines
    /// no day: its duration is under 24 h and its arrivals are not a daily cycle).
    pub fn day_over_window(&self) -> Option<f64> {
        let s = &self.loaded.scenario;
        let day = Duration::from_secs(86_400);
        if self.duration >= day || (s.duration < day && !self.loaded.traffic.is_daily_cycle()) {
            return None;
        }
        self.loaded.traffic.day_over_window(self.seed, self.duration)
    }
    /// The calling plan.
    pub fn strategy(&self) -> &StrategySpec {
        &self.strategy
    }
    /// Every model the run may call (the traffic's, then the fallback), by model index.
    pub fn models(&self) -> &[String] {
        &self.models
    }
    /// Their prices (`None`: not in the catalog), by model index.
    pub fn prices(&self) -> &[Option<Price>] {
        &self.prices
    }
    /// What the engine runs with.
    pub fn engine_config(&self) -> &EngineConfig {
        &self.engine
    }
    /// Where attempts go, resolved.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    /// The spend cap in force (USD): answered attempts reaching it stop the run.
    pub fn spend_cap(&self) -> Option<f64> {
        self.spend_cap
    }
    /// Whether the target bills.
    pub fn billed(&self) -> bool {
        self.billed
    }
    /// Whether this was prepared for `--dry-run` only (it must not be run).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The requests this run schedules: the scenario's traffic for the seed and window, cut
    /// at `max_requests`.
    pub fn traffic(&self) -> Box<dyn TrafficSource> {
        let source = self.loaded.traffic.source(self.seed, self.duration);
        let source: Box<dyn TrafficSource> = match self.max_requests {
            Some(limit) => Box::new(crate::traffic::Limited::new(source, limit)),
            None => source,
        };
        // A live shard sends only its own requests; a simulated one simulates them all.
        match self.shard.filter(|_| self.target.is_live()) {
            Some(shard) => Box::new(crate::shard::ShardFilter::new(
                source,
                shard,
                self.strategy.balance,
                self.seed,
            )),
            None => source,
        }
    }

    /// The shard of the run this is, if it is one.
    pub fn shard(&self) -> Option<crate::shard::Shard> {
        self.shard
    }

    /// The common start instant given with `--shard`, as written.
    pub fn start_at(&self) -> Option<&str> {
        self.start_at.as_deref()
    }

    /// The requests the run will schedule and their price at list prices.
    pub fn estimate(&self) -> Estimate {
        let open_loop = self.loaded.traffic.mean_rate().is_some();
        spend::estimate(spend::Planned {
            traffic: open_loop.then(|| self.traffic()),
            lanes: &self.engine.lanes,
            models: &self.models,
            prices: &self.prices,
            thinking: self.thinking(),
        })
    }

    /// The estimate as one line: what is sent where, under which cap.
    pub fn estimate_line(&self) -> String {
        self.line_of(&self.estimate())
    }

    fn line_of(&self, estimate: &Estimate) -> String {
        let cap = self.spend_cap.map_or("no cap".to_string(), |c| format!("cap ${c:.2}"));
        let what = if self.billed {
            "billed target"
        } else {
            "local target, not billed"
        };
        format!("estimate ({what} {}, {cap}): {}", self.target.as_str(), estimate.line())
    }
}

/// What the engine needs for a run: the strategy, the models, the seed, each lane's scheduling
/// and reserved workers (the strategy's `reserve` over the lane's own), and whether arrivals
/// are taken in to the microsecond (live runs).
fn engine_config(
    loaded: &LoadedScenario,
    strategy: &StrategySpec,
    models: &[String],
    seed: u64,
    duration: Duration,
    target: TargetKind,
) -> EngineConfig {
    EngineConfig {
        strategy: strategy.clone(),
        models: models.iter().map(|m| Arc::from(m.as_str())).collect(),
        seed,
        lanes: loaded
            .traffic
            .lanes
            .iter()
            .map(|l| LaneConfig {
                priority: l.priority,
                weight: l.weight,
                reserved_workers: strategy.reserve.get(&l.name).copied().unwrap_or(l.reserved_workers),
                deadline: l.deadline,
                system_prompt_tokens: l.system_prompt_tokens,
                document_tokens: l.document_tokens,
                documents: l.documents,
                service_tier: strategy.service_tier.get(&l.name).copied().unwrap_or(l.service_tier),
                pin_prefix: strategy.pin_prefix.contains(&l.name),
                batch: l.batch.filter(|_| !strategy.online.contains(&l.name)),
            })
            .collect(),
        // Pinned caches outlive the window by ten minutes: requests still in flight at its
        // end keep naming them.
        cache_ttl: duration + Duration::from_secs(600),
        real_time: target.is_live(),
        sticky: loaded.traffic.spec.is_closed(),
    }
}

/// The endpoint of `target`: the mock profile serving `models` for sim and mock; the URL and
/// the API key (the given one, else the environment's) for HTTP targets.
fn endpoint(
    loaded: &LoadedScenario,
    target: TargetKind,
    base_url: Option<String>,
    models: &[String],
    key: Option<ApiKey>,
    billed: bool,
) -> Result<Endpoint, PrepareError> {
    let t = loaded.scenario.target.get_ref();
    let http = t.http;
    let trimmed = |url: &str| {
        reqwest::Url::parse(url)
            .map(|_| url.trim_end_matches('/').to_string())
            .map_err(|e| PrepareError::Input(format!("base URL {url:?}: {e}")))
    };
    Ok(match target {
        TargetKind::Sim => Endpoint::Sim {
            profile: loaded.mock_profile_for(models).map_err(PrepareError::Input)?,
        },
        TargetKind::Mock => Endpoint::Mock {
            profile: loaded.mock_profile_for(models).map_err(PrepareError::Input)?,
            http,
        },
        TargetKind::Gemini => {
            let key = match key {
                Some(k) => k,
                None => gemini_key(t.api_key_env.as_deref())?,
            };
            Endpoint::Gemini {
                base_url: trimmed(base_url.as_deref().unwrap_or(GEMINI_BASE_URL))?,
                key,
                http,
            }
        }
        TargetKind::Openai => {
            let base_url = base_url.unwrap_or_else(|| crate::backend::openai::GEMINI_OPENAI_BASE_URL.to_string());
            let key = match key {
                Some(k) => Some(k),
                None => openai_key(t.api_key_env.as_deref(), &base_url, !billed)?,
            };
            Endpoint::Openai {
                base_url: trimmed(&base_url)?,
                key,
                http,
            }
        }
    })
}

/// The first non-empty variable of `names`, refused when a header could not carry it (not
/// UTF-8, whitespace around it, a control or non-ASCII character). Only the variable's name
/// ever appears in messages, never the key.
fn key_from(names: &[&str]) -> Result<Option<ApiKey>, PrepareError> {
    for name in names {
        match std::env::var_os(name) {
            Some(v) if !v.is_empty() => {
                return ApiKey::from_env_value(v).map(Some).map_err(|p| {
                    PrepareError::Input(format!(
                        "the API key in {name} {p}; set it to the key alone (nothing was sent)"
                    ))
                });
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The API key for Gemini: the scenario's `api_key_env`, else `GEMINI_API_KEY`, else
/// `GOOGLE_API_KEY`.
pub fn gemini_key(env_name: Option<&str>) -> Result<ApiKey, PrepareError> {
    let names: Vec<&str> = match env_name {
        Some(n) => vec![n],
        None => vec!["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    };
    key_from(&names)?
        .ok_or_else(|| PrepareError::Input(format!("the gemini target needs an API key in {}", names.join(" or "))))
}

/// The API key for an OpenAI-compatible server: the scenario's `api_key_env`, else
/// `OPENAI_API_KEY` — and, for Google's endpoint only, `GEMINI_API_KEY` or `GOOGLE_API_KEY`
/// (a Gemini key is never sent to anyone else). A server on this machine may need none.
fn openai_key(env_name: Option<&str>, base_url: &str, local: bool) -> Result<Option<ApiKey>, PrepareError> {
    let google = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".googleapis.com")))
        .unwrap_or(false);
    let names: Vec<&str> = match env_name {
        Some(n) => vec![n],
        None if google => vec!["OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"],
        None => vec!["OPENAI_API_KEY"],
    };
    match key_from(&names)? {
        Some(k) => Ok(Some(k)),
        None if local => Ok(None),
        None => Err(PrepareError::Input(format!(
            "the openai target needs an API key in {}",
            names.join(" or ")
        ))),
    }
}
