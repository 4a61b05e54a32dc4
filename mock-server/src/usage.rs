//! What an answer used and why it ended, as the wire reports them (`usageMetadata`,
//! `finishReason`): plain values that the model, the Batch API's jobs and the wire types share,
//! kept below all of them.

use serde::{Deserialize, Serialize};

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FinishReason {
    /// Natural end.
    Stop,
    /// Cut at `maxOutputTokens`.
    MaxTokens,
}

/// Token usage as `usageMetadata` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// `promptTokenCount`.
    pub prompt: u64,
    /// `candidatesTokenCount`.
    pub candidates: u64,
    /// `thoughtsTokenCount`.
    pub thoughts: u64,
    /// `cachedContentTokenCount`: prompt tokens served from a context cache (part of `prompt`).
    #[serde(default)]
    pub cached: u64,
}
