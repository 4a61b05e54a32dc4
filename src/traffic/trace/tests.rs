//! Trace readers against the fixture samples and the full Azure code trace.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use stampede_mock::rng::stream_rng;

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/traces")
        .join(name)
}

fn spec(file: &str, format: TraceFormat) -> TraceSpec {
    TraceSpec {
        file: file.into(),
        format,
        speedup: 1.0,
        rate_scale: 1.0,
        start: Duration::ZERO,
        length: None,
        looped: false,
        skip_bad_rows: false,
        include_failed: false,
        models: BTreeMap::new(),
    }
}

fn replay(spec: &TraceSpec, path: &Path) -> Vec<Arrival> {
    let stats = TraceStats::scan(spec, path).unwrap();
    let mut t = TraceTimeline::new(spec.clone(), path.to_path_buf(), stats, stream_rng(1, "trace"));
    std::iter::from_fn(|| t.next()).take(100_000).collect()
}

fn csv_rows(path: &Path) -> Vec<(f64, u32, u32)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let t = humantime::parse_rfc3339_weak(f[0])
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            (t, f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn azure_full_trace_replays_every_request_at_its_relative_time() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces/azure2023_code.csv");
    let s = spec("azure2023_code.csv", TraceFormat::Azure);
    let stats = TraceStats::scan(&s, &path).unwrap();
    assert_eq!((stats.rows, stats.bad_rows), (8_819, 0));
    let arrivals = replay(&s, &path);
    let rows = csv_rows(&path);
    assert_eq!(arrivals.len(), 8_819);
    for (a, (t, input, output)) in arrivals.iter().zip(&rows) {
        let expected = t - rows[0].0;
        assert!(
            (a.at.as_secs_f64() - expected).abs() < 1e-6,
            "{} vs {expected}",
            a.at.as_secs_f64()
        );
        assert_eq!((a.input, a.output), (Some(*input), Some((*output).max(1))));
    }
    assert!(
        (arrivals.last().unwrap().at.as_secs_f64() - 3420.0).abs() < 60.0,
        "about 57 minutes"
    );
}

#[test]
fn speedup_window_loop_and_rate_scale() {
    let path = fixture("azure_code_head40.csv");
    let base = replay(&spec("x", TraceFormat::Azure), &path);
    assert_eq!(base.len(), 40);
    let mut fast = spec("x", TraceFormat::Azure);
    fast.speedup = 2.0;
    let f = replay(&fast, &path);
    for (a, b) in base.iter().zip(&f) {
        assert!((a.at.as_secs_f64() / 2.0 - b.at.as_secs_f64()).abs() < 1e-9);
    }
    // A window from the 10th row's time for 1 s of trace time.
    let t10 = base[10].at;
    let mut w = spec("x", TraceFormat::Azure);
    w.start = t10;
    w.length = Some(Duration::from_secs(1));
    let win = replay(&w, &path);
    let expected: Vec<_> = base
        .iter()
        .filter(|a| a.at >= t10 && a.at < t10 + Duration::from_secs(1))
        .collect();
    assert_eq!(win.len(), expected.len());
    assert_eq!(win[0].at, Duration::ZERO);
    // Looping the window repeats it shifted by its length.
    w.looped = true;
    let looped: Vec<_> = replay(&w, &path).into_iter().take(3 * win.len()).collect();
    assert_eq!(looped[win.len()].at, Duration::from_secs(1));
    assert_eq!(looped[2 * win.len()].input, win[0].input);
    // Rate scale 3 sends each row three times.
    let mut x3 = spec("x", TraceFormat::Azure);
    x3.rate_scale = 3.0;
    assert_eq!(replay(&x3, &path).len(), 120);
}

#[test]
fn burstgpt_skips_failed_rows_unless_asked_and_maps_models() {
    let path = fixture("burstgpt_head60.csv");
    let mut s = spec("x", TraceFormat::Burstgpt);
    s.models.insert("GPT-4".into(), "gemini-2.5-pro".into());
    let stats = TraceStats::scan(&s, &path).unwrap();
    assert_eq!((stats.rows, stats.failed_rows), (56, 4));
    assert_eq!(stats.models, ["ChatGPT", "GPT-4"]);
    let a = replay(&s, &path);
    assert_eq!(a.len(), 56);
    assert!(a.iter().any(|x| x.model.as_deref() == Some("gemini-2.5-pro")));
    assert!(a.iter().any(|x| x.model.as_deref() == Some("ChatGPT")));
    s.include_failed = true;
    assert_eq!(replay(&s, &path).len(), 60);
}

#[test]
fn mooncake_prompt_keys_follow_hash_ids() {
    let path = fixture("mooncake_head30.jsonl");
    let a = replay(&spec("x", TraceFormat::Mooncake), &path);
    assert_eq!(a.len(), 30);
    assert_eq!(a[0].input, Some(6758));
    assert!(a.iter().all(|x| x.prompt_key.is_some()));
}

#[test]
fn stampede_jsonl_carries_lanes_models_keys_and_streaming() {
    let dir = std::env::temp_dir().join(format!("stampede-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.jsonl");
    std::fs::write(
        &path,
        "{\"t\": 0.0, \"input_tokens\": 100, \"output_tokens\": 20, \"lane\": \"interactive\", \"stream\": true, \"prompt_key\": \"faq-1\"}\n\n\
         {\"t\": 0.5, \"input_tokens\": 9000, \"output_tokens\": 800, \"lane\": \"batch\", \"model\": \"gemini-2.5-pro\", \"prompt_key\": \"faq-1\"}\n",
    )
    .unwrap();
    let s = spec("t.jsonl", TraceFormat::Jsonl);
    let a = replay(&s, &path);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].lane.as_deref(), Some("interactive"));
    assert_eq!(a[0].stream, Some(true));
    assert_eq!(a[1].model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(a[0].prompt_key, a[1].prompt_key);
    assert_eq!(a[1].at, Duration::from_millis(500));
    let stats = TraceStats::scan(&s, &path).unwrap();
    assert_eq!(stats.lanes, ["batch", "interactive"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_recording_replays_its_prefix_blocks_and_keeps_the_prompt_of_a_refused_call() {
    let dir = std::env::temp_dir().join(format!("stampede-recording-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rec.jsonl");
    std::fs::write(
        &path,
        "{\"t\":0.5,\"input_tokens\":900,\"output_tokens\":120,\"model\":\"m\",\"prompt_key\":\"00000000000000ab\",\"prefix\":[[\"00000000000000aa\",300],[\"00000000000000ab\",900]],\"status\":200,\"latency_ms\":800.0}\n\
         {\"t\":0.7,\"input_tokens\":1200,\"output_tokens\":0,\"model\":\"m\",\"prefix\":[[\"00000000000000aa\",300],[\"00000000000000ac\",1200]],\"status\":429,\"quota_value\":\"60\"}\n",
    )
    .unwrap();
    let a = replay(&spec("rec.jsonl", TraceFormat::Jsonl), &path);
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].input, a[0].output), (Some(900), Some(120)));
    // The refused call's prompt is known, its answer's length is not: the scenario draws it.
    assert_eq!((a[1].input, a[1].output), (Some(1200), None));
    // Both share the first block, keyed as recorded; the whole prompt's key is the last block's.
    let (p0, p1) = (a[0].prefix.clone().unwrap(), a[1].prefix.clone().unwrap());
    assert_eq!(p0[0], (0xaa, 300));
    assert_eq!(p1[0], p0[0]);
    assert_eq!(a[0].prompt_key, Some(0xab));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_rows_name_file_and_line_or_are_skipped_and_counted() {
    let dir = std::env::temp_dir().join(format!("stampede-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.csv");
    let good = std::fs::read_to_string(fixture("azure_code_head40.csv")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[5] = "2023-11-16 18:17:05.0000000,lots,12";
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut s = spec("bad.csv", TraceFormat::Azure);
    let err = TraceStats::scan(&s, &path).unwrap_err();
    assert!(
        err.contains("bad.csv:6: ContextTokens \"lots\" is not a valid number"),
        "{err}"
    );
    s.skip_bad_rows = true;
    let stats = TraceStats::scan(&s, &path).unwrap();
    assert_eq!((stats.rows, stats.bad_rows), (39, 1));
    // Time going back is refused too.
    lines[5] = "2020-01-01 00:00:00.0000000,5,5";
    std::fs::write(&path, lines.join("\n")).unwrap();
    s.skip_bad_rows = false;
    let err = TraceStats::scan(&s, &path).unwrap_err();
    assert!(err.contains("bad.csv:6: time") && err.contains("goes back"), "{err}");
    // A wrong header is named.
    std::fs::write(&path, "when,in,out\n1,2,3\n").unwrap();
    let err = TraceStats::scan(&s, &path).unwrap_err();
    assert!(
        err.contains("bad.csv:1: expected the Azure header TIMESTAMP,ContextTokens,GeneratedTokens"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_trace_of_distinct_names_is_refused_at_the_row_past_the_bound() {
    let dir = std::env::temp_dir().join(format!("stampede-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("names.jsonl");
    let rows: String = (0..1000)
        .map(|i| format!("{{\"t\": {i}, \"input_tokens\": 1, \"output_tokens\": 1, \"model\": \"m{i}\"}}\n"))
        .collect();
    std::fs::write(&path, rows).unwrap();
    let mut s = spec("names.jsonl", TraceFormat::Jsonl);
    s.skip_bad_rows = true;
    let err = TraceStats::scan(&s, &path).unwrap_err();
    assert!(
        err.contains("names.jsonl:201: more than 200 models or 64 lanes"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
