//! `stampede traffic`: what a scenario would send, without sending anything.
//!
//! Walks the planned requests of the traffic window and reports the arrival profile (a rate
//! sparkline, mean and peak rates, burstiness) and the request mix (token percentiles, lanes,
//! models, streaming, repeated prompts, expected tokens and cost at paid-tier prices).

use std::time::Duration;

use hdrhistogram::Histogram;
use stampede_mock::catalog;

use super::TrafficPlan;

/// Figures of a traffic preview.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Requests in the window.
    pub requests: u64,
    /// Window length in seconds.
    pub window_s: f64,
    /// Requests per second of each second.
    pub per_second: Vec<u64>,
    /// Mean rate.
    pub mean_rps: f64,
    /// Most requests in one second.
    pub peak_1s: u64,
    /// Most requests in ten seconds.
    pub peak_10s: u64,
    /// Coefficient of variation of the gaps between requests.
    pub cv: Option<f64>,
    /// Prompt sizes.
    pub input: Histogram<u64>,
    /// Answer sizes.
    pub output: Histogram<u64>,
    /// Requests per lane (name, count).
    pub lanes: Vec<(String, u64)>,
    /// Requests per model (name, count).
    pub models: Vec<(String, u64)>,
    /// Streamed requests.
    pub streamed: u64,
    /// Requests whose prompt repeats an earlier one's.
    pub repeated: u64,
    /// Input and output tokens planned.
    pub tokens: (u64, u64),
    /// Expected cost if every request is answered once at paid-tier prices (`None` when a
    /// model has no price).
    pub cost_usd: Option<f64>,
}

/// Walks the traffic of `plan` for `seed` over `window`; `None` for a closed loop.
pub fn preview(plan: &TrafficPlan, seed: u64, window: Duration) -> Option<Preview> {
    let mut traffic = plan.open_loop(seed, window)?;
    let seconds = (window.as_secs_f64().ceil() as usize).max(1);
    let mut per_second = vec![0u64; seconds];
    let mut input = Histogram::<u64>::new(3).expect("valid histogram");
    let mut output = Histogram::<u64>::new(3).expect("valid histogram");
    let mut lanes = vec![0u64; plan.lanes.len()];
    let mut models = vec![0u64; plan.models.len()];
    let prices: Vec<Option<catalog::Price>> = plan.models.iter().map(|m| catalog::price(m)).collect();
    let (mut n, mut streamed, mut repeated) = (0u64, 0u64, 0u64);
    let (mut tin, mut tout, mut cost) = (0u64, 0u64, 0.0f64);
    let mut seen = std::collections::HashSet::new();
    let (mut prev, mut gaps, mut mean, mut m2) = (None::<f64>, 0u64, 0.0f64, 0.0f64);
    for r in traffic.by_ref() {
        n += 1;
        let t = r.at.as_secs_f64();
        per_second[(r.at.as_secs() as usize).min(seconds - 1)] += 1;
        if let Some(p) = prev {
            // Welford's running mean and variance of the gaps.
            gaps += 1;
            let g = t - p;
            let d = g - mean;
            mean += d / gaps as f64;
            m2 += d * (g - mean);
        }
        prev = Some(t);
        // The lane's shared system prompt and document are sent with every request too.
        let shared = plan
            .lanes
            .get(usize::from(r.lane))
            .map_or(0, |l| u64::from(l.shared_tokens()));
        let _ = input.record(u64::from(r.input_tokens) + shared);
        let _ = output.record(u64::from(r.output_tokens));
        lanes[usize::from(r.lane)] += 1;
        models[usize::from(r.model)] += 1;
        streamed += u64::from(r.stream);
        if !seen.insert(r.prompt_key) {
            repeated += 1;
        }
        tin += u64::from(r.input_tokens) + shared;
        tout += u64::from(r.output_tokens);
        if let Some(Some(price)) = prices.get(usize::from(r.model)) {
            cost += price.cost(u64::from(r.input_tokens) + shared, u64::from(r.output_tokens));
        }
    }
    let peak_10s = per_second
        .windows(10.min(seconds))
        .map(|w| w.iter().sum())
        .max()
        .unwrap_or(0);
    let cv = (gaps > 1 && mean > 0.0).then(|| (m2 / gaps as f64).sqrt() / mean);
    Some(Preview {
        requests: n,
        window_s: window.as_secs_f64(),
        peak_1s: per_second.iter().copied().max().unwrap_or(0),
        peak_10s,
        per_second,
        mean_rps: n as f64 / window.as_secs_f64().max(1e-9),
        cv,
        input,
        output,
        lanes: plan.lane_names().into_iter().zip(lanes).collect(),
        models: plan.models.iter().cloned().zip(models).collect(),
        streamed,
        repeated,
        tokens: (tin, tout),
        cost_usd: prices.iter().all(Option::is_some).then_some(cost),
    })
}

/// A one-line chart of `values` in `width` columns (each column the mean of its seconds).
pub fn sparkline(values: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let cols = width.min(values.len());
    let means: Vec<f64> = (0..cols)
        .map(|c| {
            let (a, b) = (
                c * values.len() / cols,
                ((c + 1) * values.len() / cols).max(c * values.len() / cols + 1),
            );
            values[a..b].iter().sum::<u64>() as f64 / (b - a) as f64
        })
        .collect();
    let top = means.iter().cloned().fold(0.0, f64::max);
    means
        .iter()
        .map(|&m| {
            if top <= 0.0 || m <= 0.0 {
                ' '
            } else {
                BARS[((m / top * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

impl Preview {
    /// The preview as text for the terminal.
    pub fn text(&self) -> String {
        use crate::format::{count, pct, usd};
        let q = |h: &Histogram<u64>, p: f64| if h.is_empty() { 0 } else { h.value_at_quantile(p) };
        let mut out = String::new();
        out.push_str(&format!(
            "rate per second over {} s (each column the mean of its seconds):\n",
            self.window_s
        ));
        out.push_str(&format!("  {}\n", sparkline(&self.per_second, 72)));
        out.push_str(&format!(
            "requests   {} · mean {:.2}/s · peak {} in 1 s, {} in 10 s · CV of gaps {}\n",
            count(self.requests),
            self.mean_rps,
            count(self.peak_1s),
            count(self.peak_10s),
            self.cv.map_or("—".to_string(), |c| format!("{c:.2}"))
        ));
        out.push_str(&format!(
            "input      p50 {} · p90 {} · p99 {} tokens · total {}\n",
            q(&self.input, 0.5),
            q(&self.input, 0.9),
            q(&self.input, 0.99),
            count(self.tokens.0)
        ));
        out.push_str(&format!(
            "output     p50 {} · p90 {} · p99 {} tokens · total {}\n",
            q(&self.output, 0.5),
            q(&self.output, 0.9),
            q(&self.output, 0.99),
            count(self.tokens.1)
        ));
        let share = |n: u64| pct((self.requests > 0).then(|| n as f64 / self.requests as f64));
        let list = |v: &[(String, u64)]| {
            v.iter()
                .map(|(k, n)| format!("{k} {}", share(*n)))
                .collect::<Vec<_>>()
                .join(" · ")
        };
        out.push_str(&format!("lanes      {}\n", list(&self.lanes)));
        out.push_str(&format!("models     {}\n", list(&self.models)));
        out.push_str(&format!(
            "streamed   {} · repeated prompts {}\n",
            share(self.streamed),
            share(self.repeated)
        ));
        out.push_str(&format!(
            "cost       {} if every request is answered once at paid-tier prices (retries and failures not included)\n",
            usd(self.cost_usd)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 5), " ▂▃▅█");
        assert_eq!(sparkline(&[5; 100], 10).chars().count(), 10);
        assert_eq!(sparkline(&[], 10), "");
    }
}
