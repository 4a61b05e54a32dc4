//! One run, end to end: build the prepared run's transport, drive the engine, and fold the
//! records into a [`Summary`].
//!
//! Two clocks, one engine:
//! - `sim` runs on a current-thread tokio runtime whose clock is paused and auto-advances: the
//!   engine and the mock's model sleep in virtual time, so an hour of traffic takes about a
//!   second and the same seed gives the same summary. tokio's timer has 1 ms resolution: every
//!   timer fires at the first whole millisecond at or after its deadline, so each simulated wait
//!   is rounded up by less than 1 ms (see the README for what that means for results).
//! - `mock` serves the same model over HTTP on 127.0.0.1 (an ephemeral port) and drives it in
//!   real time; `gemini` and `openai` send to the real service or to `base_url`.
//!
//! Every check was made when the run was prepared ([`Prepared`]); this module only drives and
//! summarises.

use std::sync::Arc;
use std::time::SystemTime;

use crate::backend::connect::{connect, ConnectOptions, Connected};
use crate::backend::connections::ConnectionTimings;
use crate::engine::record::{AttemptRecord, Collected, Outcome, RecordSink, RequestRecord, SecondSample, Tee};
use crate::engine::{Engine, EngineReport, Progress};
use crate::metrics::live::{LiveMetrics, LiveRun};
use crate::metrics::Metrics;
use crate::prepare::{PrepareError, Prepared};
use crate::summary::replicas::ReplicaSummary;
use crate::summary::{RunMeta, Summary};

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

impl From<PrepareError> for RunError {
    fn from(e: PrepareError) -> RunError {
        match e {
            PrepareError::Input(m) => RunError::Input(m),
            refused @ PrepareError::Refused { .. } => RunError::Failed(refused.to_string()),
        }
    }
}

/// Runs the prepared run and returns its summary. `extra` receives every record too (tests, a
/// request log): as they happen in virtual time; in a live run, whose engine runs on the
/// runtime's workers, kept and handed over when the run ends (attempts, then requests, then
/// gauge samples, each in order). `progress` is updated live and can stop the run.
pub fn execute(
    prepared: &Prepared<'_>,
    progress: Arc<Progress>,
    extra: Option<&mut dyn RecordSink>,
) -> Result<Summary, RunError> {
    execute_watched(prepared, progress, extra, None)
}

/// [`execute`], with live metrics updated from the records as they come (`--metrics-addr`).
pub fn execute_watched(
    prepared: &Prepared<'_>,
    progress: Arc<Progress>,
    mut extra: Option<&mut dyn RecordSink>,
    live_metrics: Option<Arc<LiveMetrics>>,
) -> Result<Summary, RunError> {
    let live_run = live_metrics.map(|m| m.run(&prepared.strategy().label(), progress.clone()));
    if prepared.dry_run() {
        return Err(RunError::Input(
            "a run prepared for --dry-run has no API key and is never sent".into(),
        ));
    }
    let live = prepared.target().is_live();
    let now = SystemTime::now();
    let started_at = humantime::format_rfc3339_seconds(now).to_string();
    let started_unix_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let wall = std::time::Instant::now();
    let timings = Arc::new(ConnectionTimings::default());
    let connect = ConnectOptions {
        seed: prepared.seed(),
        pool: prepared.strategy().workers as usize,
        timings: timings.clone(),
        thinking: prepared.thinking(),
        density: prepared.token_rules(),
    };
    let mut drive = Drive::new(prepared, progress, extra.is_some() && live);
    drive.sinks.live = live_run;
    let (report, sinks) = match live {
        false => drive_virtual(prepared, drive, connect, extra.take())?,
        true => drive_live(prepared, drive, connect)?,
    };
    if let (Some(kept), Some(extra)) = (&sinks.kept, extra) {
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
    let Sinks {
        mut metrics,
        watch,
        intervals,
        ..
    } = sinks;
    let reported = Reported::of(prepared, metrics.len());
    // The run's own costs (pinned caches, Batch API jobs) go to one replica this process
    // reports: a simulated shard other than 0 leaves them to shard 0, which simulated the same.
    let mut scratch = None;
    let owner = match reported.owns_run_costs {
        true => &mut metrics[reported.replicas[0]],
        // Only the warnings are wanted: the costs go nowhere.
        false => scratch.insert(Metrics::new(prepared.prices().to_vec(), 1)),
    };
    let pin_warnings = owner.end_of_run(&report, prepared.models());
    let mut total = reported.total(&metrics);
    if let Some(log) = intervals {
        total.intervals = log;
    }
    let recorded = timings.snapshot();
    if recorded.connect.count() + recorded.connect_failed > 0 {
        total.connections = Some(recorded);
    }
    let meta = run_meta(prepared, &report, started_at, wall.elapsed().as_secs_f64(), &watch);
    let replicas = match metrics.len() {
        1 => Vec::new(),
        _ => reported
            .replicas
            .iter()
            .map(|&i| ReplicaSummary::of(i as u16, &metrics[i]))
            .collect(),
    };
    let mut summary = summarise(prepared, meta, &total, replicas, pin_warnings);
    if let Some(shard) = prepared.shard() {
        summary.shard = Some(shard_part(prepared, shard, &summary, total, started_unix_ms));
    }
    Ok(summary)
}

/// Which replicas' figures this process reports: all of them, or its shard's.
struct Reported {
    replicas: Vec<usize>,
    /// Whether the run's own costs (pinned caches, Batch API jobs) are this process's to count.
    owns_run_costs: bool,
}

impl Reported {
    fn of(prepared: &Prepared<'_>, replicas: usize) -> Reported {
        match prepared.shard() {
            None => Reported {
                replicas: (0..replicas).collect(),
                owns_run_costs: true,
            },
            Some(s) => Reported {
                replicas: vec![usize::from(s.index)],
                // A live shard made its own caches and jobs; the simulator made one set for all.
                owns_run_costs: prepared.target().is_live() || s.index == 0,
            },
        }
    }

    /// The reported replicas' figures added up, in replica order (as a merge adds shards).
    fn total(&self, metrics: &[Metrics]) -> Metrics {
        let mut total = metrics[self.replicas[0]].clone();
        for &i in &self.replicas[1..] {
            total.merge(&metrics[i]);
        }
        total
    }
}

/// What a shard's summary carries for the merge.
fn shard_part(
    prepared: &Prepared<'_>,
    shard: crate::shard::Shard,
    summary: &Summary,
    metrics: Metrics,
    started_unix_ms: u64,
) -> crate::summary::shard_part::ShardPart {
    let loaded = prepared.loaded();
    let input_warnings = summary
        .advice
        .warnings
        .iter()
        .filter(|w| w.kind == "catalog" || w.kind == "pinned_cache")
        .cloned()
        .collect();
    crate::summary::shard_part::ShardPart {
        index: shard.index,
        count: shard.count,
        fingerprint: crate::shard::fingerprint(&loaded.text, prepared.seed(), prepared.duration(), shard.count),
        start_at: prepared.start_at().map(String::from),
        started_unix_ms,
        lanes: loaded.traffic.lane_names(),
        slo: loaded.scenario.slo.get_ref().clone(),
        input_warnings,
        metrics,
    }
}

/// What the summary says of the run itself.
fn run_meta(
    prepared: &Prepared<'_>,
    report: &EngineReport,
    started_at: String,
    wall_time_s: f64,
    watch: &crate::spend::SpendWatch,
) -> RunMeta {
    let s = &prepared.loaded().scenario;
    let catalog = stampede_mock::catalog::data::in_force();
    RunMeta {
        scenario: s.name().to_string(),
        description: s.description.clone(),
        target: prepared.target().as_str().to_string(),
        model: s.target.get_ref().model.clone(),
        seed: prepared.seed(),
        duration_s: prepared.duration().as_secs_f64(),
        day_over_window: prepared.day_over_window(),
        elapsed_s: report.elapsed.as_secs_f64(),
        simulated: !prepared.target().is_live(),
        started_at,
        wall_time_s,
        stopped_early: stopped_early(watch, prepared.spend_cap(), report.stopped),
        strategy: prepared.strategy().clone(),
        mock_profile: prepared.endpoint().profile().and_then(|p| serde_json::to_value(p).ok()),
        rests_on: crate::rests_on::assumptions(
            s.target.get_ref(),
            prepared.target(),
            prepared.endpoint().profile(),
            &catalog,
            prepared.token_rules().of(&s.target.get_ref().model),
        ),
        catalog: Some(catalog),
    }
}

/// The summary of the run's metrics, with its advice and the pinned caches' warnings.
fn summarise(
    prepared: &Prepared<'_>,
    meta: RunMeta,
    metrics: &Metrics,
    replicas: Vec<ReplicaSummary>,
    pin_warnings: Vec<String>,
) -> Summary {
    let s = &prepared.loaded().scenario;
    let lanes = prepared.loaded().traffic.lane_names();
    let mut summary = Summary::build(meta, metrics, &lanes, s.slo.get_ref());
    summary.replicas = replicas;
    summary.advice = crate::advice::advise(&summary);
    for message in prepared
        .catalog_warnings()
        .into_iter()
        .chain(prepared.unpriced_warnings())
    {
        summary.advice.warnings.push(crate::summary::advice::Warning {
            kind: "catalog".into(),
            message,
        });
    }
    for message in pin_warnings {
        summary.advice.warnings.push(crate::summary::advice::Warning {
            kind: "pinned_cache".into(),
            message: format!("Pinned prefix: {message}."),
        });
    }
    summary
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
    /// One per client replica.
    metrics: Vec<Metrics>,
    watch: crate::spend::SpendWatch,
    kept: Option<Collected>,
    /// With several replicas: the latency log of the replicas reported (all, or a shard's).
    intervals: Option<crate::metrics::interval_log::IntervalLog>,
    /// Live metrics of the replicas reported.
    live: Option<LiveRun>,
    /// The one replica this process reports, when it is a shard (a simulated shard simulates
    /// them all; a live one runs only its own).
    only: Option<u16>,
}

impl RecordSink for Sinks {
    fn attempt(&mut self, r: &AttemptRecord) {
        let live = self.live_for(r.replica);
        let m = self.replica(r.replica);
        let before = m.cost_usd.unwrap_or(0.0);
        m.attempt(r);
        if let Some(live) = live {
            live.attempt(r);
            live.cost(m.cost_usd.unwrap_or(0.0) - before);
        }
        self.watch.attempt(r);
        if let Some(k) = &mut self.kept {
            k.attempt(r);
        }
    }
    fn request(&mut self, r: &RequestRecord) {
        let live = self.live_for(r.replica);
        let m = self.replica(r.replica);
        let before = m.tokens;
        m.request(r);
        if let Some(live) = live {
            live.request(r, m.tokens.input - before.input, m.tokens.output - before.output);
        }
        let reported = self.reports(r.replica);
        if let Some(log) = self.intervals.as_mut().filter(|_| reported) {
            if r.end.outcome() == Outcome::Succeeded {
                log.record(r.ended, r.latency());
            }
        }
        self.watch.request(r);
        if let Some(k) = &mut self.kept {
            k.request(r);
        }
    }
    fn second(&mut self, r: &SecondSample) {
        self.replica(r.replica).second(r);
        self.watch.second(r);
        if let Some(k) = &mut self.kept {
            k.second(r);
        }
    }
}

impl Sinks {
    /// Whether this process reports `replica`'s records (every replica's, unless a shard).
    fn reports(&self, replica: u16) -> bool {
        self.only.is_none_or(|i| i == replica)
    }

    /// The live metrics that count `replica`'s records, if any.
    fn live_for(&self, replica: u16) -> Option<LiveRun> {
        self.live.clone().filter(|_| self.reports(replica))
    }

    /// The metrics of `replica`.
    fn replica(&mut self, replica: u16) -> &mut Metrics {
        let i = usize::from(replica).min(self.metrics.len() - 1);
        &mut self.metrics[i]
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
    config: crate::engine::EngineConfig,
    traffic: Box<dyn crate::traffic::TrafficSource>,
    sinks: Sinks,
    progress: Arc<Progress>,
}

impl Drive {
    /// The engine's inputs for `prepared`; `keep` keeps a copy of every record (a live run
    /// asked for its records).
    fn new(prepared: &Prepared<'_>, progress: Arc<Progress>, keep: bool) -> Drive {
        let prices = prepared.prices().to_vec();
        let lanes = prepared.loaded().traffic.lanes.len();
        let interval = crate::metrics::log_interval(prepared.duration());
        let replicas = prepared.strategy().replicas.max(1) as usize;
        let metrics = Metrics::new(prices.clone(), lanes).with_interval(interval);
        // Several replicas: one latency log for the replicas this process reports, kept here.
        let (metrics, intervals) = match replicas {
            1 => (metrics, None),
            _ => {
                let log = crate::metrics::interval_log::IntervalLog::new(interval);
                (
                    metrics.with_intervals(crate::metrics::interval_log::IntervalLog::not_kept(interval)),
                    Some(log),
                )
            }
        };
        let sinks = Sinks {
            intervals,
            only: prepared.shard().map(|s| s.index),
            metrics: vec![metrics; replicas],
            watch: crate::spend::SpendWatch::new(prepared.spend_cap(), prices, progress.clone()),
            kept: keep.then(Collected::default),
            live: None,
        };
        Drive {
            config: prepared.engine_config().clone(),
            traffic: prepared.traffic(),
            sinks,
            progress,
        }
    }

    /// Runs the engine to the end as the calling task, its records going to the run's sinks and
    /// to `also` (virtual time: the simulator's only task).
    async fn here<S: RecordSink>(self, connected: Connected, also: &mut S) -> (EngineReport, Sinks) {
        let Drive {
            config,
            mut traffic,
            mut sinks,
            progress,
        } = self;
        let mut sink = Tee(&mut sinks, also);
        let report = Engine::new(config, connected.backend.clone(), &mut sink, progress)
            .run(traffic.as_mut())
            .await;
        drop(connected);
        (report, sinks)
    }

    /// Runs the engine as a task of the live runtime, on its workers beside the attempts it
    /// spawns: a result wakes it as one task wakes another, where an engine on the thread that
    /// waits for the runtime (`block_on`) was woken across threads, a futex call per answer.
    async fn spawned(self, connected: Connected) -> Result<(EngineReport, Sinks), RunError> {
        let task = async move { self.here(connected, &mut NoRecords).await };
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

/// Virtual time: a current-thread runtime whose paused clock auto-advances; the transport is
/// built on it, so the model reads the same clock.
fn drive_virtual(
    prepared: &Prepared<'_>,
    drive: Drive,
    connect_options: ConnectOptions,
    extra: Option<&mut dyn RecordSink>,
) -> Result<(EngineReport, Sinks), RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(failed("could not start the simulator's runtime"))?;
    runtime.block_on(async move {
        let connected = connect(prepared.endpoint(), connect_options)
            .await
            .map_err(|e| RunError::Failed(e.to_string()))?;
        Ok(drive.here(connected, &mut ForwardSink(extra)).await)
    })
}

/// Real time: a multi-thread runtime; the engine runs as one of its tasks.
fn drive_live(
    prepared: &Prepared<'_>,
    drive: Drive,
    connect_options: ConnectOptions,
) -> Result<(EngineReport, Sinks), RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(failed("could not start the runtime"))?;
    runtime.block_on(async move {
        let connected = connect(prepared.endpoint(), connect_options)
            .await
            .map_err(|e| RunError::Failed(e.to_string()))?;
        drive.spawned(connected).await
    })
}
