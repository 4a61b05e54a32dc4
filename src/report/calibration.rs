//! The calibration page: each model's fits in a table and, for the model the profile follows,
//! the measured distributions overlaid with the fitted ones (base latency, time to first token
//! against input size, answer length).

use minijinja::context;

use super::plots::Chart;
use crate::commands::calibrate::fit::DistFit;
use crate::commands::calibrate::{Calibration, ModelFit};
use crate::format::count;

/// The models table's columns.
pub const COLUMNS: [&str; 9] = [
    "model",
    "calls",
    "answered",
    "base latency",
    "prefill",
    "decode",
    "answer length",
    "429s (quota named)",
    "chars/token",
];

fn law(d: &Option<DistFit>, unit: &str) -> String {
    match d {
        None => "—".into(),
        Some(d) => {
            let q = |p: f64| d.fitted.quantile(p);
            format!(
                "{} p50 {:.0} / p99 {:.0} {unit} ({}, n {})",
                d.fitted.name(),
                q(0.5),
                q(0.99),
                d.fitted.fit_figure(d.ks),
                count(d.n)
            )
        }
    }
}

/// One row per model.
pub fn rows(c: &Calibration) -> Vec<Vec<String>> {
    c.models
        .iter()
        .map(|m| {
            let quota: Vec<String> = [("RPM", m.quotas.rpm), ("TPM", m.quotas.tpm), ("RPD", m.quotas.rpd)]
                .iter()
                .filter_map(|(n, v)| v.map(|v| format!("{n} {}", count(v))))
                .collect();
            vec![
                if m.model.is_empty() {
                    "(none named)".into()
                } else {
                    m.model.clone()
                },
                count(m.calls),
                count(m.answered),
                law(&m.latency_ms, "ms"),
                format!("{:.1} ms / 1k tokens", m.prefill_ms_per_1k),
                law(&m.decode_tps, "tokens/s"),
                law(&m.output_tokens, "tokens"),
                format!(
                    "{:.1}%{}",
                    m.errors.rate_429 * 100.0,
                    if quota.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", quota.join(", "))
                    }
                ),
                m.chars_per_token.map_or("—".into(), |(d, _)| format!("{d:.2}")),
            ]
        })
        .collect()
}

/// The terminal's account: each model's figures, one per line.
pub fn text(c: &Calibration) -> String {
    let mut out = String::new();
    for row in rows(c) {
        out.push_str(&format!("{}: {} calls, {} answered\n", row[0], row[1], row[2]));
        for (label, cell) in COLUMNS.iter().zip(&row).skip(3) {
            out.push_str(&format!("  {label:<20}{cell}\n"));
        }
    }
    out
}

/// The overlays of one model: measured against fitted.
pub fn charts(m: &ModelFit) -> Vec<Chart> {
    let mut out = Vec::new();
    if let Some(d) = &m.latency_ms {
        out.push(cdf_chart(
            &format!("{}: base latency", m.model),
            "time to first token less prefill and first chunk (ms)",
            d,
            &m.latency_cdf,
        ));
    }
    if !m.prefill_bins.is_empty() {
        out.push(
            Chart::new(
                &format!("{}: time to first token by input size", m.model),
                "uncached input tokens (mean of a bin of answers)",
                "ms (less the first chunk's decode)",
            )
            .line("measured", 0, m.prefill_bins.iter().map(|b| (b.0, b.1)).collect())
            .line(
                "fitted: mean latency + prefill",
                1,
                m.prefill_bins.iter().map(|b| (b.0, b.2)).collect(),
            ),
        );
    }
    if let Some(d) = &m.output_tokens {
        out.push(cdf_chart(
            &format!("{}: answer length", m.model),
            "output tokens",
            d,
            &m.output_cdf,
        ));
    }
    out
}

/// A measured CDF (its quantile points) with the fitted law's CDF at the same values.
fn cdf_chart(what: &str, x_label: &str, d: &DistFit, measured: &[(f64, f64)]) -> Chart {
    let fitted: Vec<(f64, f64)> = measured.iter().map(|&(x, _)| (x, d.fitted.cdf(x))).collect();
    Chart::new(
        &format!("{what}, measured and fitted ({})", d.fitted.name()),
        x_label,
        "share of answers at or below",
    )
    .line("measured", 0, measured.to_vec())
    .line("fitted", 1, fitted)
}

/// `calibration.html`.
pub fn html(c: &Calibration) -> String {
    let env = super::pages("calibration.html", include_str!("templates/calibration.html"));
    let main = c.models.iter().find(|m| m.model == c.main_model);
    let charts: Vec<String> = main
        .map(charts)
        .unwrap_or_default()
        .iter()
        .map(Chart::inline_svg)
        .collect();
    env.get_template("calibration.html")
        .expect("template exists")
        .render(context! {
            c => c,
            columns => COLUMNS,
            rows => rows(c),
            charts => charts,
        })
        .expect("calibration page renders")
}
