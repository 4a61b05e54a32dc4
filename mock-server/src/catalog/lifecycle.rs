//! Dates in the catalog, and what a model's lifecycle means for a run: a shut-down model is
//! refused with its replacement named, a deprecated, routed or preview model is warned about
//! with its dates, and a catalog long unchecked is called out.

use std::time::{Duration, SystemTime};

use super::data::{Catalog, ModelEntry, ModelStatus, STALE_AFTER_DAYS};

/// Whether `d` is a calendar date written `YYYY-MM-DD`.
pub fn is_date(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| d.get(r).and_then(|s| s.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(y), Some(m), Some(day)) if y >= 2000 && (1..=12).contains(&m) && (1..=31).contains(&day))
}

/// The date `days` before now, `YYYY-MM-DD` (UTC).
pub fn date_days_ago(days: u64) -> String {
    let then = SystemTime::now()
        .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    humantime::format_rfc3339_seconds(then).to_string()[..10].to_string()
}

/// Today, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    date_days_ago(0)
}

/// What a model's lifecycle means for a run on `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing to say.
    Current,
    /// The run goes ahead; the sentence says why the user should know.
    Warn(String),
    /// The run is refused: the model no longer answers.
    Refused(String),
}

/// The standing of `id` on `today` in `catalog` (an id the catalog lacks is [`Standing::Current`]:
/// its missing price is reported elsewhere).
pub fn standing(catalog: &Catalog, id: &str, today: &str) -> Standing {
    let Some(m) = catalog.models.get(id) else {
        return Standing::Current;
    };
    let instead = current_replacement(catalog, m, today)
        .map_or(String::new(), |r| format!("; use {r} instead (model = \"{r}\")"));
    let shut = m.status == Some(ModelStatus::ShutDown) || m.shutdown.as_deref().is_some_and(|d| d <= today);
    let routed = routed_to(m, today);
    match (shut, routed) {
        (true, None) => Standing::Refused(format!(
            "{id} was shut down{}: Google no longer answers it{instead}",
            on(m.shutdown.as_deref())
        )),
        (_, Some(to)) => Standing::Warn(format!(
            "{id} is deprecated: since {} Google answers its calls with {to}{}{instead}",
            m.routed_from.as_deref().unwrap_or("?"),
            if m.billed_as_routed {
                format!(" and bills them at {to}'s prices, which stampede uses")
            } else {
                format!(" (Google does not say at whose prices; stampede uses {id}'s own)")
            }
        )),
        (false, None) => match m.status {
            Some(ModelStatus::Deprecated) => Standing::Warn(format!(
                "{id} is deprecated{}{}{instead}",
                on(m.deprecated.as_deref()),
                m.shutdown
                    .as_deref()
                    .map_or(String::new(), |d| format!(" and shuts down on {d}"))
            )),
            Some(ModelStatus::Preview) => Standing::Warn(format!(
                "{id} is a preview{}: previews change and are shut down at short notice{instead}",
                m.released.as_deref().map_or(String::new(), |d| format!(" (since {d})"))
            )),
            _ => Standing::Current,
        },
    }
}

/// The replacement to name: Google's, followed while it is itself deprecated, routed or shut
/// down (3 Flash Preview's replacement 3.5 Flash is routed to 3.6 Flash: name 3.6 Flash).
fn current_replacement<'c>(catalog: &'c Catalog, m: &'c ModelEntry, today: &str) -> Option<&'c str> {
    let mut name = m.replacement.as_deref()?;
    for _ in 0..4 {
        let Some(next) = catalog.models.get(name) else { break };
        let retired = next
            .status
            .is_some_and(|s| s == ModelStatus::Deprecated || s == ModelStatus::ShutDown)
            || routed_to(next, today).is_some();
        match next.replacement.as_deref().or(next.routed_to.as_deref()) {
            Some(further) if retired => name = further,
            _ => break,
        }
    }
    Some(name)
}

/// The model answering `m`'s calls on `today`, when Google routes them elsewhere.
pub fn routed_to<'c>(m: &'c ModelEntry, today: &str) -> Option<&'c str> {
    match (&m.routed_to, &m.routed_from) {
        (Some(to), Some(from)) if from.as_str() <= today => Some(to),
        _ => None,
    }
}

/// " on DATE", or nothing.
fn on(d: Option<&str>) -> String {
    d.map_or(String::new(), |d| format!(" on {d}"))
}

/// One line when the catalog in force was last checked more than [`STALE_AFTER_DAYS`] before
/// `today`, saying how to bring in current prices.
pub fn staleness(catalog: &Catalog, stale_before: &str) -> Option<String> {
    let updated = catalog.updated.as_deref()?;
    (updated < stale_before).then(|| {
        format!(
            "the catalog's prices were last checked on {updated}, more than {STALE_AFTER_DAYS} days ago: Gemini's \
             prices and models change every few months; check them (`stampede catalog check`, Google's pricing \
             page) and give current ones with --catalog FILE (docs/src/mock.md, \"The catalog\")"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::data::current;

    #[test]
    fn dates_are_checked_and_today_is_one() {
        assert!(is_date("2026-12-03") && is_date(&today()));
        for bad in ["2026-13-01", "26-12-03", "2026/12/03", "2026-12-3", "abcd-ef-gh", ""] {
            assert!(!is_date(bad), "{bad}");
        }
        assert!(date_days_ago(90) < today());
    }

    #[test]
    fn a_shut_down_model_is_refused_naming_its_replacement() {
        let Standing::Refused(why) = standing(current(), "gemini-2.0-flash", "2026-12-03") else {
            panic!("2.0 Flash answers")
        };
        assert!(
            why.contains("2026-06-01") && why.contains("gemini-3.1-flash-lite"),
            "{why}"
        );
        // A deprecated model past its shutdown date is refused as well.
        let mut c = current().clone();
        let m = c.models.get_mut("gemini-3.6-flash").unwrap();
        (m.status, m.shutdown) = (Some(ModelStatus::Deprecated), Some("2026-11-30".into()));
        assert!(matches!(
            standing(&c, "gemini-3.6-flash", "2026-12-03"),
            Standing::Refused(_)
        ));
        assert!(matches!(
            standing(&c, "gemini-3.6-flash", "2026-11-01"),
            Standing::Warn(_)
        ));
    }

    #[test]
    fn routed_deprecated_and_preview_models_warn_with_their_dates() {
        let Standing::Warn(w) = standing(current(), "gemini-3.5-flash", "2026-12-03") else {
            panic!()
        };
        assert!(w.contains("2026-10-08") && w.contains("gemini-3.6-flash"), "{w}");
        let Standing::Warn(w) = standing(current(), "gemini-3-flash-preview", "2026-12-03") else {
            panic!()
        };
        assert!(w.contains("preview") && w.contains("2025-12-17"), "{w}");
        // Its replacement, 3.5 Flash, is itself routed: the warning names 3.6 Flash.
        assert!(w.contains("use gemini-3.6-flash instead"), "{w}");
        assert_eq!(standing(current(), "gemini-3.8-flash", "2026-12-03"), Standing::Current);
        assert_eq!(standing(current(), "my-own-model", "2026-12-03"), Standing::Current);
    }

    #[test]
    fn an_old_catalog_is_called_out() {
        let mut c = current().clone();
        c.updated = Some("2026-01-01".into());
        assert!(staleness(&c, "2026-09-04").unwrap().contains("2026-01-01"));
        c.updated = Some("2026-12-03".into());
        assert!(staleness(&c, "2026-09-04").is_none());
    }
}
