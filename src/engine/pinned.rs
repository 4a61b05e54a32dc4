//! Lanes whose shared system prompt is pinned to an explicit context cache
//! (`strategy.pin_prefix`): before the traffic starts the engine makes one cache per (lane,
//! model) through the backend, and that lane's attempts then name the cache instead of sending
//! the prompt. A lane whose cache could not be made sends its prompt as before.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, CacheRequest};

use super::EngineConfig;

/// The caches made for a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PinnedCaches {
    /// Cache name per lane, then per model index (`None`: not pinned, or the cache failed).
    names: Vec<Vec<Option<Arc<str>>>>,
    /// Each cache made: (model index, tokens held, time to live) — storage is billed for it.
    pub made: Vec<(u8, u32, Duration)>,
    /// Why a cache could not be made, per failure.
    pub failures: Vec<String>,
}

impl PinnedCaches {
    /// The cache a lane's attempt on `model` names, if any.
    pub fn name(&self, lane: u8, model: u8) -> Option<Arc<str>> {
        self.names.get(usize::from(lane))?.get(usize::from(model))?.clone()
    }
}

/// Makes the caches the configuration asks for, one per pinned lane and model.
pub(super) async fn pin(config: &EngineConfig, backend: &dyn Backend) -> PinnedCaches {
    let mut pinned = PinnedCaches::default();
    for (lane, l) in config.lanes.iter().enumerate() {
        let mut names = vec![None; config.models.len()];
        if l.pin_prefix && l.system_prompt_tokens > 0 {
            for (model, name) in config.models.iter().enumerate() {
                let request = CacheRequest {
                    model: name.clone(),
                    tokens: l.system_prompt_tokens,
                    key: super::send::system_prompt_key(lane as u8),
                    ttl: config.cache_ttl,
                };
                match backend.create_cache(request).await {
                    Ok(cache) => {
                        names[model] = Some(cache);
                        pinned
                            .made
                            .push((model as u8, l.system_prompt_tokens, config.cache_ttl));
                    }
                    Err(e) => pinned.failures.push(format!("lane {lane}, model {name}: {e}")),
                }
            }
        }
        pinned.names.push(names);
    }
    pinned
}
