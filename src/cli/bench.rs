//! `stampede bench`: stampede measured on this machine.

use std::time::Duration;

use clap::Subcommand;

use super::{parse_duration, CliError, Exit, Io, Outcome};
use crate::commands::bench::{self, median};
use crate::format::secs;

/// `stampede bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulator speed: Poisson arrivals, 16 workers, an RPM quota, exponential retries.
    Sim {
        /// Requests per second of simulated traffic.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Simulated traffic window.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        duration: Duration,
    },
    /// Mock HTTP throughput (zero latency) against a bare axum hello-world, same load generator.
    Mock {
        /// Concurrent connections of the load generator.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Length of each measurement.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        duration: Duration,
        /// Measurements of each server, alternating.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
}

/// Runs the chosen measurement and prints its figures.
pub(super) fn bench(command: BenchCommand, io: &mut Io<'_>) -> Outcome {
    match command {
        BenchCommand::Sim { rate, duration } => bench_sim(rate, duration, io),
        BenchCommand::Mock {
            connections,
            duration,
            rounds,
        } => bench_mock(connections, duration, rounds, io),
    }
}

fn bench_sim(rate: f64, duration: Duration, io: &mut Io<'_>) -> Outcome {
    let b = bench::sim(rate, duration);
    let s = &b.summary;
    writeln!(
        io.out,
        "bench sim: {} requests ({} attempts, {} retries, {} 429s) over {} simulated\n\
         wall time        {:.3} s\n\
         simulated req/s  {:.0} per wall-clock second\n\
         speed-up         {:.0} simulated seconds per wall-clock second\n\
         peak RSS         {}",
        s.requests.scheduled,
        s.attempts.total,
        s.attempts.retries,
        s.attempts.status_429,
        secs(s.run.elapsed_s),
        b.wall.as_secs_f64(),
        b.requests_per_sec(),
        b.speedup(),
        b.peak_rss_mib.map_or("unknown".to_string(), |m| format!("{m:.1} MiB")),
    )?;
    Ok(Exit::Ok)
}

fn bench_mock(connections: usize, duration: Duration, rounds: usize, io: &mut Io<'_>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let out = &mut *io.out;
    let mut print_round = |round: usize, r: &bench::MockRound| {
        let _ = writeln!(
            out,
            "round {round:>2}: hello-world {:>6.0} req/s, mock {:>6.0} req/s, ratio {:.2} ({} non-200)",
            r.hello.per_sec,
            r.mock.per_sec,
            r.mock.per_sec / r.hello.per_sec,
            r.mock.failures
        );
    };
    let all = runtime
        .block_on(bench::mock_vs_hello_world(
            connections,
            duration,
            rounds,
            &mut print_round,
        ))
        .map_err(|e| CliError::Failed(format!("could not bind 127.0.0.1: {e}")))?;
    writeln!(
        io.out,
        "bench mock ({connections} connections, {rounds} paired rounds of {}): median hello-world {:.0} req/s, \
         median mock {:.0} req/s, median of paired ratios {:.2}",
        humantime::format_duration(duration),
        median(all.iter().map(|r| r.hello.per_sec).collect()),
        median(all.iter().map(|r| r.mock.per_sec).collect()),
        median(all.iter().map(|r| r.mock.per_sec / r.hello.per_sec).collect())
    )?;
    Ok(Exit::Ok)
}
