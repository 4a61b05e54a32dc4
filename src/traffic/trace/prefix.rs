//! Shared prompt prefixes of replayed traces: Mooncake's 512-token `hash_ids` blocks, and the
//! turns of a JSONL trace's `session`s, each earlier prompt a prefix of the next.

use std::collections::HashMap;

use stampede_mock::rng::combine;

use super::TraceRow;

/// Prompt prefix blocks: (block key, tokens up to the end of the block), growing.
pub type Prefix = std::sync::Arc<[(u64, u32)]>;

/// Tokens in one of Mooncake's `hash_ids` blocks.
pub const MOONCAKE_BLOCK: u32 = 512;

/// Mooncake's blocks as prefix blocks: block i ends at 512 × (i + 1) tokens, the last at the
/// prompt's end; each keyed by every id up to it, so equal leading ids are equal prefixes.
pub(super) fn mooncake_prefix(ids: &[u64], input: u32) -> Option<Prefix> {
    let mut key = 0u64;
    let mut blocks = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        key = combine(key, *id);
        let end = (MOONCAKE_BLOCK.saturating_mul(i as u32 + 1)).min(input);
        if blocks.last().is_some_and(|&(_, e)| e >= end) {
            break;
        }
        blocks.push((key, end));
    }
    (!blocks.is_empty()).then(|| Prefix::from(blocks))
}

/// Most conversations remembered at once (a trace of more starts forgetting them all).
const MAX_SESSIONS: usize = 100_000;
/// Most turns of one conversation remembered.
const MAX_TURNS: usize = 1000;

/// Each conversation's earlier prompts, as prefix blocks of its next one.
#[derive(Debug, Default)]
pub(super) struct SessionPrefixes {
    sessions: HashMap<u64, Vec<(u64, u32)>>,
    /// Rows of conversations read so far (keys their prompts' blocks).
    rows: u64,
}

impl SessionPrefixes {
    /// A row's prefix blocks: Mooncake's, or its conversation's earlier prompts that are shorter
    /// than it (each a prefix of the next, as a chat resends its history); records this prompt
    /// for the conversation's next turn.
    pub(super) fn prefix_of(&mut self, row: &TraceRow) -> Option<Prefix> {
        // A recording's own blocks say more than the session's guess.
        let Some(session) = row.session.filter(|_| row.prefix.is_none()) else {
            return row.prefix.clone();
        };
        if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(&session) {
            self.sessions.clear();
        }
        self.rows += 1;
        let serial = self.rows;
        let turns = self.sessions.entry(session).or_default();
        turns.retain(|&(_, end)| end < row.input);
        // This prompt is a block too, ending at its end: the next turn finds it stored. Its key
        // is unique to the row, so no two different prompts share one.
        if turns.len() < MAX_TURNS {
            turns.push((combine(session, serial), row.input));
        }
        Some(Prefix::from(turns.as_slice()))
    }
}
