//! Thinking levels: what a Gemini 3.x request asks for in
//! `generationConfig.thinkingConfig.thinkingLevel`, and how many thinking tokens the mock's
//! model produces at each.
//!
//! Google publishes no token counts per level ("relative guidelines for reasoning rather than
//! strict token guarantees", the Gemini 3 developer guide). The mock's assumption, stated in
//! `docs/src/mock.md`: a level thinks a fixed multiple of the answer's own length. Gemini counts
//! thinking against `maxOutputTokens`; the mock does not (stampede sends the answer length it
//! wants as `maxOutputTokens`), so a run's answers keep their planned length.

use serde::{Deserialize, Serialize};

/// A thinking level, spelled on the wire as google-genai's `ThinkingLevel` enum spells it
/// (`"MINIMAL"`, `"LOW"`, `"MEDIUM"`, `"HIGH"`; python-genai `types.py`, 2026-08). Scenarios and
/// catalogs write it in lower case; both spellings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ThinkingLevel {
    /// As little thinking as the model allows.
    #[serde(alias = "minimal")]
    Minimal,
    /// Less thinking.
    #[serde(alias = "low")]
    Low,
    /// The default of the 3.5-and-later Flash models.
    #[serde(alias = "medium")]
    Medium,
    /// The most thinking; the default of the Gemini 3 previews.
    #[serde(alias = "high")]
    High,
}

impl ThinkingLevel {
    /// Every level, least thinking first.
    pub const ALL: [ThinkingLevel; 4] = [
        ThinkingLevel::Minimal,
        ThinkingLevel::Low,
        ThinkingLevel::Medium,
        ThinkingLevel::High,
    ];

    /// The lower-case name scenarios and catalogs use.
    pub fn as_str(self) -> &'static str {
        match self {
            ThinkingLevel::Minimal => "minimal",
            ThinkingLevel::Low => "low",
            ThinkingLevel::Medium => "medium",
            ThinkingLevel::High => "high",
        }
    }

    /// The wire spelling (`thinkingLevel`).
    pub fn wire(self) -> &'static str {
        match self {
            ThinkingLevel::Minimal => "MINIMAL",
            ThinkingLevel::Low => "LOW",
            ThinkingLevel::Medium => "MEDIUM",
            ThinkingLevel::High => "HIGH",
        }
    }

    /// Thinking tokens per answer token at this level: the mock's assumption (0.1, 0.75, 2.5
    /// and 6), inside the ranges anecdotal measurements of 2026 suggest (minimal under 0.2×,
    /// low 0.5–1×, medium 2–3×, high 4–8×); no Google figure exists.
    pub fn tokens_per_answer_token(self) -> f64 {
        match self {
            ThinkingLevel::Minimal => 0.1,
            ThinkingLevel::Low => 0.75,
            ThinkingLevel::Medium => 2.5,
            ThinkingLevel::High => 6.0,
        }
    }

    /// Thinking tokens for an answer of `answer` tokens.
    pub fn thinking_tokens(self, answer: u64) -> u64 {
        (answer as f64 * self.tokens_per_answer_token()).round() as u64
    }
}

/// What a request asks of thinking: `thinkingConfig.thinkingBudget` (Gemini 2.5) and
/// `thinkingConfig.thinkingLevel` (Gemini 3.x); Gemini refuses a request that sets both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thinking {
    /// Token budget: 0 off, -1 the model decides, else a cap.
    pub budget: Option<i64>,
    /// Level.
    pub level: Option<ThinkingLevel>,
}

impl Thinking {
    /// The thinking tokens of an answer of `answer` tokens: none when the budget is 0; the
    /// level's share of the answer when a level is asked; else the profile's draw `drawn`,
    /// capped by a positive budget.
    pub fn tokens(self, drawn: u64, answer: u64) -> u64 {
        match (self.budget, self.level) {
            (Some(0), _) => 0,
            (_, Some(level)) => level.thinking_tokens(answer),
            (Some(b), None) if b > 0 => drawn.min(b as u64),
            _ => drawn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_decides_the_thinking_and_a_zero_budget_turns_it_off() {
        let level = |l| Thinking {
            budget: None,
            level: Some(l),
        };
        assert_eq!(level(ThinkingLevel::Medium).tokens(7, 400), 1000);
        assert_eq!(
            Thinking {
                budget: Some(0),
                level: None
            }
            .tokens(7, 400),
            0
        );
        assert_eq!(
            Thinking {
                budget: Some(5),
                level: None
            }
            .tokens(7, 400),
            5
        );
        assert_eq!(Thinking::default().tokens(7, 400), 7);
    }

    #[test]
    fn both_spellings_read_and_the_wire_is_upper_case() {
        let l: ThinkingLevel = serde_json::from_str("\"MEDIUM\"").unwrap();
        let m: ThinkingLevel = serde_json::from_str("\"medium\"").unwrap();
        assert_eq!((l, m), (ThinkingLevel::Medium, ThinkingLevel::Medium));
        assert_eq!(serde_json::to_string(&ThinkingLevel::Low).unwrap(), "\"LOW\"");
        assert!(serde_json::from_str::<ThinkingLevel>("\"extreme\"").is_err());
    }

    #[test]
    fn more_thinking_at_higher_levels() {
        let t: Vec<u64> = ThinkingLevel::ALL.iter().map(|l| l.thinking_tokens(400)).collect();
        assert_eq!(t, vec![40, 300, 1000, 2400]);
    }
}
