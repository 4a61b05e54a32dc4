//! OpenAI-compatible `chat/completions` over HTTP: Gemini's OpenAI-compatible endpoint, vLLM,
//! Ollama, OpenAI itself.
//!
//! Sends one user message synthesised to the planned prompt size with `max_tokens`, streamed
//! (`stream: true` with `stream_options.include_usage`) or not, and reads `usage`
//! (`prompt_tokens`, `completion_tokens`, and `completion_tokens_details.reasoning_tokens` as
//! thinking). The key travels only in the `Authorization: Bearer` header.

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use stampede_mock::tokens::TokenRule;
use tokio::time::Instant;

use super::http::{Reply, Transport};
use super::ApiKey;
use super::HttpVersion;
use super::{Attempt, AttemptError, AttemptResult, Backend, ErrorKind, StreamStats, Tokens};

/// Gemini's OpenAI-compatible endpoint.
pub const GEMINI_OPENAI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta/openai";

/// Settings of the OpenAI-compatible backend.
#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// Base URL up to and without `/chat/completions`, such as
    /// `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// API key (`None`: no `Authorization` header, for local servers that need none).
    pub key: Option<ApiKey>,
    /// Connections kept per host (the worker count).
    pub pool: usize,
    /// Send `x-stampede-*` hints: only to the mock.
    pub send_hints: bool,
    /// Where to record connection set-up timings.
    pub timings: Option<std::sync::Arc<super::connections::ConnectionTimings>>,
    /// The HTTP version of the lean path (plain `http://` servers; `https://` negotiates).
    pub http: HttpVersion,
    /// Characters per token of synthesised prompts, per model (the scenario's profile's).
    pub density: stampede_mock::tokens::TokenRules,
}

/// The OpenAI-compatible HTTP backend.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    transport: Transport,
    /// `Bearer <key>`, marked sensitive.
    authorization: Option<HeaderValue>,
    options: std::sync::Arc<OpenAiOptions>,
}

impl OpenAiBackend {
    /// A backend with its own connection pool.
    pub fn new(options: OpenAiOptions) -> anyhow::Result<OpenAiBackend> {
        let (_, transport) = Transport::new(&options.base_url, options.pool, options.http, options.timings.clone())?;
        let authorization = options.key.as_ref().map(|key| {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).unwrap_or(HeaderValue::from_static(""));
            v.set_sensitive(true);
            v
        });
        Ok(OpenAiBackend {
            transport,
            authorization,
            options: std::sync::Arc::new(options),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl Usage {
    fn tokens(&self) -> Tokens {
        let thinking = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        Tokens {
            input: self.prompt_tokens,
            output: self.completion_tokens.saturating_sub(thinking),
            thinking,
            ..Tokens::default()
        }
    }
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    finish_reason: Option<String>,
}

/// A whole answer or one streamed chunk.
#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// A streamed error event: `{"error": {...}}`.
#[derive(Debug, Deserialize)]
struct ErrorEvent {
    #[serde(rename = "error")]
    _error: serde::de::IgnoredAny,
}

impl Backend for OpenAiBackend {
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult> {
        let (transport, options) = (self.transport.clone(), self.options.clone());
        let authorization = self.authorization.clone();
        Box::pin(async move {
            let o = &options;
            let mut body = serde_json::json!({
                "model": &*attempt.model,
                "messages": messages(&attempt, o.density.of(&attempt.model)),
                "max_tokens": attempt.output_tokens,
            });
            if attempt.stream {
                body["stream"] = true.into();
                body["stream_options"] = serde_json::json!({"include_usage": true});
            }
            let mut headers = HeaderMap::with_capacity(8);
            if let Some(value) = authorization {
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
            let body = serde_json::to_vec(&body).unwrap_or_default().into();
            let post = ("/chat/completions", headers, body);
            super::http::exchange(&transport, post, &attempt, o.send_hints, read_stream, read_unary).await
        })
    }
}

fn read_unary(body: &[u8], arrived: Instant) -> AttemptResult {
    match serde_json::from_slice::<Completion>(body) {
        Ok(c) if !c.choices.is_empty() => AttemptResult::ok(c.usage.unwrap_or_default().tokens(), arrived, None),
        _ => AttemptResult::failed(AttemptError::new(ErrorKind::Decode)),
    }
}

async fn read_stream(mut resp: Reply) -> AttemptResult {
    let mut buf = String::new();
    // (arrival, cumulative completion tokens when the server reports them per chunk).
    let mut first: Option<(Instant, Option<u64>)> = None;
    let mut last: Option<Instant> = None;
    let mut stats = StreamStats::default();
    let mut tokens: Option<Tokens> = None;
    let (mut finished, mut done) = (false, false);
    while !done {
        let chunk = match super::http::next_piece(&mut resp, stats.chunks).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(failed) => return failed,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        for data in super::sse::take_events(&mut buf) {
            let now = Instant::now();
            if data.trim() == "[DONE]" {
                done = true;
                break;
            }
            if serde_json::from_str::<ErrorEvent>(&data).is_ok() {
                return AttemptResult::failed(AttemptError::new(ErrorKind::Stream));
            }
            let Ok(c) = serde_json::from_str::<Completion>(&data) else {
                return AttemptResult::failed(AttemptError::new(ErrorKind::Decode));
            };
            let counted = c.usage.as_ref().map(Usage::tokens);
            if let Some(t) = counted {
                tokens = Some(t);
            }
            finished |= c.choices.iter().any(|ch| ch.finish_reason.is_some());
            // A usage-only chunk (OpenAI's last, with no choices) carries no text.
            if c.choices.is_empty() {
                continue;
            }
            first.get_or_insert((now, counted.map(|t| t.output)));
            stats.chunk(last.map(|prev| now - prev));
            last = Some(now);
        }
    }
    let (Some((first_at, first_tokens)), Some(last), true, true) = (first, last, finished, done) else {
        return AttemptResult::failed(AttemptError::new(ErrorKind::Stream));
    };
    let tokens = tokens.unwrap_or_default();
    if stats.chunks > 1 {
        // Servers that count per chunk say how many tokens came with the first; otherwise
        // assume the chunks carried equal shares.
        let after_first = match first_tokens {
            Some(t) => tokens.output.saturating_sub(t),
            None => tokens.output - tokens.output / u64::from(stats.chunks),
        };
        stats.decode = Some((after_first, last - first_at));
    }
    AttemptResult::ok(tokens, first_at, Some(stats))
}

/// The chat messages of an attempt: the lane's shared system prompt (if any), then the prompt
/// (led by the lane's document, if any).
fn messages(a: &Attempt, rule: TokenRule) -> serde_json::Value {
    let synth_text = |tokens: u64, key: u64| rule.synth_text(tokens, key);
    let mut content = synth_text(u64::from(a.document_tokens), a.document_key);
    content.push_str(&synth_text(u64::from(a.input_tokens), a.prompt_key));
    let user = serde_json::json!({"role": "user", "content": content});
    if a.system_prompt_tokens == 0 {
        return serde_json::json!([user]);
    }
    let system = synth_text(u64::from(a.system_prompt_tokens), a.system_prompt_key);
    serde_json::json!([{"role": "system", "content": system}, user])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_tokens_are_thinking_not_output() {
        let c: Completion = serde_json::from_str(
            r#"{"choices": [{"finish_reason": "stop"}], "usage": {"prompt_tokens": 12, "completion_tokens": 50,
               "completion_tokens_details": {"reasoning_tokens": 30}}}"#,
        )
        .unwrap();
        let t = c.usage.unwrap().tokens();
        assert_eq!((t.input, t.output, t.thinking), (12, 20, 30));
        // OpenAI's closing usage-only chunk: no choices.
        let last: Completion =
            serde_json::from_str(r#"{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}"#).unwrap();
        assert!(last.choices.is_empty() && last.usage.is_some());
        assert!(serde_json::from_str::<ErrorEvent>(r#"{"error": {"message": "overloaded"}}"#).is_ok());
    }
}
