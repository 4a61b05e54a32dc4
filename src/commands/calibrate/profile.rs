//! The calibrated profile as TOML: the mock's own keys (`[target.mock]` / `--profile FILE`),
//! led by comments that say what each figure rests on; checked by loading it back.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use stampede_mock::profile::{FaultRates, MockProfile, MockSettings, ModelSettings};

use super::fit::DistFit;
use super::model::{as_duration_dist, as_number_dist, ModelFit};
use super::read::Recorded;
use crate::format::count as thousands;

fn described(name: &str, d: &DistFit, unit: &str) -> String {
    let tried: Vec<String> = d
        .tried
        .iter()
        .map(|(n, ks)| match n.as_str() {
            "constant" => format!("constant (spread {ks:.3})"),
            _ => format!("{n} (KS {ks:.3})"),
        })
        .collect();
    format!(
        "{name}: {} ({}, KS 95% bound {:.3}, n = {}; tried {}); measured p50/p95/p99 {:.1}/{:.1}/{:.1} {unit}",
        d.fitted.name(),
        d.fitted.fit_figure(d.ks),
        d.ks_critical,
        thousands(d.n),
        tried.join(", "),
        d.measured[0],
        d.measured[1],
        d.measured[2]
    )
}

/// What the fit could not see or chose.
pub(super) fn notes(models: &[ModelFit], recorded: &Recorded, preset: &str) -> Vec<String> {
    let mut out = Vec::new();
    let main = &models[0];
    if models.len() > 1 {
        out.push(format!(
            "The mock has one latency law for every model: latency, decode speed and answer lengths are {}'s ({} answers); the other models' fits are in calibration.json.",
            main.model,
            thousands(main.answered)
        ));
    }
    if main.streamed == 0 {
        out.push("No streamed answers: the first chunk was never timed, so decode time stays inside `latency` and `decode_tps` is 0. Record some streamed calls to separate them.".into());
    } else if main.decode_tps.is_none() {
        out.push(
            "Streamed answers took no measurable time after their first chunk: `decode_tps = 0` (decode adds nothing)."
                .into(),
        );
    }
    if main.prefill_ms_per_1k == 0.0 {
        out.push(match main.prefill {
            Some(p) => format!(
                "Time to first token does not grow clearly with input: slope {:.3} ms per token ± {:.3} (under two standard errors, or negative); `latency_per_1k_input` stays 0.",
                p.b, p.b_se
            ),
            None => "Prompts were all one size: the prefill slope cannot be seen; `latency_per_1k_input` stays 0.".into(),
        });
    }
    for m in models {
        if m.errors.rate_429 > 0.0 && m.quotas.named == 0 {
            out.push(format!(
                "{}: {:.1}% of calls got 429s that named no quota; modelled as `errors.rate_429` (a shared-capacity 429), not a limit.",
                m.model,
                m.errors.rate_429 * 100.0
            ));
        }
        for (dimension, peak, limit) in contradicted(m, preset) {
            out.push(format!(
                "{}: the target admitted {} {} where {preset}'s {dimension} is {}, and never named that quota: its {dimension} is unknown, above what was seen; the profile sets none (0). Set your project's own if you know it.",
                display(&m.model),
                thousands(peak),
                match dimension {
                    "RPM" => "calls in a minute",
                    "TPM" => "input tokens in a minute",
                    _ => "calls in a day",
                },
                thousands(limit)
            ));
        }
        if m.errors.rate_429 == 0.0 {
            out.push(format!(
                "{}: no 429s, so no quota was reached (peaks seen: {} calls and {} input tokens in a minute, {} calls in a day); quotas not contradicted stay {preset}'s.",
                display(&m.model),
                thousands(m.peaks.rpm),
                thousands(m.peaks.tpm),
                thousands(m.peaks.rpd)
            ));
        }
    }
    if recorded.injected > 0 {
        out.push(format!(
            "{} answers the proxy injected were left out.",
            thousands(recorded.injected)
        ));
    }
    out.push("Fit from calls on an unloaded target: a loaded one's queueing shows as latency (the profile's `overload_slowdown` stays the preset's).".into());
    out
}

fn display(model: &str) -> &str {
    if model.is_empty() {
        "(calls naming no model)"
    } else {
        model
    }
}

/// Each quota of a model: the one its 429s named; else none (0) where the target admitted more
/// than the preset's limit allows (the preset is wrong for this project: the limit is unknown,
/// above what was seen); else the preset's (not written).
fn quota_of(named: Option<u64>, peak: u64, preset_limit: Option<u64>) -> Option<u64> {
    named.or(match preset_limit {
        Some(limit) if limit > 0 && peak > limit => Some(0),
        _ => None,
    })
}

/// What [`quota_of`] decided, for the notes: (dimension, peak seen, the preset's limit) of each
/// preset limit the recording contradicts.
pub(super) fn contradicted(m: &ModelFit, preset: &str) -> Vec<(&'static str, u64, u64)> {
    let limits = stampede_mock::catalog::tier_limits(preset)
        .and_then(|(_, l)| l.get(&m.model).copied())
        .unwrap_or(stampede_mock::catalog::Limits { rpm: 0, tpm: 0, rpd: 0 });
    [
        ("RPM", m.quotas.rpm, m.peaks.rpm, limits.rpm),
        ("TPM", m.quotas.tpm, m.peaks.tpm, limits.tpm),
        ("RPD", m.quotas.rpd, m.peaks.rpd, limits.rpd),
    ]
    .into_iter()
    .filter(|(_, named, peak, limit)| named.is_none() && *limit > 0 && peak > limit)
    .map(|(d, _, peak, limit)| (d, peak, limit))
    .collect()
}

/// The profile's settings: the main model's laws, every model's quotas and density.
fn settings(models: &[ModelFit], preset: &str) -> MockSettings {
    let main = &models[0];
    let mut per_model = BTreeMap::new();
    for m in models.iter().filter(|m| !m.model.is_empty()) {
        let limits = stampede_mock::catalog::tier_limits(preset).and_then(|(_, l)| l.get(&m.model).copied());
        let s = ModelSettings {
            rpm: quota_of(m.quotas.rpm, m.peaks.rpm, limits.map(|l| l.rpm)),
            tpm: quota_of(m.quotas.tpm, m.peaks.tpm, limits.map(|l| l.tpm)),
            rpd: quota_of(m.quotas.rpd, m.peaks.rpd, limits.map(|l| l.rpd)),
            chars_per_token: m.chars_per_token.map(|(d, _)| (d * 1000.0).round() / 1000.0),
        };
        if s != ModelSettings::default() {
            per_model.insert(m.model.clone(), s);
        }
    }
    let unnamed_429 = if main.quotas.named == 0 {
        main.errors.rate_429
    } else {
        0.0
    };
    let e = &main.errors;
    let any_error = unnamed_429 + e.rate_500 + e.rate_503 + e.rate_504 + e.rate_transport > 0.0;
    MockSettings {
        preset: Some(preset.to_string()),
        latency: main.latency_ms.as_ref().map(|d| as_duration_dist(&d.fitted)),
        latency_per_1k_input: Some(std::time::Duration::from_micros(
            (main.prefill_ms_per_1k.max(0.0) * 100.0).round() as u64 * 10,
        )),
        decode_tps: Some(
            main.decode_tps
                .as_ref()
                .map_or(stampede_mock::dist::NumberDist::Constant(0.0), |d| {
                    as_number_dist(&d.fitted)
                }),
        ),
        output_tokens: main.output_tokens.as_ref().map(|d| as_number_dist(&d.fitted)),
        thinking_tokens: main.thinking_tokens.as_ref().map(|d| as_number_dist(&d.fitted)),
        errors: any_error.then(|| FaultRates {
            rate_429: unnamed_429,
            rate_500: main.errors.rate_500,
            rate_503: main.errors.rate_503,
            rate_504: main.errors.rate_504,
            rate_reset: main.errors.rate_transport,
            ..FaultRates::default()
        }),
        models: (!per_model.is_empty()).then_some(per_model),
        ..MockSettings::default()
    }
}

/// The profile file's text, checked by loading it back.
pub(super) fn toml(models: &[ModelFit], preset: &str, inputs: &[PathBuf], notes: &[String]) -> Result<String, String> {
    let settings = settings(models, preset);
    let body = toml::to_string(&settings).map_err(|e| format!("the calibrated profile does not serialise: {e}"))?;
    let main = &models[0];
    let mut head = String::new();
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let _ = writeln!(
        head,
        "# A mock profile fitted by `stampede calibrate` from {}.",
        names.join(", ")
    );
    let _ = writeln!(
        head,
        "# {}: {} calls, {} answered ({} streamed).",
        display(&main.model),
        thousands(main.calls),
        thousands(main.answered),
        thousands(main.streamed)
    );
    if let Some(d) = &main.latency_ms {
        let _ = writeln!(
            head,
            "# {}",
            described("latency (ms, prefill and first chunk taken off)", d, "ms")
        );
    }
    if let Some(p) = main.prefill {
        let _ = writeln!(
            head,
            "# prefill: least squares {:.2} ms per 1,000 uncached input tokens ± {:.2} (R² {:.2}); adopted {:.2}{}",
            p.b * 1000.0,
            p.b_se * 1000.0,
            p.r2,
            main.prefill_ms_per_1k,
            if main.prefill_ms_per_1k > 0.0 && (main.prefill_ms_per_1k - p.b * 1000.0).abs() > 1e-9 {
                " (maximum likelihood with the lognormal base latency: less noisy than least squares for a skewed law)"
            } else {
                ""
            }
        );
    }
    if let Some(d) = &main.decode_tps {
        let _ = writeln!(head, "# {}", described("decode (tokens/s)", d, "tokens/s"));
    }
    if let Some(d) = &main.output_tokens {
        let _ = writeln!(
            head,
            "# {}; {:.1}% cut at maxOutputTokens",
            described("answer length (tokens)", d, "tokens"),
            main.cut_at_max * 100.0
        );
    }
    for m in models {
        let q = &m.quotas;
        let named: Vec<String> = [("RPM", q.rpm), ("TPM", q.tpm), ("RPD", q.rpd)]
            .iter()
            .filter_map(|(d, v)| v.map(|v| format!("{d} {}", thousands(v))))
            .collect();
        let _ = writeln!(
            head,
            "# {} quotas: {}; the others {preset}'s unless a note below says the recording contradicts them",
            display(&m.model),
            if named.is_empty() {
                "none named by a 429".to_string()
            } else {
                format!("{} as {} 429 bodies named", named.join(", "), thousands(q.named))
            }
        );
        if let Some((d, n)) = m.chars_per_token {
            let _ = writeln!(
                head,
                "# {}: {d:.3} characters per token over {} prompts",
                display(&m.model),
                thousands(n)
            );
        }
    }
    for n in notes {
        let _ = writeln!(head, "# Note: {n}");
    }
    let text = format!("{head}\n{body}");
    let parsed = MockSettings::parse(&text, "the calibrated profile").map_err(|e| e.to_string())?;
    MockProfile::preset(preset)
        .and_then(|p| p.patched(&parsed))
        .map_err(|e| format!("the calibrated profile does not load: {e}"))?;
    Ok(text)
}
