//! The batch lane: a backend in front of the real one that groups the attempts of lanes marked
//! `batch` into Batch API jobs (by count, by input tokens, or by a time window since a group's
//! first request), submits each job, polls it with growing intervals, and answers every attempt
//! of the job when it ends — each exactly once: with its answer, or with the job's failure.
//! Attempts of other lanes go straight through.
//!
//! Groups, timers and polls run as tasks on the run's runtime, so in the simulator they move in
//! virtual time: a day of turnaround costs nothing to simulate.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::future::BoxFuture;
use std::sync::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::backend::{Attempt, AttemptError, AttemptResult, Backend, BatchPoll, CacheRequest, ErrorKind};
use crate::traffic::mix::BatchLaneSpec;

use super::Progress;

/// Consecutive failed polls after which a job's requests fail.
const POLL_ERRORS: u32 = 5;

type Waiter = (Attempt, oneshot::Sender<AttemptResult>);

/// A group being filled: its generation (so a window timer flushes only its own group), its
/// attempts and their input tokens.
struct Group {
    generation: u64,
    waiters: Vec<Waiter>,
    tokens: u64,
}

/// The groups being filled, by (lane, model), and the last generation handed out.
type Groups = (HashMap<(u8, Arc<str>), Group>, u64);

/// The batching backend.
pub struct Batcher {
    inner: Arc<dyn Backend>,
    lanes: Vec<Option<BatchLaneSpec>>,
    groups: Arc<Mutex<Groups>>,
    progress: Arc<Progress>,
}

impl Batcher {
    /// Batches the lanes that have a spec (by lane index) in front of `inner`.
    pub fn new(inner: Arc<dyn Backend>, lanes: Vec<Option<BatchLaneSpec>>, progress: Arc<Progress>) -> Batcher {
        Batcher {
            inner,
            lanes,
            groups: Arc::default(),
            progress,
        }
    }

    /// Adds an attempt to its group; returns the group when it is full.
    fn add(&self, spec: BatchLaneSpec, waiter: Waiter) -> Option<Vec<Waiter>> {
        let key = (waiter.0.lane, waiter.0.model.clone());
        let tokens = waiter.0.prompt_tokens() + u64::from(waiter.0.system_prompt_tokens);
        let mut guard = self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (groups, next) = &mut *guard;
        let group = groups.entry(key.clone()).or_insert_with(|| {
            *next += 1;
            Group {
                generation: *next,
                waiters: Vec::new(),
                tokens: 0,
            }
        });
        if group.waiters.is_empty() {
            self.spawn_window(spec, key.clone(), group.generation);
        }
        group.waiters.push(waiter);
        group.tokens += tokens;
        let full = group.waiters.len() >= spec.max_requests as usize
            || (spec.max_tokens > 0 && group.tokens >= spec.max_tokens);
        full.then(|| groups.remove(&key).map(|g| g.waiters)).flatten()
    }

    /// Flushes the group `generation` of `key` when its window ends, unless it was full first.
    fn spawn_window(&self, spec: BatchLaneSpec, key: (u8, Arc<str>), generation: u64) {
        let groups = self.groups.clone();
        let (inner, progress) = (self.inner.clone(), self.progress.clone());
        tokio::spawn(async move {
            tokio::time::sleep(spec.window).await;
            let waiters = {
                let mut guard = groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let ours = guard.0.get(&key).is_some_and(|g| g.generation == generation);
                if ours {
                    guard.0.remove(&key).map(|g| g.waiters)
                } else {
                    None
                }
            };
            if let Some(w) = waiters {
                run_job(inner, progress, spec, key.1, w).await;
            }
        });
    }
}

/// Submits one job, polls it to its end, and answers each of its attempts.
async fn run_job(
    inner: Arc<dyn Backend>,
    progress: Arc<Progress>,
    spec: BatchLaneSpec,
    model: Arc<str>,
    waiters: Vec<Waiter>,
) {
    let submitted = Instant::now();
    let attempts: Vec<Attempt> = waiters.iter().map(|(a, _)| a.clone()).collect();
    let answer_all = |waiters: Vec<Waiter>, error: AttemptError| {
        for (_, tx) in waiters {
            let _ = tx.send(AttemptResult::failed(error.clone()));
        }
    };
    let name = match inner.submit_batch(model, attempts).await {
        Ok(name) => name,
        Err(e) => return answer_all(waiters, e),
    };
    progress.batch_jobs.fetch_add(1, Ordering::Relaxed);
    progress.batch_jobs_submitted.fetch_add(1, Ordering::Relaxed);
    let mut delay = spec.poll;
    let mut errors = 0;
    let outcome = loop {
        tokio::time::sleep(delay).await;
        delay = delay.mul_f64(1.5).min(spec.max_poll);
        match inner.poll_batch(name.clone()).await {
            Ok(BatchPoll::Waiting) => errors = 0,
            Ok(done) => break Ok(done),
            Err(e) => {
                errors += 1;
                if errors >= POLL_ERRORS {
                    break Err(e);
                }
            }
        }
    };
    progress.batch_jobs.fetch_sub(1, Ordering::Relaxed);
    let now = Instant::now();
    match outcome {
        Ok(BatchPoll::Done(results)) => {
            let mut results = results.into_iter();
            for (_, tx) in waiters {
                let outcome = results.next().unwrap_or(Err(AttemptError::new(ErrorKind::Batch)));
                let result = AttemptResult {
                    first_byte: outcome.is_ok().then_some(now),
                    outcome,
                    stream: None,
                    batch_turnaround: Some(now - submitted),
                };
                let _ = tx.send(result);
            }
        }
        Ok(_) => answer_all(waiters, AttemptError::new(ErrorKind::Batch)),
        Err(e) => answer_all(waiters, e),
    }
}

impl Backend for Batcher {
    fn call(&self, attempt: Attempt) -> BoxFuture<'static, AttemptResult> {
        let Some(spec) = self.lanes.get(usize::from(attempt.lane)).copied().flatten() else {
            return self.inner.call(attempt);
        };
        let (tx, rx) = oneshot::channel();
        if let Some(full) = self.add(spec, (attempt.clone(), tx)) {
            let (inner, progress) = (self.inner.clone(), self.progress.clone());
            tokio::spawn(run_job(inner, progress, spec, attempt.model.clone(), full));
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| AttemptResult::failed(AttemptError::new(ErrorKind::Batch)))
        })
    }

    fn create_cache(&self, request: CacheRequest) -> BoxFuture<'static, Result<Arc<str>, String>> {
        self.inner.create_cache(request)
    }
}
