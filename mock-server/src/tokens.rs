//! The one token-counting rule the mock uses everywhere, and deterministic text of a given size.
//!
//! Rule: a text costs `ceil(chars / 4)` tokens, where `chars` counts Unicode scalar values of
//! all text parts of a request together (system instruction and contents). Gemini documents
//! "about 4 characters per token" for English; the same rule serves `countTokens`, the TPM
//! quota and `usageMetadata.promptTokenCount`, so the three always agree. stampede synthesises
//! prompts of exactly `4 × tokens` ASCII characters, so the mock counts what the scenario asked.

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
/// starting word so different keys give different texts and equal keys equal texts.
pub fn synth_text(tokens: u64, key: u64) -> String {
    let len = (tokens as usize) * 4;
    let mut s = String::with_capacity(len + 16);
    let mut i = (key % WORDS.len() as u64) as usize;
    let mut step = ((key >> 8) % 7) as usize * 2 + 1;
    while s.len() < len {
        s.push_str(WORDS[i % WORDS.len()]);
        s.push(' ');
        i += step;
        step = step % 13 + 2;
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
    }

    #[test]
    fn counts_parts_together_and_rounds_up() {
        assert_eq!(count_tokens(["abc", "de"]), 2);
        assert_eq!(count_tokens(["abcd"]), 1);
        assert_eq!(count_tokens(["héllo"]), 2);
        assert_eq!(count_tokens([]), 0);
    }
}
