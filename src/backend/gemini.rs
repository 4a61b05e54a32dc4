//! Gemini over HTTP: the live mock, a proxy, or the real service (attempts over hyper's own
//! connections to `http://`, reqwest with rustls to `https://`; see `http::Transport`).
//!
//! Sends real `generateContent` / `streamGenerateContent?alt=sse` requests with a prompt
//! synthesised to the planned size and `maxOutputTokens` set, and reads `usageMetadata` and
//! Gemini's error bodies. The API key travels only in the `x-goog-api-key` header; it is held
//! in an [`ApiKey`] whose `Debug` is redacted and is never logged or written.

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue};
use stampede_mock::errors::ErrorEnvelope;
use stampede_mock::tokens::{TokenRule, TokenRules};
use stampede_mock::wire::{Content, GenerateContentRequest, GenerationConfig, Part, ThinkingConfig};
use tokio::time::Instant;

use super::api_key::ApiKey;
use super::http::{Reply, Transport};
use super::HttpVersion;
use super::{Attempt, AttemptError, AttemptResult, Backend, CacheRequest, ErrorKind, ServiceTier, StreamStats, Tokens};

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
    /// `thinkingConfig` to send (nothing asked: the model's default).
    pub thinking: stampede_mock::thinking::Thinking,
    /// Where to record connection set-up timings.
    pub timings: Option<std::sync::Arc<super::connections::ConnectionTimings>>,
    /// The HTTP version of the lean path (plain `http://` targets; `https://` negotiates).
    pub http: HttpVersion,
    /// Characters per token of synthesised prompts, per model (the scenario's profile's).
    pub density: TokenRules,
}

/// The Gemini HTTP backend.
#[derive(Debug, Clone)]
pub struct GeminiBackend {
    /// reqwest, for the Batch API and explicit caches (and attempts to `https://` targets).
    pub(super) client: reqwest::Client,
    /// Where attempts go.
    transport: Transport,
    /// The API key as a header value, marked sensitive.
    key: HeaderValue,
    pub(super) options: std::sync::Arc<GeminiOptions>,
}

impl GeminiBackend {
    /// `req` with the API key in the `x-goog-api-key` header (the only place it travels).
    pub(super) fn keyed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header(KEY_HEADER, self.key.clone())
    }

    /// A backend with its own connection pool.
    pub fn new(options: GeminiOptions) -> anyhow::Result<GeminiBackend> {
        let (client, transport) =
            Transport::new(&options.base_url, options.pool, options.http, options.timings.clone())?;
        let mut key = HeaderValue::from_str(options.key.expose()).unwrap_or(HeaderValue::from_static(""));
        key.set_sensitive(true);
        Ok(GeminiBackend {
            client,
            transport,
            key,
            options: std::sync::Arc::new(options),
        })
    }
}

/// The header that carries the API key.
const KEY_HEADER: &str = "x-goog-api-key";

/// The generateContent body of an attempt (also an inline request of a batch job).
pub(super) fn request_body(
    a: &Attempt,
    thinking: stampede_mock::thinking::Thinking,
    rule: TokenRule,
) -> GenerateContentRequest {
    let synth_text = |tokens: u64, key: u64| rule.synth_text(tokens, key);
    GenerateContentRequest {
        cached_content: a.cached_content.as_deref().map(String::from),
        system_instruction: (a.system_prompt_tokens > 0 && a.cached_content.is_none()).then(|| Content {
            role: None,
            parts: vec![Part::text(synth_text(
                u64::from(a.system_prompt_tokens),
                a.system_prompt_key,
            ))],
        }),
        service_tier: (a.service_tier != ServiceTier::Standard).then(|| a.service_tier.as_str().to_string()),
        contents: contents(a, rule),
        generation_config: Some(GenerationConfig {
            max_output_tokens: Some(a.output_tokens),
            thinking_config: ThinkingConfig::of(thinking),
            ..GenerationConfig::default()
        }),
        ..GenerateContentRequest::default()
    }
}

/// The conversation so far and this turn's message (see [`turns`]), the lane's document (if
/// any) leading the first message's text part.
fn contents(a: &Attempt, rule: TokenRule) -> Vec<Content> {
    let synth_text = |tokens: u64, key: u64| rule.synth_text(tokens, key);
    let mut out = turns(a, rule);
    if a.document_tokens > 0 {
        let document = synth_text(u64::from(a.document_tokens), a.document_key);
        match out.first_mut().and_then(|c| c.parts.first_mut()) {
            Some(Part { text: Some(t), .. }) => t.insert_str(0, &document),
            _ => out.insert(
                0,
                Content {
                    role: Some("user".into()),
                    parts: vec![Part::text(document)],
                },
            ),
        }
    }
    out
}

/// The conversation so far and this turn's message: for a conversation's turn k, the user and
/// model turns 1..k-1 (texts keyed by conversation and turn, so every turn resends identical
/// text) and message k; otherwise the one prompt.
fn turns(a: &Attempt, rule: TokenRule) -> Vec<Content> {
    let synth_text = |tokens: u64, key: u64| rule.synth_text(tokens, key);
    let turn = |role: &str, tokens: u32, key: u64| Content {
        role: Some(role.into()),
        parts: vec![Part::text(synth_text(u64::from(tokens), key))],
    };
    if let Some(prefix) = &a.prefix {
        // A trace's shared blocks, each its own part keyed by the block, then the rest.
        let mut out = Vec::with_capacity(prefix.len() + 1);
        let mut done = 0;
        for &(key, end) in prefix.iter() {
            out.push(turn("user", end.saturating_sub(done), key));
            done = end;
        }
        if a.input_tokens > done {
            out.push(turn("user", a.input_tokens - done, a.prompt_key));
        }
        return out;
    }
    let Some(history) = &a.history else {
        return vec![turn("user", a.input_tokens, a.prompt_key)];
    };
    let mut out = Vec::with_capacity(history.len() * 2 + 1);
    for (j, &(message, answer)) in history.iter().enumerate() {
        out.push(turn("user", message, a.turn_key(j + 1, false)));
        out.push(turn("model", answer, a.turn_key(j + 1, true)));
    }
    out.push(turn("user", a.input_tokens, a.turn_key(history.len() + 1, false)));
    out
}

/// What stampede reads of an answer or a streamed chunk: whether a candidate finished, and the
/// counts. The answer's text is skipped by the parser, never copied: on a fast target reading
/// it was a measurable share of the client's CPU.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Answer {
    #[serde(default)]
    candidates: Vec<CandidateEnd>,
    #[serde(default)]
    usage_metadata: Option<Counts>,
}

/// A candidate's finish reason, if it has one.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidateEnd {
    #[serde(default)]
    finish_reason: Option<serde::de::IgnoredAny>,
}

/// `usageMetadata`'s counts.
#[derive(Debug, Default, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl Answer {
    /// The tokens its `usageMetadata` counts.
    pub(super) fn tokens(&self) -> Tokens {
        let u = self.usage_metadata.unwrap_or_default();
        Tokens {
            input: u.prompt_token_count,
            output: u.candidates_token_count.unwrap_or(0),
            thinking: u.thoughts_token_count.unwrap_or(0),
            cached: u.cached_content_token_count.unwrap_or(0),
            service_tier: ServiceTier::Standard,
            batch: false,
        }
    }

    /// Whether a candidate says why it finished (the last chunk of a stream).
    fn finished(&self) -> bool {
        self.candidates.iter().any(|c| c.finish_reason.is_some())
    }
}

impl Backend for GeminiBackend {
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult> {
        let o = &self.options;
        let path = if attempt.stream {
            format!("/v1beta/models/{}:streamGenerateContent?alt=sse", attempt.model)
        } else {
            format!("/v1beta/models/{}:generateContent", attempt.model)
        };
        let (hints, transport, key) = (o.send_hints, self.transport.clone(), self.key.clone());
        let thinking = o.thinking;
        let rule = o.density.of(&attempt.model);
        // The body is written where the attempt runs (a runtime worker in live runs), not on
        // the engine's thread; sized for the prompt's text (a few characters a token) so it is
        // written once.
        Box::pin(async move {
            let tokens = attempt.prompt_tokens() + u64::from(attempt.system_prompt_tokens);
            let chars = rule.chars_for_tokens(tokens.min(1 << 24)) * 5 / 4;
            let mut body = Vec::with_capacity(256 + chars);
            let _ = serde_json::to_writer(&mut body, &request_body(&attempt, thinking, rule));
            let mut headers = HeaderMap::new();
            headers.insert(KEY_HEADER, key);
            let post = (path.as_str(), headers, body.into());
            super::http::exchange(&transport, post, &attempt, hints, read_stream, read_unary).await
        })
    }

    fn submit_batch(
        &self,
        model: std::sync::Arc<str>,
        attempts: Vec<Attempt>,
    ) -> BoxFuture<'static, Result<String, AttemptError>> {
        self.submit(model, attempts)
    }

    fn poll_batch(&self, name: String) -> BoxFuture<'static, Result<super::BatchPoll, AttemptError>> {
        self.poll(name)
    }

    fn create_cache(&self, r: CacheRequest) -> BoxFuture<'static, Result<std::sync::Arc<str>, String>> {
        let body = serde_json::json!({
            "model": format!("models/{}", r.model),
            "displayName": "stampede pinned prefix",
            "systemInstruction": {"parts": [{"text": self.options.density.of(&r.model).synth_text(u64::from(r.tokens), r.key)}]},
            "ttl": format!("{}s", r.ttl.as_secs().max(1)),
        });
        let url = format!("{}/v1beta/cachedContents", self.options.base_url);
        let req = self.keyed(self.client.post(url)).json(&body);
        Box::pin(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| format!("could not reach the target: {e}"))?;
            let status = resp.status();
            let v: serde_json::Value = resp.json().await.map_err(|e| format!("{status}: {e}"))?;
            match v.get("name").and_then(serde_json::Value::as_str) {
                Some(name) if status.is_success() => Ok(std::sync::Arc::from(name)),
                _ => Err(format!(
                    "{status}: {}",
                    v["error"]["message"].as_str().unwrap_or("no cache name in the answer")
                )),
            }
        })
    }
}

fn read_unary(body: &[u8], arrived: Instant) -> AttemptResult {
    match serde_json::from_slice::<Answer>(body) {
        Ok(r) => AttemptResult::ok(r.tokens(), arrived, None),
        Err(_) => AttemptResult::failed(AttemptError::new(ErrorKind::Decode)),
    }
}

/// One parsed SSE event payload.
enum Event {
    Chunk(Answer),
    Error(AttemptError),
    Malformed,
}

fn parse_event(data: &str) -> Event {
    if let Ok(env) = serde_json::from_str::<ErrorEnvelope>(data) {
        let mut e = AttemptError::from_api(env.error.code, &env.error);
        e.kind = ErrorKind::Stream;
        return Event::Error(e);
    }
    match serde_json::from_str::<Answer>(data) {
        Ok(r) => Event::Chunk(r),
        Err(_) => Event::Malformed,
    }
}

async fn read_stream(mut resp: Reply) -> AttemptResult {
    let mut buf = String::new();
    let mut first: Option<(Instant, u64)> = None;
    let mut last: Option<Instant> = None;
    let mut stats = StreamStats::default();
    let mut tokens = Tokens::default();
    let mut finished = false;
    loop {
        let chunk = match super::http::next_piece(&mut resp, stats.chunks).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(failed) => return failed,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        for data in super::sse::take_events(&mut buf) {
            let now = Instant::now();
            match parse_event(&data) {
                Event::Chunk(r) => {
                    tokens = r.tokens();
                    // candidatesTokenCount is cumulative: the first chunk's count is what
                    // arrived with the first token, the rest was decoded after it.
                    first.get_or_insert((now, tokens.output));
                    stats.chunk(last.map(|prev| now - prev));
                    last = Some(now);
                    finished |= r.finished();
                }
                Event::Error(e) => return AttemptResult::failed(e),
                Event::Malformed => return AttemptResult::failed(AttemptError::new(ErrorKind::Decode)),
            }
        }
    }
    if !buf.trim().is_empty() && !finished {
        return AttemptResult::failed(AttemptError::new(ErrorKind::Decode));
    }
    match (finished, first, last) {
        (true, Some((first, first_tokens)), Some(last)) => {
            if stats.chunks > 1 {
                stats.decode = Some((tokens.output.saturating_sub(first_tokens), last - first));
            }
            AttemptResult::ok(tokens, first, Some(stats))
        }
        _ => AttemptResult::failed(AttemptError::new(ErrorKind::Stream)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_mock::thinking::{Thinking, ThinkingLevel};

    #[test]
    fn an_error_event_mid_stream_is_a_stream_failure() {
        let e = r#"{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}"#;
        match parse_event(e) {
            Event::Error(e) => assert_eq!(e.kind, ErrorKind::Stream),
            _ => panic!("an error event"),
        }
        assert!(matches!(parse_event("{\"candidates\": ["), Event::Malformed));
    }

    #[test]
    fn the_thinking_budget_goes_into_generation_config() {
        let a = Attempt {
            model: "gemini-2.5-flash".into(),
            output_tokens: 64,
            ..Attempt::example(10, 1)
        };
        let off = Thinking {
            budget: Some(0),
            level: None,
        };
        let body = serde_json::to_value(request_body(&a, off, TokenRule::default())).unwrap();
        assert_eq!(body["generationConfig"]["thinkingConfig"]["thinkingBudget"], 0);
        // A level goes as google-genai 3.6.1 sends it: upper case under the proto name, no budget.
        let medium = Thinking {
            budget: None,
            level: Some(ThinkingLevel::Medium),
        };
        let body = serde_json::to_value(request_body(&a, medium, TokenRule::default())).unwrap();
        assert_eq!(
            body["generationConfig"]["thinkingConfig"],
            serde_json::json!({"thinking_level": "MEDIUM"})
        );
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 64);
        assert!(body.get("systemInstruction").is_none() && body.get("serviceTier").is_none());
        // A lane's shared system prompt and tier go on the wire as the API names them.
        let a = Attempt {
            system_prompt_tokens: 2000,
            service_tier: ServiceTier::Flex,
            ..a
        };
        let body = request_body(&a, Thinking::default(), TokenRule::default());
        assert_eq!(body.service_tier.as_deref(), Some("flex"));
        let blocks = body.prefix_blocks();
        let cuts: Vec<u64> = blocks.iter().map(|b| b.1).collect();
        // Whole chunks of 128 tokens, the system instruction's end, the prompt's end.
        assert_eq!(cuts[..2], [128, 256]);
        assert_eq!(cuts[cuts.len() - 3..], [1920, 2000, 2010]);
        // A lane's document leads the prompt's text part: one part, document then question.
        let a = Attempt {
            document_tokens: 300,
            document_key: 5,
            ..a
        };
        let body = request_body(&a, Thinking::default(), TokenRule::default());
        assert_eq!(body.contents.len(), 1);
        let text = body.contents[0].parts[0].text.as_deref().unwrap();
        assert_eq!(text.len(), 4 * 310);
        assert!(text.starts_with(&stampede_mock::tokens::synth_text(300, 5)));
        assert_eq!(body.prefix_blocks().last().unwrap().1, 2310);
        let body = serde_json::to_value(request_body(&a, Thinking::default(), TokenRule::default())).unwrap();
        assert!(body["generationConfig"].get("thinkingConfig").is_none(), "{body}");
    }

    #[test]
    fn key_is_redacted_in_debug() {
        let o = GeminiOptions {
            base_url: "x".into(),
            key: ApiKey::new("sekrit"),
            pool: 1,
            send_hints: false,
            thinking: Thinking::default(),
            timings: None,
            http: HttpVersion::Http1,
            density: TokenRules::default(),
        };
        assert!(!format!("{o:?}").contains("sekrit"));
    }
}
