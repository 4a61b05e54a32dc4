//! `stampede mock`: the Gemini-compatible mock served on 127.0.0.1 (the same server as
//! `cargo run -p stampede-mock`).

use super::{CliError, Exit, Outcome};

/// Serves until interrupted; a bad profile is bad input (exit 2), a port in use a failure (3).
pub(super) fn mock(args: stampede_mock::standalone::MockArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(stampede_mock::standalone::run(args)).map_err(|e| {
        if e.downcast_ref::<stampede_mock::profile::ProfileError>().is_some() {
            CliError::Input(format!("{e:#}"))
        } else {
            CliError::Failed(format!("{e:#}"))
        }
    })?;
    Ok(Exit::Ok)
}
