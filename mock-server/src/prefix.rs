//! A prompt's prefixes as implicit caching looks them up: the flattened prompt (system
//! instruction, then every turn's text parts in order) cut into fixed chunks of
//! [`CHUNK_TOKENS`] tokens, plus the end of each content (the system instruction, each turn).
//!
//! Gemini serves "the common leading tokens" of a request from its implicit cache; Google
//! publishes the minimum prefix per model but not the granularity of a hit. The assumption here:
//! a hit covers whole chunks of 128 tokens (the granularity OpenAI documents for its prompt
//! caching), or a whole content block when it ends past the last whole chunk. So a long document
//! followed by a different question *in the same text part* is served up to the last chunk the
//! requests share, and a shared system instruction or conversation history is served whole, as
//! before.
//!
//! Two builders give the same cut points: [`TextPrefixes`] hashes the text a request carries (the
//! HTTP mock), [`KeyedPrefixes`] hashes keys of deterministic text (the simulator, which never
//! writes the text out). Equal text up to a cut point gives an equal block there, in both.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::context_cache::PrefixBlock;
use crate::rng::combine;
use crate::tokens::TokenRule;

/// Tokens in one chunk of the flattened prompt (an assumption; see the module's doc).
pub const CHUNK_TOKENS: u64 = 128;

/// The prefix blocks of a prompt read as text: hash of everything up to each cut point.
/// Chunks are [`CHUNK_TOKENS`] tokens under the model's token rule (512 characters at 4 a
/// token), and block ends are counted by that rule.
#[derive(Default)]
pub struct TextPrefixes {
    hasher: FxHasher,
    rule: TokenRule,
    chars: usize,
    blocks: Vec<PrefixBlock>,
}

impl std::fmt::Debug for TextPrefixes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextPrefixes")
            .field("chars", &self.chars)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl TextPrefixes {
    /// Prefixes counted by `rule`.
    pub fn with_rule(rule: TokenRule) -> TextPrefixes {
        TextPrefixes {
            rule,
            ..TextPrefixes::default()
        }
    }

    fn chunk_chars(&self) -> usize {
        self.rule.chars_for_tokens(CHUNK_TOKENS).max(1)
    }

    /// A new content (the system instruction or a turn) with this role begins.
    pub fn begin(&mut self, role: Option<&str>) {
        self.hasher.write(role.unwrap_or("").as_bytes());
        self.hasher.write_u8(0xfe);
    }

    /// A text part of the current content: a block at every chunk boundary it crosses.
    pub fn text(&mut self, text: &str) {
        let ascii = text.is_ascii();
        let chunk_chars = self.chunk_chars();
        let mut rest = text;
        while !rest.is_empty() {
            let to_boundary = chunk_chars - self.chars % chunk_chars;
            let cut = if ascii {
                to_boundary.min(rest.len())
            } else {
                rest.char_indices().nth(to_boundary).map_or(rest.len(), |(i, _)| i)
            };
            let (piece, after) = rest.split_at(cut);
            self.hasher.write(piece.as_bytes());
            self.chars += if ascii { piece.len() } else { piece.chars().count() };
            if self.chars % chunk_chars == 0 {
                self.push(self.rule.tokens_for_chars(self.chars));
            }
            rest = after;
        }
        self.hasher.write_u8(0xff);
    }

    /// The current content ends: a block at its end.
    pub fn end(&mut self) {
        self.push(self.rule.tokens_for_chars(self.chars));
    }

    fn push(&mut self, tokens: u64) {
        if tokens == 0 || self.blocks.last().is_some_and(|b| b.1 == tokens) {
            return;
        }
        self.blocks.push((self.hasher.finish(), tokens));
    }

    /// The blocks, in growing order.
    pub fn finish(self) -> Vec<PrefixBlock> {
        self.blocks
    }
}

/// The prefix blocks of a prompt made of keyed deterministic texts (equal key, equal text; a
/// shorter text of a key is a prefix of a longer one, as [`crate::tokens::synth_text`] makes
/// them).
#[derive(Debug, Default)]
pub struct KeyedPrefixes {
    /// Identity of everything before the current text.
    before: u64,
    tokens: u64,
    blocks: Vec<PrefixBlock>,
}

impl KeyedPrefixes {
    /// A text of `tokens` tokens keyed `key`: a block at every chunk boundary inside it.
    pub fn text(&mut self, key: u64, tokens: u64) {
        let here = combine(self.before, key);
        let end = self.tokens + tokens;
        let mut cut = (self.tokens / CHUNK_TOKENS + 1) * CHUNK_TOKENS;
        while cut <= end {
            self.push(combine(here, cut), cut);
            cut += CHUNK_TOKENS;
        }
        self.before = combine(here, tokens);
        self.tokens = end;
    }

    /// A content (the system instruction, a turn) ends here: a block at its end.
    pub fn end(&mut self) {
        if self.tokens > 0 {
            self.push(combine(self.before, u64::MAX), self.tokens);
        }
    }

    fn push(&mut self, hash: u64, tokens: u64) {
        if self.blocks.last().is_some_and(|b| b.1 == tokens) {
            return;
        }
        self.blocks.push((hash, tokens));
    }

    /// The blocks, in growing order.
    pub fn finish(self) -> Vec<PrefixBlock> {
        self.blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::synth_text;

    fn text_blocks(contents: &[&[&str]]) -> Vec<PrefixBlock> {
        let mut p = TextPrefixes::default();
        for parts in contents {
            p.begin(Some("user"));
            for t in *parts {
                p.text(t);
            }
            p.end();
        }
        p.finish()
    }

    /// The longest block two prompts share.
    fn shared(a: &[PrefixBlock], b: &[PrefixBlock]) -> u64 {
        a.iter().filter(|x| b.contains(x)).map(|x| x.1).max().unwrap_or(0)
    }

    #[test]
    fn a_document_before_different_questions_shares_its_whole_chunks() {
        let doc = synth_text(12_000, 1);
        let (q1, q2) = (synth_text(40, 2), synth_text(55, 3));
        let one = format!("{doc}{q1}");
        let two = format!("{doc}{q2}");
        let (a, b) = (text_blocks(&[&[&one]]), text_blocks(&[&[&two]]));
        // 12,000 tokens hold 93 whole chunks of 128 (11,904 tokens).
        assert_eq!(shared(&a, &b), 11_904);
        assert_eq!(a.last().unwrap().1, 12_040);
        // The same document as its own content before the question's: served whole.
        let (c, d) = (text_blocks(&[&[&doc], &[&q1]]), text_blocks(&[&[&doc], &[&q2]]));
        assert_eq!(shared(&c, &d), 12_000);
        // A different first character shares nothing.
        let other = format!("x{}", &one[1..]);
        assert_eq!(shared(&a, &text_blocks(&[&[&other]])), 0);
    }

    #[test]
    fn keyed_and_text_prompts_cut_at_the_same_points() {
        for (doc, question) in [(12_000u64, 40u64), (128, 1), (127, 300), (5000, 0)] {
            let text = format!("{}{}", synth_text(doc, 1), synth_text(question, 2));
            let live = text_blocks(&[&[&text]]);
            let mut k = KeyedPrefixes::default();
            k.text(1, doc);
            k.text(2, question);
            k.end();
            let sim = k.finish();
            let cuts = |b: &[PrefixBlock]| b.iter().map(|x| x.1).collect::<Vec<_>>();
            assert_eq!(cuts(&live), cuts(&sim), "{doc} + {question}");
        }
        // Keyed: equal leading keys share, a shorter text of a key is a prefix of a longer one.
        let blocks = |doc: u64, q: u64| {
            let mut k = KeyedPrefixes::default();
            k.text(9, doc);
            k.text(q, 50);
            k.end();
            k.finish()
        };
        assert_eq!(shared(&blocks(12_000, 2), &blocks(12_000, 3)), 11_904);
        assert_eq!(shared(&blocks(12_000, 2), &blocks(6_000, 3)), 5_888);
    }

    #[test]
    fn multibyte_text_cuts_on_characters() {
        let doc: String = "é".repeat(1024);
        let blocks = text_blocks(&[&[&doc]]);
        assert_eq!(blocks.iter().map(|b| b.1).collect::<Vec<_>>(), vec![128, 256]);
    }
}
