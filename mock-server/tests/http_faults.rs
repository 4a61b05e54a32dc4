//! The mock over HTTP under a paused clock: overload, every fault kind, the OpenAI-compatible
//! endpoint, determinism and observability.

mod common;

use common::*;

fn faulty(fault: &str) -> Router {
    router_with(
        &format!("latency = {{ dist = \"constant\", value = \"100ms\" }}\noutput_tokens = 64\nerrors = {{ {fault} = 1.0, slow_headers = \"3s\" }}"),
        ServerOptions { hang_max: Duration::from_secs(30), ..ServerOptions::default() },
    )
}

#[tokio::test(start_paused = true)]
async fn status_faults_send_their_bodies() {
    for (fault, code, status) in [
        ("rate_500", 500, "INTERNAL"),
        ("rate_503", 503, "UNAVAILABLE"),
        ("rate_504", 504, "DEADLINE_EXCEEDED"),
        ("rate_429", 429, "RESOURCE_EXHAUSTED"),
    ] {
        let r = call(&faulty(fault), "POST", GEN, Some("k"), HELLO).await;
        assert_eq!(r.status.as_u16(), code);
        assert_eq!(r.json()["error"]["status"], status);
    }
    let r = call(&faulty("rate_429"), "POST", GEN, Some("k"), HELLO).await;
    assert_eq!(r.json()["error"]["details"][2]["retryDelay"], "1s");
}

#[tokio::test(start_paused = true)]
async fn serving_faults_break_the_connection_as_described() {
    let t0 = Instant::now();
    let r = call(&faulty("rate_reset"), "POST", GEN, Some("k"), HELLO).await;
    assert!(r.body.is_err(), "a reset cuts the body");
    assert_eq!(Instant::now() - t0, Duration::from_millis(100));

    let t0 = Instant::now();
    let r = call(&faulty("rate_hang"), "POST", GEN, Some("k"), HELLO).await;
    assert!(r.body.is_err());
    assert_eq!(
        Instant::now() - t0,
        Duration::from_secs(30),
        "a hang lasts until hang_max"
    );

    let r = call(&faulty("rate_malformed"), "POST", GEN, Some("k"), HELLO).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(r.body.as_ref().unwrap()).is_err());

    let r = call(&faulty("rate_truncate"), "POST", GEN, Some("k"), HELLO).await;
    assert!(r.body.is_err(), "a cut unary body errors");

    let t0 = Instant::now();
    let r = call(&faulty("rate_slow_headers"), "POST", GEN, Some("k"), HELLO).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(Instant::now() - t0, Duration::from_millis(3100));
}

#[tokio::test(start_paused = true)]
async fn truncated_and_malformed_streams() {
    let uri = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
    let app = faulty("rate_truncate");
    let req = Request::post(uri)
        .header("x-goog-api-key", "k")
        .body(Body::from(HELLO))
        .unwrap();
    let mut body = app.oneshot(req).await.unwrap().into_body();
    let mut events = 0;
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                let text = String::from_utf8_lossy(f.data_ref().unwrap()).into_owned();
                assert!(!text.contains("finishReason"));
                events += 1;
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed && events == 2,
        "half of 4 chunks, then the connection breaks ({events})"
    );
    let r = call(&faulty("rate_malformed"), "POST", uri, Some("k"), HELLO).await;
    let data = r.body.unwrap();
    assert!(serde_json::from_str::<Value>(data.trim().strip_prefix("data: ").unwrap()).is_err());
}

#[tokio::test(start_paused = true)]
async fn openai_compatible_endpoint() {
    let app = router(quiet());
    let uri = "/v1beta/openai/chat/completions";
    let body = r#"{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Explain how AI works"}], "max_tokens": 30}"#;
    let req = Request::post(uri)
        .header("authorization", "Bearer k")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 30, "total_tokens": 35})
    );
    let stream =
        r#"{"model": "models/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], "stream": true}"#;
    let req = Request::post(uri)
        .header("authorization", "Bearer k")
        .body(Body::from(stream))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let chunks: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    // Errors come wrapped in an array.
    let req = Request::post(uri).body(Body::from(body)).unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v[0]["error"]["code"], 403);
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_answers() {
    let settings = "latency = { dist = \"lognormal\", median = \"300ms\", p99 = \"2s\" }";
    let (a, b) = (router(settings), router(settings));
    for _ in 0..5 {
        let t0 = Instant::now();
        let x = call(&a, "POST", GEN, Some("k"), HELLO).await;
        let took_a = Instant::now() - t0;
        let t0 = Instant::now();
        let y = call(&b, "POST", GEN, Some("k"), HELLO).await;
        assert_eq!(x.body, y.body);
        assert_eq!(took_a, Instant::now() - t0);
    }
}

#[tokio::test(start_paused = true)]
async fn stats_metrics_and_request_log_never_show_keys() {
    let dir = std::env::temp_dir().join(format!("stampede-mock-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    let app = router_with(
        "rpm = 1",
        ServerOptions {
            request_log: Some(log.clone()),
            ..ServerOptions::default()
        },
    );
    let secret = "AIzaSy-very-secret-key";
    call(&app, "POST", GEN, Some(secret), HELLO).await;
    call(&app, "POST", GEN, Some(secret), HELLO).await;
    let stats = call(&app, "GET", "/__stampede/stats", None, "").await;
    let v = stats.json();
    assert_eq!(v["requests"]["gemini-2.5-flash"]["200"], 1);
    assert_eq!(v["requests"]["gemini-2.5-flash"]["429"], 1);
    let rpm = v["quota"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["dimension"] == "rpm")
        .unwrap();
    assert_eq!((rpm["used"].as_u64(), rpm["limit"].as_u64()), (Some(1), Some(1)));
    let metrics = call(&app, "GET", "/metrics", None, "").await.body.unwrap();
    assert!(metrics.contains("stampede_mock_requests_total{model=\"gemini-2.5-flash\",code=\"429\"} 1"));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 2);
    for text in [stats.body.unwrap(), metrics, logged] {
        assert!(!text.contains(secret), "a key leaked");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Every sample line of a Prometheus text page: `name{labels} value`, with label values that
/// end where they should (a hostile value escaped, never a line of its own).
fn samples(page: &str) -> Vec<String> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn metrics_stay_valid_and_bounded_under_hostile_model_names() {
    let app = router(quiet());
    // A name that would end its label and start a fake sample, were it not escaped.
    let evil = "x%22%7D%201%0Afake_metric%7Bmodel%3D%22y";
    let r = call(
        &app,
        "POST",
        &format!("/v1beta/models/{evil}:generateContent"),
        Some("k"),
        HELLO,
    )
    .await;
    assert_eq!(r.status, 404);
    for i in 0..3000 {
        let name = format!("made-up-{i}-{}", "z".repeat(64));
        call(
            &app,
            "POST",
            &format!("/v1beta/models/{name}:generateContent"),
            Some("k"),
            HELLO,
        )
        .await;
    }
    let page = call(&app, "GET", "/metrics", None, "").await.body.unwrap();
    let lines = samples(&page);
    assert!(
        lines.iter().all(|l| l.starts_with("stampede_mock_")),
        "a line was injected: {lines:?}"
    );
    assert!(!page.contains("fake_metric{"), "{page}");
    // 3,001 unknown names are one entry.
    let unknown: Vec<&String> = lines.iter().filter(|l| l.contains("(unknown)")).collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].ends_with(" 3001"), "{}", unknown[0]);
    assert!(page.len() < 10_000, "metrics page grew to {} bytes", page.len());
    let stats = call(&app, "GET", "/__stampede/stats", None, "").await.json();
    assert!(
        stats["requests"].as_object().unwrap().len() <= 2,
        "{}",
        stats["requests"]
    );
}

#[tokio::test(start_paused = true)]
async fn an_oversized_body_gets_geminis_400_before_it_is_read() {
    let app = router(quiet());
    // Declared larger than the limit: refused from the header alone (the body here is tiny).
    let req = Request::builder()
        .method("POST")
        .uri(GEN)
        .header("content-type", "application/json")
        .header("x-goog-api-key", "k")
        .header(
            "content-length",
            (stampede_mock::server::DEFAULT_MAX_BODY as u64 + 1).to_string(),
        )
        .body(Body::from(HELLO))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request payload size exceeds the limit: "),
        "{v}"
    );
    // A body that runs past the limit without declaring it gets the same answer.
    let big = vec![b' '; stampede_mock::server::DEFAULT_MAX_BODY + 10];
    let stream = futures::stream::iter(
        big.chunks(1 << 20)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let req = Request::builder()
        .method("POST")
        .uri(GEN)
        .header("x-goog-api-key", "k")
        .body(Body::from_stream(stream))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
}

/// A client that shuts its side of the connection after a complete request still gets its
/// answer (real socket, real time; the mock answers at once).
#[tokio::test]
async fn a_half_closed_connection_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let model = Arc::new(MockModel::new(
        profile("latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 4"),
        1,
    ));
    let (addr, _server) = stampede_mock::server::spawn(model, ServerOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {GEN} HTTP/1.1\r\nhost: x\r\nx-goog-api-key: k\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{HELLO}",
        HELLO.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains("candidates"), "{answer:?}");
}
