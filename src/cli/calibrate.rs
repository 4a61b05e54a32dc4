//! `stampede calibrate`: fits a mock profile to recordings of real calls and writes it with its
//! evidence (calibration.json, calibration.html beside it).

use std::path::PathBuf;

use clap::Args;

use super::{CliError, Exit, Io, Outcome};
use crate::commands::calibrate;
use crate::report;

/// `stampede calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Recordings (`stampede proxy --record`, `stampede mock --record`): stampede trace lines
    /// with what the target did.
    #[arg(required = true, value_name = "RECORDING")]
    pub inputs: Vec<PathBuf>,
    /// The profile to write (TOML: `stampede mock --profile FILE`, or `profile = "FILE"` in a
    /// scenario's [target]). FILE.calibration.json and FILE.calibration.html go beside it.
    #[arg(long, value_name = "PROFILE.toml")]
    pub out: PathBuf,
    /// The preset the profile patches: quotas the recording never reached stay this tier's.
    #[arg(long, default_value = "tier1")]
    pub preset: String,
    /// Print calibration.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The most recordings one calibration reads.
const MAX_INPUTS: usize = 256;

/// Fits, writes the profile and its evidence, prints what was fitted.
pub(super) fn calibrate(args: CalibrateArgs, io: &mut Io<'_>) -> Outcome {
    if args.inputs.len() > MAX_INPUTS {
        return Err(CliError::Input(format!(
            "{} recordings; calibrate reads at most {MAX_INPUTS}",
            args.inputs.len()
        )));
    }
    if args.out.extension().is_none_or(|e| e != "toml") {
        return Err(CliError::Input(format!(
            "--out {}: expected a .toml file (a mock profile)",
            args.out.display()
        )));
    }
    let c = calibrate::calibrate(&args.inputs, &args.preset).map_err(CliError::Input)?;
    let json = serde_json::to_string_pretty(&c).expect("calibration serialises");
    let stem = args.out.with_extension("");
    let beside = |ext: &str| PathBuf::from(format!("{}.{ext}", stem.display()));
    let files = [
        (args.out.clone(), c.profile.clone()),
        (beside("calibration.json"), json.clone()),
        (beside("calibration.html"), report::calibration::html(&c)),
    ];
    for (path, text) in &files {
        crate::out_file::write(path, text.as_bytes())
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        let _ = writeln!(io.out, "{json}");
    } else {
        let _ = write!(io.out, "{}", report::calibration::text(&c));
        for n in &c.notes {
            let _ = writeln!(io.out, "- {n}");
        }
        let _ = writeln!(io.out);
        for (path, _) in &files {
            let _ = writeln!(io.out, "wrote {}", path.display());
        }
    }
    Ok(Exit::Ok)
}
