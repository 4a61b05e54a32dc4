//! The records a run produces: the seam between the engine and everything after it.
//!
//! One [`RequestRecord`] per scheduled request (exactly one: succeeded, failed or dropped), one
//! [`AttemptRecord`] per attempt sent, and one [`SecondSample`] of the engine's gauges per
//! second of the run. Times are offsets from the run's start. Metrics, reports, the planner and
//! compare consume these and never engine internals.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::{ErrorKind, StreamStats, Tokens};
use crate::strategy::retry::GiveUp;

/// The three ways a scheduled request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// An answer was received.
    Succeeded,
    /// At least one attempt was sent and none succeeded.
    Failed,
    /// No attempt was ever sent (shed by the client).
    Dropped,
}

/// Why a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Answered: the request got its answer (from upstream, the cache, a twin or a fallback).
    Ok,
    /// Failed: the last attempt's error and why retrying stopped.
    Error {
        /// The last attempt's failure.
        last: ErrorKind,
        /// Why no further attempt was made.
        gave_up: GiveUp,
    },
    /// The queue was full when it arrived.
    QueueFull,
    /// Its total deadline (or the queue deadline) passed while it waited in the queue.
    QueueDeadline,
    /// Dropped from a full queue to make room for a newer request (`drop-oldest`).
    QueueEvicted,
    /// Dropped locally by client-side adaptive throttling.
    Throttled,
    /// The model's circuit breaker was open and nothing had been sent.
    BreakerOpen,
    /// The run was stopped (interrupt, spend cap) before it was sent.
    Stopped,
}

/// How an answered request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Served {
    /// By the model it was sent to.
    #[default]
    Upstream,
    /// From the response cache.
    Cache,
    /// By joining an identical request in flight.
    Coalesced,
    /// By the fallback model.
    Fallback,
    /// With a degraded answer, without the model.
    Degraded,
}

impl Served {
    /// The label used in breakdowns.
    pub fn label(self) -> &'static str {
        match self {
            Served::Upstream => "upstream",
            Served::Cache => "cache",
            Served::Coalesced => "coalesced",
            Served::Fallback => "fallback",
            Served::Degraded => "degraded",
        }
    }
}

impl EndReason {
    /// The outcome this reason belongs to.
    pub fn outcome(self) -> Outcome {
        match self {
            EndReason::Ok => Outcome::Succeeded,
            EndReason::Error { .. } => Outcome::Failed,
            EndReason::QueueFull
            | EndReason::QueueDeadline
            | EndReason::QueueEvicted
            | EndReason::Throttled
            | EndReason::BreakerOpen
            | EndReason::Stopped => Outcome::Dropped,
        }
    }

    /// A stable label for breakdown tables: `429`, `timeout`, `queue_full`...
    pub fn label(self) -> String {
        match self {
            EndReason::Ok => "ok".into(),
            EndReason::Error { last, .. } => last.label(),
            EndReason::QueueFull => "queue_full".into(),
            EndReason::QueueDeadline => "queue_deadline".into(),
            EndReason::QueueEvicted => "queue_evicted".into(),
            EndReason::Throttled => "throttled".into(),
            EndReason::BreakerOpen => "breaker_open".into(),
            EndReason::Stopped => "stopped".into(),
        }
    }
}

/// The life of one scheduled request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Planned request id.
    pub id: u64,
    /// The client replica that handled it (0 with one replica).
    #[serde(default)]
    pub replica: u16,
    /// Lane index.
    pub lane: u8,
    /// Model index.
    pub model: u8,
    /// Intended start.
    pub intended: Duration,
    /// When the engine actually took it in (intended + scheduling lag).
    pub arrived: Duration,
    /// When its first attempt was sent, if ever.
    pub dispatched: Option<Duration>,
    /// When the first token of the successful attempt arrived.
    pub first_byte: Option<Duration>,
    /// When it ended.
    pub ended: Duration,
    /// How it ended.
    pub end: EndReason,
    /// Attempts sent.
    pub attempts: u32,
    /// Tokens of the successful attempt, as the API counted them.
    pub tokens: Tokens,
    /// Planned prompt size (the lane's system prompt included).
    pub planned_input: u32,
    /// Planned answer size.
    pub planned_output: u32,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// How it was answered (for answered requests).
    pub served: Served,
    /// Retries sent (attempts after the first on the same model; hedges and the first attempt
    /// on the fallback model not counted).
    pub retries: u32,
    /// Whether a hedge was sent for it.
    pub hedged: bool,
    /// Prompt identity.
    pub prompt_key: u64,
    /// Its turn in a conversation (1 for the first; 0 outside conversations).
    #[serde(default)]
    pub turn: u16,
}

impl RequestRecord {
    /// End-to-end latency from the intended start.
    pub fn latency(&self) -> Duration {
        self.ended.saturating_sub(self.intended)
    }
}

/// One attempt sent to the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Planned request id.
    pub request_id: u64,
    /// The client replica that sent it.
    #[serde(default)]
    pub replica: u16,
    /// Attempt number, 1 for the first.
    pub number: u32,
    /// Lane index.
    pub lane: u8,
    /// Model index.
    pub model: u8,
    /// When it was sent.
    pub sent: Duration,
    /// When it ended.
    pub ended: Duration,
    /// When its first token arrived.
    pub first_byte: Option<Duration>,
    /// Tokens on success, the failure otherwise.
    pub result: Result<Tokens, ErrorKind>,
    /// The server's retry delay, if it sent one.
    pub retry_delay: Option<Duration>,
    /// A hedge (a second copy of an attempt still running).
    pub hedge: bool,
    /// A retry: not the request's first attempt on this model, and not a hedge.
    pub retry: bool,
    /// Cancelled because another attempt of the request answered first.
    pub cancelled: bool,
    /// Sent to the fallback model.
    pub fallback: bool,
    /// The request's planned prompt size (what the attempt sent).
    pub input_tokens: u32,
    /// The service tier the attempt asked for.
    #[serde(default)]
    pub requested_tier: crate::backend::ServiceTier,
    /// What refused it, for a 429 (by the body: RPD, monthly cap, spend limit, RPM, TPM).
    #[serde(default)]
    pub refused_by: Option<crate::backend::QuotaKind>,
    /// Answered through the Batch API: its job's turnaround (submit to result).
    #[serde(default)]
    pub batch_turnaround: Option<Duration>,
    /// Stream timing.
    #[serde(skip)]
    pub stream: Option<StreamStats>,
}

/// The engine's gauges over one second of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Second index from the start.
    pub second: u64,
    /// The client replica whose gauges these are.
    #[serde(default)]
    pub replica: u16,
    /// Requests queued at the end of the second.
    pub queue_end: u32,
    /// Most requests queued during the second.
    pub queue_max: u32,
    /// Attempts in flight at the end of the second.
    pub inflight_end: u32,
    /// Most attempts in flight during the second.
    pub inflight_max: u32,
    /// Workers busy at the end of the second (in flight or waiting to retry).
    pub busy_end: u32,
    /// The concurrency limit at the end of the second.
    pub limit_end: u32,
    /// Models whose circuit breaker was open or half-open at the end of the second.
    pub breakers_open: u32,
    /// Batch API jobs in flight at the end of the second.
    #[serde(default)]
    pub batch_jobs_end: u32,
}

/// Where records go.
pub trait RecordSink {
    /// An attempt ended.
    fn attempt(&mut self, record: &AttemptRecord);
    /// A request ended.
    fn request(&mut self, record: &RequestRecord);
    /// A second of the run ended.
    fn second(&mut self, sample: &SecondSample);
}

/// A sink that keeps every record in memory (tests, small runs, request logs).
#[derive(Debug, Default, Clone)]
pub struct Collected {
    /// Request records in the order they ended.
    pub requests: Vec<RequestRecord>,
    /// Attempt records in the order they ended.
    pub attempts: Vec<AttemptRecord>,
    /// Gauge samples in order.
    pub seconds: Vec<SecondSample>,
}

impl RecordSink for Collected {
    fn attempt(&mut self, record: &AttemptRecord) {
        self.attempts.push(record.clone());
    }
    fn request(&mut self, record: &RequestRecord) {
        self.requests.push(record.clone());
    }
    fn second(&mut self, sample: &SecondSample) {
        self.seconds.push(*sample);
    }
}

/// Sends every record to two sinks.
pub struct Tee<'a, A: RecordSink, B: RecordSink>(pub &'a mut A, pub &'a mut B);

impl<A: RecordSink, B: RecordSink> RecordSink for Tee<'_, A, B> {
    fn attempt(&mut self, record: &AttemptRecord) {
        self.0.attempt(record);
        self.1.attempt(record);
    }
    fn request(&mut self, record: &RequestRecord) {
        self.0.request(record);
        self.1.request(record);
    }
    fn second(&mut self, sample: &SecondSample) {
        self.0.second(sample);
        self.1.second(sample);
    }
}
