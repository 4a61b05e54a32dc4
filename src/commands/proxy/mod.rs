//! `stampede proxy --upstream URL`: a recording, fault-injecting proxy between an application
//! and Gemini (or an OpenAI-compatible server, or the mock).
//!
//! Every request is forwarded unchanged — method, path, query, headers (the API key among them),
//! body — but for hop-by-hop headers and `accept-encoding` (the answer comes back uncompressed,
//! so the proxy can read its usage); the answer streams back chunk by chunk as it arrives. Each
//! generate call (Gemini's `generateContent` and `streamGenerateContent`, OpenAI's chat
//! completions) becomes one line of stampede's trace format ([`stampede_mock::record`]) with
//! what the upstream did, measured here: status, time to the first chunk and to the last,
//! tokens as the upstream counted them (cached and thinking included), why it finished, a 429's
//! `retryDelay` and quota, the tier that served it. Other calls (models, caches, batches,
//! countTokens) are forwarded and not recorded. Keys, headers, URLs and prompt text are never
//! written (prompts only with `--record-prompts`).
//!
//! Faults ([`inject`]) are answered by the proxy itself, without forwarding.

mod density;
mod inject;
mod tap;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parking_lot::Mutex;
use serde_json::Value;
use stampede_mock::errors::ApiError;
use stampede_mock::record::{self, label, Recorder, Ticket, TraceLine, LANE_HEADER, SESSION_HEADER};
use stampede_mock::rng::{stream_rng, StreamRng};
use stampede_mock::tokens::TokenRule;
use tokio::time::Instant;

pub use inject::{Injected, Injection};
use tap::{Api, Pending, Tap};

/// Settings of the proxy.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Where requests go: scheme, host, port and an optional path prefix.
    pub upstream: String,
    /// The recording, if any.
    pub record: Option<PathBuf>,
    /// Keep prompts' text in the recording.
    pub record_prompts: bool,
    /// Faults to add.
    pub inject: Injection,
    /// Seed of the fault draws.
    pub seed: u64,
    /// Largest request body forwarded, in bytes (413 past it).
    pub max_body: usize,
}

struct Proxy {
    client: reqwest::Client,
    upstream: String,
    recorder: Option<Arc<Recorder>>,
    densities: Arc<density::Densities>,
    inject: Injection,
    rng: Mutex<StreamRng>,
    max_body: usize,
}

/// The upstream as a base URL, checked: `http://` or `https://`, no query; trailing `/` dropped.
pub fn upstream_base(url: &str) -> Result<String, String> {
    // The URL is never echoed: a careless one may carry a key in its query.
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--upstream: not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err("--upstream: expected an http:// or https:// URL with a host".to_string());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(
            "--upstream: expected scheme, host, port and path only (no query, fragment or user; keys travel in the application's requests)"
                .to_string(),
        );
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The proxy's router (the recording file is created here).
pub fn router(options: ProxyOptions) -> anyhow::Result<Router> {
    options.inject.validate().map_err(anyhow::Error::msg)?;
    let upstream = upstream_base(&options.upstream).map_err(anyhow::Error::msg)?;
    let recorder = match &options.record {
        Some(path) => Some(Arc::new(
            Recorder::create(path, options.record_prompts)
                .map_err(|e| anyhow::anyhow!("--record {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let proxy = Arc::new(Proxy {
        client,
        upstream,
        recorder,
        densities: Arc::default(),
        inject: options.inject,
        rng: Mutex::new(stream_rng(options.seed, "proxy-faults")),
        max_body: options.max_body,
    });
    Ok(Router::new().fallback(forward).with_state(proxy))
}

/// What a generate call is, read from its path and body.
struct Call {
    api: Api,
    model: String,
    line: TraceLine,
    ticket: Ticket,
}

/// Reads a generate call's request fields; `None` for any other call.
fn call_of(path: &str, body: &[u8], headers: &HeaderMap, ticket: Ticket) -> Option<Call> {
    let (api, model, stream) = if let Some((_, target)) = path.rsplit_once("/models/") {
        let (model, method) = target.split_once(':')?;
        match method {
            "generateContent" => (Api::Gemini, model.to_string(), false),
            "streamGenerateContent" => (Api::Gemini, model.to_string(), true),
            _ => return None,
        }
    } else if path.ends_with("/chat/completions") {
        (Api::OpenAi, String::new(), false)
    } else {
        return None;
    };
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let builder = ticket.recorder().shape(TokenRule::default());
    let mut line = TraceLine {
        lane: label(headers, LANE_HEADER),
        session: label(headers, SESSION_HEADER).map(Value::String),
        ..TraceLine::default()
    };
    let (model, shape) = match api {
        Api::Gemini => {
            let config = json.get("generationConfig").or_else(|| json.get("generation_config"));
            line.max_output_tokens = config
                .and_then(|c| c.get("maxOutputTokens").or_else(|| c.get("max_output_tokens")))
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
            line.service_tier = json
                .get("serviceTier")
                .or_else(|| json.get("service_tier"))
                .and_then(Value::as_str)
                .map(String::from);
            line.stream = Some(stream);
            (model, gemini_json_shape(builder, &json))
        }
        Api::OpenAi => {
            line.max_output_tokens = json
                .get("max_completion_tokens")
                .or_else(|| json.get("max_tokens"))
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
            line.stream = Some(json["stream"].as_bool().unwrap_or(false));
            let model = json["model"].as_str().unwrap_or("").trim_start_matches("models/");
            (model.to_string(), record::openai_shape(builder, &json))
        }
    };
    line.model = (!model.is_empty()).then(|| model.chars().take(200).collect());
    line.api = Some(["gemini", "openai"][usize::from(api == Api::OpenAi)].to_string());
    shape.fill(&mut line);
    Some(Call {
        api,
        model,
        line,
        ticket,
    })
}

/// A Gemini request's shape read from JSON as the SDKs send it (camelCase or snake_case keys;
/// fields the mock's wire types do not know are no obstacle).
fn gemini_json_shape(mut b: record::ShapeBuilder, json: &Value) -> record::PromptShape {
    let system = json.get("systemInstruction").or_else(|| json.get("system_instruction"));
    let contents = json["contents"].as_array().map(|c| c.iter()).into_iter().flatten();
    for c in system.into_iter().chain(contents) {
        let parts = c["parts"].as_array().map(|p| p.iter()).into_iter().flatten();
        b.content(c["role"].as_str(), parts.filter_map(|p| p["text"].as_str()));
    }
    b.finish()
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and those the
/// proxy sets itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "accept-encoding"
    )
}

fn gateway_error(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "message": message, "status": "UNAVAILABLE"}});
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, proxy.max_body).await {
        Ok(b) => b,
        Err(_) => {
            return gateway_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "stampede proxy: request body over {} bytes (--max-body-mib)",
                    proxy.max_body
                ),
            )
        }
    };
    let path = parts.uri.path().to_string();
    let generate = is_generate(&path);
    // A generate call's place in the recording is taken as it arrives.
    let ticket = proxy.recorder.as_ref().filter(|_| generate).map(|r| r.begin());
    let call_of = |body: &[u8], ticket: Option<Ticket>| call_of(&path, body, &parts.headers, ticket?);
    if let Some(kind) = generate.then(|| proxy.inject.pick(&mut *proxy.rng.lock())).flatten() {
        return answer_injected(&proxy, kind, call_of(&body, ticket), &path, start);
    }
    if !proxy.inject.added_latency.is_zero() && generate {
        tokio::time::sleep(proxy.inject.added_latency).await;
    }
    let url = format!(
        "{}{}",
        proxy.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut upstream = proxy.client.request(parts.method.clone(), url).body(body.clone());
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            upstream = upstream.header(name, value);
        }
    }
    // The request leaves first; what the recording keeps of it is read while the upstream works,
    // so the proxy adds no time that grows with the prompt.
    let sent = tokio::spawn(upstream.send());
    let call = call_of(&body, ticket);
    drop(body);
    let sent = match sent.await {
        Ok(sent) => sent,
        Err(e) => {
            return gateway_error(
                StatusCode::BAD_GATEWAY,
                format!("stampede proxy: the forwarding task failed ({e})"),
            )
        }
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            if let Some(call) = call {
                call.unanswered(&proxy, start, 0, "upstream-unreachable", None);
            }
            return gateway_error(
                StatusCode::BAD_GATEWAY,
                format!(
                    "stampede proxy: the upstream could not be reached ({})",
                    e.without_url()
                ),
            );
        }
    };
    tapped(&proxy, call, response, start)
}

/// The upstream's answer passed on unchanged, through a tap that writes a generate call's line
/// when the body ends.
fn tapped(proxy: &Proxy, call: Option<Call>, response: reqwest::Response, start: Instant) -> Response {
    let status = response.status();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !hop_by_hop(name) {
            headers.append(name, value.clone());
        }
    }
    let pending = match call {
        Some(call) => {
            let mut line = call.line;
            line.status = Some(status.as_u16());
            line.served_tier = headers
                .get("x-gemini-service-tier")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            Some(Pending {
                ticket: call.ticket,
                densities: proxy.densities.clone(),
                line,
                start,
                api: call.api,
            })
        }
        None => None,
    };
    let body = Body::from_stream(Tap::new(response.bytes_stream(), pending));
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

fn is_generate(path: &str) -> bool {
    path.ends_with(":generateContent")
        || path.ends_with(":streamGenerateContent")
        || path.ends_with("/chat/completions")
}

impl Call {
    /// Writes the line of a call the upstream never answered (the proxy did, or no one could):
    /// its status, why, its prompt tokens estimated from the characters.
    fn unanswered(self, proxy: &Proxy, start: Instant, status: u16, fault: &str, retry_delay_s: Option<f64>) {
        let mut line = self.line;
        line.status = Some(status);
        line.fault = Some(fault.into());
        line.latency_ms = Some(start.elapsed().as_secs_f64() * 1e3);
        line.retry_delay_s = retry_delay_s;
        line.input_tokens = estimate(proxy, &line);
        line.scale_prefix_to_input();
        self.ticket.write(line);
    }
}

fn estimate(proxy: &Proxy, line: &TraceLine) -> u32 {
    match (&line.model, line.chars) {
        (Some(m), Some(c)) => u32::try_from(proxy.densities.estimate(m, c)).unwrap_or(u32::MAX),
        _ => 0,
    }
}

/// The proxy's own 429 or 503, recorded as such.
fn answer_injected(proxy: &Proxy, kind: Injected, call: Option<Call>, path: &str, start: Instant) -> Response {
    let model = call.as_ref().map_or_else(|| model_in(path), |c| c.model.clone());
    let error: ApiError = proxy.inject.error(kind, &model);
    let openai = call
        .as_ref()
        .map_or(path.ends_with("/chat/completions"), |c| c.api == Api::OpenAi);
    if let Some(call) = call {
        let delay = (kind == Injected::Quota).then_some(proxy.inject.retry_delay.as_secs_f64());
        call.unanswered(proxy, start, error.code, kind.name(), delay);
    }
    let body = if openai { error.openai_body() } else { error.body() };
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn model_in(path: &str) -> String {
    path.rsplit_once("/models/")
        .and_then(|(_, t)| t.split_once(':'))
        .map_or_else(String::new, |(m, _)| m.to_string())
}
