//! What an attempt's end means: its record, the pipeline's observe phase, and the decision —
//! answer, wait for a hedge's twin, retry (as the pipeline's review phase allows), fall back,
//! or give up.

use stampede_mock::rng::{combine, keyed_rng};
use tokio::time::Instant;

use super::admit::Ending;
use super::record::{AttemptRecord, EndReason, RecordSink, Served};
use super::{AttemptDone, Engine, Progress, TimerKind};
use crate::backend::{AttemptError, ErrorKind};
use crate::strategy::policy::{Observation, RetryReview};
use crate::strategy::retry::Decision;

/// Salt of the retry-jitter random streams.
const RETRY_STREAM: u64 = 0x7265_7472_795f_6a69;

impl<S: RecordSink> Engine<'_, S> {
    pub(super) fn on_attempt_done(&mut self, done: AttemptDone, now: Instant) {
        let Some(live) = self.live.get_mut(done.key).filter(|l| l.req.id == done.id) else {
            return;
        };
        // An attempt already recorded as cancelled (its twin answered first) is not here.
        let Some(pos) = live.running.iter().position(|r| r.number == done.number) else {
            return;
        };
        let retry = live.running.remove(pos).retry;
        let replica = live.replica;
        self.replicas[replica].running -= 1;
        let req = live.req.clone();
        let fallback = live.fell_back && done.model != req.model;
        let took = done.ended.saturating_duration_since(done.sent);
        let error_kind = done.result.outcome.as_ref().err().map(|e| e.kind);
        let record = AttemptRecord {
            request_id: req.id,
            replica: replica as u16,
            number: done.number,
            lane: req.lane,
            model: done.model,
            sent: self.offset(done.sent),
            ended: self.offset(now),
            first_byte: done.result.first_byte.map(|t| self.offset(t)),
            result: done.result.outcome.clone().map_err(|e| e.kind),
            retry_delay: done.result.outcome.as_ref().err().and_then(|e| e.retry_delay),
            hedge: done.hedge,
            retry,
            cancelled: false,
            fallback,
            input_tokens: req.prompt_tokens() + self.lane_shared_tokens(req.lane),
            requested_tier: self.lane_tier(req.lane),
            refused_by: done.result.outcome.as_ref().err().and_then(|e| e.refused_by),
            batch_turnaround: done.result.batch_turnaround,
            stream: done.result.stream.clone(),
        };
        self.sink.attempt(&record);
        self.feedback(&done, error_kind, took, now);
        match done.result.outcome {
            Ok(tokens) => {
                let served = if self.live[done.key].fell_back {
                    Served::Fallback
                } else {
                    Served::Upstream
                };
                self.finish(done.key, now, Ending::answered(tokens, served, done.result.first_byte));
            }
            Err(error) => {
                let live = &mut self.live[done.key];
                live.last_error = Some(error.kind);
                if live.running.is_empty() {
                    self.after_failure(done.key, &error, now);
                }
                // Otherwise the hedge's twin is still running: its answer decides.
            }
        }
    }

    /// Tells the pipeline what the attempt showed, and counts it for the progress display.
    fn feedback(&mut self, done: &AttemptDone, error: Option<ErrorKind>, took: std::time::Duration, now: Instant) {
        let live = &self.live[done.key];
        let replica = &mut self.replicas[live.replica];
        let seen = Observation {
            model: done.model,
            error,
            took,
            running: replica.running,
            retries: live.retries,
            budget_paid: live.ticket.budget_paid,
        };
        replica.pipeline.observe(now, &seen);
        match error {
            Some(ErrorKind::Status(429)) => Progress::add(&self.progress.status_429, 1),
            Some(_) => Progress::add(&self.progress.errors, 1),
            None => {}
        }
    }

    /// Every attempt of the request failed: retry, fall back, or give up.
    fn after_failure(&mut self, key: usize, error: &AttemptError, now: Instant) {
        let live = &self.live[key];
        let time_left = live.deadline.saturating_duration_since(now);
        let mut rng = keyed_rng(
            self.config.seed ^ RETRY_STREAM,
            combine(live.req.id, u64::from(live.attempts)),
        );
        let review = RetryReview {
            id: live.req.id,
            attempts: live.attempts,
            model_attempts: live.model_attempts,
            last_backoff: live.last_backoff,
            time_left,
            error,
        };
        let mut ticket = live.ticket;
        let pipeline = &mut self.replicas[live.replica].pipeline;
        let decision = pipeline.after_failure(now, &review, &mut rng, &mut ticket);
        self.live[key].ticket = ticket;
        match decision {
            Decision::Retry(wait) => {
                let live = &mut self.live[key];
                live.last_backoff = wait;
                let id = live.req.id;
                self.push_timer(now + wait, key, id, TimerKind::Retry);
            }
            Decision::GiveUp(gave_up) => {
                if !self.try_fallback(key, now, Some(error.kind), false) {
                    let end = EndReason::Error {
                        last: error.kind,
                        gave_up,
                    };
                    self.finish(key, now, Ending::unanswered(end));
                }
            }
        }
    }
}
