//! Backends: where attempts go. One trait, several transports.
//!
//! - [`sim::SimBackend`] calls the mock's behaviour model in-process (virtual time).
//! - [`gemini::GeminiBackend`] speaks Gemini's REST API over HTTP (the live mock or the real
//!   service).
//!
//! Every backend reports an attempt the same way ([`AttemptResult`]), and classifies failures
//! the same way ([`ErrorKind`]), so the engine and the strategies never see transport types.
//! The engine applies timeouts around [`Backend::call`]; a backend never needs its own.

pub mod api_key;
pub mod connect;
pub mod connections;
pub mod error_body;
pub mod gemini;
mod gemini_batch;
pub(crate) mod http;
pub mod models_api;
pub mod openai;
mod plain_http;
pub mod sim;
pub mod sse;

pub use api_key::ApiKey;
pub use plain_http::HttpVersion;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use stampede_mock::catalog::Billed;
use stampede_mock::errors::{ApiError, QuotaHint, Rejection};
pub use stampede_mock::profile::ServiceTier;
pub use stampede_mock::quota_kind::QuotaKind;
use tokio::time::Instant;

/// One attempt to send a planned request.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The planned request's id.
    pub request_id: u64,
    /// Attempt number, 1 for the first.
    pub number: u32,
    /// Model to call.
    pub model: Arc<str>,
    /// Prompt size in tokens.
    pub input_tokens: u32,
    /// Wanted answer size in tokens (sent as `maxOutputTokens`).
    pub output_tokens: u32,
    /// Prompt identity (equal keys give identical prompt text).
    pub prompt_key: u64,
    /// Whether to stream the answer.
    pub stream: bool,
    /// Key of the mock's random stream for this attempt (common random numbers).
    pub rng_key: u64,
    /// Tokens of the lane's shared system prompt, sent as `systemInstruction` before the prompt
    /// (0: none); the prompt is `system_prompt_tokens + input_tokens` in all.
    pub system_prompt_tokens: u32,
    /// Identity of the shared system prompt (equal keys give identical text).
    pub system_prompt_key: u64,
    /// The service tier to ask for.
    pub service_tier: ServiceTier,
    /// An explicit cache holding the system prompt (`cachedContent`): named instead of sending
    /// the prompt.
    pub cached_content: Option<Arc<str>>,
    /// The request's lane.
    pub lane: u8,
    /// A conversation's earlier turns, (message, answer) tokens each, sent before this turn's
    /// message (`input_tokens`); `None` outside conversations.
    pub history: Option<Arc<[(u32, u32)]>>,
    /// The conversation (sessions traffic), which keys the text of its turns.
    pub session: u32,
    /// Tokens of the document the prompt's first message starts with, in the same text part
    /// (0: none); counted in [`Attempt::prompt_tokens`].
    pub document_tokens: u32,
    /// Identity of the document (equal keys give identical text).
    pub document_key: u64,
    /// Shared prompt prefixes of a replayed trace: (block key, tokens to the block's end),
    /// sent as the prompt's leading parts so equal blocks are equal text.
    pub prefix: Option<Arc<[(u64, u32)]>>,
}

/// Keys of conversations' texts: this tag and the conversation (apart from prompt keys and the
/// lanes' system prompts).
const SESSION_KEY: u64 = 0x1000_0000_0000_0000;

impl Attempt {
    /// The key of the text of turn `j` (from 1) of the attempt's conversation: its message
    /// (`answer` false) or its answer.
    pub fn turn_key(&self, j: usize, answer: bool) -> u64 {
        SESSION_KEY | (u64::from(self.session) << 20) | ((j as u64) << 1) | u64::from(answer)
    }

    /// A plain attempt for tests: request 1, first attempt, `input` tokens keyed `prompt_key`, a
    /// 10-token answer from gemini-3.5-flash, nothing shared.
    #[cfg(test)]
    pub(crate) fn example(input: u32, prompt_key: u64) -> Attempt {
        Attempt {
            request_id: 1,
            number: 1,
            model: "gemini-3.5-flash".into(),
            input_tokens: input,
            output_tokens: 10,
            prompt_key,
            stream: false,
            rng_key: 1,
            system_prompt_tokens: 0,
            system_prompt_key: 7,
            document_tokens: 0,
            document_key: 0,
            service_tier: ServiceTier::Standard,
            cached_content: None,
            lane: 0,
            history: None,
            session: 0,
            prefix: None,
        }
    }

    /// The prompt's tokens without the system prompt: the document, the history and this
    /// turn's message.
    pub fn prompt_tokens(&self) -> u64 {
        let history: u64 = self
            .history
            .iter()
            .flat_map(|h| h.iter())
            .map(|&(m, a)| u64::from(m) + u64::from(a))
            .sum();
        u64::from(self.document_tokens) + history + u64::from(self.input_tokens)
    }
}

/// Tokens as the API counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens.
    pub input: u64,
    /// Answer tokens.
    pub output: u64,
    /// Thinking tokens (billed as output).
    pub thinking: u64,
    /// Of the prompt tokens, those served from a context cache (`cachedContentTokenCount`).
    #[serde(default)]
    pub cached: u64,
    /// The service tier that served the answer (an answer of several sums keeps the first's).
    #[serde(default)]
    pub service_tier: ServiceTier,
    /// Answered through the Batch API (billed at the batch price).
    #[serde(default)]
    pub batch: bool,
}

impl Tokens {
    /// Adds another count.
    pub fn add(&mut self, other: Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.thinking += other.thinking;
        self.cached += other.cached;
    }

    /// The counts as they are billed.
    pub fn billed(&self) -> Billed {
        Billed {
            prompt: self.input,
            cached: self.cached,
            output: self.output,
            thinking: self.thinking,
        }
    }
}

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// An HTTP error status.
    Status(u16),
    /// The connection failed, was reset, or the body was cut short.
    Transport,
    /// The per-attempt timeout or the total deadline fired.
    Timeout,
    /// A 200 whose body was not valid JSON.
    Decode,
    /// A stream that ended without `finishReason` or sent an error event after some chunks.
    Stream,
    /// A Batch API job ended without an answer for the request (expired, cancelled, failed).
    Batch,
}

impl ErrorKind {
    /// A short stable label: `429`, `503`, `transport`, `timeout`, `decode`, `stream`.
    pub fn label(self) -> String {
        match self {
            ErrorKind::Status(s) => s.to_string(),
            ErrorKind::Transport => "transport".into(),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Decode => "decode".into(),
            ErrorKind::Stream => "stream".into(),
            ErrorKind::Batch => "batch".into(),
        }
    }
}

/// A failed attempt, with what the server said about retrying.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    /// The failure class.
    pub kind: ErrorKind,
    /// RetryInfo `retryDelay` or `Retry-After`, when the server sent one.
    pub retry_delay: Option<Duration>,
    /// Whether the 429 names a per-day quota (or the monthly spend cap).
    pub per_day: bool,
    /// What refused it, for a 429 (read from the body's quota id and description).
    pub refused_by: Option<QuotaKind>,
    /// A `transport` failure before any connection was made (refused, unreachable): nothing
    /// reached the server. Clients tell it apart: google-genai retries it (httpx
    /// `ConnectError`) but not a connection lost after the request went out.
    pub connect: bool,
}

impl AttemptError {
    /// A failure without server hints.
    pub fn new(kind: ErrorKind) -> AttemptError {
        AttemptError {
            kind,
            retry_delay: None,
            per_day: false,
            refused_by: None,
            connect: false,
        }
    }

    /// A connection that could not be made: a `transport` failure before the request left.
    pub fn connect_failed() -> AttemptError {
        AttemptError {
            connect: true,
            ..AttemptError::new(ErrorKind::Transport)
        }
    }

    /// A failure from a Gemini error body.
    pub fn from_api(status: u16, error: &ApiError) -> AttemptError {
        AttemptError::from_hint(status, &QuotaHint::from_error(error))
    }

    /// A failure from the mock model's refusal, read as a client reads its body.
    pub fn from_rejection(rejection: &Rejection) -> AttemptError {
        AttemptError::from_hint(rejection.status(), &rejection.hint())
    }

    fn from_hint(status: u16, hint: &QuotaHint) -> AttemptError {
        AttemptError {
            kind: ErrorKind::Status(status),
            retry_delay: hint.retry_delay,
            per_day: hint.is_per_day(),
            refused_by: (status == 429).then(|| hint.kind()),
            connect: false,
        }
    }
}

/// Stream timing of one attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Chunks received.
    pub chunks: u32,
    /// The gaps between consecutive chunks (inter-chunk latency).
    pub gaps: Vec<Duration>,
    /// Output tokens the API counted after the first chunk (from its cumulative counts; one
    /// chunk is not one token), and the time from the first chunk to the last: the decode
    /// speed. `None` with a single chunk.
    pub decode: Option<(u64, Duration)>,
}

impl StreamStats {
    /// Adds a chunk that arrived `gap` after the previous one (`None` for the first).
    pub fn chunk(&mut self, gap: Option<Duration>) {
        self.chunks += 1;
        if let Some(g) = gap {
            self.gaps.push(g);
        }
    }

    /// Time per output token after the first chunk (`None` when it cannot be told).
    pub fn time_per_output_token(&self) -> Option<Duration> {
        let (tokens, span) = self.decode?;
        (tokens > 0 && !span.is_zero()).then(|| span / tokens.min(u64::from(u32::MAX)) as u32)
    }
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    /// Tokens on success, the failure otherwise.
    pub outcome: Result<Tokens, AttemptError>,
    /// When the first token (stream) or the whole answer (unary) arrived.
    pub first_byte: Option<Instant>,
    /// Stream timing, for streamed attempts.
    pub stream: Option<StreamStats>,
    /// For an attempt answered through the Batch API: its job's turnaround (submit to result).
    pub batch_turnaround: Option<Duration>,
}

/// A batch job as a poll finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchPoll {
    /// Pending or running.
    Waiting,
    /// Succeeded: one result per request, in the order they were submitted.
    Done(Vec<Result<Tokens, AttemptError>>),
    /// Ended without results (failed, cancelled, expired): the state's name.
    Ended(String),
}

impl AttemptResult {
    /// A success.
    pub fn ok(tokens: Tokens, first_byte: Instant, stream: Option<StreamStats>) -> AttemptResult {
        AttemptResult {
            outcome: Ok(tokens),
            first_byte: Some(first_byte),
            stream,
            batch_turnaround: None,
        }
    }

    /// A failure.
    pub fn failed(error: AttemptError) -> AttemptResult {
        AttemptResult {
            outcome: Err(error),
            first_byte: None,
            stream: None,
            batch_turnaround: None,
        }
    }
}

/// An explicit context cache to make: a lane's shared system prompt for one model.
#[derive(Debug, Clone)]
pub struct CacheRequest {
    /// The model it is for.
    pub model: Arc<str>,
    /// Tokens of the system prompt.
    pub tokens: u32,
    /// Identity of the system prompt's text.
    pub key: u64,
    /// How long the cache lives.
    pub ttl: Duration,
}

/// Something that carries out attempts.
pub trait Backend: Send + Sync + 'static {
    /// Sends one attempt; resolves when it has succeeded or failed. May never resolve (a hung
    /// server): the engine's timeouts end it.
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult>;

    /// Makes an explicit context cache and returns its name (`cachedContents/…`); targets
    /// without explicit caches say so.
    fn create_cache(&self, _request: CacheRequest) -> BoxFuture<'static, Result<Arc<str>, String>> {
        Box::pin(async { Err("this target has no explicit context caches".to_string()) })
    }

    /// Submits `attempts` (all for `model`) as one Batch API job; returns its name.
    fn submit_batch(
        &self,
        _model: Arc<str>,
        _attempts: Vec<Attempt>,
    ) -> BoxFuture<'static, Result<String, AttemptError>> {
        Box::pin(async { Err(AttemptError::new(ErrorKind::Status(501))) })
    }

    /// Reads a Batch API job.
    fn poll_batch(&self, _name: String) -> BoxFuture<'static, Result<BatchPoll, AttemptError>> {
        Box::pin(async { Err(AttemptError::new(ErrorKind::Status(501))) })
    }
}
