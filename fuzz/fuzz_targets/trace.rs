//! Every trace reader (Azure CSV, BurstGPT CSV, Mooncake JSONL, stampede JSONL) on any bytes:
//! the scan gives statistics or a clean error, and reading the rows never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stampede::traffic::trace::{TraceFormat, TraceRows, TraceSpec, TraceStats};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("stampede-fuzz-trace-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("t");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for format in ["azure", "burstgpt", "mooncake", "jsonl"] {
        let spec: TraceSpec = match serde_json::from_value(serde_json::json!({"file": "t", "format": format})) {
            Ok(s) => s,
            Err(_) => return,
        };
        let _ = TraceStats::scan(&spec, &path);
        let fmt: TraceFormat = serde_json::from_value(serde_json::json!(format)).expect("a known format");
        if let Ok(mut rows) = TraceRows::open(&path, fmt, false) {
            for _ in 0..10_000 {
                if rows.next_row().is_none() {
                    break;
                }
            }
        }
    }
});
