//! Sending: which queued request goes next (lanes, reserved workers, the concurrency limit,
//! rate limits), and starting attempts, retries and hedges.

use std::time::Duration;

use futures::future::{AbortHandle, Abortable};
use stampede_mock::rng::combine;
use tokio::time::Instant;

use super::admit::Ending;
use super::record::{EndReason, RecordSink};
use super::{AttemptDone, Cancel, Engine, Pool, Progress, Running, TimerKind};
use crate::backend::{Attempt, AttemptError, AttemptResult, ErrorKind};
use crate::strategy::policy::{Outgoing, Rescue};
use crate::strategy::retry::GiveUp;

/// Keys of the lanes' system prompts: this tag and the lane index (distinct from every prompt
/// key, which are request ids or carry one of the top two bits).
const SYSTEM_PROMPT_KEY: u64 = 0x2000_0000_0000_0000;

/// Keys of the lanes' documents: this tag, the lane index and the document's number.
const DOCUMENT_KEY: u64 = 0x3000_0000_0000_0000;

/// The identity of the document a prompt of `lane` keyed `prompt_key` starts with: one of the
/// lane's `documents`, by prompt (a repeated prompt repeats its document).
pub(super) fn document_key(lane: u8, documents: u32, prompt_key: u64) -> u64 {
    let n = combine(prompt_key, 0xd0c) % u64::from(documents.max(1));
    DOCUMENT_KEY | (u64::from(lane) << 32) | n
}

/// The identity of a lane's system prompt text.
pub(super) fn system_prompt_key(lane: u8) -> u64 {
    SYSTEM_PROMPT_KEY | u64::from(lane)
}

impl<S: RecordSink> Engine<'_, S> {
    /// Whether a request of `lane` could take a worker of replica `r` now: one of its reserved
    /// workers, or one of the shared ones (the limit minus every lane's reserved workers).
    pub(super) fn lane_has_worker(&self, r: usize, lane: usize) -> bool {
        if self.config.lanes[lane].batch.is_some() {
            return true;
        }
        let reserved = |l: usize| self.config.lanes[l].reserved_workers as usize;
        let all_reserved: usize = (0..self.config.lanes.len()).map(reserved).sum();
        let replica = &self.replicas[r];
        let shared = replica.pipeline.limit().saturating_sub(all_reserved);
        replica.reserved_busy[lane] < reserved(lane) || replica.shared_busy < shared
    }

    fn take_worker(&mut self, r: usize, lane: usize) -> Pool {
        if self.config.lanes[lane].batch.is_some() {
            return Pool::Batch;
        }
        let replica = &mut self.replicas[r];
        if replica.reserved_busy[lane] < self.config.lanes[lane].reserved_workers as usize {
            replica.reserved_busy[lane] += 1;
            Pool::Reserved(lane)
        } else {
            replica.shared_busy += 1;
            Pool::Shared
        }
    }

    /// The pace phase's view of an attempt of `model` in `lane` carrying `input` tokens.
    fn outgoing(model: u8, lane: u8, input: u32) -> Outgoing {
        Outgoing {
            model,
            lane,
            input_tokens: input,
        }
    }

    /// The pace phase for replica `r`: when the attempt may go (`None`: now), by the replica's
    /// own policies and, when every replica shares one, the shared rate limit.
    fn pace(&mut self, r: usize, now: Instant, send: &Outgoing) -> Option<Instant> {
        let own = self.replicas[r].pipeline.wait(now, send);
        let shared = self
            .shared_limit
            .as_mut()
            .map(|l| l.ready_at(now, send.model, send.lane, send.input_tokens));
        own.into_iter().chain(shared.filter(|&at| at > now)).max()
    }

    /// The attempt goes now: the pace phase takes its tokens.
    fn go(&mut self, r: usize, now: Instant, send: &Outgoing) {
        self.replicas[r].pipeline.take(now, send);
        if let Some(l) = &mut self.shared_limit {
            l.take(now, send.model, send.lane, send.input_tokens);
        }
    }

    /// Moves queued requests to workers, replica by replica, while workers and rate limits
    /// allow.
    pub(super) fn dispatch(&mut self, now: Instant) {
        let n = self.replicas.len();
        // A rate limit every replica shares goes to whichever asks first: the first to ask
        // turns round, so that no replica is always first in line for its tokens.
        let first = match self.shared_limit {
            Some(_) => {
                self.rotation = self.rotation.wrapping_add(1);
                self.rotation % n
            }
            None => 0,
        };
        for i in 0..n {
            self.dispatch_replica((first + i) % n, now);
        }
    }

    /// Moves replica `r`'s queued requests to its workers while workers and rate limits allow.
    fn dispatch_replica(&mut self, r: usize, now: Instant) {
        self.replicas[r].limiter_wait = None;
        let mut held_back = 0u64;
        while let Some(lane) = self.replicas[r]
            .queue
            .pick(|l| held_back & (1 << l) == 0 && self.lane_has_worker(r, l))
        {
            let key = self.replicas[r].queue.peek(lane).expect("picked lane has a head").key;
            let (model, input) = (self.live[key].model, self.live[key].req.input_tokens);
            let send = Self::outgoing(model, lane as u8, input);
            if let Some(at) = self.pace(r, now, &send) {
                // This lane waits for its bucket; other lanes may still go.
                let replica = &mut self.replicas[r];
                replica.limiter_wait = Some(replica.limiter_wait.map_or(at, |w| w.min(at)));
                held_back |= 1 << lane;
                continue;
            }
            self.go(r, now, &send);
            self.replicas[r].queue.pop(lane);
            let pool = self.take_worker(r, lane);
            let live = &mut self.live[key];
            live.worker = Some(pool);
            live.dispatched = Some(now);
            self.start_attempt(key, now, false);
        }
    }

    /// A backoff ended (or a fallback is due): send the next attempt when the rate limits allow.
    pub(super) fn retry_now(&mut self, key: usize, now: Instant) {
        let live = &self.live[key];
        let r = live.replica;
        let (model, lane, input, id, deadline) = (
            live.model,
            live.req.lane,
            live.req.input_tokens,
            live.req.id,
            live.deadline,
        );
        if now >= deadline {
            let last = live.last_error.unwrap_or(ErrorKind::Timeout);
            let end = EndReason::Error {
                last,
                gave_up: GiveUp::Deadline,
            };
            self.finish(key, now, Ending::unanswered(end));
            return;
        }
        let send = Self::outgoing(model, lane, input);
        if let Some(at) = self.pace(r, now, &send) {
            self.push_timer(at.min(deadline), key, id, TimerKind::Retry);
            return;
        }
        self.go(r, now, &send);
        self.start_attempt(key, now, false);
    }

    /// A hedge is due for attempt `number`: send a second copy if that attempt is still the only
    /// one running and the rate limits let it go now.
    pub(super) fn hedge_now(&mut self, key: usize, number: u32, now: Instant) {
        let live = &self.live[key];
        if live.running.len() != 1 || live.running[0].number != number {
            return;
        }
        let (model, lane, input) = (live.model, live.req.lane, live.req.input_tokens);
        let (send, r) = (Self::outgoing(model, lane, input), live.replica);
        if self.pace(r, now, &send).is_some() {
            return;
        }
        self.go(r, now, &send);
        self.start_attempt(key, now, true);
    }

    /// Starts an attempt (a hedge when `hedge`), unless the model's breaker is open.
    pub(super) fn start_attempt(&mut self, key: usize, now: Instant, hedge: bool) {
        let (model, r) = (self.live[key].model, self.live[key].replica);
        let pipeline = &mut self.replicas[r].pipeline;
        if !pipeline.allow(now, model) {
            if !hedge {
                self.on_breaker_open(key, now);
            }
            return;
        }
        let live = &mut self.live[key];
        if live.attempts == 0 {
            pipeline.on_first_attempt(now);
        }
        live.attempts += 1;
        let number = live.attempts;
        let retry = !hedge && live.model_attempts > 0;
        if hedge {
            live.hedged = true;
        } else {
            live.retries += u32::from(retry);
            live.model_attempts += 1;
        }
        let req = live.req.clone();
        // A batch lane's attempt waits for its job: only the request's deadline bounds it.
        let batched = self
            .config
            .lanes
            .get(usize::from(live.req.lane))
            .is_some_and(|l| l.batch.is_some());
        let limit = if batched {
            live.deadline
        } else {
            (now + self.config.strategy.timeout.attempt).min(live.deadline)
        };
        let attempt = attempt_of(&self.config, &self.pinned, &req, number, model);
        let call = self.backend.call(attempt);
        let attempt_future = async move {
            let result = match tokio::time::timeout_at(limit, call).await {
                Ok(r) => r,
                Err(_) => AttemptResult::failed(AttemptError::new(ErrorKind::Timeout)),
            };
            AttemptDone {
                key,
                id: req.id,
                number,
                hedge,
                model,
                sent: now,
                ended: Instant::now(),
                result,
            }
        };
        let cancel = if self.config.real_time {
            let results = self.results.sender();
            // An aborted attempt (a hedge's twin answered, the run ended) reports nothing.
            let task = tokio::spawn(async move { results.send(attempt_future.await) });
            Cancel::Task(task.abort_handle())
        } else {
            let (abort, registration) = AbortHandle::new_pair();
            self.inflight
                .push(Box::pin(Abortable::new(attempt_future, registration)));
            Cancel::Polled(abort)
        };
        live.running.push(Running {
            number,
            hedge,
            retry,
            sent: now,
            model,
            cancel,
        });
        self.replicas[r].running += 1;
        Progress::add(&self.progress.attempts, 1);
        if !hedge {
            if let Some(delay) = self.replicas[r].pipeline.hedge_delay() {
                if now + delay < limit {
                    self.push_timer(now + delay, key, req.id, TimerKind::Hedge(number));
                }
            }
        }
    }

    /// The model's breaker refused an attempt: fall back, or end the request.
    pub(super) fn on_breaker_open(&mut self, key: usize, now: Instant) {
        let last = self.live[key].last_error;
        if self.try_fallback(key, now, last, true) {
            return;
        }
        let end = match (self.live[key].attempts, last) {
            (0, _) | (_, None) => EndReason::BreakerOpen,
            (_, Some(last)) => EndReason::Error {
                last,
                gave_up: GiveUp::BreakerOpen,
            },
        };
        self.finish(key, now, Ending::unanswered(end));
    }

    /// Sends the request to its fallback model (or answers it degraded) when the pipeline's
    /// rescue phase says this failure calls for it; `true` when it did.
    pub(super) fn try_fallback(
        &mut self,
        key: usize,
        now: Instant,
        last: Option<ErrorKind>,
        breaker_open: bool,
    ) -> bool {
        if self.live[key].fell_back {
            return false;
        }
        let replica = &self.replicas[self.live[key].replica];
        let Some(rescue) = replica.pipeline.rescue(last, breaker_open) else {
            return false;
        };
        let live = &mut self.live[key];
        live.fell_back = true;
        match rescue {
            Rescue::Degraded => {
                let answer = Ending::answered(Default::default(), super::record::Served::Degraded, Some(now));
                self.finish(key, now, answer);
            }
            Rescue::Model(model) => {
                live.model = model;
                live.model_attempts = 0;
                live.last_backoff = Duration::ZERO;
                let id = live.req.id;
                self.push_timer(now, key, id, TimerKind::Retry);
            }
        }
        true
    }
}

/// Attempt `number` of `req` to model index `model`: the request's sizes and identities, its
/// lane's system prompt and service tier, and the lane's pinned cache on that model.
fn attempt_of(
    config: &super::EngineConfig,
    pinned: &super::pinned::PinnedCaches,
    req: &crate::traffic::PlannedRequest,
    number: u32,
    model: u8,
) -> Attempt {
    let lane = config.lanes.get(usize::from(req.lane)).copied().unwrap_or_default();
    Attempt {
        request_id: req.id,
        number,
        model: config.models[usize::from(model)].clone(),
        input_tokens: req.input_tokens,
        output_tokens: req.output_tokens,
        prompt_key: req.prompt_key,
        stream: req.stream,
        rng_key: combine(req.id, u64::from(number)),
        system_prompt_tokens: lane.system_prompt_tokens,
        system_prompt_key: system_prompt_key(req.lane),
        document_tokens: lane.document_tokens,
        document_key: document_key(req.lane, lane.documents, req.prompt_key),
        service_tier: lane.service_tier,
        cached_content: pinned.name(req.lane, model),
        lane: req.lane,
        history: req.history.clone(),
        session: req.user,
        prefix: req.prefix.clone(),
    }
}
