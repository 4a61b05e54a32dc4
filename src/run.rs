//! One run, end to end: resolve the target, build the runtime and backend, drive the engine,
//! and fold the records into a [`Summary`].
//!
//! Two clocks, one engine:
//! - `sim` runs on a current-thread tokio runtime whose clock is paused and auto-advances: the
//!   engine and the mock's model sleep in virtual time, so an hour of traffic takes about a
//!   second and the same seed gives the same summary. tokio's timer has 1 ms resolution: every
//!   timer fires at the first whole millisecond at or after its deadline, so each simulated wait
//!   is rounded up by less than 1 ms (see the README for what that means for results).
//! - `mock` serves the same model over HTTP on 127.0.0.1 (an ephemeral port) and drives it in
//!   real time; `gemini` sends to the real service or to `base_url`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use stampede_mock::catalog;
use stampede_mock::server::{self, ServerOptions};
use stampede_mock::{MockModel, MockProfile};

use crate::backend::connections::ConnectionTimings;
use crate::backend::gemini::{GeminiBackend, GeminiOptions};
use crate::backend::sim::SimBackend;
use crate::backend::ApiKey;
use crate::backend::Backend;
use crate::engine::record::{AttemptRecord, Collected, RecordSink, RequestRecord, SecondSample, Tee};
use crate::engine::{Engine, EngineConfig, EngineReport, Progress};
use crate::metrics::Metrics;
use crate::run_spec::RunSpec;
use crate::scenario::TargetKind;
use crate::summary::{RunMeta, Summary};
use crate::traffic::TrafficSource;

/// The real Gemini API.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input: a missing key, an unusable setting.
    #[error("{0}")]
    Input(String),
    /// The run could not be carried out (runtime, socket, target).
    #[error("{0}")]
    Failed(String),
}

/// Runs the scenario and returns its summary. `extra` receives every record too (tests, a
/// request log): as they happen in virtual time; in a live run, whose engine runs on the
/// runtime's workers, kept and handed over when the run ends (attempts, then requests, then
/// gauge samples, each in order). `progress` is updated live and can stop the run.
pub fn execute(
    spec: &RunSpec<'_>,
    progress: Arc<Progress>,
    mut extra: Option<&mut dyn RecordSink>,
) -> Result<Summary, RunError> {
    let s = &spec.loaded.scenario;
    let t = s.target.get_ref();
    // The command line may have overridden the window or the cap: the same bounds as the file's.
    crate::scenario::check_duration(spec.duration).map_err(RunError::Input)?;
    spec.loaded
        .check_volume(spec.duration, spec.max_requests)
        .map_err(RunError::Input)?;
    let traffic_plan = &spec.loaded.traffic;
    let traffic = spec.traffic();
    let models = spec.loaded.models_for(&spec.strategy);
    let config = spec.engine_config();
    let prices: Vec<_> = models.iter().map(|m| catalog::price(m)).collect();
    // The cap in force when the caller set none (spec and compare runs): the scenario's, or the
    // default for a billed target.
    let spend_cap = spec.spend_cap.or_else(|| crate::spend::cap(spec, None));
    let watch = crate::spend::SpendWatch::new(spend_cap, prices.clone(), progress.clone());
    let metrics =
        Metrics::new(prices, traffic_plan.lanes.len()).with_interval(crate::metrics::log_interval(spec.duration));
    let kept = (extra.is_some() && spec.target != TargetKind::Sim).then(Collected::default);
    let sinks = Sinks { metrics, watch, kept };
    let profile = match spec.target {
        TargetKind::Sim | TargetKind::Mock => Some(spec.loaded.mock_profile_for(&models).map_err(RunError::Input)?),
        _ => None,
    };
    let timings = Arc::new(ConnectionTimings::default());
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let wall = std::time::Instant::now();
    let run = Drive {
        config,
        traffic,
        sinks,
        progress,
    };
    let (
        report,
        Sinks {
            mut metrics,
            watch,
            kept,
        },
    ) = match spec.target {
        TargetKind::Sim => run_sim(
            profile.clone().expect("sim has a profile"),
            spec.seed,
            run,
            extra.take(),
        )?,
        TargetKind::Mock => run_mock(profile.clone().expect("mock has a profile"), spec, run, timings.clone())?,
        TargetKind::Gemini | TargetKind::Openai => run_api(spec, run, timings.clone())?,
    };
    if let (Some(kept), Some(extra)) = (kept, extra) {
        kept.attempts.iter().for_each(|r| extra.attempt(r));
        kept.requests.iter().for_each(|r| extra.request(r));
        kept.seconds.iter().for_each(|r| extra.second(r));
    }
    if let Some(at) = report.stalled_at {
        return Err(RunError::Input(format!(
            "the schedule cannot advance: {} events at t = {} of virtual time without the clock moving (a closed \
             loop with no think time whose answers take no time?); give `think` or the latency a duration above zero",
            crate::engine::STALL_EVENTS,
            crate::format::secs(at.as_secs_f64())
        )));
    }
    metrics.batch_jobs = report.batch_jobs;
    let mut pin_warnings = report.pinned.failures.clone();
    for &(model, tokens, ttl) in &report.pinned.made {
        let price = catalog::price(&models[usize::from(model)]);
        let stored = metrics.billing.stored(tokens, ttl, price);
        match (stored, &mut metrics.cost_usd) {
            (Some(usd), Some(cost)) => *cost += usd,
            (None, _) => pin_warnings.push(format!(
                "the storage price of {} is not in the catalog: the cost leaves out {tokens} tokens cached for {}",
                models[usize::from(model)],
                humantime::format_duration(ttl)
            )),
            _ => {}
        }
    }
    let recorded = timings.snapshot();
    if recorded.connect.count() + recorded.connect_failed > 0 {
        metrics.connections = Some(recorded);
    }
    let meta = RunMeta {
        scenario: s.name().to_string(),
        description: s.description.clone(),
        target: spec.target.as_str().to_string(),
        model: t.model.clone(),
        seed: spec.seed,
        duration_s: spec.duration.as_secs_f64(),
        elapsed_s: report.elapsed.as_secs_f64(),
        simulated: !spec.target.is_live(),
        started_at,
        wall_time_s: wall.elapsed().as_secs_f64(),
        stopped_early: stopped_early(&watch, spend_cap, report.stopped),
        strategy: spec.strategy.clone(),
        mock_profile: profile.as_ref().and_then(|p| serde_json::to_value(p).ok()),
    };
    let mut summary = Summary::build(meta, &metrics, &traffic_plan.lane_names(), s.slo.get_ref());
    summary.advice = crate::advice::advise(&summary);
    for message in pin_warnings {
        summary.advice.warnings.push(crate::summary::advice::Warning {
            kind: "pinned_cache".into(),
            message: format!("Pinned prefix: {message}."),
        });
    }
    Ok(summary)
}

/// Why the run stopped before its traffic window ended, if it did.
fn stopped_early(watch: &crate::spend::SpendWatch, cap: Option<f64>, interrupted: bool) -> Option<String> {
    match (watch.hit, interrupted) {
        (true, _) => Some(format!(
            "spend cap: answered attempts had cost ${:.4} of the ${:.2} cap; no new requests were sent after that",
            watch.spent,
            cap.unwrap_or(0.0)
        )),
        (false, true) => Some("interrupted".to_string()),
        (false, false) => None,
    }
}

/// Where a run's records go: the metrics, the spend guard, and (a live run asked for its
/// records) a copy of each; owned, so that a live run's engine can take them onto the runtime's
/// workers and hand them back.
struct Sinks {
    metrics: Metrics,
    watch: crate::spend::SpendWatch,
    kept: Option<Collected>,
}

impl RecordSink for Sinks {
    fn attempt(&mut self, r: &AttemptRecord) {
        self.metrics.attempt(r);
        self.watch.attempt(r);
        if let Some(k) = &mut self.kept {
            k.attempt(r);
        }
    }
    fn request(&mut self, r: &RequestRecord) {
        self.metrics.request(r);
        self.watch.request(r);
        if let Some(k) = &mut self.kept {
            k.request(r);
        }
    }
    fn second(&mut self, r: &SecondSample) {
        self.metrics.second(r);
        self.watch.second(r);
        if let Some(k) = &mut self.kept {
            k.second(r);
        }
    }
}

/// Forwards records to an optional extra sink.
struct ForwardSink<'a>(Option<&'a mut dyn RecordSink>);

impl RecordSink for ForwardSink<'_> {
    fn attempt(&mut self, r: &AttemptRecord) {
        if let Some(s) = self.0.as_deref_mut() {
            s.attempt(r);
        }
    }
    fn request(&mut self, r: &RequestRecord) {
        if let Some(s) = self.0.as_deref_mut() {
            s.request(r);
        }
    }
    fn second(&mut self, r: &SecondSample) {
        if let Some(s) = self.0.as_deref_mut() {
            s.second(r);
        }
    }
}

/// A sink that keeps nothing.
struct NoRecords;

impl RecordSink for NoRecords {
    fn attempt(&mut self, _: &AttemptRecord) {}
    fn request(&mut self, _: &RequestRecord) {}
    fn second(&mut self, _: &SecondSample) {}
}

/// What the engine needs for one run, whichever the clock.
struct Drive {
    config: EngineConfig,
    traffic: Box<dyn TrafficSource>,
    sinks: Sinks,
    progress: Arc<Progress>,
}

impl Drive {
    /// Runs the engine to the end as the calling task, its records going to the run's sinks and
    /// to `also` (virtual time: the simulator's only task).
    async fn here<S: RecordSink>(self, backend: Arc<dyn Backend>, also: &mut S) -> (EngineReport, Sinks) {
        let Drive {
            config,
            mut traffic,
            mut sinks,
            progress,
        } = self;
        let mut sink = Tee(&mut sinks, also);
        let report = Engine::new(config, backend, &mut sink, progress)
            .run(traffic.as_mut())
            .await;
        (report, sinks)
    }

    /// Runs the engine as a task of the live runtime, on its workers beside the attempts it
    /// spawns: a result wakes it as one task wakes another, where an engine on the thread that
    /// waits for the runtime (`block_on`) was woken across threads, a futex call per answer.
    async fn spawned(self, backend: Arc<dyn Backend>) -> Result<(EngineReport, Sinks), RunError> {
        let task = async move { self.here(backend, &mut NoRecords).await };
        match tokio::spawn(task).await {
            Ok(done) => Ok(done),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(RunError::Failed("the engine's task was cancelled".into())),
        }
    }
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Failed(format!("{what}: {e}"))
}

fn run_sim(
    profile: MockProfile,
    seed: u64,
    run: Drive,
    extra: Option<&mut dyn RecordSink>,
) -> Result<(EngineReport, Sinks), RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(failed("could not start the simulator's runtime"))?;
    Ok(runtime.block_on(async move {
        let model = Arc::new(MockModel::new(profile, seed));
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::new(model));
        run.here(backend, &mut ForwardSink(extra)).await
    }))
}

fn live_runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(failed("could not start the runtime"))
}

fn run_mock(
    profile: MockProfile,
    spec: &RunSpec<'_>,
    run: Drive,
    timings: Arc<ConnectionTimings>,
) -> Result<(EngineReport, Sinks), RunError> {
    let runtime = live_runtime()?;
    let pool = run.config.strategy.workers as usize;
    let (seed, http) = (spec.seed, spec.loaded.scenario.target.get_ref().http);
    runtime.block_on(async move {
        let model = Arc::new(MockModel::new(profile, seed));
        let (addr, server) = server::spawn(
            model,
            ServerOptions::default(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        )
        .await
        .map_err(failed("could not start the mock on 127.0.0.1"))?;
        let backend = GeminiBackend::new(GeminiOptions {
            base_url: format!("http://{addr}"),
            key: ApiKey::new("stampede-mock"),
            pool,
            send_hints: true,
            thinking_budget: None,
            timings: Some(timings),
            http,
        })
        .map_err(|e| RunError::Failed(format!("could not build the HTTP client: {e}")))?;
        let done = run.spawned(Arc::new(backend)).await;
        server.abort();
        done
    })
}

/// The first non-empty variable of `names`. Only the variable's name ever appears in messages.
fn key_from(names: &[&str]) -> Option<ApiKey> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .map(ApiKey::new)
}

/// The API key for Gemini: the scenario's `api_key_env`, else `GEMINI_API_KEY`, else
/// `GOOGLE_API_KEY`.
fn gemini_key(env_name: Option<&str>) -> Result<ApiKey, RunError> {
    let names: Vec<&str> = match env_name {
        Some(n) => vec![n],
        None => vec!["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    };
    key_from(&names)
        .ok_or_else(|| RunError::Input(format!("the gemini target needs an API key in {}", names.join(" or "))))
}

/// The API key for an OpenAI-compatible server: the scenario's `api_key_env`, else
/// `OPENAI_API_KEY` — and, for Google's endpoint only, `GEMINI_API_KEY` or `GOOGLE_API_KEY`
/// (a Gemini key is never sent to anyone else). A server on this machine may need none.
fn openai_key(env_name: Option<&str>, base_url: &str, local: bool) -> Result<Option<ApiKey>, RunError> {
    let google = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".googleapis.com")))
        .unwrap_or(false);
    let names: Vec<&str> = match env_name {
        Some(n) => vec![n],
        None if google => vec!["OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"],
        None => vec!["OPENAI_API_KEY"],
    };
    match key_from(&names) {
        Some(k) => Ok(Some(k)),
        None if local => Ok(None),
        None => Err(RunError::Input(format!(
            "the openai target needs an API key in {}",
            names.join(" or ")
        ))),
    }
}

/// Checks that the target's host accepts TCP connections before any traffic is scheduled, so
/// an unreachable target is reported as such (exit 3) instead of as a run of transport errors.
async fn preflight(base_url: &str) -> Result<(), RunError> {
    let url = reqwest::Url::parse(base_url).map_err(|e| RunError::Input(format!("base URL {base_url:?}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| RunError::Input(format!("base URL {base_url:?} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(RunError::Failed(format!(
            "the target {host}:{port} is unreachable: {e}"
        ))),
        Err(_) => Err(RunError::Failed(format!(
            "the target {host}:{port} did not answer within 10 s"
        ))),
    }
}

/// A real-time run against an HTTP API: Gemini's, or an OpenAI-compatible one.
fn run_api(spec: &RunSpec<'_>, run: Drive, timings: Arc<ConnectionTimings>) -> Result<(EngineReport, Sinks), RunError> {
    let t = spec.loaded.scenario.target.get_ref();
    if spec.target == TargetKind::Openai {
        let base_url = spec
            .base_url
            .clone()
            .unwrap_or_else(|| crate::backend::openai::GEMINI_OPENAI_BASE_URL.to_string());
        let key = match &spec.key {
            Some(k) => Some(k.clone()),
            None => openai_key(t.api_key_env.as_deref(), &base_url, !crate::spend::billed(spec))?,
        };
        let backend = crate::backend::openai::OpenAiBackend::new(crate::backend::openai::OpenAiOptions {
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            pool: run.config.strategy.workers as usize,
            send_hints: false,
            timings: Some(timings),
            http: t.http,
        });
        run_http(&base_url, backend, run)
    } else {
        let key = match &spec.key {
            Some(k) => k.clone(),
            None => gemini_key(t.api_key_env.as_deref())?,
        };
        let base_url = spec.base_url.clone().unwrap_or_else(|| GEMINI_BASE_URL.to_string());
        let backend = GeminiBackend::new(GeminiOptions {
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            pool: run.config.strategy.workers as usize,
            send_hints: false,
            thinking_budget: t.thinking_budget,
            timings: Some(timings),
            http: t.http,
        });
        run_http(&base_url, backend, run)
    }
}

/// Checks that `base_url` answers, then drives the engine against `backend` in real time.
fn run_http<B: Backend>(
    base_url: &str,
    backend: anyhow::Result<B>,
    run: Drive,
) -> Result<(EngineReport, Sinks), RunError> {
    let backend = backend.map_err(|e| RunError::Failed(format!("could not build the HTTP client: {e}")))?;
    let runtime = live_runtime()?;
    runtime.block_on(preflight(base_url))?;
    runtime.block_on(run.spawned(Arc::new(backend)))
}
