//! Context caching as Gemini bills it: implicit caching of repeated prompt prefixes, and
//! explicit caches (`cachedContents`) that a request names.
//!
//! Implicit: every request brings its prompt as cumulative prefix blocks (every whole chunk of
//! the flattened prompt and the end of each content, see [`crate::prefix`]), each a (hash,
//! tokens) pair. A request hits the longest block
//! that an earlier request of the same project and model stored within the time to live and
//! that is at least the model's minimum; those tokens are reported as `cachedContentTokenCount`
//! (they stay inside `promptTokenCount`) and billed at the cached price. Every block at or above
//! the minimum is then stored (or refreshed). The book is bounded.
//!
//! Explicit: a cache holds a token count for a model and lives until its expiry; a request that
//! names it adds those tokens to its prompt, all of them cached. Storage is billed per token-hour
//! from creation to expiry or deletion.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHasher};
use tokio::time::Instant;

use crate::store_budget::{BudgetRefusal, StoreBudget, StoreLimits};

/// Most implicit entries kept; past it expired entries are dropped, then the oldest until at
/// most half remain.
const MAX_IMPLICIT: usize = 200_000;
/// Most explicit caches alive at once (a create past it is refused).
pub const MAX_EXPLICIT: usize = 10_000;
/// What explicit caches may hold by default: 64 MiB in all, 16 MiB and 1,000 caches per key.
pub const EXPLICIT_LIMITS: StoreLimits = StoreLimits {
    total_bytes: 64 << 20,
    key_bytes: 16 << 20,
    key_entries: 1000,
};

/// A prompt prefix: the hash of its content and its size in tokens.
pub type PrefixBlock = (u64, u64);

/// Implicit prefix caching per (project, model).
#[derive(Debug, Default)]
pub struct ImplicitCache {
    ttl: Duration,
    expires: FxHashMap<u64, Instant>,
}

fn entry_key(project: &str, model: &str, prefix: u64) -> u64 {
    let mut h = FxHasher::default();
    (project, model, prefix).hash(&mut h);
    h.finish()
}

impl ImplicitCache {
    /// A cache whose entries live `ttl` after their last use (zero: no implicit caching).
    pub fn new(ttl: Duration) -> ImplicitCache {
        ImplicitCache {
            ttl,
            expires: FxHashMap::default(),
        }
    }

    /// The cached tokens of a request with these prefix blocks (in growing order), then stores
    /// its blocks of at least `min_tokens` (0: the model has no implicit cache).
    pub fn serve(&mut self, now: Instant, project: &str, model: &str, blocks: &[PrefixBlock], min_tokens: u64) -> u64 {
        if self.ttl.is_zero() || min_tokens == 0 {
            return 0;
        }
        let eligible = || blocks.iter().filter(|(_, tokens)| *tokens >= min_tokens);
        let hit = eligible()
            .filter(|(hash, _)| {
                self.expires
                    .get(&entry_key(project, model, *hash))
                    .is_some_and(|&t| t > now)
            })
            .map(|&(_, tokens)| tokens)
            .max()
            .unwrap_or(0);
        if self.expires.len() >= MAX_IMPLICIT {
            self.expires.retain(|_, t| *t > now);
            // At most half stays: freeing a few expired entries would bring the sweep back at
            // the next request (a day of conversations spent 15% of its time here).
            if self.expires.len() > MAX_IMPLICIT / 2 {
                let mut times: Vec<Instant> = self.expires.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.expires.retain(|_, t| *t > cut);
            }
        }
        for &(hash, _) in eligible() {
            self.expires.insert(entry_key(project, model, hash), now + self.ttl);
        }
        hit
    }
}

/// One explicit cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedContent {
    /// `cachedContents/{id}`.
    pub name: String,
    /// The model it was made for (id without `models/`).
    pub model: String,
    /// `displayName`.
    pub display_name: String,
    /// Tokens it holds.
    pub tokens: u64,
    /// When it was made.
    pub created: Instant,
    /// When it was last changed.
    pub updated: Instant,
    /// When it expires.
    pub expires: Instant,
    project: String,
}

impl CachedContent {
    /// Bytes it holds in the store: its strings and its place in the map.
    pub fn bytes(&self) -> u64 {
        let strings = 2 * self.name.len() + self.model.len() + self.display_name.len() + self.project.len();
        (strings + std::mem::size_of::<CachedContent>() + 64) as u64
    }
}

/// Explicit caches of every project, and the storage they have used.
#[derive(Debug)]
pub struct ExplicitCaches {
    by_name: BTreeMap<String, CachedContent>,
    next_id: u64,
    /// Token-seconds of storage of caches already gone.
    stored_token_seconds: f64,
    budget: StoreBudget,
}

impl Default for ExplicitCaches {
    fn default() -> Self {
        ExplicitCaches::new(EXPLICIT_LIMITS)
    }
}

/// Why a cache operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// No such cache (or another project's).
    NotFound,
    /// Too many caches alive.
    TooMany,
    /// The key's or the store's budget has no room for it.
    Budget(BudgetRefusal),
}

impl ExplicitCaches {
    /// No caches yet, bounded by `limits`.
    pub fn new(limits: StoreLimits) -> ExplicitCaches {
        ExplicitCaches {
            by_name: BTreeMap::new(),
            next_id: 0,
            stored_token_seconds: 0.0,
            budget: StoreBudget::new(limits),
        }
    }

    fn sweep(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .by_name
            .iter()
            .filter(|(_, c)| c.expires <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            if let Some(c) = self.by_name.remove(&name) {
                self.budget.remove(&c.project, c.bytes());
                self.stored_token_seconds += c.tokens as f64 * (c.expires - c.created).as_secs_f64();
            }
        }
    }

    /// Makes a cache of `tokens` for `model` living `ttl`.
    pub fn create(
        &mut self,
        now: Instant,
        project: &str,
        model: &str,
        display_name: &str,
        tokens: u64,
        ttl: Duration,
    ) -> Result<CachedContent, CacheError> {
        self.sweep(now);
        if self.by_name.len() >= MAX_EXPLICIT {
            return Err(CacheError::TooMany);
        }
        let c = CachedContent {
            name: format!("cachedContents/mock{:012x}", self.next_id + 1),
            model: model.to_string(),
            display_name: display_name.to_string(),
            tokens,
            created: now,
            updated: now,
            expires: expiry(now, ttl),
            project: project.to_string(),
        };
        self.budget.check(project, c.bytes()).map_err(CacheError::Budget)?;
        self.next_id += 1;
        self.budget.add(project, c.bytes());
        self.by_name.insert(c.name.clone(), c.clone());
        Ok(c)
    }

    /// A live cache of `project` by name.
    pub fn get(&mut self, now: Instant, project: &str, name: &str) -> Result<CachedContent, CacheError> {
        self.sweep(now);
        self.by_name
            .get(name)
            .filter(|c| c.project == project)
            .cloned()
            .ok_or(CacheError::NotFound)
    }

    /// The live caches of `project`, by name.
    pub fn list(&mut self, now: Instant, project: &str) -> Vec<CachedContent> {
        self.page(now, project, None, usize::MAX).0
    }

    /// A page of the live caches of `project` by name: at most `size` after the cache named
    /// `after`, and the name to continue after when more remain.
    pub fn page(
        &mut self,
        now: Instant,
        project: &str,
        after: Option<&str>,
        size: usize,
    ) -> (Vec<CachedContent>, Option<String>) {
        use std::ops::Bound::{Excluded, Unbounded};
        self.sweep(now);
        let from = after.map_or(Unbounded, |a| Excluded(a.to_string()));
        let mut mine = self
            .by_name
            .range((from, Unbounded))
            .map(|(_, c)| c)
            .filter(|c| c.project == project);
        let page: Vec<CachedContent> = mine.by_ref().take(size).cloned().collect();
        let next = mine.next().and(page.last()).map(|c| c.name.clone());
        (page, next)
    }

    /// Bytes and caches `project` holds, and bytes all projects hold.
    pub fn held(&self, project: &str) -> ((u64, usize), u64) {
        (self.budget.held(project), self.budget.total())
    }

    /// Sets a cache's expiry to `now + ttl`.
    pub fn update_ttl(
        &mut self,
        now: Instant,
        project: &str,
        name: &str,
        ttl: Duration,
    ) -> Result<CachedContent, CacheError> {
        self.get(now, project, name)?;
        let c = self.by_name.get_mut(name).ok_or(CacheError::NotFound)?;
        c.expires = expiry(now, ttl);
        c.updated = now;
        Ok(c.clone())
    }

    /// Deletes a cache; its storage ends now.
    pub fn delete(&mut self, now: Instant, project: &str, name: &str) -> Result<(), CacheError> {
        self.get(now, project, name)?;
        let c = self.by_name.remove(name).ok_or(CacheError::NotFound)?;
        self.budget.remove(&c.project, c.bytes());
        self.stored_token_seconds += c.tokens as f64 * (now - c.created).as_secs_f64();
        Ok(())
    }

    /// Token-hours of storage used so far, per model (live caches up to `now`).
    pub fn storage_token_hours(&mut self, now: Instant) -> f64 {
        self.sweep(now);
        let live: f64 = self
            .by_name
            .values()
            .map(|c| c.tokens as f64 * (now - c.created).as_secs_f64())
            .sum();
        (self.stored_token_seconds + live) / 3600.0
    }
}

/// `now + ttl`, or (past what the clock holds) 30 years on: no stored expiry can overflow.
fn expiry(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_implicit_cache_keeps_at_most_half_and_the_newest() {
        let t0 = Instant::now();
        let mut c = ImplicitCache::new(Duration::from_secs(3600));
        // Live entries only (an hour's TTL, a millisecond apart): expiry frees nothing.
        for i in 0..MAX_IMPLICIT as u64 {
            c.serve(t0 + Duration::from_millis(i), "p", "m", &[(i, 2000)], 1024);
        }
        let late = t0 + Duration::from_millis(MAX_IMPLICIT as u64);
        c.serve(late, "p", "m", &[(u64::MAX, 2000)], 1024);
        // The sweep cut to half, so the next MAX/2 requests insert without sweeping again.
        assert!(c.expires.len() <= MAX_IMPLICIT / 2 + 1, "{}", c.expires.len());
        assert_eq!(c.serve(late, "p", "m", &[(MAX_IMPLICIT as u64 - 1, 2000)], 1024), 2000);
        assert_eq!(c.serve(late, "p", "m", &[(0, 2000)], 1024), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_prefix_hits_after_the_first_request_and_expires() {
        let t0 = Instant::now();
        let mut c = ImplicitCache::new(Duration::from_secs(300));
        let blocks = [(1, 2000), (2, 2100)];
        assert_eq!(c.serve(t0, "p", "m", &blocks, 1024), 0);
        // Another question after the same system prompt: the 2,000-token prefix hits.
        assert_eq!(c.serve(t0, "p", "m", &[(1, 2000), (3, 2050)], 1024), 2000);
        // The identical prompt hits whole.
        assert_eq!(c.serve(t0, "p", "m", &blocks, 1024), 2100);
        // Below the model's minimum nothing is cached; other projects and models do not share.
        assert_eq!(c.serve(t0, "p", "m", &blocks, 4096), 0);
        assert_eq!(c.serve(t0, "q", "m", &blocks, 1024), 0);
        assert_eq!(c.serve(t0, "p", "n", &blocks, 1024), 0);
        // Past the time to live it is gone.
        assert_eq!(c.serve(t0 + Duration::from_secs(301), "p", "m", &[(1, 2000)], 1024), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn explicit_caches_live_until_expiry_and_bill_storage() {
        let t0 = Instant::now();
        let mut c = ExplicitCaches::default();
        let a = c.create(t0, "p", "m", "docs", 3600, Duration::from_secs(3600)).unwrap();
        assert_eq!(c.get(t0, "p", &a.name).unwrap().tokens, 3600);
        assert_eq!(c.get(t0, "q", &a.name), Err(CacheError::NotFound));
        let t1 = t0 + Duration::from_secs(1800);
        assert!((c.storage_token_hours(t1) - 1800.0).abs() < 1e-6);
        c.delete(t1, "p", &a.name).unwrap();
        assert!(c.list(t1, "p").is_empty());
        let b = c.create(t1, "p", "m", "", 100, Duration::from_secs(60)).unwrap();
        assert!(c.get(t1 + Duration::from_secs(61), "p", &b.name).is_err());
        let hours = c.storage_token_hours(t1 + Duration::from_secs(61));
        assert!((hours - (1800.0 + 100.0 / 60.0)).abs() < 1e-6, "{hours}");
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn caches_are_paged_and_one_key_cannot_fill_the_store() {
        let t0 = Instant::now();
        let mut c = ExplicitCaches::new(StoreLimits {
            total_bytes: 1 << 20,
            key_bytes: 4096,
            key_entries: 3,
        });
        let hour = Duration::from_secs(3600);
        for _ in 0..3 {
            c.create(t0, "a", "m", "", 10, hour).unwrap();
        }
        assert!(matches!(
            c.create(t0, "a", "m", "", 10, hour),
            Err(CacheError::Budget(BudgetRefusal::KeyEntries { limit: 3 }))
        ));
        let b = c.create(t0, "b", "m", "", 10, hour).unwrap();
        assert!(matches!(
            c.create(t0, "b", "m", &"x".repeat(5000), 10, hour),
            Err(CacheError::Budget(BudgetRefusal::EntryTooLarge { .. }))
        ));
        let (first, next) = c.page(t0, "a", None, 2);
        assert_eq!(first.len(), 2);
        let (rest, end) = c.page(t0, "a", next.as_deref(), 2);
        assert_eq!((rest.len(), end), (1, None));
        c.delete(t0, "b", &b.name).unwrap();
        assert_eq!(c.held("b").0, (0, 0));
        // An expiry past what the clock holds is kept as a far one, never a panic.
        let far = c.create(t0, "b", "m", "", 10, Duration::MAX).unwrap();
        assert!(far.expires > t0 + Duration::from_secs(365 * 86_400));
    }
}
