//! `stampede validate`: a scenario checked, nothing run.

use std::path::PathBuf;

use clap::Args;

use super::{Exit, Io, Outcome};
use crate::scenario::Scenario;

/// `stampede validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The catalog in force.
    #[command(flatten)]
    pub catalog: stampede_mock::standalone::CatalogArg,
}

/// Loads and checks the scenario; prints what it would run.
pub(super) fn validate(args: ValidateArgs, io: &mut Io<'_>) -> Outcome {
    let loaded = Scenario::load(&args.scenario)?;
    let s = &loaded.scenario;
    let t = s.target.get_ref();
    let st = s.strategy.get_ref();
    writeln!(
        io.out,
        "{}: valid — {} of traffic, target {} ({}), {} workers, up to {} attempts per request",
        args.scenario.display(),
        crate::format::secs(s.duration.as_secs_f64()),
        t.kind.as_str(),
        t.model,
        st.workers,
        st.retry.max_attempts
    )?;
    Ok(Exit::Ok)
}
