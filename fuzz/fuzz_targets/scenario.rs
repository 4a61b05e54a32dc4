//! The scenario parser and validator on any text: Ok or a clean error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(loaded) = stampede::scenario::Scenario::parse(&text, std::path::Path::new("/nonexistent/s.toml")) {
        // What `stampede traffic` and the spend guard read from a valid scenario.
        let _ = loaded.traffic.mean_rate();
        let _ = loaded.check_volume(loaded.scenario.duration, None);
    }
});
