//! Exit codes and the error every command can end with, each error kind mapped to its code.

use crate::run::RunError;
use crate::scenario::ScenarioError;

/// Exit codes: 0 ok · 1 an SLO or gate failed · 2 bad input · 3 the run could not be carried
/// out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success: the work was done and every gate passed.
    Ok = 0,
    /// An SLO or gate failed.
    Gate = 1,
    /// Bad input.
    Input = 2,
    /// The run could not be carried out.
    Failed = 3,
}

/// Why a command stopped; printed once as `error: …` and turned into its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: arguments, a scenario, a saved summary (exit 2).
    #[error("{0}")]
    Input(String),
    /// The work could not be carried out: a target, a socket, a file to write (exit 3).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Input(_) => Exit::Input,
            CliError::Failed(_) => Exit::Failed,
        }
    }
}

impl From<RunError> for CliError {
    fn from(e: RunError) -> CliError {
        match e {
            RunError::Input(m) => CliError::Input(m),
            RunError::Failed(m) => CliError::Failed(m),
        }
    }
}

impl From<ScenarioError> for CliError {
    fn from(e: ScenarioError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// The terminal could not be written to (a closed pipe, a full disk behind a redirect).
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Failed(format!("could not write to the terminal: {e}"))
    }
}

/// What a command returns: the exit code of an outcome (0, or 1 for a missed gate), or an error.
pub type Outcome = Result<Exit, CliError>;
