//! Figures over several seeds: the mean and a 95% confidence interval (Student's t), and how
//! such a figure is written. Shared by compare, the capacity plan and the reports. And a straight
//! line by least squares, for a run's steady state and a calibration.

use serde::{Deserialize, Serialize};

/// A figure over seeds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean over the seeds that had a value.
    pub mean: Option<f64>,
    /// Half-width of the 95% confidence interval (null with one seed).
    pub ci95: Option<f64>,
    /// The value of each seed (null where there was nothing to measure).
    pub values: Vec<Option<f64>>,
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

impl Stat {
    /// Mean and 95% interval of the present values.
    pub fn of(values: Vec<Option<f64>>) -> Stat {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let n = present.len();
        let mean = (n > 0).then(|| present.iter().sum::<f64>() / n as f64);
        let ci95 = match (mean, n) {
            (Some(m), n) if n >= 2 => {
                let var = present.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
                let t = T975.get(n - 2).copied().unwrap_or(1.96);
                Some(t * (var / n as f64).sqrt())
            }
            _ => None,
        };
        Stat { mean, ci95, values }
    }
}

impl Stat {
    /// A figure estimated over all seeds at once (`center`: a percentile of the merged
    /// histograms, a ratio of the summed counts) with the interval of the per-seed `values`
    /// around it: the sectioning method (Asmussen & Glynn, *Stochastic Simulation*, 2007,
    /// §III.5), whose center is less biased for percentiles than the mean of per-seed
    /// percentiles while each seed still counts as one independent batch for the width.
    pub fn around(center: Option<f64>, values: Vec<Option<f64>>) -> Stat {
        let per_seed = Stat::of(values);
        Stat {
            mean: center.or(per_seed.mean),
            ..per_seed
        }
    }
}

/// Formats a figure with its interval.
pub fn cell(stat: &Stat, unit: &str) -> String {
    let Some(m) = stat.mean else { return "—".into() };
    let digits = if m.abs() >= 100.0 || unit.is_empty() && m.fract() == 0.0 {
        0
    } else if m.abs() >= 10.0 {
        1
    } else {
        3
    };
    let main = format!("{m:.digits$}");
    match stat.ci95 {
        Some(ci) => format!("{main} ± {ci:.digits$}"),
        None => main,
    }
}

/// `y = a + b·x` by ordinary least squares, with the slope's standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineFit {
    /// Intercept.
    pub a: f64,
    /// Slope.
    pub b: f64,
    /// Standard error of the slope.
    pub b_se: f64,
    /// Share of the variance of y the line explains.
    pub r2: f64,
}

/// Fits `y = a + b·x`; `None` with fewer than 3 points or no spread in x.
pub fn line(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    Some(LineFit {
        a,
        b,
        b_se: (sse / (n - 2.0) / sxx).sqrt(),
        r2: if syy > 0.0 { 1.0 - sse / syy } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_a_known_sample() {
        // Mean 10, sample sd 2, n = 4: t(3) = 3.182, half-width 3.182 · 2 / 2 = 3.182.
        let s = Stat::of(vec![Some(8.0), Some(10.0), Some(12.0), Some(10.0)]);
        assert_eq!(s.mean, Some(10.0));
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((s.ci95.unwrap() - 3.182 * sd / 2.0).abs() < 1e-9);
        assert_eq!(Stat::of(vec![Some(1.0)]).ci95, None);
        assert_eq!(Stat::of(vec![None, None]).mean, None);
        assert_eq!(cell(&Stat::of(vec![Some(95.25), Some(95.75)]), "%"), "95.5 ± 3.2");
        // Sectioning: the center given, the width from the values.
        let a = Stat::around(Some(11.0), vec![Some(8.0), Some(10.0), Some(12.0), Some(10.0)]);
        assert_eq!((a.mean, a.ci95), (Some(11.0), s.ci95));
    }
}
