//! What the engine needs to know about each lane of the traffic.

use std::time::Duration;

use crate::backend::ServiceTier;

/// What the engine needs to know about a lane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneConfig {
    /// Priority (0 first) under the `priority` scheduler.
    pub priority: u8,
    /// Weight under the `fair` scheduler.
    pub weight: f64,
    /// Workers only this lane may use.
    pub reserved_workers: u32,
    /// The lane's total deadline, replacing `strategy.timeout.total` when set.
    pub deadline: Option<Duration>,
    /// Tokens of the lane's shared system prompt, sent before each prompt (0: none).
    pub system_prompt_tokens: u32,
    /// Tokens of the document each prompt of the lane starts with (0: none).
    pub document_tokens: u32,
    /// How many distinct documents the lane's prompts draw from (at least 1).
    pub documents: u32,
    /// The service tier the lane's attempts ask for.
    pub service_tier: ServiceTier,
    /// Pin the system prompt to an explicit context cache made before the traffic starts.
    pub pin_prefix: bool,
    /// Send the lane through the Batch API (its requests hold no worker).
    pub batch: Option<crate::traffic::mix::BatchLaneSpec>,
}

impl LaneConfig {
    /// Tokens every prompt of the lane carries besides its own: its system prompt and document.
    pub fn shared_tokens(&self) -> u32 {
        self.system_prompt_tokens + self.document_tokens
    }
}

impl Default for LaneConfig {
    fn default() -> Self {
        LaneConfig {
            priority: 0,
            weight: 1.0,
            reserved_workers: 0,
            deadline: None,
            system_prompt_tokens: 0,
            document_tokens: 0,
            documents: 1,
            service_tier: ServiceTier::Standard,
            pin_prefix: false,
            batch: None,
        }
    }
}
