//! Gemini over HTTP (reqwest with rustls): the live mock, a proxy, or the real service.
//!
//! Sends real `generateContent` / `streamGenerateContent?alt=sse` requests with a prompt
//! synthesised to the planned size and `maxOutputTokens` set, and reads `usageMetadata` and
//! Gemini's error bodies. The API key travels only in the `x-goog-api-key` header; it is held
//! in an [`ApiKey`] whose `Debug` is redacted and is never logged or written.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use stampede_mock::errors::{ApiError, ErrorEnvelope};
use stampede_mock::tokens::synth_text;
use stampede_mock::wire::{Content, GenerateContentRequest, GenerateContentResponse, GenerationConfig, Part};
use tokio::time::Instant;

use super::{Attempt, AttemptError, AttemptResult, Backend, ErrorKind, StreamStats, Tokens};

/// An API key that never shows itself.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Settings of the HTTP backend.
#[derive(Debug, Clone)]
pub struct GeminiOptions {
    /// Base URL without a trailing slash, such as `https://generativelanguage.googleapis.com`.
    pub base_url: String,
    /// API key.
    pub key: ApiKey,
    /// Connections kept per host (the worker count).
    pub pool: usize,
    /// Send `x-stampede-*` hints (wanted answer length, random key): only to the mock.
    pub send_hints: bool,
}

/// The Gemini HTTP backend.
#[derive(Debug, Clone)]
pub struct GeminiBackend {
    client: reqwest::Client,
    options: std::sync::Arc<GeminiOptions>,
}

impl GeminiBackend {
    /// A backend with its own connection pool.
    pub fn new(options: GeminiOptions) -> anyhow::Result<GeminiBackend> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(options.pool.max(1))
            .tcp_nodelay(true)
            .user_agent(concat!("stampede/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(GeminiBackend {
            client,
            options: std::sync::Arc::new(options),
        })
    }
}

fn request_body(a: &Attempt) -> GenerateContentRequest {
    GenerateContentRequest {
        contents: vec![Content {
            role: Some("user".into()),
            parts: vec![Part::text(synth_text(u64::from(a.input_tokens), a.prompt_key))],
        }],
        generation_config: Some(GenerationConfig {
            max_output_tokens: Some(a.output_tokens),
            ..GenerationConfig::default()
        }),
        ..GenerateContentRequest::default()
    }
}

/// Reads a `Retry-After` header given in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Classifies an error response from its status and body (Gemini's envelope, or the array the
/// OpenAI-compatible endpoint wraps it in).
pub fn classify_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> AttemptError {
    let api: Option<ApiError> = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .or_else(|_| {
            serde_json::from_slice::<Vec<ErrorEnvelope>>(body)
                .map_err(|_| ())
                .and_then(|mut v| if v.is_empty() { Err(()) } else { Ok(v.remove(0).error) })
        })
        .ok();
    let mut err = match api {
        Some(api) => AttemptError::from_api(status.as_u16(), &api),
        None => AttemptError::new(ErrorKind::Status(status.as_u16())),
    };
    if err.retry_delay.is_none() {
        err.retry_delay = retry_after(headers);
    }
    err
}

fn tokens_of(r: &GenerateContentResponse) -> Tokens {
    let u = r.usage_metadata.clone().unwrap_or_default();
    Tokens {
        input: u.prompt_token_count,
        output: u.candidates_token_count.unwrap_or(0),
        thinking: u.thoughts_token_count.unwrap_or(0),
    }
}

impl Backend for GeminiBackend {
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult> {
        let client = self.client.clone();
        let options = self.options.clone();
        Box::pin(async move {
            let o = &options;
            let url = if attempt.stream {
                format!(
                    "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
                    o.base_url, attempt.model
                )
            } else {
                format!("{}/v1beta/models/{}:generateContent", o.base_url, attempt.model)
            };
            let mut req = client
                .post(url)
                .header(
                    "x-goog-api-key",
                    HeaderValue::from_str(&o.key.0).unwrap_or(HeaderValue::from_static("")),
                )
                .json(&request_body(&attempt));
            if o.send_hints {
                req = req
                    .header("x-stampede-output-tokens", attempt.output_tokens)
                    .header("x-stampede-rng-key", attempt.rng_key);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(_) => return AttemptResult::failed(AttemptError::new(ErrorKind::Transport)),
            };
            let status = resp.status();
            if !status.is_success() {
                let headers = resp.headers().clone();
                let body = resp.bytes().await.unwrap_or_default();
                return AttemptResult::failed(classify_error(status, &headers, &body));
            }
            if attempt.stream {
                read_stream(resp).await
            } else {
                read_unary(resp).await
            }
        })
    }
}

async fn read_unary(resp: reqwest::Response) -> AttemptResult {
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(_) => return AttemptResult::failed(AttemptError::new(ErrorKind::Transport)),
    };
    let arrived = Instant::now();
    match serde_json::from_slice::<GenerateContentResponse>(&body) {
        Ok(r) => AttemptResult::ok(tokens_of(&r), arrived, None),
        Err(_) => AttemptResult::failed(AttemptError::new(ErrorKind::Decode)),
    }
}

/// One parsed SSE event payload.
enum Event {
    Chunk(GenerateContentResponse),
    Error(AttemptError),
    Malformed,
}

fn parse_event(data: &str) -> Event {
    if let Ok(env) = serde_json::from_str::<ErrorEnvelope>(data) {
        let mut e = AttemptError::from_api(env.error.code, &env.error);
        e.kind = ErrorKind::Stream;
        return Event::Error(e);
    }
    match serde_json::from_str::<GenerateContentResponse>(data) {
        Ok(r) => Event::Chunk(r),
        Err(_) => Event::Malformed,
    }
}

/// Splits complete SSE events off the front of `buf` (LF or CRLF line endings).
fn take_events(buf: &mut String) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let normalized_end = buf.find("\n\n").map(|i| (i, 2));
        let crlf_end = buf.find("\r\n\r\n").map(|i| (i, 4));
        let end = match (normalized_end, crlf_end) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((i, sep)) = end else { break };
        let event: String = buf.drain(..i + sep).collect();
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        if !data.is_empty() {
            out.push(data.join("\n"));
        }
    }
    out
}

async fn read_stream(mut resp: reqwest::Response) -> AttemptResult {
    let mut buf = String::new();
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut stats = StreamStats::default();
    let mut tokens = Tokens::default();
    let mut finished = false;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(_) => {
                let kind = if stats.chunks == 0 {
                    ErrorKind::Transport
                } else {
                    ErrorKind::Stream
                };
                return AttemptResult::failed(AttemptError::new(kind));
            }
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        for data in take_events(&mut buf) {
            let now = Instant::now();
            match parse_event(&data) {
                Event::Chunk(r) => {
                    first.get_or_insert(now);
                    if let Some(prev) = last {
                        stats.max_gap = stats.max_gap.max(now - prev);
                    }
                    last = Some(now);
                    stats.chunks += 1;
                    tokens = tokens_of(&r);
                    finished |= r.candidates.iter().any(|c| c.finish_reason.is_some());
                }
                Event::Error(e) => return AttemptResult::failed(e),
                Event::Malformed => return AttemptResult::failed(AttemptError::new(ErrorKind::Decode)),
            }
        }
    }
    if !buf.trim().is_empty() && !finished {
        return AttemptResult::failed(AttemptError::new(ErrorKind::Decode));
    }
    match (finished, first) {
        (true, Some(first)) => AttemptResult::ok(tokens, first, Some(stats)),
        _ => AttemptResult::failed(AttemptError::new(ErrorKind::Stream)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_on_lf_and_crlf() {
        let mut buf = String::from("data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\n\ndata: {\"c\"");
        assert_eq!(take_events(&mut buf), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(buf, "data: {\"c\"");
    }

    #[test]
    fn error_bodies_in_both_envelopes() {
        let h = HeaderMap::new();
        let body = br#"{"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}"#;
        let e = classify_error(StatusCode::TOO_MANY_REQUESTS, &h, body);
        assert_eq!(e.kind, ErrorKind::Status(429));
        assert_eq!(e.retry_delay, Some(Duration::from_secs(7)));
        let arr = br#"[{"error": {"code": 503, "message": "m", "status": "UNAVAILABLE"}}]"#;
        assert_eq!(
            classify_error(StatusCode::SERVICE_UNAVAILABLE, &h, arr).kind,
            ErrorKind::Status(503)
        );
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let e = classify_error(StatusCode::TOO_MANY_REQUESTS, &h, b"not json");
        assert_eq!(e.retry_delay, Some(Duration::from_secs(3)));
    }

    #[test]
    fn key_is_redacted_in_debug() {
        let o = GeminiOptions {
            base_url: "x".into(),
            key: ApiKey::new("sekrit"),
            pool: 1,
            send_hints: false,
        };
        assert!(!format!("{o:?}").contains("sekrit"));
    }
}
