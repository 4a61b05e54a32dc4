//! The open-loop engine: takes planned requests at their intended times, passes them through
//! the calling plan (queue, rate limiter, workers, timeouts, retries) to a backend, and emits
//! one record per request and per attempt.
//!
//! Design: one task owns all state. It waits on three things at once: the next arrival (a
//! timer at the request's intended time, never waiting for workers), the next attempt to
//! finish, and the next internal deadline (a retry backoff ending, the queue head's deadline,
//! the rate limiter refilling). Policies are plain synchronous types called with `now`, so the
//! engine needs no locks and the same code runs under a paused clock (virtual time) or in real
//! time. Every timestamp comes from `tokio::time`.
//!
//! Accounting: a request enters the engine's table on arrival and leaves it through
//! [`Engine::finish`] only, which emits its record; so every scheduled request ends exactly once.

pub mod progress;
pub mod record;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use slab::Slab;
use stampede_mock::rng::{combine, keyed_rng};
use tokio::time::{sleep_until, Instant};

use crate::backend::{Attempt, AttemptError, AttemptResult, Backend, ErrorKind, Tokens};
use crate::strategy::queue::Entry;
use crate::strategy::retry::Decision;
use crate::strategy::{Queue, RateLimiter, StrategySpec};
use crate::traffic::{Peek, PlannedRequest, TrafficSource};
pub use progress::Progress;
use record::{AttemptRecord, EndReason, RecordSink, RequestRecord, SecondSample};

/// Salt of the retry-jitter random streams.
const RETRY_STREAM: u64 = 0x7265_7472_795f_6a69;

/// What the engine needs besides traffic and a backend.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The calling plan.
    pub strategy: StrategySpec,
    /// Model names, indexed by [`PlannedRequest::model`].
    pub models: Vec<Arc<str>>,
    /// Seed of the retry jitter streams.
    pub seed: u64,
    /// Total deadline per lane, replacing `strategy.timeout.total` where set.
    pub lane_deadlines: Vec<Option<Duration>>,
    /// Take requests in at their intended time to the microsecond rather than at tokio's next
    /// millisecond tick: sleep until [`SPIN`] before, then yield until the time (live runs
    /// only; under a paused clock a spin would never end).
    pub precise_arrivals: bool,
}

/// How long before an intended start a precise arrival stops sleeping and starts yielding.
pub const SPIN: Duration = Duration::from_millis(1);

/// What the engine reports about the run as a whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineReport {
    /// Time from the start to the last request's end (virtual in the simulator).
    pub elapsed: Duration,
    /// Whether the run was stopped early.
    pub stopped: bool,
}

/// A request the engine is working on.
#[derive(Debug)]
struct Live {
    req: PlannedRequest,
    intended: Instant,
    arrived: Instant,
    deadline: Instant,
    dispatched: Option<Instant>,
    attempts: u32,
    holds_worker: bool,
    last_backoff: Duration,
}

/// An internal deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    seq: u64,
    key: usize,
    id: u64,
}

struct AttemptDone {
    key: usize,
    id: u64,
    number: u32,
    sent: Instant,
    /// When the answer (or the failure) was in, read inside the attempt's own future.
    ended: Instant,
    result: AttemptResult,
}

type AttemptFuture = Pin<Box<dyn Future<Output = AttemptDone> + Send>>;

enum Event {
    Arrival,
    Spin,
    Done(AttemptDone),
    Wake,
    Stop,
}

/// Per-second gauge tracking.
#[derive(Debug, Default)]
struct Gauges {
    second: u64,
    queue_max: u32,
    inflight_max: u32,
}

/// The engine. Build it with [`Engine::new`] and consume it with [`Engine::run`].
pub struct Engine<'s, S: RecordSink> {
    config: EngineConfig,
    backend: Arc<dyn Backend>,
    sink: &'s mut S,
    progress: Arc<Progress>,
    start: Instant,
    live: Slab<Live>,
    queue: Queue,
    limiter: RateLimiter,
    limiter_wait: Option<Instant>,
    timers: BinaryHeap<Reverse<Timer>>,
    timer_seq: u64,
    inflight: FuturesUnordered<AttemptFuture>,
    busy: usize,
    gauges: Gauges,
    last_end: Instant,
    /// (user, end offset) of requests that ended, for the traffic source.
    ended: Vec<(u32, Duration)>,
}

impl<'s, S: RecordSink> Engine<'s, S> {
    /// An engine whose run starts now.
    pub fn new(config: EngineConfig, backend: Arc<dyn Backend>, sink: &'s mut S, progress: Arc<Progress>) -> Self {
        let start = Instant::now();
        Engine {
            queue: Queue::new(&config.strategy.queue),
            limiter: RateLimiter::new(&config.strategy.rate_limit, start),
            config,
            backend,
            sink,
            progress,
            start,
            live: Slab::new(),
            limiter_wait: None,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            inflight: FuturesUnordered::new(),
            busy: 0,
            gauges: Gauges::default(),
            last_end: start,
            ended: Vec::new(),
        }
    }

    /// Runs the traffic to the end: every planned request is taken in at its intended time and
    /// ends in exactly one record.
    pub async fn run(mut self, source: &mut dyn TrafficSource) -> EngineReport {
        let far = self.start + Duration::from_secs(86_400 * 365);
        let arrival_sleep = sleep_until(far);
        let wake_sleep = sleep_until(far);
        tokio::pin!(arrival_sleep, wake_sleep);
        let (mut arrival_at, mut wake_at) = (far, far);
        let progress = self.progress.clone();
        let mut stopped = false;
        loop {
            let now = Instant::now();
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
            let due = match next {
                Peek::Due(at) => Some(self.start + at),
                _ => None,
            };
            // Within SPIN of a precise arrival: stop sleeping, yield until it is due.
            let spinning = self.config.precise_arrivals && due.is_some_and(|at| at <= now + SPIN);
            if let Some(at) = due {
                let wake = if self.config.precise_arrivals {
                    at.checked_sub(SPIN).unwrap_or(at)
                } else {
                    at
                };
                if wake != arrival_at {
                    arrival_sleep.as_mut().reset(wake);
                    arrival_at = wake;
                }
            }
            let wake = self.next_wake();
            if let Some(at) = wake {
                if at != wake_at {
                    wake_sleep.as_mut().reset(at);
                    wake_at = at;
                }
            }
            // Arrivals first: in a live run the engine task also polls every attempt in flight,
            // and a request must not be taken in late because answers were being read.
            let event = if spinning && due.is_some_and(|at| at <= now) {
                Event::Arrival
            } else {
                tokio::select! {
                    biased;
                    _ = &mut arrival_sleep, if due.is_some() && !spinning => Event::Spin,
                    Some(done) = self.inflight.next(), if !self.inflight.is_empty() => Event::Done(done),
                    _ = &mut wake_sleep, if wake.is_some() => Event::Wake,
                    _ = progress.stopped(), if !stopped => Event::Stop,
                    _ = tokio::task::yield_now(), if spinning => Event::Spin,
                }
            };
            let now = Instant::now();
            self.roll_gauges(now);
            match event {
                Event::Arrival => {
                    if let Some(req) = source.take() {
                        self.on_arrival(req, now);
                    }
                }
                Event::Done(done) => {
                    // The attempt ended when its future saw the answer, not when the loop got
                    // to it.
                    let ended = done.ended;
                    self.on_attempt_done(done, ended);
                }
                Event::Wake => {}
                // The arrival timer fired, or a spin turn passed: the loop checks the time again.
                Event::Spin if !self.config.precise_arrivals => {
                    if let Some(req) = source.take() {
                        self.on_arrival(req, now);
                    }
                }
                Event::Spin => {}
                Event::Stop => {
                    stopped = true;
                    while let Some(entry) = self.queue.pop() {
                        self.finish(entry.key, now, EndReason::Stopped, Tokens::default(), None);
                    }
                }
            }
        }
        self.roll_gauges(Instant::now());
        self.flush_gauges();
        EngineReport {
            elapsed: self.last_end - self.start,
            stopped,
        }
    }

    fn offset(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    fn on_arrival(&mut self, req: PlannedRequest, now: Instant) {
        let intended = self.start + req.at;
        let total = self
            .config
            .lane_deadlines
            .get(usize::from(req.lane))
            .copied()
            .flatten()
            .unwrap_or(self.config.strategy.timeout.total);
        let deadline = intended + total;
        let key = self.live.insert(Live {
            req,
            intended,
            arrived: now,
            deadline,
            dispatched: None,
            attempts: 0,
            holds_worker: false,
            last_backoff: Duration::ZERO,
        });
        Progress::add(&self.progress.arrived, 1);
        let entry = Entry { key, deadline };
        let room_for_it = self.queue.is_empty() && self.busy < self.config.strategy.workers as usize;
        let pushed = if room_for_it {
            self.queue.push_unbounded(entry);
            Ok(())
        } else {
            self.queue.push(entry)
        };
        if pushed.is_err() {
            self.finish(key, now, EndReason::QueueFull, Tokens::default(), None);
        }
    }

    /// Handles everything due by `now`: expired queue entries and ended backoffs.
    fn on_deadlines(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.queue.expire(now, |e| expired.push(e.key));
        for key in expired {
            self.finish(key, now, EndReason::QueueDeadline, Tokens::default(), None);
        }
        while let Some(Reverse(t)) = self.timers.peek().copied() {
            if t.at > now {
                break;
            }
            self.timers.pop();
            match self.live.get(t.key) {
                Some(l) if l.req.id == t.id => self.retry_now(t.key, now),
                _ => {}
            }
        }
    }

    /// A backoff ended: send the retry when the rate limiter allows.
    fn retry_now(&mut self, key: usize, now: Instant) {
        let input = self.live[key].req.input_tokens;
        if self.limiter.is_active() {
            let ready = self.limiter.ready_at(now, input);
            if ready > now {
                let id = self.live[key].req.id;
                self.push_timer(ready, key, id);
                return;
            }
            self.limiter.take(now, input);
        }
        self.start_attempt(key, now);
    }

    /// Moves queued requests to free workers while the rate limiter allows.
    fn dispatch(&mut self, now: Instant) {
        self.limiter_wait = None;
        while self.busy < self.config.strategy.workers as usize {
            let Some(&Entry { key, .. }) = self.queue.peek() else {
                break;
            };
            if self.limiter.is_active() {
                let input = self.live[key].req.input_tokens;
                let ready = self.limiter.ready_at(now, input);
                if ready > now {
                    self.limiter_wait = Some(ready);
                    break;
                }
                self.limiter.take(now, input);
            }
            self.queue.pop();
            self.busy += 1;
            let live = &mut self.live[key];
            live.holds_worker = true;
            live.dispatched = Some(now);
            self.start_attempt(key, now);
        }
    }

    fn start_attempt(&mut self, key: usize, now: Instant) {
        let live = &mut self.live[key];
        live.attempts += 1;
        let number = live.attempts;
        let req = live.req;
        let limit = (now + self.config.strategy.timeout.attempt).min(live.deadline);
        let attempt = Attempt {
            request_id: req.id,
            number,
            model: self.config.models[usize::from(req.model)].clone(),
            input_tokens: req.input_tokens,
            output_tokens: req.output_tokens,
            prompt_key: req.prompt_key,
            stream: req.stream,
            rng_key: combine(req.id, u64::from(number)),
        };
        let call = self.backend.call(attempt);
        self.inflight.push(Box::pin(async move {
            let result = match tokio::time::timeout_at(limit, call).await {
                Ok(r) => r,
                Err(_) => AttemptResult::failed(AttemptError::new(ErrorKind::Timeout)),
            };
            AttemptDone {
                key,
                id: req.id,
                number,
                sent: now,
                ended: Instant::now(),
                result,
            }
        }));
        Progress::add(&self.progress.attempts, 1);
    }

    fn on_attempt_done(&mut self, done: AttemptDone, now: Instant) {
        let Some(live) = self.live.get(done.key).filter(|l| l.req.id == done.id) else {
            return;
        };
        let req = live.req;
        let record = AttemptRecord {
            request_id: req.id,
            number: done.number,
            lane: req.lane,
            model: req.model,
            sent: self.offset(done.sent),
            ended: self.offset(now),
            first_byte: done.result.first_byte.map(|t| self.offset(t)),
            result: done.result.outcome.clone().map_err(|e| e.kind),
            retry_delay: done.result.outcome.as_ref().err().and_then(|e| e.retry_delay),
            stream: done.result.stream,
        };
        self.sink.attempt(&record);
        match done.result.outcome {
            Ok(tokens) => self.finish(done.key, now, EndReason::Ok, tokens, done.result.first_byte),
            Err(error) => {
                if error.kind == ErrorKind::Status(429) {
                    Progress::add(&self.progress.status_429, 1);
                } else {
                    Progress::add(&self.progress.errors, 1);
                }
                let live = &self.live[done.key];
                let time_left = live.deadline.saturating_duration_since(now);
                let mut rng = keyed_rng(
                    self.config.seed ^ RETRY_STREAM,
                    combine(req.id, u64::from(live.attempts)),
                );
                let decision =
                    self.config
                        .strategy
                        .retry
                        .decide(live.attempts, &error, live.last_backoff, time_left, &mut rng);
                match decision {
                    Decision::Retry(wait) => {
                        self.live[done.key].last_backoff = wait;
                        self.push_timer(now + wait, done.key, req.id);
                    }
                    Decision::GiveUp(gave_up) => {
                        let end = EndReason::Error {
                            last: error.kind,
                            gave_up,
                        };
                        self.finish(done.key, now, end, Tokens::default(), None);
                    }
                }
            }
        }
    }

    fn push_timer(&mut self, at: Instant, key: usize, id: u64) {
        self.timer_seq += 1;
        self.timers.push(Reverse(Timer {
            at,
            seq: self.timer_seq,
            key,
            id,
        }));
    }

    fn next_wake(&self) -> Option<Instant> {
        [
            self.timers.peek().map(|Reverse(t)| t.at),
            self.queue.peek().map(|e| e.deadline),
            self.limiter_wait,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The single exit of a request: emits its record.
    fn finish(&mut self, key: usize, now: Instant, end: EndReason, tokens: Tokens, first_byte: Option<Instant>) {
        let live = self.live.remove(key);
        if live.holds_worker {
            self.busy -= 1;
        }
        self.last_end = self.last_end.max(now);
        let record = RequestRecord {
            id: live.req.id,
            lane: live.req.lane,
            model: live.req.model,
            intended: self.offset(live.intended),
            arrived: self.offset(live.arrived),
            dispatched: live.dispatched.map(|t| self.offset(t)),
            first_byte: first_byte.map(|t| self.offset(t)),
            ended: self.offset(now),
            end,
            attempts: live.attempts,
            tokens,
            planned_input: live.req.input_tokens,
            planned_output: live.req.output_tokens,
            stream: live.req.stream,
        };
        self.sink.request(&record);
        self.ended.push((live.req.user, record.ended));
        Progress::add(&self.progress.ended, 1);
        if end == EndReason::Ok {
            Progress::add(&self.progress.succeeded, 1);
        }
    }

    fn observe_gauges(&mut self) {
        let g = &mut self.gauges;
        g.queue_max = g.queue_max.max(self.queue.len() as u32);
        g.inflight_max = g.inflight_max.max(self.inflight.len() as u32);
        Progress::set(&self.progress.inflight, self.inflight.len() as u64);
        Progress::set(&self.progress.queued, self.queue.len() as u64);
    }

    /// Emits samples for every second that ended before `now`, with the state as it was.
    fn roll_gauges(&mut self, now: Instant) {
        let second = self.offset(now).as_secs();
        while self.gauges.second < second {
            self.emit_gauges();
            self.gauges.second += 1;
            self.gauges.queue_max = self.queue.len() as u32;
            self.gauges.inflight_max = self.inflight.len() as u32;
        }
        Progress::set(&self.progress.elapsed_ms, self.offset(now).as_millis() as u64);
    }

    fn emit_gauges(&mut self) {
        let sample = SecondSample {
            second: self.gauges.second,
            queue_end: self.queue.len() as u32,
            queue_max: self.gauges.queue_max,
            inflight_end: self.inflight.len() as u32,
            inflight_max: self.gauges.inflight_max,
            busy_end: self.busy as u32,
        };
        self.sink.second(&sample);
    }

    fn flush_gauges(&mut self) {
        self.emit_gauges();
    }
}

#[cfg(test)]
mod tests;
