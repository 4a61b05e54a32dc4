//! What an attempt's end means: its record, feedback to the policies (breaker, concurrency
//! limit, adaptive rate, throttling, budget, hedging), and the decision — answer, wait for a
//! hedge's twin, retry, fall back, or give up.

use rand::RngExt;
use stampede_mock::rng::{combine, keyed_rng};
use tokio::time::Instant;

use super::admit::Ending;
use super::record::{AttemptRecord, EndReason, RecordSink, Served};
use super::{AttemptDone, Engine, Progress, TimerKind};
use crate::backend::{AttemptError, ErrorKind};
use crate::strategy::retry::{Decision, GiveUp};

/// Salt of the retry-jitter random streams.
const RETRY_STREAM: u64 = 0x7265_7472_795f_6a69;

/// Whether a failure counts against the breaker.
fn breaker_failure(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Status(s) => s == 429 || s >= 500,
        ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::Decode | ErrorKind::Stream => true,
    }
}

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
        self.running -= 1;
        let req = live.req;
        let fallback = live.fell_back && done.model != req.model;
        let took = done.ended.saturating_duration_since(done.sent);
        let error_kind = done.result.outcome.as_ref().err().map(|e| e.kind);
        let record = AttemptRecord {
            request_id: req.id,
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
            input_tokens: req.input_tokens,
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

    /// Tells every policy what the attempt showed.
    fn feedback(&mut self, done: &AttemptDone, error: Option<ErrorKind>, took: std::time::Duration, now: Instant) {
        let throttled = error == Some(ErrorKind::Status(429));
        let overloaded = error == Some(ErrorKind::Status(503));
        let p = &mut self.policies;
        if let Some(b) = p.breakers.get_mut(usize::from(done.model)) {
            b.record(now, error.is_some_and(breaker_failure), took);
        }
        p.concurrency.on_sample(
            took,
            self.running,
            throttled || overloaded || error == Some(ErrorKind::Timeout),
        );
        if let Some(a) = &mut p.adaptive_rate {
            a.on_response(now, throttled);
        }
        if let Some(t) = &mut p.throttle {
            if !(throttled || overloaded) {
                t.on_accept(now);
            }
        }
        let live = &self.live[done.key];
        if let Some(b) = &mut p.budget {
            b.on_result(error.is_none(), live.retries, live.budget_paid);
        }
        if error.is_none() {
            if let Some(h) = &mut p.hedger {
                h.observe(took);
            }
        }
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
        let decision =
            self.config
                .strategy
                .retry
                .decide(live.model_attempts, error, live.last_backoff, time_left, &mut rng);
        let decision = match (decision, &mut self.policies.budget) {
            (Decision::Retry(wait), Some(budget)) => {
                match budget.try_retry(now, error.kind == ErrorKind::Status(429)) {
                    Some(cost) => {
                        self.live[key].budget_paid += cost;
                        Decision::Retry(wait)
                    }
                    None => Decision::GiveUp(GiveUp::Budget),
                }
            }
            (d, _) => d,
        };
        // SRE throttling weighs every request the client would send, retries included.
        let decision = match (decision, &mut self.policies.throttle) {
            (Decision::Retry(wait), Some(throttle)) => {
                let p = throttle.drop_probability(now);
                throttle.on_request(now);
                let live = &self.live[key];
                let draw = combine(live.req.id, u64::from(live.attempts));
                let u: f64 = keyed_rng(self.config.seed ^ super::admit::THROTTLE_STREAM, draw).random();
                if u < p {
                    Decision::GiveUp(GiveUp::Throttled)
                } else {
                    Decision::Retry(wait)
                }
            }
            (d, _) => d,
        };
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
