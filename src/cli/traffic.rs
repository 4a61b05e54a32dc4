//! `stampede traffic`: what a scenario would send, without sending anything.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{parse_duration, Exit, Io, Outcome};
use crate::scenario::Scenario;

/// `stampede traffic`.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Traffic window instead of the scenario's.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// Prints the arrival profile and request mix of the scenario's traffic.
pub(super) fn traffic(args: TrafficArgs, io: &mut Io<'_>) -> Outcome {
    let loaded = Scenario::load(&args.scenario)?;
    let s = &loaded.scenario;
    let seed = args.seed.unwrap_or(s.seed);
    let window = args.duration.unwrap_or(s.duration);
    writeln!(
        io.out,
        "{}: {} traffic over {} (seed {seed}), nothing sent",
        args.scenario.display(),
        s.traffic.get_ref().arrival.get_ref().name(),
        crate::format::secs(window.as_secs_f64())
    )?;
    if let Some((spec, path, stats)) = &loaded.traffic.trace {
        writeln!(
            io.out,
            "trace {}: {} rows ({} in the window, {} bad rows skipped, {} failed requests skipped), speed-up {}, rate \
             scale {}",
            path.display(),
            stats.rows,
            stats.window_rows,
            stats.bad_rows,
            stats.failed_rows,
            spec.speedup,
            spec.rate_scale
        )?;
    }
    match crate::traffic::preview::preview(&loaded.traffic, seed, window) {
        Some(p) => write!(io.out, "{}", p.text())?,
        None => {
            let t = s.traffic.get_ref();
            if *t.arrival.get_ref() == crate::traffic::ArrivalKind::Sessions {
                writeln!(
                    io.out,
                    "conversations: {} new a second {}, each several turns with a think time between them; \
                     every turn waits for the previous answer and resends the history, so the request rate and the \
                     tokens depend on latency — run it with --target sim to see them",
                    (loaded.traffic.conversation_starts().unwrap_or(0.0) * 100.0).round() / 100.0,
                    if t.phases.is_some() {
                        "on average over its phases"
                    } else {
                        "(Poisson)"
                    }
                )?;
            } else {
                writeln!(
                    io.out,
                    "closed loop: {} users; each sends its next request after its answer and a think time, so the \
                     rate depends on latency — run it with --target sim to see it",
                    t.users.as_ref().map_or(0, |u| *u.get_ref())
                )?;
            }
        }
    }
    Ok(Exit::Ok)
}
