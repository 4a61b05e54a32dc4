//! A batch job as the API shows it: an operation whose metadata is the batch, in the shapes the
//! official SDK's `client.batches` reads (google-genai 3.6.1 `batches.py`).
//!
//! A finished job's answers can run to 100,000 texts, so its body is written answer by answer
//! as the client reads it ([`job_body`]), never built whole: a job that holds 20 MB in the
//! store cannot make one GET, or many at once, hold gigabytes. A list shows each job without
//! its answers (get the job for them), so a page stays small.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::to_wall;
use crate::batch::{BatchJob, BatchState};
use crate::model::finish_of;
use crate::tokens::synth_text;
use crate::wire::GenerateContentResponse;

/// Answers written per chunk of a streamed job body.
const ANSWERS_PER_CHUNK: usize = 64;

/// The job's batch fields (`metadata`), without its answers.
fn meta(j: &BatchJob, now: Instant) -> Value {
    let state = j.state(now);
    let updated = j.ended(now).unwrap_or(if state == BatchState::Pending {
        j.created
    } else {
        j.starts
    });
    let succeeded = if state == BatchState::Succeeded {
        j.answers.len()
    } else {
        0
    };
    let mut meta = json!({
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "name": j.name,
        "model": format!("models/{}", j.model),
        "displayName": j.display_name,
        "createTime": to_wall(j.created),
        "updateTime": to_wall(updated),
        "state": state.wire(),
        "batchStats": {
            "requestCount": j.answers.len().to_string(),
            "successfulRequestCount": succeeded.to_string(),
        },
    });
    if let Some(end) = j.ended(now) {
        meta["endTime"] = json!(to_wall(end));
    }
    meta
}

/// The job without its answers (a list entry; the answer to a create or a cancel).
pub fn summary(j: &BatchJob) -> Value {
    let now = Instant::now();
    json!({"name": j.name, "metadata": meta(j, now), "done": j.state(now).is_final()})
}

/// One inline answer as JSON text.
fn answer(j: &BatchJob, i: usize) -> String {
    let a = &j.answers[i];
    let text = synth_text(a.usage.candidates, a.text_key);
    let id = format!("{}-{i}", j.name.trim_start_matches("batches/"));
    let r = GenerateContentResponse::new(&j.model, &id, &text, &a.usage, a.usage.candidates, Some(finish_of(a)));
    let response = serde_json::to_string(&r).unwrap_or_default();
    match &a.metadata {
        Some(m) => format!("{{\"response\":{response},\"metadata\":{m}}}"),
        None => format!("{{\"response\":{response}}}"),
    }
}

/// The whole job as a response: with its answers, written chunk by chunk, once it succeeded.
pub fn job_body(j: Arc<BatchJob>) -> Response {
    let now = Instant::now();
    let state = j.state(now);
    let json_type = [(header::CONTENT_TYPE, "application/json; charset=UTF-8")];
    if state != BatchState::Succeeded {
        return (StatusCode::OK, json_type, summary(&j).to_string()).into_response();
    }
    let meta = meta(&j, now).to_string();
    let open = format!(
        "{{\"name\":{},\"done\":true,\"metadata\":{},\"output\":{{\"inlinedResponses\":{{\"inlinedResponses\":[",
        Value::from(j.name.as_str()),
        meta.strip_suffix('}').unwrap_or(&meta)
    );
    let count = j.answers.len();
    let chunks = (0..count).step_by(ANSWERS_PER_CHUNK).map(move |start| {
        let mut out = String::new();
        for i in start..(start + ANSWERS_PER_CHUNK).min(count) {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&answer(&j, i));
        }
        Ok::<Bytes, Infallible>(Bytes::from(out))
    });
    let parts = std::iter::once(Ok(Bytes::from(open)))
        .chain(chunks)
        .chain(std::iter::once(Ok(Bytes::from_static(b"]}}}}"))));
    (
        StatusCode::OK,
        json_type,
        Body::from_stream(futures::stream::iter(parts)),
    )
        .into_response()
}
