//! The Batch API over HTTP: `models/{model}:batchGenerateContent` with inline requests, and the
//! `batches/{id}` resource (get, list, cancel, delete), in the shapes the official SDK's
//! `client.batches` reads (google-genai 3.6.1 `batches.py`: the job's fields under `metadata`,
//! its state as `BATCH_STATE_*`, answers under `metadata.output.inlinedResponses.inlinedResponses`;
//! see [`super::batch_view`]). File input (`inputConfig.fileName`) is not served. Lists are
//! paged (`pageSize` up to 1,000, `pageToken`).

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::batch_view::{job_body, summary};
use super::{error_response, page_query, reply, request_key, AppState};
use crate::batch::MAX_REQUESTS_PER_JOB;
use crate::errors::ApiError;
use crate::model::BatchItem;
use crate::wire::{invalid_payload_message, GenerateContentRequest};

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
    requests: Items,
}

#[derive(Debug, Deserialize)]
struct InlineRequest {
    request: GenerateContentRequest,
    metadata: Option<Value>,
}

/// The inline requests, each turned into the little the model keeps as soon as it is read
/// (a parsed request is hundreds of bytes; 100,000 of them at once would be tens of MB), and
/// refused past [`MAX_REQUESTS_PER_JOB`] while being read.
#[derive(Debug, Default)]
struct Items(Vec<BatchItem>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Items, D::Error> {
        struct Each;
        impl<'de> serde::de::Visitor<'de> for Each {
            type Value = Items;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of inline requests")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut items = Vec::new();
                while let Some(r) = seq.next_element::<InlineRequest>()? {
                    if items.len() >= MAX_REQUESTS_PER_JOB {
                        return Err(serde::de::Error::custom(format!(
                            "a batch holds at most {MAX_REQUESTS_PER_JOB} requests"
                        )));
                    }
                    items.push(item(r));
                }
                Ok(Items(items))
            }
        }
        d.deserialize_seq(Each)
    }
}

/// What the model keeps of one inline request.
/// `input_tokens` holds the prompt's characters until [`create`] knows the model's token rule.
fn item(r: InlineRequest) -> BatchItem {
    BatchItem {
        input_tokens: r.request.texts().map(|t| t.chars().count() as u64).sum(),
        max_output_tokens: r.request.generation_config.as_ref().and_then(|g| g.max_output_tokens),
        // stampede's wanted answer length, sent only to the mock, as its hint headers are.
        output_hint: r
            .metadata
            .as_ref()
            .and_then(|m| m.get("stampede_output_tokens"))
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        metadata: r.metadata.map(|m| m.to_string().into_boxed_str()),
    }
}

/// `POST /{version}/models/{model}:batchGenerateContent`.
pub fn create(state: &AppState, model: &str, key: Option<&str>, body: &[u8]) -> Response {
    let result = (|| {
        state.model.authenticate(key)?;
        crate::bounds::json_nodes(body, crate::bounds::MAX_BATCH_JSON_NODES)?;
        let parsed: CreateBody =
            serde_json::from_slice(body).map_err(|e| ApiError::invalid_argument(invalid_payload_message(&e)))?;
        let config = parsed.batch.input_config;
        if config.file_name.is_some() {
            return Err(ApiError::invalid_argument(
                "The stampede mock serves inline batch requests only (inputConfig.requests), not fileName.",
            ));
        }
        let mut items = config.requests.map(|r| r.requests.0).unwrap_or_default();
        let rule = state.model.profile().token_rule(model);
        for item in &mut items {
            item.input_tokens = rule.tokens_for_chars(usize::try_from(item.input_tokens).unwrap_or(usize::MAX));
        }
        let name = parsed.batch.display_name.unwrap_or_default();
        let job = state.model.create_batch(key, model, &name, &items)?;
        Ok(summary(&job))
    })();
    state
        .model
        .record(model, result.as_ref().map_or_else(|e| e.code, |_| 200));
    reply(result)
}

/// `GET /{version}/batches?pageSize=&pageToken=`: the key's jobs, newest first, without their
/// answers.
pub async fn list(State(state): State<AppState>, request: Request) -> Response {
    let key = request_key(&request);
    let result = page_query(request.uri().query(), 50, "batches/").and_then(|(size, after)| {
        let (jobs, next) = state.model.list_batches(key.as_deref(), after.as_deref(), size)?;
        let mut body = json!({"operations": jobs.iter().map(|j| summary(j)).collect::<Vec<_>>()});
        if let Some(next) = next {
            body["nextPageToken"] = json!(next.trim_start_matches("batches/"));
        }
        Ok(body)
    });
    reply(result)
}

/// `GET /{version}/batches/{id}`: the job, with its answers once it succeeded.
pub async fn get(State(state): State<AppState>, Path((_v, id)): Path<(String, String)>, request: Request) -> Response {
    let key = request_key(&request);
    let name = format!("batches/{id}");
    match state.model.get_batch(key.as_deref(), &name) {
        Ok(job) => job_body(job),
        Err(e) => error_response(&e),
    }
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
