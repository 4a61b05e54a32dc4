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
use stampede_mock::prefix::KeyedPrefixes;

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
/// sends (whole chunks and content ends, see [`stampede_mock::prefix`]): the system prompt (when
/// sent), then the contents — a trace's shared blocks and the rest, or a conversation's turns, or
/// the one prompt — the lane's document leading the first; each text identified by its key
/// (equal keys, equal text).
fn prefix_blocks(a: &Attempt) -> Vec<(u64, u64)> {
    let mut p = KeyedPrefixes::default();
    if a.system_prompt_tokens > 0 && a.cached_content.is_none() {
        p.text(a.system_prompt_key, u64::from(a.system_prompt_tokens));
        p.end();
    }
    if a.document_tokens > 0 {
        p.text(a.document_key, u64::from(a.document_tokens));
    }
    let content = |p: &mut KeyedPrefixes, key: u64, tokens: u32| {
        p.text(key, u64::from(tokens));
        p.end();
    };
    match (&a.prefix, &a.history) {
        (Some(prefix), _) => {
            // A trace's shared blocks, one content each, then the rest of the prompt.
            let mut done = 0;
            for &(key, to) in prefix.iter() {
                content(&mut p, key, to.saturating_sub(done));
                done = to;
            }
            if a.input_tokens > done {
                content(&mut p, a.prompt_key, a.input_tokens - done);
            } else if prefix.is_empty() {
                p.end();
            }
        }
        (None, Some(history)) => {
            for (j, &(message, answer)) in history.iter().enumerate() {
                content(&mut p, a.turn_key(j + 1, false), message);
                content(&mut p, a.turn_key(j + 1, true), answer);
            }
            content(&mut p, a.turn_key(history.len() + 1, false), a.input_tokens);
        }
        (None, None) => content(&mut p, a.prompt_key, a.input_tokens),
    }
    p.finish()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::gemini::request_body;
    use stampede_mock::thinking::Thinking;

    fn attempt(input: u32, prompt_key: u64) -> Attempt {
        Attempt {
            session: 3,
            ..Attempt::example(input, prompt_key)
        }
    }

    /// The longest block two prompts share.
    fn shared(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
        a.iter().filter(|x| b.contains(x)).map(|x| x.1).max().unwrap_or(0)
    }

    #[test]
    fn the_simulator_cuts_and_shares_prompts_as_the_http_mock_does() {
        let doc = |a: Attempt, tokens: u32, key: u64| Attempt {
            document_tokens: tokens,
            document_key: key,
            ..a
        };
        let system = |a: Attempt, tokens: u32| Attempt {
            system_prompt_tokens: tokens,
            ..a
        };
        let history = |a: Attempt, h: &[(u32, u32)]| Attempt {
            history: Some(h.into()),
            ..a
        };
        let trace = |a: Attempt, p: &[(u64, u32)]| Attempt {
            prefix: Some(p.into()),
            ..a
        };
        let cases = [
            attempt(40, 1),
            attempt(40, 1),
            attempt(0, 1),
            doc(attempt(40, 1), 12_000, 9),
            doc(attempt(55, 2), 12_000, 9),
            doc(attempt(55, 2), 12_000, 8),
            doc(attempt(55, 2), 6_000, 9),
            system(doc(attempt(70, 3), 12_000, 9), 1_200),
            system(attempt(70, 3), 1_200),
            system(attempt(90, 4), 1_300),
            history(system(attempt(30, 5), 1_200), &[(200, 300)]),
            history(system(attempt(35, 6), 1_200), &[(200, 300), (30, 400)]),
            history(doc(attempt(35, 6), 5_000, 9), &[(200, 300)]),
            trace(attempt(2_000, 7), &[(11, 512), (12, 1024)]),
            trace(attempt(1_500, 8), &[(11, 512), (13, 1024)]),
            trace(doc(attempt(1_500, 8), 700, 9), &[(11, 512)]),
            trace(attempt(0, 8), &[]),
            trace(doc(attempt(0, 8), 700, 9), &[]),
        ];
        let live: Vec<Vec<(u64, u64)>> = cases
            .iter()
            .map(|a| request_body(a, Thinking::default(), Default::default()).prefix_blocks())
            .collect();
        let sim: Vec<Vec<(u64, u64)>> = cases.iter().map(prefix_blocks).collect();
        for (i, a) in cases.iter().enumerate() {
            let cuts = |b: &[(u64, u64)]| b.iter().map(|x| x.1).collect::<Vec<_>>();
            assert_eq!(cuts(&live[i]), cuts(&sim[i]), "case {i}");
            assert_eq!(
                live[i].last().map_or(0, |b| b.1),
                u64::from(a.system_prompt_tokens) + a.prompt_tokens()
            );
            for j in 0..cases.len() {
                assert_eq!(
                    shared(&live[i], &live[j]),
                    shared(&sim[i], &sim[j]),
                    "cases {i} and {j}"
                );
            }
        }
        // The document shared by different questions is served up to its last whole chunk.
        assert_eq!(shared(&sim[3], &sim[4]), 11_904);
        assert_eq!(shared(&sim[4], &sim[5]), 0);
    }
}
