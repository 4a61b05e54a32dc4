//! Whole-day and whole-month truth: a run's window carried over to a day and a 30-day month at
//! the rate it offered, and checked against the limits a short window never meets — the
//! model's requests per day (RPD) and the tier's monthly spend cap.
//!
//! A 10-minute window at 5 requests per second sends 3,000 requests and never touches a quota
//! of 10,000 a day; the day it stands for sends 432,000. The check is arithmetic on the
//! window's offered rate (every request needs at least one admitted call, so the daily need is
//! at least the requests offered), which is exact for steady traffic and the window's average
//! for any other: a scenario whose window is its busiest hour overstates the day, one whose
//! window is quiet understates it — every sentence says which window it carried over.
//!
//! Money is projected from the demand *offered*, not from what the window happened to answer: a
//! run whose daily quota refused most of its requests spent little, and a month of that spend
//! says nothing about what the traffic costs once a tier lets it through. The offered spend is
//! the answered requests' mean cost times the requests offered; what was answered and spent is
//! said beside it. The limits are the mock profile's (the run's `[target.mock]` over its
//! preset); a live target's are unknown to stampede and are not checked.

use serde::{Deserialize, Serialize};

use super::RunMeta;
use stampede_mock::catalog::Tier;

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;
/// Days in the month a cap is spent over.
const MONTH_DAYS: f64 = 30.0;

/// A limit longer than any run window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongLimit {
    /// The model's requests per day (RPD), per project.
    DailyQuota,
    /// The tier's billing cap: spend per month.
    MonthlySpendCap,
    /// The spend-based rate limit: spend over a rolling window of minutes.
    SpendLimit,
}

impl LongLimit {
    /// Its key, as serialized: also the kind of its warning.
    pub fn key(self) -> &'static str {
        match self {
            LongLimit::DailyQuota => "daily_quota",
            LongLimit::MonthlySpendCap => "monthly_spend_cap",
            LongLimit::SpendLimit => "spend_limit",
        }
    }

    /// The name printed in verdicts and warnings.
    pub fn label(self) -> &'static str {
        match self {
            LongLimit::DailyQuota => "daily quota (RPD)",
            LongLimit::MonthlySpendCap => "monthly spend cap",
            LongLimit::SpendLimit => "spend-based rate limit",
        }
    }
}

/// One long limit against what the traffic needs of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitCheck {
    /// Which limit.
    pub limit: LongLimit,
    /// What the limit allows: requests per day, or USD per month.
    pub allowed: f64,
    /// What the traffic needs at the window's offered rate, in the same unit.
    pub needed: f64,
    /// Whether the need fits.
    pub pass: bool,
    /// The verdict in a sentence: the limit, by how much it is short, and what would fit.
    pub message: String,
}

/// What a run's window offered and answered, and what it spent: the inputs of its day and month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Requests scheduled in the window.
    pub offered: u64,
    /// Of them, online calls (not answered through the Batch API, which has its own quota).
    pub online: u64,
    /// Requests answered.
    pub answered: u64,
    /// What the window spent (None: unpriced).
    pub cost_usd: Option<f64>,
}

impl Demand {
    /// The same traffic grown by `factor`: requests offered, online and answered, and what was
    /// spent, all times `factor` (the mean cost of an answer unchanged); what the long limits of
    /// grown traffic are judged on before any run of it.
    pub fn grown(&self, factor: f64) -> Demand {
        let times = |n: u64| (n as f64 * factor).round() as u64;
        Demand {
            offered: times(self.offered),
            online: times(self.online),
            answered: times(self.answered),
            cost_usd: self.cost_usd.map(|c| c * factor),
        }
    }

    /// What the window would have spent had every request offered been answered: the answered
    /// requests' mean cost times the requests offered (None: unpriced, or nothing answered to
    /// price).
    pub fn offered_cost_usd(&self) -> Option<f64> {
        let cost = self.cost_usd?;
        if self.answered >= self.offered {
            return Some(cost);
        }
        (self.answered > 0).then(|| cost / self.answered as f64 * self.offered as f64)
    }
}

/// The run's traffic over a day and a month, and the long limits it meets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    /// Online requests a day at the window's offered rate (requests answered through the Batch
    /// API are left out: it has its own quota).
    pub requests_per_day: f64,
    /// Spend over a 30-day month if every request offered were answered, at the window's rate
    /// (null when unpriced or nothing was answered to price).
    pub cost_per_month_usd: Option<f64>,
    /// Spend over a 30-day month at the rate the window actually spent (what was answered).
    #[serde(default)]
    pub answered_cost_per_month_usd: Option<f64>,
    /// Share of the requests offered that the window answered.
    #[serde(default)]
    pub answered_share: Option<f64>,
    /// Which window the day and month carry over, in words ("the 10 min window's average rate").
    #[serde(default)]
    pub basis: String,
    /// Each long limit the target has (none for a live target or an unlimited profile).
    pub limits: Vec<LimitCheck>,
}

impl Horizon {
    /// Whether every long limit fits.
    pub fn pass(&self) -> bool {
        self.limits.iter().all(|l| l.pass)
    }

    /// The long limits the traffic does not fit.
    pub fn missed(&self) -> impl Iterator<Item = &LimitCheck> {
        self.limits.iter().filter(|l| !l.pass)
    }

    /// The run's horizon, from its window's demand and the mock profile's limits.
    pub fn of(run: &RunMeta, demand: Demand) -> Horizon {
        let window = run.duration_s.max(1e-9);
        // A short window of a day-long scenario carries over with the day's shape, not as if
        // the whole day ran at the window's rate.
        let shape = run
            .day_over_window
            .filter(|r| r.is_finite() && *r > 0.0 && window < DAY_S * 0.999);
        let day = DAY_S * shape.unwrap_or(1.0);
        let requests_per_day = demand.online as f64 / window * day;
        let month = |c: f64| c / window * day * MONTH_DAYS;
        let offered_cost = demand.offered_cost_usd();
        let basis = basis(window, shape);
        let spent = Spent {
            answered_share: (demand.offered > 0).then(|| demand.answered as f64 / demand.offered as f64),
            month: demand.cost_usd.map(month),
        };
        let mut limits = Vec::new();
        if let Some(profile) = run.mock_profile.as_ref() {
            let limits_of = |model: &str| profile.get("models")?.get(model)?.get("rpd")?.as_u64();
            if let Some(rpd) = limits_of(&run.model).filter(|r| *r > 0) {
                limits.push(daily(run, profile, rpd, requests_per_day, &basis));
            }
            let cap = profile
                .get("monthly_cap_usd")
                .and_then(|v| v.as_f64())
                .filter(|c| *c > 0.0);
            if let (Some(cap), Some(cost)) = (cap, offered_cost) {
                limits.push(monthly(profile, cap, month(cost), &basis, &spent));
            }
            if let (Some((usd, window_s)), Some(cost)) = (spend_limit_of(profile), offered_cost) {
                let basis = rate_basis(window);
                limits.push(spend_window(profile, usd, window_s, cost / window * window_s, &basis));
            }
        }
        Horizon {
            requests_per_day,
            cost_per_month_usd: offered_cost.map(month),
            answered_cost_per_month_usd: spent.month,
            answered_share: spent.answered_share,
            basis,
            limits,
        }
    }
}

/// How the sentence on what the window answered begins, after the demand's.
const ANSWERED: &str = " This run answered";

impl LimitCheck {
    /// The verdict on the demand alone, without what this run happened to answer: the same for
    /// every calling plan on the same traffic.
    pub fn demand_message(&self) -> &str {
        self.message.split(ANSWERED).next().unwrap_or(&self.message)
    }
}

/// What the window actually answered and spent, said beside the offered demand.
struct Spent {
    answered_share: Option<f64>,
    month: Option<f64>,
}

impl Spent {
    /// " This run answered 23% of it, spending at $3,700 a month." when it answered less than
    /// all; nothing otherwise.
    fn sentence(&self) -> String {
        match (self.answered_share, self.month) {
            (Some(share), Some(month)) if share < 0.999 => format!(
                "{ANSWERED} {} of it, spending at {} a month: that is what the limits let through, \
                 not what the traffic costs.",
                percent(share),
                crate::format::usd(Some(month))
            ),
            _ => String::new(),
        }
    }
}

/// "12%", or "2.3%" below 10%, or "99.6%" above 99%.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p > 0.0 && p < 10.0) || (p > 99.0 && p < 100.0) {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Which window a day and a month carry over: the whole run when it covers a day; a shorter
/// window of a day-long scenario scaled by the day's shape (`shape`: the day's rate over the
/// window's); else the window's average rate, said to overstate the day when it is a peak.
fn basis(window_s: f64, shape: Option<f64>) -> String {
    if window_s >= DAY_S * 0.999 {
        "the run's daily average".into()
    } else if let Some(ratio) = shape {
        format!(
            "{} times {:.2}, the scenario's whole day against its window (spikes, phases, daily cycle)",
            rate_basis(window_s),
            ratio
        )
    } else {
        format!(
            "{} carried over to the whole day (a peak window overstates it)",
            rate_basis(window_s)
        )
    }
}

/// Which rate a window of minutes (the spend-based limit's) is judged at: the window's average,
/// or a day's, whose busiest minutes spend more.
fn rate_basis(window_s: f64) -> String {
    if window_s >= DAY_S * 0.999 {
        "the run's average rate (its busiest minutes spend more)".into()
    } else {
        let span = humantime::format_duration(std::time::Duration::from_secs(window_s.round().max(1.0) as u64));
        format!("the {span} window's average rate")
    }
}

/// The daily quota against the daily volume, and what would fit when it does not.
fn daily(run: &RunMeta, profile: &serde_json::Value, rpd: u64, needed: f64, basis: &str) -> LimitCheck {
    let pass = needed <= rpd as f64;
    let share = rpd as f64 / needed.max(1e-9);
    let mut message = format!(
        "The {} of {} allows {} requests a day; the traffic offers {} a day ({:.2}/s) at {basis}",
        LongLimit::DailyQuota.label(),
        run.model,
        thousands(rpd as f64),
        thousands(needed),
        needed / DAY_S,
    );
    if pass {
        message.push_str(&format!(": it fits, using {:.0}% of it.", 100.0 / share));
    } else {
        message.push_str(&shortfall(run, profile, rpd, needed));
    }
    LimitCheck {
        limit: LongLimit::DailyQuota,
        allowed: rpd as f64,
        needed,
        pass,
        message,
    }
}

/// How far the daily volume is over the quota, when the quota runs out, and what would fit.
fn shortfall(run: &RunMeta, profile: &serde_json::Value, rpd: u64, needed: f64) -> String {
    let share = rpd as f64 / needed.max(1e-9);
    let hours = 24.0 * share;
    let when = if hours >= 1.0 {
        format!("{hours:.1} h")
    } else {
        format!("{:.0} min", hours * 60.0)
    };
    let times = 1.0 / share;
    let digits = if times < 10.0 { 2 } else { 1 };
    let mut message = format!(
        ", {times:.digits$}× the quota: it runs out {when} after midnight Pacific and every later request that day is \
         refused."
    );
    let mut fits = Vec::new();
    if let Some(t) = tier_that_fits(profile_tier(profile), &run.model, needed) {
        fits.push(t);
    }
    fits.push(format!(
        "keep at most {:.1}% of the requests on {} and move the rest{}",
        share * 100.0,
        run.model,
        other_models(profile, &run.model, needed - rpd as f64)
    ));
    message.push_str(&format!(" What would fit: {}.", fits.join("; or ")));
    message
}

/// The first paid tier above `tier` whose daily quota for `model` holds `needed`.
fn tier_that_fits(tier: Tier, model: &str, needed: f64) -> Option<String> {
    tiers_above(tier).find_map(|t| {
        let t = t.name();
        let (_, models) = stampede_mock::catalog::tier_limits(t)?;
        let rpd = models.get(model)?.rpd;
        (rpd == 0 || rpd as f64 >= needed).then(|| {
            let what = if rpd == 0 {
                "no daily limit".to_string()
            } else {
                format!("{} a day", thousands(rpd as f64))
            };
            format!("{t}, whose preset gives {model} {what} (illustrative: Google no longer publishes per-model limits; check your project's in AI Studio)")
        })
    })
}

/// The profile's other models whose daily quota holds `rest` requests a day, as a phrase.
fn other_models(profile: &serde_json::Value, model: &str, rest: f64) -> String {
    const ANYWHERE: &str = " to another model, the batch lane or flex";
    let Some(models) = profile.get("models").and_then(|m| m.as_object()) else {
        return ANYWHERE.into();
    };
    let fitting: Vec<&str> = models
        .iter()
        .filter(|(name, _)| name.as_str() != model)
        .filter(|(_, l)| {
            l.get("rpd")
                .and_then(|r| r.as_u64())
                .is_some_and(|r| r == 0 || r as f64 >= rest)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if fitting.is_empty() {
        ANYWHERE.into()
    } else {
        format!(" to a model whose daily quota holds them ({})", fitting.join(", "))
    }
}

/// The monthly cap against the month's spend of the offered demand.
fn monthly(profile: &serde_json::Value, cap: f64, month: f64, basis: &str, spent: &Spent) -> LimitCheck {
    let pass = month <= cap;
    let tier = profile_tier(profile);
    let mut message = format!(
        "The {} {} is {} a month; answering all the traffic offered would spend {} over 30 days at {basis}",
        tier.name(),
        LongLimit::MonthlySpendCap.label(),
        crate::format::usd(Some(cap)),
        crate::format::usd(Some(month)),
    );
    if pass {
        message.push_str(&format!(": it fits, using {:.0}% of it.", month / cap * 100.0));
    } else {
        let day = (cap / (month / MONTH_DAYS)).floor() as u64 + 1;
        let higher = tiers_above(tier).find(|t| t.monthly_cap_usd().is_some_and(|c| c >= month));
        let fits = match higher {
            Some(t) => format!(
                "{} (its cap is {}{}), ",
                t.name(),
                crate::format::usd(t.monthly_cap_usd()),
                if t == Tier::Tier3 {
                    " to $100,000+ after review"
                } else {
                    ""
                }
            ),
            None => String::new(),
        };
        message.push_str(&format!(
            ", {:.1}× the cap: it is spent by day {day} of the month. What would fit: {fits}a cheaper model, or \
             moving requests to the batch lane or flex at about half the price.",
            month / cap,
        ));
    }
    message.push_str(&spent.sentence());
    LimitCheck {
        limit: LongLimit::MonthlySpendCap,
        allowed: cap,
        needed: month,
        pass,
        message,
    }
}

/// The profile's spend-based rate limit: (USD, window in seconds), when it has one.
fn spend_limit_of(profile: &serde_json::Value) -> Option<(f64, f64)> {
    let l = profile.get("spend_limit")?;
    let usd = l.get("usd")?.as_f64().filter(|u| *u > 0.0)?;
    let window = humantime::parse_duration(l.get("window")?.as_str()?).ok()?;
    (!window.is_zero()).then_some((usd, window.as_secs_f64()))
}

/// The spend-based rate limit against the spend of one of its windows at the run's rate.
fn spend_window(profile: &serde_json::Value, usd: f64, window_s: f64, needed: f64, basis: &str) -> LimitCheck {
    let pass = needed <= usd;
    let span = humantime::format_duration(std::time::Duration::from_secs(window_s.round() as u64));
    let mut message = format!(
        "The {} {} is {} per {span}; answering all the traffic offered would spend {} per {span} at {basis}",
        profile_tier(profile).name(),
        LongLimit::SpendLimit.label(),
        crate::format::usd(Some(usd)),
        crate::format::usd(Some(needed)),
    );
    if pass {
        message.push_str(&format!(": it fits, using {:.0}% of it.", needed / usd * 100.0));
    } else {
        message.push_str(&format!(
            ", {:.1}× the limit: past it every call gets 429 RESOURCE_EXHAUSTED until the window's spend ages \
             out, so only about {:.0}% of the traffic can be answered. What would fit: a higher tier (its limit is \
             higher), a cheaper model, or flex or the batch lane at about half the price.",
            needed / usd,
            (usd / needed * 100.0).min(100.0),
        ));
    }
    LimitCheck {
        limit: LongLimit::SpendLimit,
        allowed: usd,
        needed,
        pass,
        message,
    }
}

/// The mock profile's tier (`tier1` when it does not say).
fn profile_tier(profile: &serde_json::Value) -> Tier {
    profile
        .get("tier")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or(Tier::Tier1)
}

/// The paid tiers above `tier`, lowest first.
fn tiers_above(tier: Tier) -> impl Iterator<Item = Tier> {
    [Tier::Tier1, Tier::Tier2, Tier::Tier3]
        .into_iter()
        .filter(move |t| *t > tier)
}

/// `12,345` style, rounded to a whole number.
fn thousands(x: f64) -> String {
    crate::format::count(x.round().max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(offered: u64, answered: u64, cost_usd: Option<f64>) -> Demand {
        Demand {
            offered,
            online: offered,
            answered,
            cost_usd,
        }
    }

    fn run(duration_s: f64, rpd: u64, cap: f64) -> RunMeta {
        let mut meta = crate::summary::empty_for_tests().run;
        meta.duration_s = duration_s;
        meta.mock_profile = Some(serde_json::json!({
            "tier": "tier1", "monthly_cap_usd": cap,
            "models": {"gemini-2.5-flash": {"rpm": 1000, "tpm": 0, "rpd": rpd},
                        "gemini-2.5-flash-lite": {"rpm": 4000, "tpm": 0, "rpd": 0}}
        }));
        meta
    }

    #[test]
    fn a_window_just_under_the_daily_quota_passes_and_just_over_fails() {
        // 600 s at 10,000 a day is 69.44 requests.
        let under = Horizon::of(&run(600.0, 10_000, 0.0), demand(69, 69, None));
        assert!(under.pass(), "{under:?}");
        assert!((under.requests_per_day - 9_936.0).abs() < 1e-6);
        let over = Horizon::of(&run(600.0, 10_000, 0.0), demand(70, 70, None));
        assert!(!over.pass());
        let m = &over.limits[0].message;
        assert!(m.contains("daily quota (RPD) of gemini-2.5-flash allows 10,000"), "{m}");
        // Tier 2's preset holds 10,080 a day.
        assert!(
            m.contains("tier2, whose preset gives gemini-2.5-flash 100,000 a day"),
            "{m}"
        );
        assert!(m.contains("1.01× the quota: it runs out 23.8 h after midnight"), "{m}");
        assert!(m.contains("99.2%") && m.contains("gemini-2.5-flash-lite"), "{m}");
    }

    #[test]
    fn the_monthly_cap_binds_on_the_spend_rate() {
        // $0.06 in 10 minutes is $259.20 over 30 days: over a $250 cap, spent by day 29.
        let h = Horizon::of(&run(600.0, 0, 250.0), demand(100, 100, Some(0.06)));
        assert_eq!(h.limits.len(), 1);
        let c = &h.limits[0];
        assert!(!c.pass && (c.needed - 259.2).abs() < 1e-9, "{c:?}");
        assert!(c.message.contains("spent by day 29"), "{}", c.message);
        let fits = Horizon::of(&run(600.0, 0, 250.0), demand(100, 100, Some(0.05)));
        assert!(fits.pass());
    }

    #[test]
    fn the_month_is_the_offered_demand_not_what_a_quota_let_through() {
        // A day in which the daily quota answered 10,000 of 432,000 requests for $12.35: the
        // traffic costs 432,000 × $12.35 / 10,000 = $533.52 a day, $16,005.60 a month.
        let h = Horizon::of(&run(86_400.0, 0, 2_000.0), demand(432_000, 10_000, Some(12.35)));
        let c = &h.limits[0];
        assert!((c.needed - 16_005.6).abs() < 1e-6, "{c:?}");
        assert!(!c.pass, "a $2,000 cap is not a fit for $16,005.60 a month");
        assert!((h.cost_per_month_usd.unwrap() - 16_005.6).abs() < 1e-6);
        assert!((h.answered_cost_per_month_usd.unwrap() - 370.5).abs() < 1e-6);
        assert!(
            c.message.contains("$16,005.60 over 30 days at the run's daily average"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains("answered 2.3% of it, spending at $370.50 a month"),
            "{}",
            c.message
        );
        assert!(c.message.contains("tier3"), "{}", c.message);
        // Nothing answered: nothing to price, so no month and no verdict on the cap.
        let none = Horizon::of(&run(86_400.0, 0, 2_000.0), demand(432_000, 0, Some(0.0)));
        assert!(none.cost_per_month_usd.is_none() && none.limits.is_empty());
        // A 10-minute window says it carries its average over to the day.
        let short = Horizon::of(&run(600.0, 0, 2_000.0), demand(3_000, 3_000, Some(1.0)));
        assert!(
            short.limits[0]
                .message
                .contains("the 10m window's average rate carried over to the whole day"),
            "{}",
            short.limits[0].message
        );
        assert!(!short.limits[0].message.contains("This run answered"));
    }

    #[test]
    fn without_a_mock_profile_nothing_is_checked() {
        let mut meta = run(600.0, 10, 1.0);
        meta.mock_profile = None;
        let h = Horizon::of(&meta, demand(1_000_000, 1_000_000, Some(1e6)));
        assert!(h.limits.is_empty() && h.pass());
    }
}
