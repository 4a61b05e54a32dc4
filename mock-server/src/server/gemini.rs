//! Gemini's native endpoints: generateContent, streamGenerateContent, countTokens and models.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::play::{self, ChunkRenderer, GEMINI_ARRAY, GEMINI_SSE};
use super::recording;
use super::{api_key, error_response, hint_header, json_response, output_hint, AppState, ReadBody};
use crate::errors::ApiError;
use crate::model::{Answer, Call, Generation};
use crate::profile::ServiceTier;
use crate::thinking::Thinking;
use crate::wire::{
    invalid_payload_message, CountTokensRequest, GenerateContentRequest, GenerateContentResponse, GenerationConfig,
    ModelResource,
};

/// The service tier and the thinking a request asks for, or the 400 Gemini gives a bad one.
fn tier_and_thinking(request: &GenerateContentRequest, model: &str) -> Result<(ServiceTier, Thinking), ApiError> {
    let tier = match request.service_tier.as_deref().map(ServiceTier::parse) {
        None => ServiceTier::Standard,
        Some(Some(t)) => t,
        Some(None) => {
            return Err(ApiError::invalid_argument(format!(
                "Invalid value at 'service_tier' ({:?}): expected one of standard, flex, priority",
                request.service_tier.as_deref().unwrap_or("")
            )))
        }
    };
    Ok((tier, thinking_of(request.generation_config.as_ref(), model)?))
}

/// What the request asks of thinking; a 400 for a budget and a level together, or a level
/// the model does not accept (Gemini 3.8 Flash refuses `MINIMAL`), as the catalog lists them.
fn thinking_of(config: Option<&GenerationConfig>, model: &str) -> Result<Thinking, ApiError> {
    let thinking = config
        .and_then(|c| c.thinking_config.as_ref())
        .map_or_else(Thinking::default, |t| t.thinking());
    if thinking.budget.is_some() && thinking.level.is_some() {
        return Err(ApiError::invalid_argument(
            "thinking_budget and thinking_level are not supported together.".to_string(),
        ));
    }
    let levels = crate::catalog::data::current()
        .models
        .get(model)
        .map(|m| &m.thinking_levels);
    match (thinking.level, levels) {
        (Some(l), Some(accepted)) if !accepted.is_empty() && !accepted.contains(&l) => Err(ApiError::invalid_argument(
            format!("Thinking level {} is not supported for this model.", l.wire()),
        )),
        _ => Ok(thinking),
    }
}

/// `POST /{version}/models/{model}:{method}`.
pub async fn model_method(
    State(state): State<AppState>,
    Path((_version, target)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let Some((model, method)) = target.split_once(':') else {
        return error_response(&ApiError::no_such_path(&target));
    };
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body = match state.read_body(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let key = api_key(&headers, query.as_deref());
    let sse = query.as_deref().is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
    match method {
        "generateContent" => generate(state, model, key, &headers, body, None).await,
        "streamGenerateContent" => {
            let framing = if sse { GEMINI_SSE } else { GEMINI_ARRAY };
            generate(state, model, key, &headers, body, Some(framing)).await
        }
        "countTokens" => count(&state, model, key.as_deref(), &body),
        "batchGenerateContent" => {
            let _turn = state.batch_creates.clone().acquire_owned().await;
            super::batches::create(&state, model, key.as_deref(), &body)
        }
        other => error_response(&ApiError::model_not_found(model, other)),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    crate::bounds::json_nodes(body, crate::bounds::MAX_JSON_NODES)?;
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_argument(invalid_payload_message(&e)))
}

async fn generate(
    state: AppState,
    model: &str,
    key: Option<String>,
    headers: &HeaderMap,
    body: ReadBody,
    framing: Option<play::Framing>,
) -> Response {
    let start = tokio::time::Instant::now();
    let ticket = state.recorder.as_ref().map(|r| r.begin());
    let parsed = state
        .model
        .authenticate(key.as_deref())
        .and_then(|_| parse::<GenerateContentRequest>(&body))
        .and_then(|r| checked(r, headers));
    // The body's share of the budget is free again as soon as it is parsed.
    drop(body);
    let (request, hint) = match parsed {
        Ok(r) => r,
        Err(e) => {
            state.model.record(model, e.code);
            return error_response(&e);
        }
    };
    let config = request.generation_config.as_ref();
    let rule = state.model.profile().token_rule(model);
    let input_tokens = rule.count(request.texts());
    let (service_tier, thinking) = match tier_and_thinking(&request, model) {
        Ok(settings) => settings,
        Err(e) => {
            state.model.record(model, e.code);
            return error_response(&e);
        }
    };
    let prefixes = request.prefix_blocks_by(rule);
    let call = Call {
        api_key: key.as_deref(),
        model,
        input_tokens,
        max_output_tokens: config.and_then(|c| c.max_output_tokens),
        output_hint: hint,
        thinking,
        rng_key: hint_header(headers, "x-stampede-rng-key"),
        service_tier,
        prefixes: &prefixes,
        cached_content: request.cached_content.as_deref(),
    };
    let answer = state.model.generate(call).await;
    if let Some(log) = &state.log {
        let method = ["generateContent", "streamGenerateContent"][usize::from(framing.is_some())];
        log.record(&answer, model, method);
    }
    if let Some(ticket) = ticket {
        let seen = recording::Seen {
            start,
            api: "gemini",
            model,
            headers,
            stream: framing.is_some(),
            input_tokens,
            max_output_tokens: config.and_then(|c| c.max_output_tokens),
            service_tier: request.service_tier.as_deref(),
        };
        let shape = crate::record::gemini_shape(ticket.recorder().shape(rule), &request);
        recording::record(ticket, seen, shape, &answer);
    }
    let generation = match answer {
        Answer::Error(e) => return error_response(&e.to_api_error()),
        Answer::Serve(g) => g,
    };
    // The tier that served the answer, for a request that named one (Priority over its limit
    // says `standard`, which is how a client learns of the downgrade).
    let tier_header = request
        .service_tier
        .is_some()
        .then(|| HeaderValue::from_static(generation.service_tier.as_str()));
    let mut response = play_out(generation, state.options.hang_max, framing).await;
    if let Some(v) = tier_header {
        response.headers_mut().insert(SERVICE_TIER_HEADER, v);
    }
    response
}

/// A generation played out as one body or as a stream in `framing`.
async fn play_out(generation: Generation, hang_max: std::time::Duration, framing: Option<play::Framing>) -> Response {
    match framing {
        None => {
            play::unary(generation, hang_max, |g, text| {
                let r = GenerateContentResponse::new(
                    &g.model,
                    &g.response_id(),
                    text,
                    &g.usage,
                    g.usage.candidates,
                    Some(g.finish),
                );
                serde_json::to_string(&r).expect("response serialises")
            })
            .await
        }
        Some(framing) => {
            let render: ChunkRenderer = Arc::new(|g: &Generation, i: u32, delta: &str, last: bool| {
                let r = GenerateContentResponse::new(
                    &g.model,
                    &g.response_id(),
                    delta,
                    &g.usage,
                    g.tokens_after(i),
                    last.then_some(g.finish),
                );
                serde_json::to_string(&r).expect("chunk serialises")
            });
            play::streamed(generation, hang_max, framing, render).await
        }
    }
}

/// What only the transport reads of a generate request, within bounds: `candidateCount` (1 to
/// 8) and the answer-length hint header (the model bounds the rest).
fn checked(
    request: GenerateContentRequest,
    headers: &HeaderMap,
) -> Result<(GenerateContentRequest, Option<u32>), ApiError> {
    use crate::bounds::{in_range, MAX_CANDIDATE_COUNT};
    let count = request.generation_config.as_ref().and_then(|c| c.candidate_count);
    if let Some(n) = count {
        in_range("generation_config.candidate_count", n, 1, MAX_CANDIDATE_COUNT)?;
    }
    let hint = output_hint(headers)?;
    Ok((request, hint))
}

/// The response header naming the service tier that served a request.
pub const SERVICE_TIER_HEADER: &str = "x-gemini-service-tier";

fn count(state: &AppState, model: &str, key: Option<&str>, body: &[u8]) -> Response {
    let result = state
        .model
        .authenticate(key)
        .and_then(|_| {
            if state.model.serves(model) {
                Ok(())
            } else {
                Err(ApiError::model_not_found(model, "countTokens"))
            }
        })
        .and_then(|_| parse::<CountTokensRequest>(body));
    match result {
        Err(e) => {
            state.model.record(model, e.code);
            error_response(&e)
        }
        Ok(req) => {
            let rule = state.model.profile().token_rule(model);
            let total = match &req.generate_content_request {
                Some(g) => rule.count(g.texts()),
                None => rule.count(
                    req.contents
                        .iter()
                        .flat_map(|c| c.parts.iter())
                        .filter_map(|p| p.text.as_deref()),
                ),
            };
            state.model.record(model, 200);
            let body = json!({
                "totalTokens": total,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]
            });
            json_response(StatusCode::OK, body.to_string())
        }
    }
}

fn served_models(state: &AppState) -> Vec<String> {
    state.model.profile().models.keys().cloned().collect()
}

/// `GET /{version}/models?pageSize=&pageToken=`.
pub async fn list_models(State(state): State<AppState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    if let Err(e) = state.model.authenticate(api_key(&headers, query.as_deref()).as_deref()) {
        return error_response(&e);
    }
    let param = |name: &str| {
        query.as_deref().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        })
    };
    let page_size = param("pageSize").filter(|&n| n > 0).unwrap_or(50).min(1000);
    let start = param("pageToken").unwrap_or(0);
    let names = served_models(&state);
    let page: Vec<ModelResource> = names
        .iter()
        .skip(start)
        .take(page_size)
        .map(|m| ModelResource::of(m))
        .collect();
    let mut body = json!({ "models": page });
    if start + page_size < names.len() {
        body["nextPageToken"] = json!((start + page_size).to_string());
    }
    json_response(StatusCode::OK, body.to_string())
}

/// `GET /{version}/models/{model}`.
pub async fn get_model(
    State(state): State<AppState>,
    Path((_version, model)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = state.model.authenticate(api_key(&headers, query.as_deref()).as_deref()) {
        return error_response(&e);
    }
    if !state.model.serves(&model) {
        let message = format!("models/{model} is not found for API version v1beta");
        let mut e = ApiError::model_not_found(&model, "get");
        e.message = message;
        return error_response(&e);
    }
    json_response(
        StatusCode::OK,
        serde_json::to_string(&ModelResource::of(&model)).expect("serialises"),
    )
}
