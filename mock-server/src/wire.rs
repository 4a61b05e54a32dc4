//! Gemini's JSON bodies (camelCase, as on the wire), shared by the mock and stampede's client.
//!
//! Requests are strict at the top level, like the real service ("Invalid JSON payload received.
//! Unknown name ..."), and lenient inside parts and configs, which carry many optional fields.
//! Responses are lenient when read, so stampede can read the real service's answers too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::usage::{FinishReason, Usage};

/// One turn of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// `user` or `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts of the turn.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One part of a turn. Only text matters to the mock; other kinds of part (inline data,
/// function calls...) are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text of the part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether this part is a thought summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Part {
        Part {
            text: Some(text.into()),
            ..Part::default()
        }
    }
}

/// `thinkingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// 0 disables thinking, -1 lets the model decide.
    #[serde(default, alias = "thinking_budget", skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<i64>,
    /// Whether thought summaries are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_thoughts: Option<bool>,
    /// `thinkingLevel` (Gemini 3.x): `"MINIMAL"`, `"LOW"`, `"MEDIUM"` or `"HIGH"`. google-genai
    /// (3.6.1) sends it under its proto name `thinking_level`, which Gemini's JSON parsing
    /// accepts beside the camelCase one; stampede sends it as the SDK does and reads both.
    #[serde(
        default,
        rename = "thinking_level",
        alias = "thinkingLevel",
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_level: Option<crate::thinking::ThinkingLevel>,
}

impl ThinkingConfig {
    /// The config a request sends for `thinking` (`None`: nothing asked, the model's default).
    pub fn of(thinking: crate::thinking::Thinking) -> Option<ThinkingConfig> {
        (thinking.budget.is_some() || thinking.level.is_some()).then_some(ThinkingConfig {
            thinking_budget: thinking.budget,
            include_thoughts: None,
            thinking_level: thinking.level,
        })
    }

    /// What the request asks of thinking.
    pub fn thinking(&self) -> crate::thinking::Thinking {
        crate::thinking::Thinking {
            budget: self.thinking_budget,
            level: self.thinking_level,
        }
    }
}

/// `generationConfig`; sampling settings the mock does not use are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// Longest answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Thinking settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
    /// How many answers to generate (1 to 8); the mock answers one, and refuses a count
    /// outside the range as Gemini does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<i64>,
}

/// The body of `generateContent` and `streamGenerateContent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateContentRequest {
    /// The conversation.
    #[serde(default)]
    pub contents: Vec<Content>,
    /// System instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// Generation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// Safety settings (ignored by the mock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<Value>,
    /// Tools (ignored by the mock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    /// Tool config (ignored by the mock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<Value>,
    /// An explicit cache (`cachedContents/…`) whose tokens come before the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content: Option<String>,
    /// `standard`, `flex` or `priority` (Standard when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Labels (ignored by the mock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Value>,
    /// The model, when sent inside a `countTokens` `generateContentRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl GenerateContentRequest {
    /// All text of the request (system instruction first), for token counting.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.system_instruction
            .iter()
            .chain(self.contents.iter())
            .flat_map(|c| c.parts.iter())
            .filter_map(|p| p.text.as_deref())
    }

    /// The prompt's prefix blocks for implicit caching: the flattened prompt's whole chunks and
    /// the end of each content (see [`crate::prefix`]), at the default density.
    pub fn prefix_blocks(&self) -> Vec<crate::context_cache::PrefixBlock> {
        self.prefix_blocks_by(crate::tokens::TokenRule::default())
    }

    /// [`prefix_blocks`](Self::prefix_blocks) counted by a model's token rule.
    pub fn prefix_blocks_by(&self, rule: crate::tokens::TokenRule) -> Vec<crate::context_cache::PrefixBlock> {
        let mut prefixes = crate::prefix::TextPrefixes::with_rule(rule);
        for c in self.system_instruction.iter().chain(self.contents.iter()) {
            prefixes.begin(c.role.as_deref());
            for text in c.parts.iter().filter_map(|p| p.text.as_deref()) {
                prefixes.text(text);
            }
            prefixes.end();
        }
        prefixes.finish()
    }
}

/// The body of `countTokens`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CountTokensRequest {
    /// The conversation to count.
    #[serde(default)]
    pub contents: Vec<Content>,
    /// Or a whole generate request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_content_request: Option<GenerateContentRequest>,
}

/// `promptTokensDetails` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModalityTokenCount {
    /// `TEXT`.
    pub modality: String,
    /// Tokens of that modality.
    pub token_count: u64,
}

/// `usageMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_token_count: u64,
    /// Answer tokens (cumulative in a stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    /// Prompt + answer + thoughts.
    #[serde(default)]
    pub total_token_count: u64,
    /// Prompt tokens by modality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_tokens_details: Vec<ModalityTokenCount>,
    /// Thinking tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    /// Prompt tokens served from a context cache (included in `promptTokenCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    /// Cached tokens by modality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_tokens_details: Vec<ModalityTokenCount>,
}

impl UsageMetadata {
    /// Usage of a (partial) answer with `candidates` tokens so far.
    pub fn new(usage: &Usage, candidates: u64) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: usage.prompt,
            candidates_token_count: Some(candidates),
            total_token_count: usage.prompt + candidates + usage.thoughts,
            prompt_tokens_details: vec![ModalityTokenCount {
                modality: "TEXT".into(),
                token_count: usage.prompt,
            }],
            thoughts_token_count: (usage.thoughts > 0).then_some(usage.thoughts),
            cached_content_token_count: (usage.cached > 0).then_some(usage.cached),
            cache_tokens_details: if usage.cached > 0 {
                vec![ModalityTokenCount {
                    modality: "TEXT".into(),
                    token_count: usage.cached,
                }]
            } else {
                Vec::new()
            },
        }
    }
}

/// One candidate answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The answer.
    #[serde(default)]
    pub content: Content,
    /// Why it ended (last chunk only in a stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Index among candidates.
    #[serde(default)]
    pub index: u32,
}

/// The body of a `generateContent` answer, and of each stream chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    /// The answers (one, as Gemini gives without `candidateCount`).
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Token counts of the request and the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    /// Model version.
    #[serde(default)]
    pub model_version: String,
    /// Response id, the same for all chunks of a stream.
    #[serde(default)]
    pub response_id: String,
}

impl GenerateContentResponse {
    /// One answer (or chunk) with text `text`, `candidates` answer tokens so far, and the finish
    /// reason when it is the last.
    pub fn new(
        model: &str,
        response_id: &str,
        text: &str,
        usage: &Usage,
        candidates: u64,
        finish: Option<FinishReason>,
    ) -> GenerateContentResponse {
        GenerateContentResponse {
            candidates: vec![Candidate {
                content: Content {
                    role: Some("model".into()),
                    parts: vec![Part::text(text)],
                },
                finish_reason: finish.map(|f| finish_reason_name(f).to_string()),
                index: 0,
            }],
            usage_metadata: Some(UsageMetadata::new(usage, candidates)),
            model_version: model.to_string(),
            response_id: response_id.to_string(),
        }
    }

    /// Concatenated text of the first candidate.
    pub fn text(&self) -> String {
        self.candidates
            .first()
            .map(|c| c.content.parts.iter().filter_map(|p| p.text.as_deref()).collect())
            .unwrap_or_default()
    }
}

/// The wire name of a finish reason.
pub fn finish_reason_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "STOP",
        FinishReason::MaxTokens => "MAX_TOKENS",
    }
}

/// A model as `GET /v1beta/models` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelResource {
    /// `models/<id>`.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Human name.
    pub display_name: String,
    /// What the model is, as `models.list` describes it.
    pub description: String,
    /// Largest prompt.
    pub input_token_limit: u64,
    /// Largest answer.
    pub output_token_limit: u64,
    /// Methods the model supports.
    pub supported_generation_methods: Vec<String>,
    /// Default temperature.
    pub temperature: f64,
    /// Highest temperature.
    pub max_temperature: f64,
    /// Default top-p.
    pub top_p: f64,
    /// Default top-k.
    pub top_k: u32,
    /// Whether the model thinks.
    pub thinking: bool,
}

impl ModelResource {
    /// The resource of a model id.
    pub fn of(id: &str) -> ModelResource {
        let info = crate::catalog::model_info(id);
        ModelResource {
            name: format!("models/{id}"),
            version: "001".into(),
            display_name: info.display_name.clone(),
            description: format!("{} served by the stampede mock", info.display_name),
            input_token_limit: info.input_token_limit,
            output_token_limit: info.output_token_limit,
            supported_generation_methods: ["generateContent", "countTokens", "streamGenerateContent"]
                .map(String::from)
                .to_vec(),
            temperature: 1.0,
            max_temperature: 2.0,
            top_p: 0.95,
            top_k: 64,
            thinking: true,
        }
    }
}

/// Turns a serde error on a request body into Gemini's message.
pub fn invalid_payload_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    if let Some(rest) = text.strip_prefix("unknown field `") {
        if let Some(name) = rest.split('`').next() {
            return format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.");
        }
    }
    format!("Invalid JSON payload received. {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_request() {
        let body = r#"{"systemInstruction": {"parts": [{"text": "be brief"}]},
 "contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}],
 "generationConfig": {"temperature": 1.0, "topP": 0.95, "topK": 40, "candidateCount": 1,
   "maxOutputTokens": 512, "stopSequences": [], "responseMimeType": "text/plain", "seed": 1,
   "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": false}}}"#;
        let r: GenerateContentRequest = serde_json::from_str(body).unwrap();
        let cfg = r.generation_config.as_ref().unwrap();
        assert_eq!(cfg.max_output_tokens, Some(512));
        assert_eq!(cfg.thinking_config.as_ref().unwrap().thinking_budget, Some(0));
        assert_eq!(
            r.texts().collect::<Vec<_>>(),
            ["be brief", "Explain how AI works in a few words"]
        );
    }

    #[test]
    fn unknown_top_level_field_gets_geminis_message() {
        let err = serde_json::from_str::<GenerateContentRequest>(r#"{"contents": [], "xyz": 1}"#).unwrap_err();
        assert_eq!(
            invalid_payload_message(&err),
            "Invalid JSON payload received. Unknown name \"xyz\": Cannot find field."
        );
    }

    #[test]
    fn writes_the_documented_response_shape() {
        let usage = Usage {
            prompt: 9,
            candidates: 29,
            thoughts: 282,
            cached: 0,
        };
        let r = GenerateContentResponse::new("gemini-2.5-flash", "YH6L", "hi", &usage, 29, Some(FinishReason::Stop));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"},
                 "finishReason": "STOP", "index": 0}],
             "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 29, "totalTokenCount": 320,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
                   "thoughtsTokenCount": 282},
             "modelVersion": "gemini-2.5-flash", "responseId": "YH6L"})
        );
    }
}
