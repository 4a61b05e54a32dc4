//! One request that asks for a huge answer or store: a 400 naming the field and its range.

use serde_json::json;

use crate::support::{post, Mock, GEN, HELLO};

/// Asserts a 400 INVALID_ARGUMENT whose message names `field`.
fn assert_bounded(r: &crate::support::Reply, field: &str) {
    assert_eq!(r.status, 400, "{field}: {}", r.body);
    let v = r.json();
    let e = if v.is_array() { &v[0]["error"] } else { &v["error"] };
    assert_eq!(e["status"], "INVALID_ARGUMENT", "{v}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(field), "{field} not named in {message}");
    assert!(
        message.contains("between") || message.contains("whole number"),
        "{message}"
    );
}

#[tokio::test]
async fn an_output_hint_of_four_billion_tokens_is_a_400_not_17_gb() {
    let mock = Mock::start(&[]);
    for hint in ["4294967295", "100000000", "99999999999999999999", "65537"] {
        let r = post(
            mock.addr,
            GEN,
            "k",
            &[("x-stampede-output-tokens", hint)],
            HELLO.as_bytes(),
        )
        .await;
        assert_bounded(&r, "x-stampede-output-tokens");
        mock.assert_answers().await;
    }
    // At the model's output limit it is served.
    let r = post(
        mock.addr,
        GEN,
        "k",
        &[("x-stampede-output-tokens", "65536")],
        HELLO.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["usageMetadata"]["candidatesTokenCount"], 65536);
    mock.assert_peak_under_ceiling("x-stampede-output-tokens: 4294967295");
}

#[tokio::test]
async fn every_number_that_sizes_an_answer_is_bounded() {
    let mock = Mock::start(&[]);
    let gen = |config: serde_json::Value| {
        json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": config}).to_string()
    };
    let cases = [
        (gen(json!({"maxOutputTokens": 4294967295u64})), "max_output_tokens"),
        (gen(json!({"maxOutputTokens": 0})), "max_output_tokens"),
        (gen(json!({"candidateCount": 1000})), "candidate_count"),
        (
            gen(json!({"thinkingConfig": {"thinkingBudget": 1_000_000_000}})),
            "thinking_budget",
        ),
        (
            gen(json!({"thinkingConfig": {"thinkingBudget": -5}})),
            "thinking_budget",
        ),
    ];
    for (body, field) in cases {
        assert_bounded(&post(mock.addr, GEN, "k", &[], body.as_bytes()).await, field);
    }
    let chat = "/v1beta/openai/chat/completions";
    let msg = json!([{"role": "user", "content": "hi"}]);
    for (body, field) in [
        (
            json!({"model": "gemini-2.5-flash", "messages": msg, "n": 100000}),
            "'n'",
        ),
        (
            json!({"model": "gemini-2.5-flash", "messages": msg, "max_tokens": 4294967295u64}),
            "max_output_tokens",
        ),
        (
            json!({"model": "gemini-2.5-flash", "messages": msg, "max_tokens": -1}),
            "max_tokens",
        ),
    ] {
        assert_bounded(
            &post(mock.addr, chat, "k", &[], body.to_string().as_bytes()).await,
            field,
        );
    }
    let batch = |metadata: serde_json::Value, config: serde_json::Value| {
        json!({"batch": {"inputConfig": {"requests": {"requests": [
            {"request": {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": config}, "metadata": metadata}
        ]}}}})
        .to_string()
    };
    let batch_path = "/v1beta/models/gemini-2.5-flash:batchGenerateContent";
    let body = batch(json!({"stampede_output_tokens": 4294967295u64}), json!({}));
    assert_bounded(
        &post(mock.addr, batch_path, "k", &[], body.as_bytes()).await,
        "stampede_output_tokens",
    );
    let body = batch(json!({}), json!({"maxOutputTokens": 100000000}));
    assert_bounded(
        &post(mock.addr, batch_path, "k", &[], body.as_bytes()).await,
        "max_output_tokens",
    );
    let long_name = json!({"batch": {"displayName": "x".repeat(1 << 20), "inputConfig": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": "hi"}]}]}}]}}}});
    let r = post(mock.addr, batch_path, "k", &[], long_name.to_string().as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("display_name"), "{}", r.body);
    // A key of a megabyte is not valid (and no store keeps it).
    let key = "k".repeat(300);
    assert_eq!(post(mock.addr, GEN, &key, &[], HELLO.as_bytes()).await.status, 400);
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("bounded numbers");
}

#[tokio::test]
async fn a_body_of_millions_of_empty_parts_stays_within_memory() {
    let mock = Mock::start(&[]);
    // 20 MiB of `{}` parts: about seven million parts in one request.
    let mut body = String::from(r#"{"contents": [{"parts": ["#);
    let parts = (20 << 20) / 3 - 20;
    body.push_str(&"{},".repeat(parts - 1));
    body.push_str("{}]}]}");
    let r = post(mock.addr, GEN, "k", &[], body.as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("objects and arrays"), "{}", r.body);
    // The same through the OpenAI-compatible endpoint, whose body is read as free JSON.
    let chat = format!(
        r#"{{"model": "gemini-2.5-flash", "messages": [{}{{}}]}}"#,
        "{},".repeat(parts)
    );
    let r = post(mock.addr, "/v1beta/openai/chat/completions", "k", &[], chat.as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("a 20 MiB body of empty parts");
}
