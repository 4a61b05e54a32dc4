//! The model's explicit caches (`cachedContents`), as the transports call them.

use std::time::Duration;

use tokio::time::Instant;

use super::MockModel;
use crate::context_cache::{CacheError, CachedContent};
use crate::errors::ApiError;

/// Tokens a new cache must hold at least: the model's implicit-cache minimum (the caching docs
/// give one minimum for both kinds).
fn too_small(tokens: u64, min: u64) -> bool {
    min > 0 && tokens < min
}

/// A cache lives 1 second to 30 days (an `expireTime` in the past or years ahead is refused,
/// so no stored expiry is past what a clock or RFC 3339 can hold).
fn check_ttl(ttl: Duration) -> Result<(), ApiError> {
    use crate::bounds::MAX_CACHE_TTL_SECS;
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(MAX_CACHE_TTL_SECS) {
        return Err(ApiError::invalid_argument(format!(
            "Invalid value at 'ttl' ({:.0}s from now): a cache lives between 1s and {MAX_CACHE_TTL_SECS}s (30 days).",
            ttl.as_secs_f64().min(1e15)
        )));
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::permission_denied("CachedContent not found (or permission denied)")
}

fn cache_error(e: CacheError) -> ApiError {
    match e {
        CacheError::NotFound => not_found(),
        CacheError::TooMany => ApiError::resource_exhausted("Too many cached contents for this project."),
        CacheError::Budget(r) if r.is_permanent() => ApiError::invalid_argument(r.describe("cached content")),
        CacheError::Budget(r) => ApiError::resource_exhausted(r.describe("cached content")),
    }
}

impl MockModel {
    /// Makes an explicit cache of `tokens` for `model` living `ttl` (checks the key, the model
    /// and the minimum size first).
    pub fn create_cache(
        &self,
        api_key: Option<&str>,
        model: &str,
        display_name: &str,
        tokens: u64,
        ttl: Duration,
    ) -> Result<CachedContent, ApiError> {
        self.authenticate(api_key)?;
        crate::bounds::display_name(display_name)?;
        check_ttl(ttl)?;
        if !self.serves(model) {
            return Err(ApiError::model_not_found(model, "createCachedContent"));
        }
        let min = self
            .profile
            .prices
            .get(model)
            .map_or(0, |p| p.implicit_cache_min_tokens);
        if too_small(tokens, min) {
            return Err(ApiError::invalid_argument(format!(
                "Cached content is too small. total_token_count={tokens}, min_total_token_count={min}"
            )));
        }
        self.explicit
            .lock()
            .create(Instant::now(), api_key.unwrap_or(""), model, display_name, tokens, ttl)
            .map_err(cache_error)
    }

    /// A live cache by name (`cachedContents/…`).
    pub fn get_cache(&self, api_key: Option<&str>, name: &str) -> Result<CachedContent, ApiError> {
        self.authenticate(api_key)?;
        let mut caches = self.explicit.lock();
        caches
            .get(Instant::now(), api_key.unwrap_or(""), name)
            .map_err(cache_error)
    }

    /// A page of the project's live caches by name: at most `size` after the cache named
    /// `after`, and the name to continue after when more remain.
    pub fn list_caches(
        &self,
        api_key: Option<&str>,
        after: Option<&str>,
        size: usize,
    ) -> Result<(Vec<CachedContent>, Option<String>), ApiError> {
        self.authenticate(api_key)?;
        Ok(self
            .explicit
            .lock()
            .page(Instant::now(), api_key.unwrap_or(""), after, size))
    }

    /// Bytes and caches the key's explicit caches hold, and bytes all keys' caches hold.
    pub fn cache_bytes(&self, api_key: Option<&str>) -> ((u64, usize), u64) {
        self.explicit.lock().held(api_key.unwrap_or(""))
    }

    /// Moves a cache's expiry to `ttl` from now.
    pub fn update_cache(&self, api_key: Option<&str>, name: &str, ttl: Duration) -> Result<CachedContent, ApiError> {
        self.authenticate(api_key)?;
        check_ttl(ttl)?;
        let mut caches = self.explicit.lock();
        caches
            .update_ttl(Instant::now(), api_key.unwrap_or(""), name, ttl)
            .map_err(cache_error)
    }

    /// Deletes a cache.
    pub fn delete_cache(&self, api_key: Option<&str>, name: &str) -> Result<(), ApiError> {
        self.authenticate(api_key)?;
        let mut caches = self.explicit.lock();
        caches
            .delete(Instant::now(), api_key.unwrap_or(""), name)
            .map_err(cache_error)
    }

    /// Storage used by explicit caches so far, in USD (priced per token-hour of the model each
    /// cache was made for; unpriced models count nothing).
    pub fn cache_storage_token_hours(&self) -> f64 {
        self.explicit.lock().storage_token_hours(Instant::now())
    }

    /// The tokens of the cache a generate call names; it must be the project's and the same
    /// model's.
    pub(super) fn explicit_tokens(&self, now: Instant, key: &str, name: &str, model: &str) -> Result<u64, ApiError> {
        let c = self.explicit.lock().get(now, key, name).map_err(cache_error)?;
        if c.model != model {
            return Err(ApiError::invalid_argument(format!(
                "Model used by GenerateContent request (models/{model}) and CachedContent (models/{}) has to be the same.",
                c.model
            )));
        }
        Ok(c.tokens)
    }
}
