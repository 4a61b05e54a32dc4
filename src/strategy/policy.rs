//! The phases of the calling plan and the one trait its policies implement.
//!
//! The engine calls the pipeline by *phase* — admit a request, pace and allow an attempt,
//! observe its end, review a retry, rescue a request given up on — and each policy implements
//! [`Policy`] for the phases it cares about; every phase has a do-nothing default. The types
//! here are what each phase sees. Policies depend on this file only, never on the pipeline
//! that assembles them.

use std::time::Duration;

use tokio::time::Instant;

use super::retry::Decision;
use crate::backend::{AttemptError, ErrorKind, Tokens};

/// A request arriving, as the admit phase sees it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// The request's id in the traffic (keys its random draws).
    pub id: u64,
    /// The engine's handle for the request while it is live (for dedup's leaders).
    pub key: usize,
    /// Prompt identity and model index: requests with the same one get the same answer.
    pub prompt: (u64, u8),
}

/// What the admit phase decides for a new request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// On to the queue.
    Pass,
    /// Answered at once with these tokens (a cache hit).
    Answer(Tokens),
    /// Wait for the live request with this key, which asks the same thing (dedup).
    Join(usize),
    /// Ended here, unsent (client-side throttling).
    Refuse,
}

/// An attempt about to go out, as the pace phase sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing {
    /// Model index.
    pub model: u8,
    /// Lane index.
    pub lane: u8,
    /// Input tokens the attempt carries (token-per-minute limits).
    pub input_tokens: u32,
}

/// An attempt that ended, as the observe phase sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// The model it went to.
    pub model: u8,
    /// Its error, or `None` for an answer.
    pub error: Option<ErrorKind>,
    /// Sent to ended.
    pub took: Duration,
    /// Attempts in flight when it ended.
    pub running: usize,
    /// Retries its request has sent so far.
    pub retries: u32,
    /// What its request's retries have cost the budget so far.
    pub budget_paid: f64,
}

/// A failed request's retry under review.
#[derive(Debug, Clone, Copy)]
pub struct RetryReview<'a> {
    /// The request's id in the traffic.
    pub id: u64,
    /// Attempts sent so far, hedges included.
    pub attempts: u32,
    /// Attempts on the current model, hedges not counted (what the retry rule counts).
    pub model_attempts: u32,
    /// The last backoff waited (decorrelated jitter grows from it).
    pub last_backoff: Duration,
    /// Time left before the request's deadline.
    pub time_left: Duration,
    /// The failure that calls for the retry.
    pub error: &'a AttemptError,
}

/// Per-request state the policies keep on the request itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ticket {
    /// What the request's retries have taken from the retry budget (refunded on success).
    pub budget_paid: f64,
}

/// What rescues a request that its retries gave up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescue {
    /// Send it again to this model (index into the run's models).
    Model(u8),
    /// Answer it with a degraded answer, counted as a success.
    Degraded,
}

/// One policy of the calling plan, by phase. Every phase defaults to "no opinion".
pub trait Policy: Send {
    /// Admit: a new request arrives.
    fn admit(&mut self, _now: Instant, _arrival: &Arrival) -> Admission {
        Admission::Pass
    }

    /// Admit: the request was queued (dedup makes it the leader of its prompt).
    fn on_queued(&mut self, _arrival: &Arrival) {}

    /// The request with `key` ended, whatever its end.
    fn on_finished(&mut self, _key: usize, _prompt: (u64, u8)) {}

    /// Pace: the earliest instant the attempt may go.
    fn ready_at(&mut self, now: Instant, _attempt: &Outgoing) -> Instant {
        now
    }

    /// Pace: the attempt goes now; take what it costs.
    fn take(&mut self, _now: Instant, _attempt: &Outgoing) {}

    /// Allow: whether an attempt to `model` may start now.
    fn allow(&mut self, _now: Instant, _model: u8) -> bool {
        true
    }

    /// A request's first attempt goes out.
    fn on_first_attempt(&mut self, _now: Instant) {}

    /// Observe: an attempt ended.
    fn observe(&mut self, _now: Instant, _seen: &Observation) {}

    /// Review: every attempt failed and the decision so far is `decision`; a policy may keep it
    /// or refuse the retry.
    fn review(
        &mut self,
        _now: Instant,
        _retry: &RetryReview<'_>,
        decision: Decision,
        _ticket: &mut Ticket,
    ) -> Decision {
        decision
    }

    /// Rescue: the request was given up on (`last` failure; `breaker_open` when a breaker
    /// refused it).
    fn rescue(&self, _last: Option<ErrorKind>, _breaker_open: bool) -> Option<Rescue> {
        None
    }

    /// An answer came from upstream (or the fallback model) for `prompt`.
    fn on_answer(&mut self, _now: Instant, _prompt: (u64, u8), _tokens: Tokens) {}

    /// The most requests this policy lets be worked on at once.
    fn limit(&self) -> Option<usize> {
        None
    }

    /// How long after an attempt a hedge goes, when hedging.
    fn hedge_delay(&self) -> Option<Duration> {
        None
    }

    /// Breakers not closed at `now`.
    fn open_breakers(&mut self, _now: Instant) -> u32 {
        0
    }
}
