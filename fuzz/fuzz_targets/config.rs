//! The catalog and mock-profile readers on any text: a catalog is parsed and every number
//! checked against its range, a profile's settings are parsed, checked and laid over a preset,
//! and a whole profile is read as JSON — Ok or a clean error, never a panic, and a catalog that
//! passes prices any answer at a finite cost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stampede_mock::catalog::data::Catalog;
use stampede_mock::{MockProfile, MockSettings};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(catalog) = Catalog::parse(&text, "c.toml") {
        for m in catalog.models.values() {
            let cost = (m.input.unwrap_or(0.0) + m.output.unwrap_or(0.0)) * f64::from(u32::MAX) / 1e6;
            assert!(cost.is_finite(), "a checked price gives an infinite cost");
        }
    }
    if let Ok(settings) = MockSettings::parse(&text, "p.toml") {
        if let Ok(base) = MockProfile::preset(settings.preset.as_deref().unwrap_or("tier1")) {
            let _ = base.patched(&settings);
        }
    }
    let _ = serde_json::from_str::<MockProfile>(&text);
});
