//! Taking requests in — the pipeline's admit phase (a cached answer, joining a twin, a
//! throttle's refusal), the queue and its overflow — and the single exit every request leaves
//! by, [`Engine::finish`].

use tokio::time::Instant;

use super::record::{AttemptRecord, EndReason, Outcome, RecordSink, RequestRecord, Served};
use super::{Engine, Live, Pool, Progress, Running};
use crate::backend::{ErrorKind, Tokens};
use crate::strategy::policy::{Admission, Arrival, Ticket};
use crate::strategy::queue::Pushed;
use crate::traffic::PlannedRequest;

/// How a request ends.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ending {
    pub end: EndReason,
    pub tokens: Tokens,
    pub served: Served,
    pub first_byte: Option<Instant>,
}

impl Ending {
    pub fn unanswered(end: EndReason) -> Ending {
        Ending {
            end,
            tokens: Tokens::default(),
            served: Served::Upstream,
            first_byte: None,
        }
    }

    pub fn answered(tokens: Tokens, served: Served, first_byte: Option<Instant>) -> Ending {
        Ending {
            end: EndReason::Ok,
            tokens,
            served,
            first_byte,
        }
    }
}

impl<S: RecordSink> Engine<'_, S> {
    pub(super) fn on_arrival(&mut self, req: PlannedRequest, now: Instant) {
        Progress::add(&self.progress.arrived, 1);
        let intended = self.start + req.at;
        let lane = usize::from(req.lane).min(self.config.lanes.len() - 1);
        let total = self.config.lanes[lane]
            .deadline
            .unwrap_or(self.config.strategy.timeout.total);
        let (id, model, prompt_key) = (req.id, req.model, req.prompt_key);
        let r = self.balance(&req);
        let key = self.live.insert(Live {
            req,
            replica: r,
            intended,
            arrived: now,
            deadline: intended + total,
            dispatched: None,
            attempts: 0,
            retries: 0,
            model_attempts: 0,
            worker: None,
            model,
            fell_back: false,
            last_backoff: std::time::Duration::ZERO,
            ticket: Ticket::default(),
            running: Vec::new(),
            hedged: false,
            last_error: None,
            first_byte: None,
            followers: Vec::new(),
        });
        let arrival = Arrival {
            id,
            key,
            prompt: (prompt_key, model),
        };
        match self.replicas[r].pipeline.admit(now, &arrival) {
            Admission::Pass => {}
            Admission::Answer(tokens) => {
                self.finish(key, now, Ending::answered(tokens, Served::Cache, Some(now)));
                return;
            }
            Admission::Join(leader) => {
                self.live[leader].followers.push(key);
                return;
            }
            Admission::Refuse => {
                self.finish(key, now, Ending::unanswered(EndReason::Throttled));
                return;
            }
        }
        let free_worker = self.replicas[r].queue.is_empty() && self.lane_has_worker(r, lane);
        let queue = &mut self.replicas[r].queue;
        let deadline = queue.deadline(now, self.live[key].deadline);
        match queue.push(lane, key, deadline, free_worker) {
            Pushed::Queued => {}
            Pushed::Rejected => {
                self.finish(key, now, Ending::unanswered(EndReason::QueueFull));
                return;
            }
            Pushed::Evicted(old) => self.finish(old.key, now, Ending::unanswered(EndReason::QueueEvicted)),
        }
        self.replicas[r].pipeline.on_queued(&arrival);
    }

    /// Drops queued requests whose deadline has passed.
    pub(super) fn expire_queue(&mut self, now: Instant) {
        let mut expired = Vec::new();
        for r in &mut self.replicas {
            r.queue.expire(now, |e| expired.push(e.key));
        }
        for key in expired {
            self.finish(key, now, Ending::unanswered(EndReason::QueueDeadline));
        }
    }

    /// The run stops: queued requests are dropped, those being worked on finish.
    pub(super) fn stop_queue(&mut self, now: Instant) {
        let queued: Vec<usize> = self
            .replicas
            .iter_mut()
            .flat_map(|r| r.queue.drain())
            .map(|e| e.key)
            .collect();
        for key in queued {
            self.finish(key, now, Ending::unanswered(EndReason::Stopped));
        }
    }

    /// The run is aborted: every request still live ends now as stopped; its running attempts
    /// are cancelled and recorded, so the accounting stays exact.
    pub(super) fn end_all(&mut self, now: Instant) {
        let keys: Vec<usize> = self.live.iter().map(|(k, _)| k).collect();
        for key in keys {
            if self.live.contains(key) {
                self.finish(key, now, Ending::unanswered(EndReason::Stopped));
            }
        }
    }

    fn cancelled_record(&self, live: &Live, r: &Running, now: Instant) -> AttemptRecord {
        AttemptRecord {
            request_id: live.req.id,
            replica: live.replica as u16,
            number: r.number,
            lane: live.req.lane,
            model: r.model,
            sent: self.offset(r.sent),
            ended: self.offset(now),
            first_byte: None,
            result: Err(ErrorKind::Timeout),
            retry_delay: None,
            hedge: r.hedge,
            retry: r.retry,
            cancelled: true,
            fallback: live.fell_back && r.model != live.req.model,
            input_tokens: live.req.prompt_tokens() + self.lane_shared_tokens(live.req.lane),
            requested_tier: self.lane_tier(live.req.lane),
            refused_by: None,
            batch_turnaround: None,
            stream: None,
        }
    }

    /// The single exit of a request: releases its worker, cancels attempts still running (a
    /// hedge's twin), emits its record, and ends the requests that were waiting on it.
    pub(super) fn finish(&mut self, key: usize, now: Instant, ending: Ending) {
        let live = self.live.remove(key);
        let replica = &mut self.replicas[live.replica];
        match live.worker {
            Some(Pool::Reserved(lane)) => replica.reserved_busy[lane] -= 1,
            Some(Pool::Shared) => replica.shared_busy -= 1,
            Some(Pool::Batch) | None => {}
        }
        replica.running -= live.running.len();
        for r in &live.running {
            r.cancel.cancel();
            let record = self.cancelled_record(&live, r, now);
            self.sink.attempt(&record);
        }
        let prompt = (live.req.prompt_key, live.req.model);
        let pipeline = &mut self.replicas[live.replica].pipeline;
        pipeline.on_finished(key, prompt);
        let answered = ending.end == EndReason::Ok;
        if answered && matches!(ending.served, Served::Upstream | Served::Fallback) {
            pipeline.on_answer(now, prompt, ending.tokens);
        }
        self.last_end = self.last_end.max(now);
        let record = RequestRecord {
            id: live.req.id,
            replica: live.replica as u16,
            lane: live.req.lane,
            model: live.model,
            intended: self.offset(live.intended),
            arrived: self.offset(live.arrived),
            dispatched: live.dispatched.map(|t| self.offset(t)),
            first_byte: ending
                .first_byte
                .or(live.first_byte)
                .filter(|_| answered)
                .map(|t| self.offset(t)),
            ended: self.offset(now),
            end: ending.end,
            attempts: live.attempts,
            tokens: ending.tokens,
            // The prompt sent: the lane's shared system prompt and the request's own.
            planned_input: live.req.prompt_tokens() + self.lane_shared_tokens(live.req.lane),
            planned_output: live.req.output_tokens,
            stream: live.req.stream,
            served: ending.served,
            retries: live.retries,
            hedged: live.hedged,
            prompt_key: live.req.prompt_key,
            turn: live.req.turn(),
        };
        self.sink.request(&record);
        self.ended.push((live.req.user, record.ended));
        Progress::add(&self.progress.ended, 1);
        if answered {
            Progress::add(&self.progress.succeeded, 1);
        }
        // Followers share the leader's fate; an answer reaches them as a coalesced answer.
        for follower in live.followers {
            let shared = match ending.end.outcome() {
                Outcome::Succeeded => Ending::answered(Tokens::default(), Served::Coalesced, Some(now)),
                _ => Ending::unanswered(ending.end),
            };
            let shared = Ending {
                end: ending.end,
                ..shared
            };
            self.finish(follower, now, shared);
        }
    }
}
