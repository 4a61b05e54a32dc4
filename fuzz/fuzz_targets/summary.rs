//! `summary.json` → report, as `stampede report` reads a saved run: any bytes give a summary
//! whose histograms decode and whose pages render, or a clean error; bounded in time and memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stampede::summary::Summary;

fuzz_target!(|data: &[u8]| {
    let Ok(summary) = serde_json::from_slice::<Summary>(data) else {
        return;
    };
    if summary.check_histograms().is_err() {
        return;
    }
    let _ = stampede::report::rendered(&summary);
    let _ = stampede::report::charts(&summary);
});
