//! The Batch API over HTTP for the Gemini backend: submit a job of inline requests
//! (`models/{model}:batchGenerateContent`), read it back (`GET batches/{id}`) and turn its
//! inline responses into tokens, in request order.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::gemini::{request_body, Answer, GeminiBackend};
use super::{Attempt, AttemptError, BatchPoll, ErrorKind, Tokens};
use serde::Deserialize;

/// The metadata key carrying stampede's wanted answer length to the mock (hints are sent only
/// to the mock, as the `x-stampede-*` headers are).
pub const OUTPUT_HINT_KEY: &str = "stampede_output_tokens";

impl GeminiBackend {
    /// `POST models/{model}:batchGenerateContent`; the job's name.
    pub(super) fn submit(
        &self,
        model: Arc<str>,
        attempts: Vec<Attempt>,
    ) -> BoxFuture<'static, Result<String, AttemptError>> {
        let requests: Vec<Value> = attempts
            .iter()
            .map(|a| {
                let mut metadata = json!({"request_id": a.request_id.to_string()});
                if self.options.send_hints {
                    metadata[OUTPUT_HINT_KEY] = json!(a.output_tokens);
                }
                json!({"request": request_body(a, self.options.thinking, self.options.density.of(&a.model)), "metadata": metadata})
            })
            .collect();
        let body = json!({"batch": {"displayName": "stampede", "inputConfig": {"requests": {"requests": requests}}}});
        let url = format!("{}/v1beta/models/{model}:batchGenerateContent", self.options.base_url);
        let req = self.keyed(self.client.post(url)).json(&body);
        Box::pin(async move {
            let v = exchange(req).await?;
            v["name"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| AttemptError::new(ErrorKind::Decode))
        })
    }

    /// `GET batches/{id}`.
    pub(super) fn poll(&self, name: String) -> BoxFuture<'static, Result<BatchPoll, AttemptError>> {
        let url = format!("{}/v1beta/{name}", self.options.base_url);
        let req = self.keyed(self.client.get(url));
        Box::pin(async move { Ok(poll_of(&exchange(req).await?)) })
    }
}

/// Sends a request and reads its JSON; an error status is classified from Gemini's body.
async fn exchange(req: reqwest::RequestBuilder) -> Result<Value, AttemptError> {
    let resp = req.send().await.map_err(|_| AttemptError::new(ErrorKind::Transport))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| AttemptError::new(ErrorKind::Transport))?;
    if !status.is_success() {
        return Err(super::error_body::classify(status, &headers, &bytes));
    }
    serde_json::from_slice(&bytes).map_err(|_| AttemptError::new(ErrorKind::Decode))
}

/// A job resource as a poll: waiting, done with one result per request, or ended without.
fn poll_of(v: &Value) -> BatchPoll {
    let meta = &v["metadata"];
    match meta["state"].as_str().unwrap_or("") {
        "BATCH_STATE_SUCCEEDED" | "JOB_STATE_SUCCEEDED" => {
            let items = meta["output"]["inlinedResponses"]["inlinedResponses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            BatchPoll::Done(items.iter().map(item_tokens).collect())
        }
        "BATCH_STATE_PENDING" | "BATCH_STATE_RUNNING" | "JOB_STATE_PENDING" | "JOB_STATE_RUNNING" | "" => {
            BatchPoll::Waiting
        }
        other => BatchPoll::Ended(other.to_string()),
    }
}

/// One inline response's tokens, or its error.
fn item_tokens(item: &Value) -> Result<Tokens, AttemptError> {
    if let Some(code) = item["error"]["code"].as_u64() {
        return Err(AttemptError::new(ErrorKind::Status(code as u16)));
    }
    let r = Answer::deserialize(&item["response"]).map_err(|_| AttemptError::new(ErrorKind::Decode))?;
    Ok(Tokens {
        batch: true,
        ..r.tokens()
    })
}
