//! The open-loop engine: takes planned requests at their intended times, passes them through
//! the calling plan (cache, dedup, throttling, lanes and queue, rate limits, concurrency,
//! breaker, timeouts, retries with budgets, hedging, fallback) to a backend, and emits one record
//! per request and per attempt.
//!
//! Design: one task owns all state. It waits on four things at once: the next arrival (a timer
//! at the request's intended time, never waiting for workers), the next attempt to finish, the
//! next internal deadline (a backoff ending, a hedge due, the queue head's deadline, a limiter
//! refilling, a breaker half-opening), and a stop request. Policies are plain synchronous types
//! (in `crate::strategy`) called with `now`, so the engine needs no locks and the same code runs
//! under a paused clock (virtual time) or in real time. Every timestamp comes from `tokio::time`.
//!
//! Files: this one (state, loop, timers, gauges), `admit` (arrival, cache, dedup, throttling,
//! queue, the single exit `finish`), `send` (dispatch, attempts, hedges), `outcome` (what an
//! attempt's end means: the observe and review phases, retry, fallback, give up). The calling
//! plan's policies are one [`Pipeline`], called by phase; the engine names none of them.
//!
//! Accounting: a request enters the engine's table on arrival and leaves it through
//! `Engine::finish` only, which emits its record; so every scheduled request ends exactly once.

mod admit;
mod alarm;
pub mod batcher;
mod lane;
mod outcome;
pub mod pinned;
pub mod progress;
pub mod record;
mod replica;
mod results;
mod send;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{AbortHandle, Aborted};
use futures::stream::{FuturesUnordered, StreamExt};
use slab::Slab;
use tokio::time::{sleep_until, Instant};

use crate::backend::ServiceTier;
use crate::backend::{AttemptResult, Backend, ErrorKind};
use crate::strategy::policy::Ticket;
use crate::strategy::queue::Overflow;
use crate::strategy::{ScopedLimiter, StrategySpec};
use crate::traffic::{Peek, PlannedRequest, TrafficSource};
pub use lane::LaneConfig;
pub use progress::Progress;
use record::{RecordSink, SecondSample};
use replica::Replica;

/// What the engine needs besides traffic and a backend.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The calling plan.
    pub strategy: StrategySpec,
    /// Model names, indexed by [`PlannedRequest::model`]; the strategy's fallback model included.
    pub models: Vec<Arc<str>>,
    /// Seed of the engine's own random streams (retry jitter, throttling draws).
    pub seed: u64,
    /// Lanes, indexed by [`PlannedRequest::lane`] (empty: one default lane).
    pub lanes: Vec<LaneConfig>,
    /// How long pinned caches live (the run's window and some slack).
    pub cache_ttl: Duration,
    /// A run in real time (live targets), which changes two things. Requests are taken in at
    /// their intended time to the microsecond rather than at tokio's next millisecond tick (a
    /// timerfd alarm, see `alarm`). And attempts run on tasks of their own, spread over the
    /// runtime's threads, their results sent back to the engine, which still owns all state; in
    /// virtual time the engine polls them itself, so the simulator stays single-threaded and
    /// deterministic.
    pub real_time: bool,
    /// Requests of one user (a conversation, a closed-loop user) go to the same replica: the
    /// balancer keys them by user instead of by request.
    pub sticky: bool,
}

/// What the engine reports about the run as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineReport {
    /// Time from the start to the last request's end (virtual in the simulator).
    pub elapsed: Duration,
    /// Whether the run was stopped early.
    pub stopped: bool,
    /// In virtual time: the instant at which [`STALL_EVENTS`] events passed without the clock
    /// moving, when that happened (the run was stopped there: it could never have ended).
    pub stalled_at: Option<Duration>,
    /// The explicit caches made for pinned lanes, and why any could not be.
    pub pinned: pinned::PinnedCaches,
    /// Batch API jobs submitted.
    pub batch_jobs: u64,
}

/// Events the engine handles at one instant of virtual time before it calls the schedule
/// stuck: above any real burst (a million requests sharing one instant, answered at once, is
/// about two million events), far below a hang.
pub const STALL_EVENTS: u64 = 5_000_000;

/// Which workers a request holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// One of its lane's reserved workers.
    Reserved(usize),
    /// A worker of the shared pool.
    Shared,
    /// None: a batch lane's request waits for its job without holding a worker.
    Batch,
}

/// An attempt of a request that is still running.
#[derive(Debug)]
struct Running {
    number: u32,
    hedge: bool,
    /// Not the first attempt on its model, and not a hedge.
    retry: bool,
    sent: Instant,
    model: u8,
    cancel: Cancel,
}

/// How a running attempt is cancelled: through its abort handle where the engine polls it
/// (virtual time), by aborting its task where it runs on its own (real time).
#[derive(Debug)]
enum Cancel {
    Polled(AbortHandle),
    Task(tokio::task::AbortHandle),
}

impl Cancel {
    fn cancel(&self) {
        match self {
            Cancel::Polled(h) => h.abort(),
            Cancel::Task(h) => h.abort(),
        }
    }
}

/// A request the engine is working on.
#[derive(Debug)]
struct Live {
    req: PlannedRequest,
    /// The client replica it was given to.
    replica: usize,
    intended: Instant,
    arrived: Instant,
    deadline: Instant,
    dispatched: Option<Instant>,
    /// Attempts sent, hedges included (numbers attempts).
    attempts: u32,
    /// Retries sent.
    retries: u32,
    /// Attempts on the current model, hedges not counted (for retry decisions).
    model_attempts: u32,
    worker: Option<Pool>,
    /// The model in use (the fallback model after a fallback).
    model: u8,
    fell_back: bool,
    last_backoff: Duration,
    /// What the policies keep on the request (its retries' cost to the budget).
    ticket: Ticket,
    running: Vec<Running>,
    hedged: bool,
    last_error: Option<ErrorKind>,
    first_byte: Option<Instant>,
    /// Requests waiting on this one's answer (in-flight dedup).
    followers: Vec<usize>,
}

/// What an internal timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// A backoff ended (or a limiter refilled): send the next attempt.
    Retry,
    /// A hedge is due for the given attempt.
    Hedge(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    seq: u64,
    key: usize,
    id: u64,
    kind: TimerKind,
}

struct AttemptDone {
    key: usize,
    id: u64,
    number: u32,
    hedge: bool,
    model: u8,
    sent: Instant,
    /// When the answer (or the failure) was in, read inside the attempt's own future.
    ended: Instant,
    result: AttemptResult,
}

type AttemptFuture = Pin<Box<dyn Future<Output = Result<AttemptDone, Aborted>> + Send>>;

enum Event {
    Arrival,
    Done(Result<AttemptDone, Aborted>),
    Wake,
    Stop,
    Abort,
}

/// Counts the engine's events at one instant, to tell a schedule that cannot advance.
struct StallWatch {
    instant: Instant,
    events: u64,
}

impl StallWatch {
    fn new(start: Instant) -> StallWatch {
        StallWatch {
            instant: start,
            events: 0,
        }
    }

    /// Counts an event at `now`; `true` once more than [`STALL_EVENTS`] came at one instant.
    fn stuck(&mut self, now: Instant) -> bool {
        if now == self.instant {
            self.events += 1;
        } else {
            (self.instant, self.events) = (now, 0);
        }
        self.events > STALL_EVENTS
    }
}

/// The engine. Build it with [`Engine::new`] and consume it with [`Engine::run`].
pub struct Engine<'s, S: RecordSink> {
    config: EngineConfig,
    backend: Arc<dyn Backend>,
    sink: &'s mut S,
    progress: Arc<Progress>,
    start: Instant,
    live: Slab<Live>,
    /// The client replicas (one unless `strategy.replicas` says more).
    replicas: Vec<Replica>,
    /// The client rate limit when every replica shares one (`rate_limit.shared`).
    shared_limit: Option<ScopedLimiter>,
    /// Which replica asks the shared rate limit first next.
    rotation: usize,
    timers: BinaryHeap<Reverse<Timer>>,
    timer_seq: u64,
    /// Attempts in flight, polled by the engine (virtual time).
    inflight: FuturesUnordered<AttemptFuture>,
    /// Results of attempts running on their own tasks (real time).
    results: results::Results,
    /// The second whose gauge peaks are being gathered.
    second: u64,
    last_end: Instant,
    /// (user, end offset) of requests that ended, for the traffic source.
    ended: Vec<(u32, Duration)>,
    /// Explicit caches of pinned lanes.
    pinned: pinned::PinnedCaches,
}

impl<'s, S: RecordSink> Engine<'s, S> {
    /// An engine whose run starts now.
    pub fn new(mut config: EngineConfig, backend: Arc<dyn Backend>, sink: &'s mut S, progress: Arc<Progress>) -> Self {
        let start = Instant::now();
        if config.lanes.is_empty() {
            config.lanes.push(LaneConfig::default());
        }
        let batch_lanes: Vec<_> = config.lanes.iter().map(|l| l.batch).collect();
        let backend: Arc<dyn Backend> = if batch_lanes.iter().any(Option::is_some) {
            Arc::new(batcher::Batcher::new(backend, batch_lanes, progress.clone()))
        } else {
            backend
        };
        let replicas = (0..config.strategy.replicas.max(1) as usize)
            .map(|i| Replica::new(i, &config.strategy, &config.lanes, &config.models, config.seed, start))
            .collect();
        let shared_limit = replica::shares_rate_limit(&config.strategy)
            .then(|| ScopedLimiter::new(&config.strategy.rate_limit, start))
            .filter(ScopedLimiter::is_active);
        Engine {
            replicas,
            shared_limit,
            rotation: 0,
            config,
            backend,
            sink,
            progress,
            start,
            live: Slab::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            inflight: FuturesUnordered::new(),
            results: results::Results::new(),
            second: 0,
            last_end: start,
            ended: Vec::new(),
            pinned: pinned::PinnedCaches::default(),
        }
    }

    /// Runs the traffic to the end: every planned request is taken in at its intended time and
    /// ends in exactly one record.
    pub async fn run(mut self, source: &mut dyn TrafficSource) -> EngineReport {
        if self.config.lanes.iter().any(|l| l.pin_prefix) {
            self.pinned = pinned::pin(&self.config, self.backend.as_ref()).await;
            // The traffic starts once its caches exist.
            self.start = Instant::now();
            self.last_end = self.start;
        }
        let far = self.start + Duration::from_secs(86_400 * 365);
        let arrival_sleep = sleep_until(far);
        let wake_sleep = sleep_until(far);
        tokio::pin!(arrival_sleep, wake_sleep);
        let (mut arrival_at, mut wake_at) = (far, far);
        // In real time arrivals wait on the precise alarm; in virtual time on tokio's timer.
        let mut alarm = self.config.real_time.then(alarm::Alarm::new);
        let progress = self.progress.clone();
        let mut stopped = false;
        let mut stalled_at = None;
        let mut stall = StallWatch::new(self.start);
        loop {
            let now = Instant::now();
            // Virtual time that never moves means a schedule that cannot end (a closed loop
            // with no think time answered at once): stop it instead of spinning forever.
            if stall.stuck(now) && !self.config.real_time && !stopped {
                stalled_at = Some(self.offset(now));
                stopped = true;
                self.stop_queue(now);
            }
            self.on_deadlines(now);
            self.dispatch(now);
            self.observe_gauges();
            for (user, at) in self.ended.drain(..) {
                source.ended(user, at);
            }
            let next = if stopped { Peek::Done } else { source.peek() };
            if next == Peek::Done && self.live.is_empty() {
                break;
            }
            // With `block`, a full queue holds the traffic back until there is room.
            let blocked = self.blocked();
            let due = match next {
                Peek::Due(at) if !blocked => Some(self.start + at),
                _ => None,
            };
            if let Some(at) = due.filter(|_| alarm.is_none()) {
                if at != arrival_at {
                    arrival_sleep.as_mut().reset(at);
                    arrival_at = at;
                }
            }
            let wake = self.next_wake();
            if let Some(at) = wake {
                if at != wake_at {
                    wake_sleep.as_mut().reset(at);
                    wake_at = at;
                }
            }
            // Arrivals first: a request must not be taken in late because answers were being
            // handled (or, in virtual time, attempts polled).
            let event = match due {
                Some(at) if alarm.is_some() && at <= now => Event::Arrival,
                _ => tokio::select! {
                    biased;
                    _ = &mut arrival_sleep, if due.is_some() && alarm.is_none() => Event::Arrival,
                    _ = ring(&mut alarm, due), if due.is_some() && alarm.is_some() => Event::Arrival,
                    Some(done) = self.inflight.next(), if !self.inflight.is_empty() => Event::Done(done),
                    Some(done) = self.results.next(), if self.config.real_time => Event::Done(Ok(done)),
                    _ = &mut wake_sleep, if wake.is_some() => Event::Wake,
                    _ = progress.stopped(), if !stopped => Event::Stop,
                    _ = progress.aborted(), if !self.live.is_empty() => Event::Abort,
                },
            };
            let now = Instant::now();
            self.roll_gauges(now);
            if self.handle(event, source, now) {
                stopped = true;
            }
        }
        self.roll_gauges(Instant::now());
        self.emit_gauges();
        EngineReport {
            elapsed: self.last_end - self.start,
            stopped,
            stalled_at,
            pinned: std::mem::take(&mut self.pinned),
            batch_jobs: self
                .progress
                .batch_jobs_submitted
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Handles one event of the loop; `true` when it was the request to stop.
    fn handle(&mut self, event: Event, source: &mut dyn TrafficSource, now: Instant) -> bool {
        match event {
            // The arrival is due; or (coarse arrivals) its timer fired.
            Event::Arrival => self.take_arrival(source, now),
            // A deadline is due: the loop handles it.
            Event::Wake => {}
            Event::Done(Err(Aborted)) => {}
            Event::Done(Ok(done)) => {
                // The attempt ended when its future saw the answer, not when the loop got to it.
                let ended = done.ended;
                self.on_attempt_done(done, ended);
                self.take_results();
            }
            Event::Stop => {
                self.stop_queue(now);
                return true;
            }
            Event::Abort => {
                self.stop_queue(now);
                self.end_all(now);
                return true;
            }
        }
        false
    }

    /// Handles every result already in before the next dispatch: one wake-up of the engine
    /// serves a whole batch of answers.
    fn take_results(&mut self) {
        while let Some(done) = self.results.try_next() {
            let ended = done.ended;
            self.on_attempt_done(done, ended);
        }
    }

    /// Takes the next planned request in, if there is one.
    fn take_arrival(&mut self, source: &mut dyn TrafficSource, now: Instant) {
        if let Some(req) = source.take() {
            self.on_arrival(req, now);
        }
    }

    fn offset(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    /// Tokens every prompt of a lane carries besides its own: its system prompt and document.
    fn lane_shared_tokens(&self, lane: u8) -> u32 {
        self.config
            .lanes
            .get(usize::from(lane))
            .map_or(0, LaneConfig::shared_tokens)
    }

    /// The service tier a lane's attempts ask for.
    fn lane_tier(&self, lane: u8) -> ServiceTier {
        self.config
            .lanes
            .get(usize::from(lane))
            .map_or_else(ServiceTier::default, |l| l.service_tier)
    }

    /// Handles everything due by `now`: expired queue entries, ended backoffs, due hedges.
    fn on_deadlines(&mut self, now: Instant) {
        self.expire_queue(now);
        while let Some(Reverse(t)) = self.timers.peek().copied() {
            if t.at > now {
                break;
            }
            self.timers.pop();
            if self.live.get(t.key).is_none_or(|l| l.req.id != t.id) {
                continue;
            }
            match t.kind {
                TimerKind::Retry => self.retry_now(t.key, now),
                TimerKind::Hedge(number) => self.hedge_now(t.key, number, now),
            }
        }
    }

    fn push_timer(&mut self, at: Instant, key: usize, id: u64, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Reverse(Timer {
            at,
            seq: self.timer_seq,
            key,
            id,
            kind,
        }));
    }

    fn next_wake(&mut self) -> Option<Instant> {
        let replicas = self
            .replicas
            .iter()
            .flat_map(|r| [r.queue.next_deadline(), r.limiter_wait]);
        replicas
            .chain([self.timers.peek().map(|Reverse(t)| t.at)])
            .flatten()
            .min()
    }

    /// With `block`, whether a full queue holds the traffic back: any replica's (the next
    /// request may be bound for it) under a fixed balance, every replica's under least-loaded.
    fn blocked(&self) -> bool {
        let full = |r: &Replica| r.queue.spec().overflow == Overflow::Block && r.queue.is_full();
        match self.config.strategy.balance.is_fixed() {
            true => self.replicas.iter().any(full),
            false => self.replicas.iter().all(full),
        }
    }

    /// The replica a request goes to.
    fn balance(&self, req: &PlannedRequest) -> usize {
        if self.replicas.len() == 1 {
            return 0;
        }
        let key = if self.config.sticky {
            u64::from(req.user)
        } else {
            req.id
        };
        let loads: Vec<usize> = self.replicas.iter().map(Replica::load).collect();
        self.config.strategy.balance.pick(key, self.config.seed, &loads)
    }

    fn observe_gauges(&mut self) {
        self.replicas.iter_mut().for_each(Replica::observe);
        let queued: usize = self.replicas.iter().map(|r| r.queue.len()).sum();
        let running: usize = self.replicas.iter().map(|r| r.running).sum();
        Progress::set(&self.progress.inflight, running as u64);
        Progress::set(&self.progress.queued, queued as u64);
    }

    /// Emits samples for every second that ended before `now`, with the state as it was.
    fn roll_gauges(&mut self, now: Instant) {
        let second = self.offset(now).as_secs();
        while self.second < second {
            self.emit_gauges();
            self.second += 1;
            self.replicas.iter_mut().for_each(Replica::reset_peaks);
        }
        Progress::set(&self.progress.elapsed_ms, self.offset(now).as_millis() as u64);
    }

    /// One sample per replica for the second that ends; Batch API jobs (one batcher serves
    /// every replica) are counted on the first replica's.
    fn emit_gauges(&mut self) {
        let at = self.start + Duration::from_secs(self.second + 1);
        let batch_jobs = self.progress.batch_jobs.load(std::sync::atomic::Ordering::Relaxed) as u32;
        for (i, r) in self.replicas.iter_mut().enumerate() {
            let sample = SecondSample {
                second: self.second,
                replica: i as u16,
                queue_end: r.queue.len() as u32,
                queue_max: r.gauges.queue_max,
                inflight_end: r.running as u32,
                inflight_max: r.gauges.inflight_max,
                busy_end: r.busy() as u32,
                limit_end: r.pipeline.limit() as u32,
                breakers_open: r.pipeline.open_breakers(at),
                batch_jobs_end: if i == 0 { batch_jobs } else { 0 },
            };
            self.sink.second(&sample);
        }
    }
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod plan_tests;

/// Resolves when the alarm (when there is one) reaches `at` (when there is one).
async fn ring(alarm: &mut Option<alarm::Alarm>, at: Option<Instant>) {
    match (alarm, at) {
        (Some(alarm), Some(at)) => alarm.until(at).await,
        _ => std::future::pending().await,
    }
}
