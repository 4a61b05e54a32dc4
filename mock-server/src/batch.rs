//! The Batch API's jobs: inline requests answered together after a turnaround, at the batch
//! price, behind a per-model quota of enqueued tokens.
//!
//! Everything about a job is decided when it is created, so reading it later is a pure
//! function of the clock: when it starts (as soon as the tokens of the jobs still running on
//! its model leave room under `enqueued_tokens`), when it is done (start + a turnaround drawn
//! from the profile's distribution), and every answer's usage. Its state at a time follows:
//! pending before it starts, running until done, then succeeded — or expired, when it would
//! finish more than 48 hours after it was created (the API has an expired state; the period is an
//! assumption), or
//! cancelled from when a client cancels it. The book is bounded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::catalog::CostSplit;
use crate::store_budget::{BudgetRefusal, StoreBudget, StoreLimits};
use crate::usage::Usage;

/// A job not finished 48 hours after it was created expires (an assumed period).
pub const EXPIRY: Duration = Duration::from_secs(48 * 3600);
/// Most jobs kept (alive or finished); past it the oldest finished ones are forgotten, and
/// when none is finished a create is refused.
pub const MAX_JOBS: usize = 1000;
/// Most inline requests in one job.
pub const MAX_REQUESTS_PER_JOB: usize = 100_000;
/// What batch jobs may hold by default: 128 MiB in all, 32 MiB and 100 jobs per key.
pub const BATCH_LIMITS: StoreLimits = StoreLimits {
    total_bytes: 128 << 20,
    key_bytes: 32 << 20,
    key_entries: 100,
};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Waiting for room under the enqueued-token quota.
    Pending,
    /// Being answered.
    Running,
    /// Answered; its responses are inline.
    Succeeded,
    /// Cancelled by the client before it finished.
    Cancelled,
    /// Not finished within 48 hours.
    Expired,
}

impl BatchState {
    /// The wire name (`BATCH_STATE_RUNNING`...).
    pub fn wire(self) -> &'static str {
        match self {
            BatchState::Pending => "BATCH_STATE_PENDING",
            BatchState::Running => "BATCH_STATE_RUNNING",
            BatchState::Succeeded => "BATCH_STATE_SUCCEEDED",
            BatchState::Cancelled => "BATCH_STATE_CANCELLED",
            BatchState::Expired => "BATCH_STATE_EXPIRED",
        }
    }

    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, BatchState::Pending | BatchState::Running)
    }
}

/// One inline answer, decided at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchAnswer {
    /// Its usage.
    pub usage: Usage,
    /// Key of its text.
    pub text_key: u64,
    /// Whether it was cut at `maxOutputTokens`.
    pub max_tokens: bool,
    /// The request's `metadata` as JSON text, returned with it.
    pub metadata: Option<Box<str>>,
    /// Its cost at the batch price.
    pub cost: CostSplit,
}

impl BatchAnswer {
    /// Bytes it holds in a job.
    pub fn bytes(&self) -> u64 {
        BatchAnswer::bytes_for(self.metadata.as_ref().map_or(0, |m| m.len()))
    }

    /// Bytes an answer with `metadata` bytes of metadata text holds (a boxed text costs its
    /// length and the allocator's header and rounding).
    pub fn bytes_for(metadata: usize) -> u64 {
        let text = if metadata > 0 { metadata + 32 } else { 0 };
        (std::mem::size_of::<BatchAnswer>() + text) as u64
    }
}

/// One job.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    /// `batches/{id}`.
    pub name: String,
    /// The model (without `models/`).
    pub model: String,
    /// `displayName`.
    pub display_name: String,
    /// When it was created.
    pub created: Instant,
    /// When it starts running.
    pub starts: Instant,
    /// When it is done (if it does not expire first).
    pub done: Instant,
    /// When a client cancelled it, if one did.
    pub cancelled: Option<Instant>,
    /// Input tokens of all its requests (what it holds of the enqueued-token quota).
    pub tokens: u64,
    /// The answers, in request order.
    pub answers: Vec<BatchAnswer>,
    project: String,
}

impl BatchJob {
    /// Its state at `now`.
    pub fn state(&self, now: Instant) -> BatchState {
        if self.cancelled.is_some_and(|c| c <= now) {
            return BatchState::Cancelled;
        }
        if self.done > self.created + EXPIRY {
            return if now >= self.created + EXPIRY {
                BatchState::Expired
            } else if now >= self.starts {
                BatchState::Running
            } else {
                BatchState::Pending
            };
        }
        if now >= self.done {
            BatchState::Succeeded
        } else if now >= self.starts {
            BatchState::Running
        } else {
            BatchState::Pending
        }
    }

    /// When it reached its final state, if it has by `now`.
    pub fn ended(&self, now: Instant) -> Option<Instant> {
        match self.state(now) {
            BatchState::Cancelled => self.cancelled,
            BatchState::Expired => Some(self.created + EXPIRY),
            BatchState::Succeeded => Some(self.done),
            _ => None,
        }
    }

    /// When it stops holding its model's enqueued-token quota.
    fn releases(&self) -> Instant {
        let end = self.done.min(self.created + EXPIRY);
        self.cancelled.map_or(end, |c| c.min(end))
    }
}

/// Why a batch operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// No such job (or another project's).
    NotFound,
    /// Too many jobs kept.
    TooMany,
    /// The key's or the store's budget has no room for it.
    Budget(BudgetRefusal),
    /// The job is larger than the model's whole enqueued-token quota.
    TooLarge {
        /// Its tokens.
        tokens: u64,
        /// The quota.
        limit: u64,
    },
}

/// Every job of every project.
#[derive(Debug)]
pub struct BatchBook {
    jobs: BTreeMap<String, Arc<BatchJob>>,
    next_id: u64,
    budget: StoreBudget,
}

impl Default for BatchBook {
    fn default() -> Self {
        BatchBook::new(BATCH_LIMITS)
    }
}

impl BatchJob {
    /// Bytes it holds in the book: its answers, its strings and its place in the map.
    pub fn bytes(&self) -> u64 {
        let answers: u64 = self.answers.iter().map(BatchAnswer::bytes).sum();
        let strings = 2 * self.name.len() + self.model.len() + self.display_name.len() + self.project.len();
        answers + (strings + std::mem::size_of::<BatchJob>() + 64) as u64
    }
}

/// What a new job is made of, beyond its answers.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The project (API key).
    pub project: &'a str,
    /// The model.
    pub model: &'a str,
    /// `displayName`.
    pub display_name: &'a str,
    /// Its turnaround once started.
    pub turnaround: Duration,
    /// The model's enqueued-token quota (0 = unlimited).
    pub enqueued_limit: u64,
}

impl BatchBook {
    /// No jobs yet, bounded by `limits`.
    pub fn new(limits: StoreLimits) -> BatchBook {
        BatchBook {
            jobs: BTreeMap::new(),
            next_id: 0,
            budget: StoreBudget::new(limits),
        }
    }

    /// Bytes and jobs `project` holds, and bytes all projects hold.
    pub fn held(&self, project: &str) -> ((u64, usize), u64) {
        (self.budget.held(project), self.budget.total())
    }

    /// Jobs created so far (names a job's random stream).
    pub fn created(&self) -> u64 {
        self.next_id
    }

    /// Adds a job created `now` with these answers (their prompts sum to `tokens`). Room is
    /// made by forgetting finished jobs, oldest first: the project's own for its count and
    /// bytes, anyone's for the total count and bytes; when that is not enough it is refused.
    pub fn create(
        &mut self,
        now: Instant,
        job: NewJob<'_>,
        tokens: u64,
        answers: Vec<BatchAnswer>,
    ) -> Result<Arc<BatchJob>, BatchError> {
        if job.enqueued_limit > 0 && tokens > job.enqueued_limit {
            return Err(BatchError::TooLarge {
                tokens,
                limit: job.enqueued_limit,
            });
        }
        let starts = self.start_time(now, job.model, tokens, job.enqueued_limit);
        let j = BatchJob {
            name: format!("batches/mock{:012x}", self.next_id + 1),
            model: job.model.to_string(),
            display_name: job.display_name.to_string(),
            created: now,
            starts,
            done: starts.checked_add(job.turnaround).unwrap_or(starts + EXPIRY),
            cancelled: None,
            tokens,
            answers,
            project: job.project.to_string(),
        };
        self.make_room(now, &j)?;
        self.next_id += 1;
        self.budget.add(&j.project, j.bytes());
        let j = Arc::new(j);
        self.jobs.insert(j.name.clone(), j.clone());
        Ok(j)
    }

    /// Whether a job of about `bytes` could fit for `project`, counting the finished jobs that
    /// would be forgotten to make room as free.
    pub fn fits(&self, project: &str, bytes: u64) -> Result<(), BatchError> {
        match self.budget.check(project, bytes) {
            Ok(()) => Ok(()),
            Err(r) if r.is_permanent() => Err(BatchError::Budget(r)),
            Err(r) => {
                let now = Instant::now();
                let finished = self.jobs.values().any(|j| j.state(now).is_final());
                if finished {
                    Ok(())
                } else {
                    Err(BatchError::Budget(r))
                }
            }
        }
    }

    /// Forgets finished jobs until `j` fits, or says why it cannot.
    fn make_room(&mut self, now: Instant, j: &BatchJob) -> Result<(), BatchError> {
        let bytes = j.bytes();
        loop {
            let over_count = self.jobs.len() >= MAX_JOBS;
            let refusal = match self.budget.check(&j.project, bytes) {
                Err(r) if r.is_permanent() => return Err(BatchError::Budget(r)),
                Err(r) => Some(r),
                Ok(()) if over_count => None,
                Ok(()) => return Ok(()),
            };
            let own = matches!(
                refusal,
                Some(BudgetRefusal::KeyEntries { .. } | BudgetRefusal::KeyBytes { .. })
            );
            let victim = self
                .jobs
                .values()
                .filter(|old| old.state(now).is_final() && (!own || old.project == j.project))
                .min_by_key(|old| old.created)
                .map(|old| old.name.clone());
            match (victim, refusal) {
                (Some(name), _) => self.forget(&name),
                (None, Some(r)) => return Err(BatchError::Budget(r)),
                (None, None) => return Err(BatchError::TooMany),
            }
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(old) = self.jobs.remove(name) {
            self.budget.remove(&old.project, old.bytes());
        }
    }

    /// When a job of `tokens` created `now` on `model` can start: once the jobs holding the
    /// model's quota have released enough of it.
    fn start_time(&self, now: Instant, model: &str, tokens: u64, limit: u64) -> Instant {
        if limit == 0 {
            return now;
        }
        let mut holding: Vec<(Instant, u64)> = self
            .jobs
            .values()
            .filter(|j| j.model == model && j.releases() > now)
            .map(|j| (j.releases(), j.tokens))
            .collect();
        holding.sort();
        let mut held: u64 = holding.iter().map(|(_, t)| t).sum();
        let mut at = now;
        for (release, t) in holding {
            if held + tokens <= limit {
                break;
            }
            held -= t;
            at = release;
        }
        at
    }

    /// A job of `project` by name (shared, not copied: a job may hold 100,000 answers).
    pub fn get(&self, project: &str, name: &str) -> Result<Arc<BatchJob>, BatchError> {
        self.jobs
            .get(name)
            .filter(|j| j.project == project)
            .cloned()
            .ok_or(BatchError::NotFound)
    }

    /// The project's jobs, newest first.
    pub fn list(&self, project: &str) -> Vec<Arc<BatchJob>> {
        self.page(project, None, usize::MAX).0
    }

    /// A page of the project's jobs, newest first: at most `size` after the job named `after`,
    /// and the name to continue after when more remain.
    pub fn page(&self, project: &str, after: Option<&str>, size: usize) -> (Vec<Arc<BatchJob>>, Option<String>) {
        use std::ops::Bound::{Excluded, Unbounded};
        // Names grow with creation, so newest first is the names' reverse order.
        let to = after.map_or(Unbounded, |a| Excluded(a.to_string()));
        let mut mine = self
            .jobs
            .range((Unbounded, to))
            .rev()
            .map(|(_, j)| j)
            .filter(|j| j.project == project);
        let page: Vec<Arc<BatchJob>> = mine.by_ref().take(size).cloned().collect();
        let next = mine.next().and(page.last()).map(|j| j.name.clone());
        (page, next)
    }

    /// Cancels a job that has not finished (a finished one stays as it is).
    pub fn cancel(&mut self, now: Instant, project: &str, name: &str) -> Result<Arc<BatchJob>, BatchError> {
        self.get(project, name)?;
        let j = self.jobs.get_mut(name).ok_or(BatchError::NotFound)?;
        if !j.state(now).is_final() {
            Arc::make_mut(j).cancelled = Some(now);
        }
        Ok(j.clone())
    }

    /// Deletes a job.
    pub fn delete(&mut self, project: &str, name: &str) -> Result<(), BatchError> {
        self.get(project, name)?;
        self.forget(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<'a>(turnaround: u64, limit: u64) -> NewJob<'a> {
        NewJob {
            project: "p",
            model: "m",
            display_name: "d",
            turnaround: Duration::from_secs(turnaround),
            enqueued_limit: limit,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_then_succeeds_and_waits_behind_the_enqueued_token_quota() {
        let t0 = Instant::now();
        let mut book = BatchBook::default();
        let a = book.create(t0, job(60, 1000), 800, Vec::new()).unwrap();
        assert_eq!(a.state(t0), BatchState::Running);
        assert_eq!(a.state(t0 + Duration::from_secs(60)), BatchState::Succeeded);
        // 800 + 300 > 1,000: the second waits for the first to finish.
        let b = book.create(t0, job(30, 1000), 300, Vec::new()).unwrap();
        assert_eq!(b.state(t0 + Duration::from_secs(10)), BatchState::Pending);
        assert_eq!(b.starts, t0 + Duration::from_secs(60));
        assert_eq!(
            b.ended(t0 + Duration::from_secs(95)),
            Some(t0 + Duration::from_secs(90))
        );
        assert!(matches!(
            book.create(t0, job(1, 1000), 2000, Vec::new()),
            Err(BatchError::TooLarge { .. })
        ));
        // Cancelled, expired, another project's.
        let c = book.cancel(t0 + Duration::from_secs(5), "p", &b.name).unwrap();
        assert_eq!(c.state(t0 + Duration::from_secs(6)), BatchState::Cancelled);
        let d = book.create(t0, job(49 * 3600, 0), 1, Vec::new()).unwrap();
        assert_eq!(d.state(t0 + EXPIRY), BatchState::Expired);
        assert_eq!(book.get("q", &d.name), Err(BatchError::NotFound));
        assert_eq!(book.list("p").len(), 3);
        book.delete("p", &d.name).unwrap();
        assert_eq!(book.list("p").len(), 2);
    }
}
