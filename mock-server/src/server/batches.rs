//! The Batch API over HTTP: `models/{model}:batchGenerateContent` with inline requests, and the
//! `batches/{id}` resource (get, list, cancel, delete), in the shapes the official SDK's
//! `client.batches` reads (google-genai 3.6.1 `batches.py`: the job's fields under `metadata`,
//! its state as `BATCH_STATE_*`, answers under `metadata.output.inlinedResponses.inlinedResponses`).
//! File input (`inputConfig.fileName`) is not served.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{error_response, reply, request_key, to_wall, AppState};
use crate::batch::{BatchJob, BatchState};
use crate::errors::ApiError;
use crate::model::{finish_of, BatchItem};
use crate::tokens::{count_tokens, synth_text};
use crate::wire::{invalid_payload_message, GenerateContentRequest, GenerateContentResponse};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    batch: BatchBody,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    display_name: Option<String>,
    input_config: InputConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputConfig {
    requests: Option<InlineRequests>,
    file_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InlineRequests {
    requests: Vec<InlineRequest>,
}

#[derive(Debug, Deserialize)]
struct InlineRequest {
    request: GenerateContentRequest,
    metadata: Option<Value>,
}

/// A job as the API shows it at `now`: an operation whose metadata is the batch.
fn resource(j: &BatchJob) -> Value {
    let now = Instant::now();
    let state = j.state(now);
    let mut meta = json!({
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "name": j.name,
        "model": format!("models/{}", j.model),
        "displayName": j.display_name,
        "createTime": to_wall(j.created),
        "updateTime": to_wall(j.ended(now).unwrap_or(if state == BatchState::Pending { j.created } else { j.starts })),
        "state": state.wire(),
        "batchStats": {
            "requestCount": j.answers.len().to_string(),
            "successfulRequestCount": if state == BatchState::Succeeded { j.answers.len() } else { 0 }.to_string(),
        },
    });
    if let Some(end) = j.ended(now) {
        meta["endTime"] = json!(to_wall(end));
    }
    if state == BatchState::Succeeded {
        let responses: Vec<Value> = j
            .answers
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let text = synth_text(a.usage.candidates, a.text_key);
                let id = format!("{}-{i}", j.name.trim_start_matches("batches/"));
                let r = GenerateContentResponse::new(
                    &j.model,
                    &id,
                    &text,
                    &a.usage,
                    a.usage.candidates,
                    Some(finish_of(a)),
                );
                let mut v = json!({"response": r});
                if let Some(m) = &a.metadata {
                    v["metadata"] = m.clone();
                }
                v
            })
            .collect();
        meta["output"] = json!({"inlinedResponses": {"inlinedResponses": responses}});
    }
    json!({"name": j.name, "metadata": meta, "done": state.is_final()})
}

/// `POST /{version}/models/{model}:batchGenerateContent`.
pub fn create(state: &AppState, model: &str, key: Option<&str>, body: &[u8]) -> Response {
    let result = (|| {
        state.model.authenticate(key)?;
        let parsed: CreateBody =
            serde_json::from_slice(body).map_err(|e| ApiError::invalid_argument(invalid_payload_message(&e)))?;
        let config = parsed.batch.input_config;
        if config.file_name.is_some() {
            return Err(ApiError::invalid_argument(
                "The stampede mock serves inline batch requests only (inputConfig.requests), not fileName.",
            ));
        }
        let items: Vec<BatchItem> = config
            .requests
            .map(|r| r.requests)
            .unwrap_or_default()
            .into_iter()
            .map(|r| BatchItem {
                input_tokens: count_tokens(r.request.texts()),
                max_output_tokens: r.request.generation_config.as_ref().and_then(|g| g.max_output_tokens),
                // stampede's wanted answer length, sent only to the mock, as its hint headers are.
                output_hint: r
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("stampede_output_tokens"))
                    .and_then(Value::as_u64)
                    .map(|n| n.min(u64::from(u32::MAX)) as u32),
                metadata: r.metadata,
            })
            .collect();
        let name = parsed.batch.display_name.unwrap_or_default();
        let job = state.model.create_batch(key, model, &name, &items)?;
        Ok(resource(&job))
    })();
    state
        .model
        .record(model, result.as_ref().map_or_else(|e| e.code, |_| 200));
    reply(result)
}

/// `GET /{version}/batches`.
pub async fn list(State(state): State<AppState>, request: Request) -> Response {
    let key = request_key(&request);
    reply(
        state
            .model
            .list_batches(key.as_deref())
            .map(|jobs| json!({"operations": jobs.iter().map(resource).collect::<Vec<_>>()})),
    )
}

/// `GET /{version}/batches/{id}`.
pub async fn get(State(state): State<AppState>, Path((_v, id)): Path<(String, String)>, request: Request) -> Response {
    let key = request_key(&request);
    let name = format!("batches/{id}");
    reply(state.model.get_batch(key.as_deref(), &name).map(|j| resource(&j)))
}

/// `POST /{version}/batches/{id}:cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path((_v, target)): Path<(String, String)>,
    request: Request,
) -> Response {
    let key = request_key(&request);
    let Some(id) = target.strip_suffix(":cancel") else {
        return error_response(&ApiError::no_such_path(&target));
    };
    let name = format!("batches/{id}");
    reply(state.model.cancel_batch(key.as_deref(), &name).map(|_| json!({})))
}

/// `DELETE /{version}/batches/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let key = request_key(&request);
    let name = format!("batches/{id}");
    reply(state.model.delete_batch(key.as_deref(), &name).map(|()| json!({})))
}
