//! The answer's body as it passes the proxy: forwarded chunk by chunk, unchanged, while the
//! tap notes when the first and last bytes passed and keeps the body's first and last 64 KiB,
//! enough to read the usage the answer reports (Gemini's `usageMetadata`, OpenAI's `usage`:
//! the last one of a stream), the first chunk's token count, why it finished, and an error
//! body's `retryDelay` and quota. The recording's line is written when the body ends, fails, or
//! the client goes away (the tap is dropped), so every forwarded request gets exactly one line.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use serde_json::Value;
use stampede_mock::errors::{ApiError, QuotaHint};
use stampede_mock::record::{Ticket, TraceLine};
use tokio::time::Instant;

use super::density::Densities;

/// Bytes kept from each end of a body.
const KEEP: usize = 64 << 10;

/// Which API an answer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Gemini's `generateContent` / `streamGenerateContent`.
    Gemini,
    /// OpenAI-compatible chat completions.
    OpenAi,
}

/// What the tap completes into a recording line.
pub struct Pending {
    /// The request's place in the recording.
    pub ticket: Ticket,
    /// Per-model density learned so far (estimates the prompt tokens of unanswered requests).
    pub densities: Arc<Densities>,
    /// The line with the request's fields filled in.
    pub line: TraceLine,
    /// When the proxy received the request.
    pub start: Instant,
    /// Which API.
    pub api: Api,
}

/// A response body that records what passed through it.
pub struct Tap<S> {
    inner: S,
    pending: Option<Pending>,
    first: Option<Instant>,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl<S> Tap<S> {
    /// Taps `inner`; `pending` is written when the body ends (with its status already set).
    pub fn new(inner: S, pending: Option<Pending>) -> Tap<S> {
        Tap {
            inner,
            pending,
            first: None,
            head: Vec::new(),
            tail: Vec::new(),
        }
    }

    fn keep(&mut self, chunk: &[u8]) {
        if self.first.is_none() {
            self.first = Some(Instant::now());
        }
        let room = KEEP.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 2 * KEEP {
            self.tail.drain(..self.tail.len() - KEEP);
        }
    }

    fn finish(&mut self, broken: Option<&'static str>) {
        let Some(p) = self.pending.take() else { return };
        let now = Instant::now();
        let ms = |at: Instant| at.saturating_duration_since(p.start).as_secs_f64() * 1e3;
        let mut line = p.line;
        line.latency_ms = Some(ms(now));
        if line.fault.is_none() {
            line.fault = broken.map(String::from);
        }
        if line.status == Some(200) {
            read_answer(&mut line, p.api, &self.head, &self.tail);
            if line.stream == Some(true) {
                line.ttft_ms = self.first.map(ms);
            }
            if let (Some(model), Some(chars)) = (&line.model, line.chars) {
                if line.output_tokens > 0 {
                    p.densities.learn(model, chars, u64::from(line.input_tokens));
                }
            }
        } else {
            read_error(&mut line, &self.head);
        }
        if line.status != Some(200) || line.output_tokens == 0 {
            // The upstream did not count this prompt: estimate it from the model's density so far.
            if let (Some(model), Some(chars)) = (&line.model, line.chars) {
                line.input_tokens = u32::try_from(p.densities.estimate(model, chars)).unwrap_or(u32::MAX);
            }
        }
        line.scale_prefix_to_input();
        p.ticket.write(line);
    }
}

impl<S, E> Stream for Tap<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                if self.pending.is_some() {
                    let chunk = chunk.clone();
                    self.keep(&chunk);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(Some("upstream-cut")),
            Poll::Ready(None) => self.finish(None),
            Poll::Pending => {}
        }
        next
    }
}

impl<S> Drop for Tap<S> {
    fn drop(&mut self) {
        self.finish(Some("client-closed"));
    }
}

/// The JSON value that follows the last (or first) `"key":` in `bytes`.
fn value_after(bytes: &[u8], key: &str, last: bool) -> Option<Value> {
    let needle = format!("\"{key}\"");
    let n = needle.as_bytes();
    let mut at = None;
    for i in 0..bytes.len().saturating_sub(n.len() - 1) {
        if &bytes[i..i + n.len()] == n {
            at = Some(i);
            if !last {
                break;
            }
        }
    }
    let rest = &bytes[at? + n.len()..];
    let colon = rest.iter().position(|b| *b == b':')?;
    serde_json::Deserializer::from_slice(&rest[colon + 1..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

fn count(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// Usage, finish reason and the first chunk's tokens of an answer.
fn read_answer(line: &mut TraceLine, api: Api, head: &[u8], tail: &[u8]) {
    match api {
        Api::Gemini => {
            if let Some(u) = value_after(tail, "usageMetadata", true) {
                line.input_tokens = count(&u, "promptTokenCount").map_or(line.input_tokens, clamp);
                line.output_tokens = count(&u, "candidatesTokenCount").map_or(0, clamp);
                line.thinking_tokens = count(&u, "thoughtsTokenCount").or(Some(0));
                line.cached_tokens = count(&u, "cachedContentTokenCount").or(Some(0));
            }
            line.finish = value_after(tail, "finishReason", true).and_then(|v| v.as_str().map(String::from));
            if line.stream == Some(true) {
                line.first_chunk_tokens = value_after(head, "candidatesTokenCount", false).and_then(|v| v.as_u64());
            }
        }
        Api::OpenAi => {
            if let Some(u) = value_after(tail, "usage", true).filter(Value::is_object) {
                line.input_tokens = count(&u, "prompt_tokens").map_or(line.input_tokens, clamp);
                line.output_tokens = count(&u, "completion_tokens").map_or(0, clamp);
                line.cached_tokens = u
                    .pointer("/prompt_tokens_details/cached_tokens")
                    .and_then(Value::as_u64);
                line.thinking_tokens = u
                    .pointer("/completion_tokens_details/reasoning_tokens")
                    .and_then(Value::as_u64);
            }
            line.finish = value_after(tail, "finish_reason", true).and_then(|v| v.as_str().map(String::from));
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `retryDelay` and the quota an error body names.
fn read_error(line: &mut TraceLine, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Ok(error) = serde_json::from_value::<ApiError>(v["error"].clone()) else {
        return;
    };
    let hint = QuotaHint::from_error(&error);
    line.retry_delay_s = hint.retry_delay.map(|d| d.as_secs_f64());
    line.quota_id = hint.quota_id;
    line.quota_value = hint.quota_value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_read_from_the_last_chunk_and_tokens_from_the_first() {
        let stream = br#"data: {"candidates":[{"content":{"parts":[{"text":"ab"}]}}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":16,"totalTokenCount":28}}

data: {"candidates":[{"content":{"parts":[{"text":"cd"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":40,"thoughtsTokenCount":5,"totalTokenCount":57}}

"#;
        let mut line = TraceLine {
            stream: Some(true),
            ..TraceLine::default()
        };
        read_answer(&mut line, Api::Gemini, stream, stream);
        assert_eq!((line.input_tokens, line.output_tokens), (12, 40));
        assert_eq!(line.thinking_tokens, Some(5));
        assert_eq!(line.first_chunk_tokens, Some(16));
        assert_eq!(line.finish.as_deref(), Some("STOP"));
        let openai = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        let mut line = TraceLine::default();
        read_answer(&mut line, Api::OpenAi, openai, openai);
        assert_eq!((line.input_tokens, line.output_tokens), (7, 3));
        assert_eq!(line.finish.as_deref(), Some("length"));
    }

    #[test]
    fn an_error_body_gives_its_quota_and_delay() {
        let body = br#"{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel","quotaValue":"600"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"13s"}]}}"#;
        let mut line = TraceLine::default();
        read_error(&mut line, body);
        assert_eq!(line.quota_value.as_deref(), Some("600"));
        assert_eq!(line.retry_delay_s, Some(13.0));
        assert!(line.quota_id.unwrap().contains("PerMinute"));
    }
}
