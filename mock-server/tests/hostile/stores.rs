//! What one key can make the mock keep: explicit caches and batch jobs are bounded in bytes per
//! key and in all, and in entries per key, so one key cannot lock every other out; lists are
//! paged; an expiry past what a clock holds is refused, never kept to break later reads.

use serde_json::json;

use crate::support::{get, post, send, Mock};

const CACHES: &str = "/v1beta/cachedContents";
const BATCH: &str = "/v1beta/models/gemini-2.5-flash:batchGenerateContent";

fn cache_body(display_name: &str, extra: serde_json::Value) -> String {
    let mut v = json!({"model": "models/gemini-2.5-flash", "displayName": display_name,
        "contents": [{"role": "user", "parts": [{"text": "x".repeat(17_000)}]}]});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    v.to_string()
}

#[tokio::test]
async fn a_cache_that_would_never_expire_is_refused_and_lists_keep_working() {
    let mock = Mock::start(&[]);
    let forever = cache_body("", json!({"expireTime": "9999-12-31T23:59:59.999999999Z"}));
    let r = post(mock.addr, CACHES, "k", &[], forever.as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("expire_time"), "{}", r.body);
    for extra in [
        json!({"expireTime": "2001-01-01T00:00:00Z"}),
        json!({"ttl": "1e300s"}),
        json!({"ttl": "0s"}),
    ] {
        let r = post(mock.addr, CACHES, "k", &[], cache_body("", extra).as_bytes()).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    let ok = post(
        mock.addr,
        CACHES,
        "k",
        &[],
        cache_body("kept", json!({"ttl": "2592000s"})).as_bytes(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let name = ok.json()["name"].as_str().unwrap().to_string();
    // Moving it years ahead is refused too; it stays readable.
    let r = send(
        mock.addr,
        "PATCH",
        &format!("/v1beta/{name}"),
        "k",
        &[],
        br#"{"ttl": "315360000s"}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(get(mock.addr, &format!("/v1beta/{name}"), "k").await.status, 200);
    let listed = get(mock.addr, CACHES, "k").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["cachedContents"].as_array().unwrap().len(), 1);
    mock.assert_answers().await;
}

#[tokio::test]
async fn one_key_filling_its_caches_leaves_room_for_the_others() {
    let mock = Mock::start(&[]);
    let huge = cache_body(&"n".repeat(60 << 20 >> 3), json!({}));
    let r = post(mock.addr, CACHES, "a", &[], huge.as_bytes()).await;
    assert_eq!(
        r.status,
        400,
        "a 7.5 MB displayName: {}",
        r.body.chars().take(200).collect::<String>()
    );
    let name = "n".repeat(128);
    let body = cache_body(&name, json!({}));
    let mut created = 0;
    let refused = loop {
        let r = post(mock.addr, CACHES, "a", &[], body.as_bytes()).await;
        if r.status != 200 {
            break r;
        }
        created += 1;
        assert!(created <= 1000, "a key holds at most 1,000 caches");
    };
    assert_eq!(created, 1000);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    // Another key is not locked out.
    let other = post(mock.addr, CACHES, "b", &[], body.as_bytes()).await;
    assert_eq!(other.status, 200, "{}", other.body);
    // Lists come in pages; a page larger than 1,000 is refused.
    assert_eq!(
        get(mock.addr, &format!("{CACHES}?pageSize=100000000"), "a")
            .await
            .status,
        400
    );
    let mut seen = 0;
    let mut token = String::new();
    loop {
        let page = get(mock.addr, &format!("{CACHES}?pageSize=300&pageToken={token}"), "a")
            .await
            .json();
        seen += page["cachedContents"].as_array().unwrap().len();
        match page["nextPageToken"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 1000);
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("1,000 caches with 128-character names, then a 7.5 MB name");
}

fn batch_body(requests: usize, text: usize) -> String {
    let one = json!({"request": {"contents": [{"parts": [{"text": "x".repeat(text)}]}]}, "metadata": {"k": 1}});
    let list: Vec<serde_json::Value> = std::iter::repeat_n(one, requests).collect();
    json!({"batch": {"displayName": "b", "inputConfig": {"requests": {"requests": list}}}}).to_string()
}

#[tokio::test]
async fn batch_jobs_are_bounded_in_bytes_per_key_and_in_all() {
    let turnaround = "latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 8\nbatch_turnaround = { dist = \"constant\", value = \"1h\" }\n";
    let mock = Mock::start_with(turnaround, &["--batch-key-budget-mib", "8", "--batch-budget-mib", "24"]);
    // 100,000 inline requests hold about 15 MB: more than a key may hold here, a 400.
    let big = batch_body(100_000, 1);
    let r = post(mock.addr, BATCH, "a", &[], big.as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // 20,000 requests (about 3 MB held each): key a fills its 8 MiB, then gets 429.
    let job = batch_body(20_000, 1);
    let mut made = 0;
    let refused = loop {
        let r = post(mock.addr, BATCH, "a", &[], job.as_bytes()).await;
        if r.status != 200 {
            break r;
        }
        made += 1;
        assert!(made < 100);
    };
    assert!(made >= 2, "{made}");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    for key in ["b", "c", "d"] {
        let r = post(mock.addr, BATCH, key, &[], job.as_bytes()).await;
        assert_eq!(r.status, 200, "key {key}: {}", r.body);
    }
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("batch jobs of 20,000 and 100,000 inline requests, small budgets");
}

#[tokio::test]
async fn ten_jobs_of_100_000_requests_and_their_list_stay_small() {
    let turnaround = "latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 8\nbatch_turnaround = { dist = \"constant\", value = \"1s\" }\n";
    let mock = Mock::start_with(turnaround, &[]);
    let big = batch_body(100_000, 1);
    let mut statuses = Vec::new();
    for i in 0..10 {
        let key = if i < 5 { "a" } else { "b" };
        statuses.push(post(mock.addr, BATCH, key, &[], big.as_bytes()).await.status);
    }
    println!(
        "10 jobs of 100,000 requests: {statuses:?}; peak after creating {:.1} MB",
        mock.peak_mb()
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Once they are done, a list is small whatever the jobs hold (no answers in it) ...
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let list = get(mock.addr, "/v1beta/batches?pageSize=1000", "a").await;
    assert_eq!(list.status, 200);
    assert!(list.body.len() < 64 << 10, "{} bytes", list.body.len());
    // ... and getting a job streams its 100,000 answers without building them at once.
    let name = list.json()["operations"][0]["name"].as_str().unwrap().to_string();
    let job = get(mock.addr, &format!("/v1beta/{name}"), "a").await.json();
    let answers = &job["metadata"]["output"]["inlinedResponses"]["inlinedResponses"];
    assert_eq!(answers.as_array().unwrap().len(), 100_000);
    assert_eq!(answers[99_999]["metadata"]["k"], 1);
    println!("peak after reading a job {:.1} MB", mock.peak_mb());
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("10 jobs of 100,000 inline requests, listed and read");
}
