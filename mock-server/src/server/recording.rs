//! `stampede mock --record FILE`: each generate request the mock decided, as a line of
//! stampede's trace format ([`crate::record`]) with what the mock did: status, the quota a 429
//! named, the time to the first chunk and to the whole answer as planned, tokens.
//!
//! Requests the mock could not read (400, 403, 404) are not recorded: they cannot be replayed.

use axum::http::HeaderMap;
use tokio::time::Instant;

use crate::errors::QuotaHint;
use crate::model::Answer;
use crate::record::{label, PromptShape, Ticket, TraceLine, LANE_HEADER, SESSION_HEADER};

/// What one request was, as the handler saw it.
pub(super) struct Seen<'a> {
    /// When the handler began.
    pub start: Instant,
    /// `gemini` or `openai`.
    pub api: &'static str,
    /// The model called.
    pub model: &'a str,
    /// The request's headers (lane and session labels).
    pub headers: &'a HeaderMap,
    /// Whether the answer streams.
    pub stream: bool,
    /// Prompt tokens as counted.
    pub input_tokens: u64,
    /// `maxOutputTokens`.
    pub max_output_tokens: Option<u32>,
    /// The tier asked for.
    pub service_tier: Option<&'a str>,
}

/// Writes the line of one decided request.
pub(super) fn record(ticket: Ticket, seen: Seen<'_>, shape: PromptShape, answer: &Answer) {
    let now = Instant::now();
    let ms = |at: Instant| at.saturating_duration_since(seen.start).as_secs_f64() * 1e3;
    let mut line = TraceLine {
        input_tokens: u32::try_from(seen.input_tokens).unwrap_or(u32::MAX),
        model: Some(seen.model.to_string()),
        stream: Some(seen.stream),
        lane: label(seen.headers, LANE_HEADER),
        session: label(seen.headers, SESSION_HEADER).map(serde_json::Value::String),
        service_tier: seen.service_tier.map(String::from),
        max_output_tokens: seen.max_output_tokens,
        api: Some(seen.api.to_string()),
        ..TraceLine::default()
    };
    shape.fill(&mut line);
    match answer {
        Answer::Error(e) => {
            let hint = QuotaHint::from_error(&e.to_api_error());
            line.status = Some(e.status());
            line.latency_ms = Some(ms(now));
            line.retry_delay_s = hint.retry_delay.map(|d| d.as_secs_f64());
            line.quota_id = hint.quota_id;
            line.quota_value = hint.quota_value;
        }
        Answer::Serve(g) => {
            line.status = Some(200);
            line.input_tokens = u32::try_from(g.usage.prompt).unwrap_or(u32::MAX);
            line.output_tokens = u32::try_from(g.usage.candidates).unwrap_or(u32::MAX);
            line.thinking_tokens = Some(g.usage.thoughts);
            line.cached_tokens = Some(g.usage.cached);
            line.finish = serde_json::to_value(g.finish)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            line.served_tier = Some(g.service_tier.as_str().to_string());
            line.fault = g.fault.map(|f| format!("{f:?}").to_lowercase());
            if seen.stream {
                line.ttft_ms = Some(ms(g.first_chunk_at()));
                line.first_chunk_tokens = Some(g.tokens_after(0));
            }
            line.latency_ms = Some(ms(g.done_at()));
        }
    }
    ticket.write(line);
}
