//! The mock over HTTP, driven through its router with `oneshot` under a paused clock: every
//! endpoint's body against gemini-wire.md, auth, quotas and RetryInfo accuracy
//! (`http_faults.rs`: overload, faults, determinism and observability).

mod common;

use common::*;

#[tokio::test(start_paused = true)]
async fn generate_content_has_the_documented_shape() {
    let app = router(quiet());
    let body = r#"{"systemInstruction": {"parts": [{"text": "be brief"}]},
      "contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}],
      "generationConfig": {"temperature": 1.0, "topP": 0.95, "topK": 40, "candidateCount": 1,
        "maxOutputTokens": 512, "stopSequences": [], "responseMimeType": "text/plain", "seed": 1,
        "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": false}}}"#;
    let t0 = Instant::now();
    let r = call(&app, "POST", GEN, Some("k"), body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(Instant::now() - t0, Duration::from_millis(100));
    assert_eq!(r.headers["content-type"], "application/json; charset=UTF-8");
    let v = r.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["candidates", "usageMetadata", "modelVersion", "responseId"]);
    let c = &v["candidates"][0];
    assert_eq!(c["content"]["role"], "model");
    assert_eq!(c["finishReason"], "STOP");
    assert_eq!(c["index"], 0);
    let text = c["content"]["parts"][0]["text"].as_str().unwrap();
    let u = &v["usageMetadata"];
    // "be brief" + the question: 8 + 35 characters = 11 tokens by the 4-characters rule.
    assert_eq!(u["promptTokenCount"], 11);
    assert_eq!(u["candidatesTokenCount"], 40);
    assert_eq!(text.len(), 160);
    assert_eq!(u["totalTokenCount"], 51);
    assert_eq!(
        u["promptTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": 11}])
    );
    assert!(u.get("thoughtsTokenCount").is_none());
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");
    assert_eq!(v["responseId"].as_str().unwrap().len(), 22);
}

#[tokio::test(start_paused = true)]
async fn max_output_tokens_and_thinking_are_reported() {
    let app = router("latency = { dist = \"constant\", value = \"10ms\" }\noutput_tokens = 900\nthinking_tokens = 120");
    let body = r#"{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 64}}"#;
    let v = call(&app, "POST", GEN, Some("k"), body).await.json();
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    let u = &v["usageMetadata"];
    assert_eq!(u["candidatesTokenCount"], 64);
    assert_eq!(u["thoughtsTokenCount"], 120);
    assert_eq!(u["totalTokenCount"], 1 + 64 + 120);
}

fn sse_events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "events end with a blank line");
    body.split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data: prefix")).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn stream_sse_sends_deltas_with_cumulative_usage() {
    let app = router("latency = { dist = \"constant\", value = \"200ms\" }\noutput_tokens = 70\ndecode_tps = 100\nstream_chunk_tokens = 16");
    let t0 = Instant::now();
    let r = call(
        &app,
        "POST",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        Some("k"),
        HELLO,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    // 70 tokens at 100/s after 200 ms: the last chunk is due at 900 ms.
    assert_eq!(Instant::now() - t0, Duration::from_millis(900));
    let body = r.body.unwrap();
    assert!(!body.contains("[DONE]"));
    let events = sse_events(&body);
    assert_eq!(events.len(), 5);
    let counts: Vec<u64> = events
        .iter()
        .map(|e| e["usageMetadata"]["candidatesTokenCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [16, 32, 48, 64, 70]);
    let ids: Vec<&Value> = events.iter().map(|e| &e["responseId"]).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    for (i, e) in events.iter().enumerate() {
        let finish = e["candidates"][0].get("finishReason");
        assert_eq!(finish.is_some(), i == 4, "finishReason only on the last chunk");
    }
    let text: String = events
        .iter()
        .map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text.len(), 280);
}

#[tokio::test(start_paused = true)]
async fn stream_without_sse_is_one_json_array() {
    let app = router(quiet());
    let r = call(
        &app,
        "POST",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        Some("k"),
        HELLO,
    )
    .await;
    let v = r.json();
    let chunks = v.as_array().unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["candidatesTokenCount"], 40);
}

#[tokio::test(start_paused = true)]
async fn count_tokens_uses_the_same_rule() {
    let app = router(quiet());
    let uri = "/v1beta/models/gemini-2.5-flash:countTokens";
    let v = call(&app, "POST", uri, Some("k"), HELLO).await.json();
    assert_eq!(
        v,
        json!({"totalTokens": 9, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]})
    );
    let wrapped = format!(
        r#"{{"generateContentRequest": {{"model": "models/gemini-2.5-flash", "contents": {}}}}}"#,
        &HELLO[13..HELLO.len() - 1]
    );
    let v = call(&app, "POST", uri, Some("k"), &wrapped).await.json();
    assert_eq!(v["totalTokens"], 9);
    // The generate answer for the same prompt counts the same.
    let g = call(&app, "POST", GEN, Some("k"), HELLO).await.json();
    assert_eq!(g["usageMetadata"]["promptTokenCount"], 9);
}

#[tokio::test(start_paused = true)]
async fn models_list_pages_and_get() {
    let app = router(quiet());
    let v = call(&app, "GET", "/v1beta/models?pageSize=2", Some("k"), "")
        .await
        .json();
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["models/gemini-2.5-flash", "models/gemini-2.5-flash-lite"]);
    assert_eq!(v["nextPageToken"], "2");
    let v = call(&app, "GET", "/v1beta/models?pageSize=2&pageToken=2", Some("k"), "")
        .await
        .json();
    assert_eq!(v["models"][0]["name"], "models/gemini-2.5-pro");
    assert_eq!(v["models"][1]["name"], "models/gemini-3-flash-preview");
    assert_eq!(v["nextPageToken"], "4");
    // The rest, page by page, to the last (which has no token): every model the preset serves.
    let (mut token, mut rest) = ("4".to_string(), Vec::new());
    loop {
        let v = call(
            &app,
            "GET",
            &format!("/v1beta/models?pageSize=2&pageToken={token}"),
            Some("k"),
            "",
        )
        .await
        .json();
        rest.extend(
            v["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string()),
        );
        match v.get("nextPageToken") {
            Some(t) => token = t.as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(rest.first().map(String::as_str), Some("models/gemini-3.1-flash-lite"));
    assert_eq!(rest.last().map(String::as_str), Some("models/gemini-3.8-flash"));
    assert_eq!(rest.len(), 7, "{rest:?}");
    let m = call(&app, "GET", "/v1beta/models/gemini-2.5-pro", Some("k"), "")
        .await
        .json();
    for key in [
        "name",
        "version",
        "displayName",
        "description",
        "inputTokenLimit",
        "outputTokenLimit",
        "supportedGenerationMethods",
        "temperature",
        "maxTemperature",
        "topP",
        "topK",
        "thinking",
    ] {
        assert!(m.get(key).is_some(), "model lacks {key}");
    }
    let r = call(&app, "GET", "/v1beta/models/gemini-2.0-pro", Some("k"), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn auth_errors_match_the_record() {
    let app = router("api_keys = [\"good\"]");
    let r = call(&app, "POST", GEN, None, HELLO).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json(),
        json!({"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}})
    );
    let r = call(&app, "POST", GEN, Some("bad"), HELLO).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let r = call(&app, "POST", &format!("{GEN}?key=good"), None, HELLO).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn bad_requests_get_geminis_messages() {
    let app = router(quiet());
    let r = call(&app, "POST", GEN, Some("k"), r#"{"contents": [], "xyz": 1}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"]["message"],
        "Invalid JSON payload received. Unknown name \"xyz\": Cannot find field."
    );
    let r = call(
        &app,
        "POST",
        "/v1beta/models/gemini-2.0-pro:generateContent",
        Some("k"),
        HELLO,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["message"], "models/gemini-2.0-pro is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.");
    let r = call(
        &app,
        "POST",
        "/v1beta/models/gemini-2.5-flash:embedContent",
        Some("k"),
        HELLO,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&app, "GET", "/nowhere", Some("k"), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["status"], "NOT_FOUND");
}

#[tokio::test(start_paused = true)]
async fn quota_429_body_headers_and_retry_delay_accuracy() {
    let app = router("rpm = 2\nlatency = { dist = \"constant\", value = \"1ms\" }");
    for _ in 0..2 {
        assert_eq!(call(&app, "POST", GEN, Some("a"), HELLO).await.status, StatusCode::OK);
    }
    tokio::time::advance(Duration::from_millis(12_300)).await;
    let r = call(&app, "POST", GEN, Some("a"), HELLO).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["content-type"], "application/json; charset=UTF-8");
    assert!(r.headers.get("retry-after").is_none(), "Gemini sends no Retry-After");
    let v = r.json();
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let d = &v["error"]["details"];
    assert_eq!(d[0]["@type"], "type.googleapis.com/google.rpc.QuotaFailure");
    assert_eq!(
        d[0]["violations"][0]["quotaId"],
        "GenerateRequestsPerMinutePerProjectPerModel"
    );
    assert_eq!(
        d[0]["violations"][0]["quotaMetric"],
        "generativelanguage.googleapis.com/generate_content_paid_tier_requests"
    );
    assert_eq!(d[0]["violations"][0]["quotaValue"], "2");
    assert_eq!(d[1]["@type"], "type.googleapis.com/google.rpc.Help");
    assert_eq!(d[2]["retryDelay"], "48s");
    // Another key is another project with its own quota.
    assert_eq!(call(&app, "POST", GEN, Some("b"), HELLO).await.status, StatusCode::OK);
    // Retrying after exactly retryDelay succeeds.
    tokio::time::advance(Duration::from_secs(48)).await;
    assert_eq!(call(&app, "POST", GEN, Some("a"), HELLO).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn retry_delay_is_exact_for_every_dimension_and_shape() {
    let cases = [
        ("rpm = 1\ntpm = 0\nrpd = 0", "RequestsPerMinute"),
        ("rpm = 0\ntpm = 10\nrpd = 0", "InputTokens"),
        ("rpm = 0\ntpm = 0\nrpd = 1", "PerDay"),
    ];
    for (limits, id_part) in cases {
        for shape in ["2025", "2026"] {
            let app = router(&format!(
                "{limits}\nerror_shape = \"{shape}\"\nlatency = {{ dist = \"constant\", value = \"1ms\" }}"
            ));
            assert_eq!(call(&app, "POST", GEN, Some("k"), HELLO).await.status, StatusCode::OK);
            tokio::time::advance(Duration::from_millis(1_700)).await;
            let r = call(&app, "POST", GEN, Some("k"), HELLO).await;
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
            let v = r.json();
            let details = v["error"]["details"].as_array().unwrap();
            let failure = details
                .iter()
                .find(|d| d["@type"].as_str().unwrap().ends_with("QuotaFailure"))
                .unwrap();
            assert!(failure["violations"][0]["quotaId"].as_str().unwrap().contains(id_part));
            let retry = details
                .iter()
                .find(|d| d["@type"].as_str().unwrap().ends_with("RetryInfo"))
                .unwrap();
            let delay: u64 = retry["retryDelay"]
                .as_str()
                .unwrap()
                .trim_end_matches('s')
                .parse()
                .unwrap();
            let period: f64 = if id_part == "PerDay" { 86_400.0 } else { 60.0 };
            let exact = period - 1.701;
            if shape == "2025" {
                // Rounded up: retrying after exactly retryDelay succeeds.
                assert_eq!(delay as f64, exact.ceil(), "{limits}");
                tokio::time::advance(Duration::from_secs(delay)).await;
                assert_eq!(
                    call(&app, "POST", GEN, Some("k"), HELLO).await.status,
                    StatusCode::OK,
                    "{limits}"
                );
            } else {
                // Rounded down, as observed; the message carries the precise value.
                assert_eq!(delay as f64, exact.floor(), "{limits}");
                assert!(
                    v["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("Please retry in {exact}s.")),
                    "{}",
                    v["error"]["message"]
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bare_429_shape_is_selectable() {
    let app = router("rpm = 1\nerror_shape = \"bare\"");
    call(&app, "POST", GEN, Some("k"), HELLO).await;
    let r = call(&app, "POST", GEN, Some("k"), HELLO).await;
    assert_eq!(
        r.json(),
        json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})
    );
}

#[tokio::test(start_paused = true)]
async fn full_upstream_answers_503_overloaded() {
    let app = router("max_concurrent = 1\nbacklog = 0\nlatency = { dist = \"constant\", value = \"1s\" }");
    let first = tokio::spawn({
        let app = app.clone();
        async move { call(&app, "POST", GEN, Some("k"), HELLO).await.status }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let r = call(&app, "POST", GEN, Some("k"), HELLO).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.json(),
        json!({"error": {"code": 503, "message": "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.", "status": "UNAVAILABLE"}})
    );
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}
