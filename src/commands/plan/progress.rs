//! A plan's progress lines: one per count measured and one per stage of the full search, so a
//! long search is never silent.

use std::sync::Arc;

use super::Point;

/// Something that prints a progress line.
type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a plan says what it is doing as it goes: one line per count measured (the CLI prints
/// them on stderr; nothing by default), so a long search is never silent.
#[derive(Clone)]
pub struct PlanProgress {
    say: Option<Say>,
    started: std::time::Instant,
}

impl Default for PlanProgress {
    fn default() -> Self {
        PlanProgress {
            say: None,
            started: std::time::Instant::now(),
        }
    }
}

impl std::fmt::Debug for PlanProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanProgress").field("on", &self.say.is_some()).finish()
    }
}

impl PlanProgress {
    /// Progress told to `say`, timed from now.
    pub fn to(say: impl Fn(&str) + Send + Sync + 'static) -> PlanProgress {
        PlanProgress {
            say: Some(Arc::new(say)),
            started: std::time::Instant::now(),
        }
    }

    /// Reports a line of the full search.
    pub(super) fn say(&self, line: &str) {
        if let Some(say) = &self.say {
            say(&format!(
                "{line}, {} elapsed",
                crate::format::secs(self.started.elapsed().as_secs_f64())
            ));
        }
    }

    /// Reports one count measured.
    pub(super) fn measured(&self, candidate: &str, p: &Point, runs: u32) {
        let Some(say) = &self.say else { return };
        let verdict = if p.passes {
            "passes".to_string()
        } else if p.undecided {
            "undecided".to_string()
        } else {
            format!("misses {}", p.missed.join(", "))
        };
        say(&format!(
            "plan · {candidate} · {} workers: {verdict} ({} seeds) · {runs} runs, {} elapsed",
            p.workers,
            p.seeds,
            crate::format::secs(self.started.elapsed().as_secs_f64())
        ));
    }
}
