//! The one token-counting rule the mock uses everywhere, and deterministic text of a given size.
//!
//! Rule: a text costs `ceil(chars / d)` tokens, where `chars` counts Unicode scalar values of
//! all text parts of a request together (system instruction and contents) and `d` is the
//! model's density in characters per token ([`TokenRule`]; 4 unless a profile's
//! `chars_per_token` says otherwise). Gemini documents "about 4 characters per token" for
//! English; the same rule serves `countTokens`, the TPM quota and
//! `usageMetadata.promptTokenCount`, so the three always agree. stampede synthesises prompts of
//! `round(d × tokens)` ASCII characters for the density it was given (4 by default; `stampede
//! calibrate` measures a model's), so the mock counts what the scenario asked when the two
//! densities agree.

/// The density everything assumes unless told otherwise: Gemini's "about 4 characters per
/// token" for English.
pub const DEFAULT_CHARS_PER_TOKEN: f64 = 4.0;

/// A tokenizer stand-in: so many characters per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenRule {
    /// Characters per token (within [`crate::ranges::CHARS_PER_TOKEN`]).
    pub chars_per_token: f64,
}

impl Default for TokenRule {
    fn default() -> Self {
        TokenRule {
            chars_per_token: DEFAULT_CHARS_PER_TOKEN,
        }
    }
}

impl TokenRule {
    /// Tokens in a text of `chars` characters: `ceil(chars / d)`.
    pub fn tokens_for_chars(self, chars: usize) -> u64 {
        if self.chars_per_token == DEFAULT_CHARS_PER_TOKEN {
            return tokens_for_chars(chars);
        }
        // A hair under the exact quotient first, so 12 characters at 3 a token are 4, not 5.
        ((chars as f64 / self.chars_per_token) - 1e-9).ceil().max(0.0) as u64
    }

    /// Tokens in the given text parts taken together.
    pub fn count<'a>(self, parts: impl IntoIterator<Item = &'a str>) -> u64 {
        self.tokens_for_chars(parts.into_iter().map(|p| p.chars().count()).sum())
    }

    /// Characters a synthesised text of `tokens` tokens has: `round(d × tokens)`.
    pub fn chars_for_tokens(self, tokens: u64) -> usize {
        (tokens as f64 * self.chars_per_token).round() as usize
    }

    /// Deterministic text of `tokens` tokens under this rule (see [`synth_text`]).
    pub fn synth_text(self, tokens: u64, key: u64) -> String {
        synth_chars(self.chars_for_tokens(tokens), key)
    }
}

/// Each model's token rule: its own, else a default (a profile's `chars_per_token`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenRules {
    /// The rule of models not listed.
    pub default: TokenRule,
    /// Models with their own density.
    pub models: std::collections::BTreeMap<String, TokenRule>,
}

impl TokenRules {
    /// The rule of `model`.
    pub fn of(&self, model: &str) -> TokenRule {
        self.models.get(model).copied().unwrap_or(self.default)
    }
}

/// Tokens in a text of `chars` characters.
pub fn tokens_for_chars(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// Tokens in the given text parts taken together.
pub fn count_tokens<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    tokens_for_chars(parts.into_iter().map(|p| p.chars().count()).sum())
}

const WORDS: [&str; 32] = [
    "load", "test", "quota", "burst", "queue", "retry", "worker", "token", "model", "latency", "budget", "window",
    "plan", "lane", "cache", "fallback", "timeout", "jitter", "backoff", "breaker", "traffic", "sample", "stream",
    "answer", "prompt", "limit", "region", "trace", "spike", "drain", "shed", "gate",
];

/// Deterministic English-like text of exactly `4 × tokens` ASCII characters; `key` picks the
/// words (a splitmix64 stream seeded by it), so different keys give different texts — the
/// mock's implicit cache must not find a shared prefix where the scenario meant none — and
/// equal keys equal texts. A shorter text of a key is a prefix of a longer one.
pub fn synth_text(tokens: u64, key: u64) -> String {
    synth_chars((tokens as usize) * 4, key)
}

/// Deterministic English-like text of exactly `len` ASCII characters (see [`synth_text`]).
pub fn synth_chars(len: usize, key: u64) -> String {
    let mut s = String::with_capacity(len + 16);
    let mut state = key;
    while s.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        s.push_str(WORDS[(z % WORDS.len() as u64) as usize]);
        s.push(' ');
    }
    s.truncate(len);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_text_counts_exactly() {
        for n in [0, 1, 7, 800, 6000] {
            let t = synth_text(n, 99);
            assert_eq!(t.len(), n as usize * 4);
            assert_eq!(count_tokens([t.as_str()]), n);
        }
        assert_eq!(synth_text(50, 1), synth_text(50, 1));
        assert_ne!(synth_text(50, 1), synth_text(50, 2));
        assert!(synth_text(80, 7).starts_with(&synth_text(50, 7)));
        // Keys that differ only in bits a small word table would drop still differ.
        let texts: std::collections::HashSet<String> = (0..2000u64).map(|k| synth_text(10, k << 20)).collect();
        assert_eq!(texts.len(), 2000);
    }

    #[test]
    fn counts_parts_together_and_rounds_up() {
        assert_eq!(count_tokens(["abc", "de"]), 2);
        assert_eq!(count_tokens(["abcd"]), 1);
        assert_eq!(count_tokens(["héllo"]), 2);
        assert_eq!(count_tokens([]), 0);
    }

    #[test]
    fn another_density_counts_what_it_synthesises() {
        let rule = TokenRule { chars_per_token: 3.0 };
        assert_eq!(rule.tokens_for_chars(12), 4);
        assert_eq!(rule.tokens_for_chars(13), 5);
        for n in [1, 7, 800, 6000] {
            let t = rule.synth_text(n, 5);
            assert_eq!(t.len(), n as usize * 3);
            assert_eq!(rule.count([t.as_str()]), n);
        }
        let odd = TokenRule { chars_per_token: 3.7 };
        let t = odd.synth_text(1000, 1);
        assert_eq!(t.len(), 3700);
        assert_eq!(odd.count([t.as_str()]), 1000);
        // The default rule is the old one, exactly.
        assert_eq!(TokenRule::default().synth_text(50, 9), synth_text(50, 9));
    }
}
