//! The simulator's backend: calls the mock's behaviour model directly, no sockets.
//!
//! It plays a [`Generation`] the way the HTTP client would experience it over the wire: it
//! waits for the instants the model planned and maps serving faults to the same failure
//! classes the HTTP backend reports (a reset is `transport`, a cut stream is `stream`, invalid
//! JSON is `decode`), so a simulated run and a live run classify alike.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use stampede_mock::model::wait_until;
use stampede_mock::model::ServingFault;
use stampede_mock::{Answer, Call, Generation, MockModel};

use super::{Attempt, AttemptError, AttemptResult, Backend, BatchPoll, CacheRequest, ErrorKind, StreamStats, Tokens};
use stampede_mock::batch::BatchState;
use stampede_mock::model::BatchItem;
use stampede_mock::rng::combine;

/// A backend that calls a [`MockModel`] in-process.
#[derive(Debug, Clone)]
pub struct SimBackend {
    model: Arc<MockModel>,
    thinking: stampede_mock::thinking::Thinking,
}

impl SimBackend {
    /// A backend for `model`, asking every call for `thinking`.
    pub fn new(model: Arc<MockModel>, thinking: stampede_mock::thinking::Thinking) -> SimBackend {
        SimBackend { model, thinking }
    }
}

/// The API key the simulator presents (one project).
const SIM_KEY: &str = "stampede-sim";

impl Backend for SimBackend {
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult> {
        let (model, thinking) = (self.model.clone(), self.thinking);
        Box::pin(async move {
            let prefixes = prefix_blocks(&attempt);
            // A pinned system prompt is in the explicit cache the call names, not in the prompt.
            let system = if attempt.cached_content.is_some() {
                0
            } else {
                u64::from(attempt.system_prompt_tokens)
            };
            let call = Call {
                api_key: Some(SIM_KEY),
                model: &attempt.model,
                input_tokens: system + attempt.prompt_tokens(),
                max_output_tokens: Some(attempt.output_tokens),
                output_hint: Some(attempt.output_tokens),
                thinking,
                rng_key: Some(attempt.rng_key),
                service_tier: attempt.service_tier,
                prefixes: &prefixes,
                cached_content: attempt.cached_content.as_deref(),
            };
            match model.generate(call).await {
                Answer::Error(e) => AttemptResult::failed(AttemptError::from_rejection(&e)),
                Answer::Serve(g) => play(g, attempt.stream).await,
            }
        })
    }

    fn submit_batch(
        &self,
        model: Arc<str>,
        attempts: Vec<Attempt>,
    ) -> BoxFuture<'static, Result<String, AttemptError>> {
        let items: Vec<BatchItem> = attempts
            .iter()
            .map(|a| BatchItem {
                input_tokens: u64::from(a.system_prompt_tokens) + a.prompt_tokens(),
                max_output_tokens: Some(a.output_tokens),
                output_hint: Some(a.output_tokens),
                metadata: None,
            })
            .collect();
        let made = self.model.create_batch(Some(SIM_KEY), &model, "stampede", &items);
        Box::pin(async move {
            made.map(|j| j.name.clone())
                .map_err(|e| AttemptError::from_api(e.code, &e))
        })
    }

    fn poll_batch(&self, name: String) -> BoxFuture<'static, Result<BatchPoll, AttemptError>> {
        let job = self.model.get_batch(Some(SIM_KEY), &name);
        Box::pin(async move {
            let job = job.map_err(|e| AttemptError::from_api(e.code, &e))?;
            Ok(match job.state(tokio::time::Instant::now()) {
                BatchState::Pending | BatchState::Running => BatchPoll::Waiting,
                BatchState::Succeeded => BatchPoll::Done(
                    job.answers
                        .iter()
                        .map(|a| {
                            Ok(Tokens {
                                input: a.usage.prompt,
                                output: a.usage.candidates,
                                thinking: a.usage.thoughts,
                                batch: true,
                                ..Tokens::default()
                            })
                        })
                        .collect(),
                ),
                other => BatchPoll::Ended(other.wire().to_string()),
            })
        })
    }

    fn create_cache(&self, r: CacheRequest) -> BoxFuture<'static, Result<Arc<str>, String>> {
        let made = self.model.create_cache(
            Some(SIM_KEY),
            &r.model,
            "stampede pinned prefix",
            u64::from(r.tokens),
            r.ttl,
        );
        Box::pin(async move { made.map(|c| Arc::from(c.name.as_str())).map_err(|e| e.message) })
    }
}

/// The prompt's prefix blocks as the HTTP mock derives them from the body the Gemini backend
/// sends: the system prompt (when there is one), then a trace's shared blocks and the whole
/// prompt, or a conversation's prompt after each user turn, or the whole prompt — each identified
/// by what makes its text (equal keys, equal text).
fn prefix_blocks(a: &Attempt) -> Vec<(u64, u64)> {
    let system = u64::from(a.system_prompt_tokens);
    // Every block after the system prompt is keyed under it: another system prompt, other text.
    let salt = a.system_prompt_key ^ system;
    let mut blocks = Vec::with_capacity(2);
    if system > 0 {
        blocks.push((a.system_prompt_key, system));
    }
    let whole = combine(salt, a.prompt_key);
    let end = system + u64::from(a.input_tokens);
    match (&a.prefix, &a.history) {
        (Some(prefix), _) => {
            // A trace's shared blocks (the mock sees one part per block over HTTP), then the
            // whole prompt.
            blocks.extend(
                prefix
                    .iter()
                    .map(|&(key, to)| (combine(salt, key), system + u64::from(to))),
            );
            blocks.push((combine(whole, prefix.len() as u64), end));
        }
        (None, Some(history)) => {
            // A conversation: the prompt after each user turn (turn k's prompt up to message j
            // is turn j's whole prompt, so turn k hits turn k-1's).
            let mut tokens = system;
            let turns = history.iter().copied().chain(std::iter::once((a.input_tokens, 0)));
            for (j, (message, answer)) in turns.enumerate() {
                tokens += u64::from(message);
                blocks.push((combine(salt, a.turn_key(j + 1, false)), tokens));
                tokens += u64::from(answer);
            }
        }
        (None, None) => blocks.push((whole, end)),
    }
    blocks
}

fn tokens(g: &Generation) -> Tokens {
    Tokens {
        input: g.usage.prompt,
        output: g.usage.candidates,
        thinking: g.usage.thoughts,
        cached: g.usage.cached,
        service_tier: g.service_tier,
        batch: false,
    }
}

/// Waits out a generation as a client would see it.
pub async fn play(g: Generation, stream: bool) -> AttemptResult {
    let fail = |kind| AttemptResult::failed(AttemptError::new(kind));
    match g.fault {
        Some(ServingFault::Hang) => std::future::pending().await,
        Some(ServingFault::Reset) => {
            wait_until(g.reset_at()).await;
            return fail(ErrorKind::Transport);
        }
        Some(ServingFault::Malformed) => {
            wait_until(if stream { g.first_chunk_at() } else { g.done_at() }).await;
            return fail(ErrorKind::Decode);
        }
        Some(ServingFault::Truncate) => {
            if stream {
                let sent = g.truncated_chunks().max(1);
                wait_until(g.chunk_at(sent - 1)).await;
                return fail(ErrorKind::Stream);
            }
            wait_until(g.done_at()).await;
            return fail(ErrorKind::Transport);
        }
        None => {}
    }
    if !stream {
        wait_until(g.done_at()).await;
        return AttemptResult::ok(tokens(&g), g.done_at(), None);
    }
    let first = g.first_chunk_at();
    wait_until(first).await;
    let chunks = g.chunk_count();
    let gaps: Vec<Duration> = (1..chunks).map(|i| g.chunk_at(i) - g.chunk_at(i - 1)).collect();
    let decode = (chunks > 1).then(|| {
        (
            g.usage.candidates.saturating_sub(g.tokens_after(0)),
            g.chunk_at(chunks - 1) - g.chunk_at(0),
        )
    });
    wait_until(g.done_at()).await;
    AttemptResult::ok(tokens(&g), first, Some(StreamStats { chunks, gaps, decode }))
}
