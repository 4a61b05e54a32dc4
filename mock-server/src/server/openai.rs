//! The OpenAI-compatible endpoint `POST /v1beta/openai/chat/completions`.
//!
//! Same model, same quotas; bodies in OpenAI's shape; errors wrapped in a JSON array as
//! Gemini's compatibility layer does.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::play::{self, ChunkRenderer, OPENAI_SSE};
use super::{api_key, hint_header, json_response, output_hint, AppState};
use crate::errors::ApiError;
use crate::model::{Answer, Call, FinishReason, Generation};

fn error(e: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.openai_body().to_string(),
    )
}

fn finish_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::MaxTokens => "length",
    }
}

/// Unix seconds for the `created` field (wire metadata only; never used for timing).
fn created() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn message_texts(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        match &m["content"] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(parts) => {
                for p in parts {
                    if let Some(t) = p["text"].as_str() {
                        out.push(t.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `POST /{version}/openai/chat/completions`.
pub async fn chat_completions(State(state): State<AppState>, RawQuery(query): RawQuery, request: Request) -> Response {
    let start = tokio::time::Instant::now();
    let ticket = state.recorder.as_ref().map(|r| r.begin());
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body = match state.read_body(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    let key = api_key(&headers, query.as_deref());
    if let Err(e) = state.model.authenticate(key.as_deref()) {
        return error(&e);
    }
    if let Err(e) = crate::bounds::json_nodes(&body, crate::bounds::MAX_JSON_NODES) {
        return error(&e);
    }
    let parsed = serde_json::from_slice::<Value>(&body);
    // The body's share of the budget is free again as soon as it is parsed.
    drop(body);
    let body: Value = match parsed {
        Ok(v) => v,
        Err(e) => {
            return error(&ApiError::invalid_argument(format!(
                "Invalid JSON payload received. {e}"
            )))
        }
    };
    let Some(model) = body["model"]
        .as_str()
        .map(|m| m.trim_start_matches("models/").to_string())
    else {
        return error(&ApiError::invalid_argument("model is required"));
    };
    let texts = message_texts(&body);
    let (max, hint) = match numbers(&body, &headers) {
        Ok(n) => n,
        Err(e) => return error(&e),
    };
    let stream = body["stream"].as_bool().unwrap_or(false);
    let rule = state.model.profile().token_rule(&model);
    let input_tokens = rule.count(texts.iter().map(String::as_str));
    let include_usage = body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let call = Call {
        api_key: key.as_deref(),
        model: &model,
        input_tokens,
        max_output_tokens: max,
        output_hint: hint,
        thinking: Default::default(),
        rng_key: hint_header(&headers, "x-stampede-rng-key"),
        ..Call::default()
    };
    let answer = state.model.generate(call).await;
    if let Some(log) = &state.log {
        log.record(&answer, &model, "openai.chat.completions");
    }
    if let Some(ticket) = ticket {
        let seen = super::recording::Seen {
            start,
            api: "openai",
            model: &model,
            headers: &headers,
            stream,
            input_tokens,
            max_output_tokens: max,
            service_tier: None,
        };
        let shape = crate::record::openai_shape(ticket.recorder().shape(rule), &body);
        super::recording::record(ticket, seen, shape, &answer);
    }
    let generation = match answer {
        Answer::Error(e) => return error(&e.to_api_error()),
        Answer::Serve(g) => g,
    };
    play_out(generation, state.options.hang_max, stream, include_usage).await
}

/// A generation played out as a chat completion, or as its chunks when it streams.
async fn play_out(
    generation: Generation,
    hang_max: std::time::Duration,
    stream: bool,
    include_usage: bool,
) -> Response {
    let created = created();
    if !stream {
        return play::unary(generation, hang_max, |g, text| {
            json!({
                "id": format!("chatcmpl-{}", g.response_id()),
                "object": "chat.completion",
                "created": created,
                "model": &*g.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_name(g.finish)}],
                "usage": usage(g, g.usage.candidates),
            })
            .to_string()
        })
        .await;
    }
    let render: ChunkRenderer = Arc::new(move |g: &Generation, i: u32, delta: &str, last: bool| {
        let mut chunk = json!({
            "id": format!("chatcmpl-{}", g.response_id()),
            "object": "chat.completion.chunk",
            "created": created,
            "model": &*g.model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": delta}, "finish_reason": if last { Value::from(finish_name(g.finish)) } else { Value::Null }}],
        });
        if include_usage || last {
            chunk["usage"] = usage(g, g.tokens_after(i));
        }
        chunk.to_string()
    });
    play::streamed(generation, hang_max, OPENAI_SSE, render).await
}

fn usage(g: &Generation, completion: u64) -> Value {
    json!({
        "prompt_tokens": g.usage.prompt,
        "completion_tokens": completion + g.usage.thoughts,
        "total_tokens": g.usage.prompt + completion + g.usage.thoughts,
    })
}

/// The numbers of a chat request within bounds: `n` is 1 to 8 (the mock answers one);
/// `max_completion_tokens` (or `max_tokens`) a whole number, which the model holds to the
/// model's output limit; the answer-length hint header likewise.
fn numbers(body: &Value, headers: &axum::http::HeaderMap) -> Result<(Option<u32>, Option<u32>), ApiError> {
    use crate::bounds::{in_range, out_of_range, MAX_CANDIDATE_COUNT};
    if let Some(n) = body.get("n").filter(|n| !n.is_null()) {
        let n = n.as_i64().ok_or_else(|| out_of_range("n", n, 1, MAX_CANDIDATE_COUNT))?;
        in_range("n", n, 1, MAX_CANDIDATE_COUNT)?;
    }
    let mut max = None;
    for field in ["max_completion_tokens", "max_tokens"] {
        let Some(v) = body.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let n = v.as_u64().ok_or_else(|| out_of_range(field, v, 1, u32::MAX))?;
        max = max.or(Some(u32::try_from(n).unwrap_or(u32::MAX)));
    }
    Ok((max, output_hint(headers)?))
}
