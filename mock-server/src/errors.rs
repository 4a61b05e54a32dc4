//! Gemini's error bodies, byte for byte where the public record allows (gemini-wire.md).
//!
//! Every error is `{"error": {"code", "message", "status", "details"?}}` and is sent with
//! `Content-Type: application/json; charset=UTF-8` and no `Retry-After` header: the delay lives
//! only in the RetryInfo detail.

use crate::duration::secs as secs_f64;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::{Dimension, Tier};
use crate::profile::ErrorShape;
use crate::quota::Refusal;
pub use crate::quota_kind::QuotaKind;
use crate::spend::SpendRefusal;

/// The rate-limits page every quota message points to.
pub const RATE_LIMITS_URL: &str = "https://ai.google.dev/gemini-api/docs/rate-limits";

/// One API error, ready to serialise as Gemini does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Human message.
    pub message: String,
    /// google.rpc status name, such as `RESOURCE_EXHAUSTED`.
    pub status: String,
    /// google.rpc detail objects; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

/// The envelope `{"error": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ApiError,
}

impl ApiError {
    fn new(code: u16, status: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: status.to_string(),
            details: Vec::new(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": self })
    }

    /// The JSON body wrapped in an array, as the OpenAI-compatible endpoint sends it.
    pub fn openai_body(&self) -> Value {
        json!([{ "error": self }])
    }

    /// 403 for a request without any key.
    pub fn missing_key() -> ApiError {
        ApiError::new(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        )
    }

    /// 400 for a key not on the allow-list.
    pub fn invalid_key() -> ApiError {
        let mut e = ApiError::new(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        );
        e.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"}
        }));
        e
    }

    /// 404 for an unknown model or method.
    pub fn model_not_found(model: &str, method: &str) -> ApiError {
        ApiError::new(
            404,
            "NOT_FOUND",
            format!("models/{model} is not found for API version v1beta, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."),
        )
    }

    /// 404 for a path the API does not have.
    pub fn no_such_path(path: &str) -> ApiError {
        ApiError::new(404, "NOT_FOUND", format!("Requested entity was not found. ({path})"))
    }

    /// 400 for a prompt over the model's limit.
    pub fn too_many_tokens(count: u64, max: u64) -> ApiError {
        ApiError::new(
            400,
            "INVALID_ARGUMENT",
            format!("The input token count ({count}) exceeds the maximum number of tokens allowed ({max})."),
        )
    }

    /// 400 for a body that does not parse or has unknown fields.
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message)
    }

    /// 500 INTERNAL.
    pub fn internal() -> ApiError {
        ApiError::new(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        )
    }

    /// 404 NOT_FOUND with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    /// 403 PERMISSION_DENIED with `message`.
    pub fn permission_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "PERMISSION_DENIED", message)
    }

    /// 429 RESOURCE_EXHAUSTED with `message` (not a quota: no details).
    pub fn resource_exhausted(message: impl Into<String>) -> ApiError {
        ApiError::new(429, "RESOURCE_EXHAUSTED", message)
    }

    /// 503 UNAVAILABLE: the model is overloaded. The message is the one Gemini has sent
    /// throughout 2026 (samples of February to June 2026 on 2.5 Pro, 2.5 Flash, 3 Flash Preview
    /// and 3.5 Flash, quoted in continuedev/continue issues 10639, 11549, 12662 and 12800; read
    /// 2026-12-03); until then it was "The model is overloaded. Please try again later."
    pub fn overloaded() -> ApiError {
        ApiError::new(503, "UNAVAILABLE", OVERLOADED_MESSAGE)
    }

    /// 503 UNAVAILABLE with `message` (the mock's own bounds, not the model's overload).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "UNAVAILABLE", message)
    }

    /// 408 with DEADLINE_EXCEEDED: a request that did not arrive in time.
    pub fn request_timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(408, "DEADLINE_EXCEEDED", message)
    }

    /// 504 DEADLINE_EXCEEDED.
    pub fn deadline_exceeded() -> ApiError {
        ApiError::new(
            504,
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        )
    }

    /// 429 RESOURCE_EXHAUSTED for a refused request, in the chosen shape.
    pub fn quota_exceeded(shape: ErrorShape, tier: Tier, model: &str, refusal: &Refusal) -> ApiError {
        const MESSAGE: &str = QUOTA_MESSAGE;
        if shape == ErrorShape::Bare {
            return ApiError::new(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
            );
        }
        let metric = tier.quota_metric(refusal.dimension);
        let quota_failure = json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": metric,
                "quotaId": tier.quota_id(refusal.dimension),
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": refusal.limit.to_string()
            }]
        });
        let help = json!({
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_LIMITS_URL}]
        });
        let wait = refusal.retry_after;
        match shape {
            ErrorShape::V2025 => {
                let retry = json!({
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": format!("{}s", ceil_secs(wait))
                });
                let mut e = ApiError::new(429, "RESOURCE_EXHAUSTED", MESSAGE);
                e.details = vec![quota_failure, help, retry];
                e
            }
            _ => {
                let retry = json!({
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": format!("{}s", wait.as_secs())
                });
                let message = format!(
                    "{MESSAGE}\n* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\nPlease retry in {secs}s.",
                    limit = refusal.limit,
                    secs = precise_secs(wait)
                );
                let mut e = ApiError::new(429, "RESOURCE_EXHAUSTED", message);
                e.details = vec![help, quota_failure, retry];
                e
            }
        }
    }
}

impl ApiError {
    /// 429 RESOURCE_EXHAUSTED for a project over a spend limit. Google documents the status
    /// and says every 429 now carries a description of its cause, but publishes no body for
    /// this case: the mock sends the quota message, a QuotaFailure violation with a
    /// `description` (and no `quotaId`) naming the limit, and RetryInfo with the time until the
    /// window's spend is below the limit again.
    pub fn spend_exceeded(refusal: &SpendRefusal) -> ApiError {
        let what = spend_description(refusal);
        let message = format!("{QUOTA_MESSAGE}\n* {what}.");
        let mut e = ApiError::new(429, "RESOURCE_EXHAUSTED", message);
        e.details = vec![
            json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"description": what}]}),
            json!({
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{"description": "Learn more about Gemini API spend-based limits", "url": RATE_LIMITS_URL}]
            }),
            json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{}s", ceil_secs(refusal.retry_after))}),
        ];
        e
    }
}

/// How a spend refusal's QuotaFailure describes it; [`QuotaHint`] reads the prefix back.
fn spend_description(r: &SpendRefusal) -> String {
    if r.monthly {
        format!("{MONTHLY_CAP_PREFIX} of {} reached", usd_text(r.limit_usd))
    } else {
        format!(
            "{SPEND_LIMIT_PREFIX}: {} per {} reached",
            usd_text(r.limit_usd),
            humantime::format_duration(r.window)
        )
    }
}

/// Dollars with cents, or with four decimals below one dollar ("$0.0030").
fn usd_text(usd: f64) -> String {
    if usd >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

const SPEND_LIMIT_PREFIX: &str = "Spend-based rate limit";
const MONTHLY_CAP_PREFIX: &str = "Monthly spend cap";

/// The message of Gemini's overload 503s (2026).
pub const OVERLOADED_MESSAGE: &str =
    "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.";

/// The message of Gemini's quota 429s.
const QUOTA_MESSAGE: &str = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";

/// Why the model refused a call, in a compact form.
///
/// The HTTP layer turns it into Gemini's exact body with [`Rejection::to_api_error`]; the
/// simulator reads what a client would learn from that body with [`Rejection::hint`], without
/// building it. A test holds the two to the same answer for every body shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// A quota refused the call.
    Quota {
        /// Body shape.
        shape: ErrorShape,
        /// Tier (names the quota).
        tier: Tier,
        /// Model called.
        model: Arc<str>,
        /// The violated dimension and when it has room again.
        refusal: Refusal,
    },
    /// A spend limit refused the call (429).
    Spend(SpendRefusal),
    /// 500 INTERNAL (injected).
    Internal,
    /// 503 UNAVAILABLE: the upstream is full, or an injected fault.
    Overloaded,
    /// 504 DEADLINE_EXCEEDED (injected).
    DeadlineExceeded,
    /// Any other error in its wire form (auth, unknown model, prompt too long).
    Api(ApiError),
}

impl Rejection {
    /// HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Quota { .. } | Rejection::Spend(_) => 429,
            Rejection::Internal => 500,
            Rejection::Overloaded => 503,
            Rejection::DeadlineExceeded => 504,
            Rejection::Api(e) => e.code,
        }
    }

    /// Gemini's error body.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Rejection::Quota {
                shape,
                tier,
                model,
                refusal,
            } => ApiError::quota_exceeded(*shape, *tier, model, refusal),
            Rejection::Spend(r) => ApiError::spend_exceeded(r),
            Rejection::Internal => ApiError::internal(),
            Rejection::Overloaded => ApiError::overloaded(),
            Rejection::DeadlineExceeded => ApiError::deadline_exceeded(),
            Rejection::Api(e) => e.clone(),
        }
    }

    /// What a client reading [`to_api_error`](Self::to_api_error)'s body learns.
    pub fn hint(&self) -> QuotaHint {
        match self {
            Rejection::Quota {
                shape, tier, refusal, ..
            } => match shape {
                ErrorShape::Bare => QuotaHint::default(),
                ErrorShape::V2025 | ErrorShape::V2026 => QuotaHint {
                    retry_delay: Some(Duration::from_secs(if *shape == ErrorShape::V2025 {
                        ceil_secs(refusal.retry_after)
                    } else {
                        refusal.retry_after.as_secs()
                    })),
                    quota_id: Some(tier.quota_id(refusal.dimension)),
                    quota_value: Some(refusal.limit.to_string()),
                    spend: None,
                },
            },
            Rejection::Spend(r) => QuotaHint {
                retry_delay: Some(Duration::from_secs(ceil_secs(r.retry_after))),
                spend: Some(if r.monthly {
                    SpendKind::MonthlyCap
                } else {
                    SpendKind::RateLimit
                }),
                ..QuotaHint::default()
            },
            Rejection::Api(e) => QuotaHint::from_error(e),
            _ => QuotaHint::default(),
        }
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Seconds with up to nine decimals and no trailing zeros ("1.93201115").
fn precise_secs(d: Duration) -> String {
    let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Reads a protobuf JSON duration such as `"26s"` or `"1.5s"`.
pub fn parse_proto_duration(s: &str) -> Option<Duration> {
    let v: f64 = s.strip_suffix('s')?.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| secs_f64(v))
}

/// What a client can learn from a 429 body: the RetryInfo delay and the violated quota id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaHint {
    /// RetryInfo `retryDelay`.
    pub retry_delay: Option<Duration>,
    /// QuotaFailure `quotaId` of the first violation.
    pub quota_id: Option<String>,
    /// The quota value, when the body names it ("limit: 0" means the model is not available).
    pub quota_value: Option<String>,
    /// The spend limit that refused the call, when it was one.
    pub spend: Option<SpendKind>,
}

/// Which spend limit a 429 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendKind {
    /// The spend-based rate limit (a rolling window of minutes).
    RateLimit,
    /// The billing account's monthly cap.
    MonthlyCap,
}

impl QuotaHint {
    /// Reads the details of an error body; unknown shapes give an empty hint.
    pub fn from_error(error: &ApiError) -> QuotaHint {
        let mut hint = QuotaHint::default();
        for d in &error.details {
            match d.get("@type").and_then(Value::as_str) {
                Some(t) if t.ends_with("google.rpc.RetryInfo") => {
                    hint.retry_delay = d
                        .get("retryDelay")
                        .and_then(Value::as_str)
                        .and_then(parse_proto_duration);
                }
                Some(t) if t.ends_with("google.rpc.QuotaFailure") => {
                    if let Some(v) = d.get("violations").and_then(|v| v.get(0)) {
                        hint.quota_id = v.get("quotaId").and_then(Value::as_str).map(String::from);
                        hint.quota_value = v.get("quotaValue").and_then(Value::as_str).map(String::from);
                        let description = v.get("description").and_then(Value::as_str).unwrap_or("");
                        if description.starts_with(SPEND_LIMIT_PREFIX) {
                            hint.spend = Some(SpendKind::RateLimit);
                        } else if description.starts_with(MONTHLY_CAP_PREFIX) {
                            hint.spend = Some(SpendKind::MonthlyCap);
                        }
                    }
                }
                _ => {}
            }
        }
        hint
    }

    /// What refused the call, by the body's quota id and description.
    pub fn kind(&self) -> QuotaKind {
        match self.spend {
            Some(SpendKind::RateLimit) => QuotaKind::SpendLimit,
            Some(SpendKind::MonthlyCap) => QuotaKind::MonthlyCap,
            None => match self.quota_id.as_deref().and_then(dimension_of) {
                Some(Dimension::Rpd) => QuotaKind::Rpd,
                Some(Dimension::Rpm) => QuotaKind::Rpm,
                Some(Dimension::Tpm) => QuotaKind::Tpm,
                None => QuotaKind::Unnamed,
            },
        }
    }

    /// Whether the violated quota is a per-day one (gemini-cli gives up on those); the monthly
    /// spend cap counts too: no retry within the run can succeed.
    pub fn is_per_day(&self) -> bool {
        self.quota_id.as_deref().is_some_and(|id| id.contains("PerDay")) || self.spend == Some(SpendKind::MonthlyCap)
    }
}

/// The dimension a quota id names, if it is one of ours.
pub fn dimension_of(quota_id: &str) -> Option<Dimension> {
    if quota_id.contains("PerDay") {
        Some(Dimension::Rpd)
    } else if quota_id.contains("InputTokens") {
        Some(Dimension::Tpm)
    } else if quota_id.contains("RequestsPerMinute") {
        Some(Dimension::Rpm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(dim: Dimension, secs: f64) -> Refusal {
        Refusal {
            dimension: dim,
            limit: 250_000,
            retry_after: secs_f64(secs),
        }
    }

    #[test]
    fn shape_2025_matches_the_recorded_body() {
        let e = ApiError::quota_exceeded(
            ErrorShape::V2025,
            Tier::Free,
            "gemini-2.5-flash",
            &refusal(Dimension::Tpm, 25.2),
        );
        let expected: Value = serde_json::from_str(r#"{"error": {"code": 429,
 "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
 "status": "RESOURCE_EXHAUSTED",
 "details": [
  {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
   "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                   "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                   "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                   "quotaValue": "250000"}]},
  {"@type": "type.googleapis.com/google.rpc.Help",
   "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}}"#).unwrap();
        assert_eq!(e.body(), expected);
    }

    #[test]
    fn shape_2026_orders_details_and_floors_the_delay() {
        let mut r = refusal(Dimension::Rpm, 1.93201115);
        r.limit = 5;
        let e = ApiError::quota_exceeded(ErrorShape::V2026, Tier::Free, "gemini-2.5-flash", &r);
        let types: Vec<&str> = e.details.iter().map(|d| d["@type"].as_str().unwrap()).collect();
        assert!(types[0].ends_with("Help") && types[1].ends_with("QuotaFailure") && types[2].ends_with("RetryInfo"));
        assert_eq!(e.details[2]["retryDelay"], "1s");
        assert!(e.message.ends_with("\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 5, model: gemini-2.5-flash\nPlease retry in 1.93201115s."), "{}", e.message);
    }

    #[test]
    fn bare_429_has_no_details() {
        let e = ApiError::quota_exceeded(ErrorShape::Bare, Tier::Tier1, "m", &refusal(Dimension::Rpm, 3.0));
        assert_eq!(
            e.body(),
            serde_json::json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})
        );
    }

    #[test]
    fn hints_read_back_delay_and_day_quota() {
        let e = ApiError::quota_exceeded(ErrorShape::V2025, Tier::Tier1, "m", &refusal(Dimension::Rpd, 3600.0));
        let h = QuotaHint::from_error(&e);
        assert_eq!(h.retry_delay, Some(Duration::from_secs(3600)));
        assert!(h.is_per_day());
        assert_eq!(dimension_of(h.quota_id.as_deref().unwrap()), Some(Dimension::Rpd));
        assert_eq!(parse_proto_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_proto_duration("abc"), None);
    }

    #[test]
    fn rejection_hints_equal_what_the_body_says() {
        for shape in [ErrorShape::V2025, ErrorShape::V2026, ErrorShape::Bare] {
            for tier in [Tier::Free, Tier::Tier1, Tier::Tier2, Tier::Tier3] {
                for dim in [Dimension::Rpm, Dimension::Tpm, Dimension::Rpd] {
                    for secs in [0.0, 0.4, 1.0, 1.93, 59.999, 3600.5] {
                        let r = Rejection::Quota {
                            shape,
                            tier,
                            model: Arc::from("gemini-2.5-flash"),
                            refusal: refusal(dim, secs),
                        };
                        assert_eq!(
                            r.hint(),
                            QuotaHint::from_error(&r.to_api_error()),
                            "{shape:?} {tier:?} {dim:?} {secs}"
                        );
                        assert_eq!(r.status(), r.to_api_error().code);
                    }
                }
            }
        }
        for monthly in [false, true] {
            let r = Rejection::Spend(SpendRefusal {
                limit_usd: 10.0,
                window: Duration::from_secs(600),
                monthly,
                retry_after: Duration::from_millis(12_300),
            });
            assert_eq!(r.hint(), QuotaHint::from_error(&r.to_api_error()));
            assert_eq!(r.hint().spend.is_some() && r.hint().is_per_day(), monthly);
            assert_eq!(r.hint().retry_delay, Some(Duration::from_secs(13)));
        }
        for r in [
            Rejection::Internal,
            Rejection::Overloaded,
            Rejection::DeadlineExceeded,
            Rejection::Api(ApiError::invalid_key()),
        ] {
            assert_eq!(r.hint(), QuotaHint::from_error(&r.to_api_error()));
            assert_eq!(r.status(), r.to_api_error().code);
        }
    }

    #[test]
    fn other_bodies_match_the_record() {
        assert_eq!(
            ApiError::overloaded().body(),
            serde_json::json!({"error": {"code": 503, "message": "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.", "status": "UNAVAILABLE"}})
        );
        assert_eq!(ApiError::invalid_key().details[0]["reason"], "API_KEY_INVALID");
        assert_eq!(ApiError::missing_key().code, 403);
        assert_eq!(
            ApiError::model_not_found("gemini-2.0-pro", "generateContent").message,
            "models/gemini-2.0-pro is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
        );
        assert_eq!(
            ApiError::too_many_tokens(1049575, 1048576).message,
            "The input token count (1049575) exceeds the maximum number of tokens allowed (1048576)."
        );
    }
}
