//! The model's Batch API: a job of inline generate requests, answered after a turnaround at
//! the batch price (see [`crate::batch`]).

use std::sync::Arc;

use rand::RngExt;
use tokio::time::Instant;

use super::{FinishReason, MockModel, Usage};
use crate::batch::{BatchAnswer, BatchError, BatchJob, NewJob, MAX_REQUESTS_PER_JOB};
use crate::catalog::{Billed, CostSplit};
use crate::errors::ApiError;
use crate::rng::keyed_rng;

/// Salt of the random streams of batch jobs (apart from every generate call's).
const BATCH_SALT: u64 = 0x6261_7463_6800_0000;

/// One inline request of a job, as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct BatchItem {
    /// Prompt size by the shared counting rule.
    pub input_tokens: u64,
    /// `generationConfig.maxOutputTokens`.
    pub max_output_tokens: Option<u32>,
    /// The answer length wanted (stampede's hint), if any.
    pub output_hint: Option<u32>,
    /// The request's `metadata` as JSON text, returned with its answer.
    pub metadata: Option<Box<str>>,
}

fn batch_error(e: BatchError) -> ApiError {
    match e {
        BatchError::NotFound => ApiError::not_found("Requested entity was not found."),
        BatchError::TooMany => ApiError::resource_exhausted("Too many batch jobs for this project."),
        BatchError::Budget(r) if r.is_permanent() => ApiError::invalid_argument(r.describe("batch job")),
        BatchError::Budget(r) => ApiError::resource_exhausted(r.describe("batch job")),
        BatchError::TooLarge { tokens, limit } => ApiError::resource_exhausted(format!(
            "The batch holds {tokens} input tokens, more than the {limit} enqueued tokens this model allows."
        )),
    }
}

impl MockModel {
    /// Creates a job of `items` on `model`: checks the key, the model and each prompt's size,
    /// then decides its start, turnaround and every answer.
    pub fn create_batch(
        &self,
        api_key: Option<&str>,
        model: &str,
        display_name: &str,
        items: &[BatchItem],
    ) -> Result<Arc<BatchJob>, ApiError> {
        self.authenticate(api_key)?;
        crate::bounds::display_name(display_name)?;
        let served = self
            .served
            .get(model)
            .ok_or_else(|| ApiError::model_not_found(model, "batchGenerateContent"))?;
        if items.is_empty() || items.len() > MAX_REQUESTS_PER_JOB {
            return Err(ApiError::invalid_argument(format!(
                "A batch holds 1 to {MAX_REQUESTS_PER_JOB} requests; this one has {}.",
                items.len()
            )));
        }
        if let Some(big) = items.iter().find(|i| i.input_tokens > served.max_input) {
            return Err(ApiError::too_many_tokens(big.input_tokens, served.max_input));
        }
        check_items(items, served.max_output)?;
        self.check_batch_room(api_key.unwrap_or(""), items)?;
        let mut book = self.batches.lock();
        let job_key = BATCH_SALT ^ book.created();
        let mut rng = keyed_rng(self.seed, job_key);
        let turnaround = self.samplers.batch_turnaround.sample(&mut rng);
        let price = self.profile.prices.get(model).map(|p| p.batch());
        let answers = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut rng = keyed_rng(self.seed, job_key.wrapping_add((i as u64 + 1) << 20));
                let natural = item
                    .output_hint
                    .unwrap_or_else(|| self.samplers.output_tokens.sample_count(&mut rng, 1))
                    .max(1);
                let (candidates, max_tokens) = match item.max_output_tokens {
                    Some(max) if natural > max => (max, true),
                    _ => (natural, false),
                };
                let thoughts = u64::from(self.samplers.thinking_tokens.sample_count(&mut rng, 0));
                let usage = Usage {
                    prompt: item.input_tokens,
                    candidates: u64::from(candidates),
                    thoughts,
                    cached: 0,
                };
                let billed = Billed {
                    prompt: usage.prompt,
                    cached: 0,
                    output: usage.candidates,
                    thinking: thoughts,
                };
                BatchAnswer {
                    usage,
                    text_key: rng.random(),
                    max_tokens,
                    metadata: item.metadata.clone(),
                    cost: price.map_or_else(CostSplit::default, |p| p.split(billed, 1.0)),
                }
            })
            .collect();
        let tokens = items.iter().map(|i| i.input_tokens).sum();
        let job = NewJob {
            project: api_key.unwrap_or(""),
            model,
            display_name,
            turnaround,
            enqueued_limit: self.profile.batch.enqueued_tokens,
        };
        book.create(Instant::now(), job, tokens, answers).map_err(batch_error)
    }

    /// Refuses a job the key's or the store's budget has no room for before its answers are
    /// built (what its answers will hold is known from its requests).
    fn check_batch_room(&self, key: &str, items: &[BatchItem]) -> Result<(), ApiError> {
        let bytes: u64 = items
            .iter()
            .map(|i| BatchAnswer::bytes_for(i.metadata.as_deref().map_or(0, str::len)))
            .sum();
        self.batches.lock().fits(key, bytes).map_err(batch_error)
    }

    /// A job by name (`batches/…`).
    pub fn get_batch(&self, api_key: Option<&str>, name: &str) -> Result<Arc<BatchJob>, ApiError> {
        self.authenticate(api_key)?;
        self.batches
            .lock()
            .get(api_key.unwrap_or(""), name)
            .map_err(batch_error)
    }

    /// A page of the project's jobs, newest first: at most `size` after the job named
    /// `after`, and the name to continue after when more remain.
    pub fn list_batches(
        &self,
        api_key: Option<&str>,
        after: Option<&str>,
        size: usize,
    ) -> Result<(Vec<Arc<BatchJob>>, Option<String>), ApiError> {
        self.authenticate(api_key)?;
        Ok(self.batches.lock().page(api_key.unwrap_or(""), after, size))
    }

    /// Bytes and jobs the key's batch jobs hold, and bytes all keys' jobs hold.
    pub fn batch_bytes(&self, api_key: Option<&str>) -> ((u64, usize), u64) {
        self.batches.lock().held(api_key.unwrap_or(""))
    }

    /// Cancels a job that has not finished.
    pub fn cancel_batch(&self, api_key: Option<&str>, name: &str) -> Result<Arc<BatchJob>, ApiError> {
        self.authenticate(api_key)?;
        let mut book = self.batches.lock();
        book.cancel(Instant::now(), api_key.unwrap_or(""), name)
            .map_err(batch_error)
    }

    /// Deletes a job.
    pub fn delete_batch(&self, api_key: Option<&str>, name: &str) -> Result<(), ApiError> {
        self.authenticate(api_key)?;
        self.batches
            .lock()
            .delete(api_key.unwrap_or(""), name)
            .map_err(batch_error)
    }
}

/// The finish reason of a batch answer.
pub fn finish_of(a: &BatchAnswer) -> FinishReason {
    if a.max_tokens {
        FinishReason::MaxTokens
    } else {
        FinishReason::Stop
    }
}

/// Each request's numbers within bounds, named by its place in the job: `maxOutputTokens` and
/// the answer-length hint up to the model's output limit.
fn check_items(items: &[BatchItem], max_output: u64) -> Result<(), ApiError> {
    use crate::bounds::in_range;
    for (i, item) in items.iter().enumerate() {
        if let Some(max) = item.max_output_tokens {
            let field = format!("requests[{i}].request.generation_config.max_output_tokens");
            in_range(&field, u64::from(max), 1, max_output)?;
        }
        if let Some(hint) = item.output_hint {
            let field = format!("requests[{i}].metadata.stampede_output_tokens");
            in_range(&field, u64::from(hint), 1, max_output)?;
        }
    }
    Ok(())
}
