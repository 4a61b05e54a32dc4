//! `stampede completions SHELL` and `stampede man`: shell completions and the man page,
//! generated from the same clap definitions as the parser, so they never disagree with it.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, CliError, Exit, Io, Outcome};

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "stampede", &mut out);
    out
}

/// The man page of `stampede` (its commands listed), in roff.
pub fn man_page() -> Vec<u8> {
    let mut command = Cli::command();
    command.build();
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .expect("writing to memory");
    out
}

/// Writes the man pages of `stampede` and of each command (`stampede-run.1`, …) into `dir`;
/// returns their file names.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    names.sort();
    Ok(names)
}

/// Prints the completion script.
pub(super) fn completions(shell: Shell, io: &mut Io<'_>) -> Outcome {
    io.out.write_all(&completion_script(shell)).map_err(CliError::from)?;
    Ok(Exit::Ok)
}

/// Prints the man page.
pub(super) fn man(io: &mut Io<'_>) -> Outcome {
    io.out.write_all(&man_page()).map_err(CliError::from)?;
    Ok(Exit::Ok)
}
