//! `stampede bench`: stampede measured on this machine.

use std::time::Duration;

use clap::Subcommand;

use super::{parse_duration, CliError, Exit, Io, Outcome};
use crate::backend::HttpVersion;
use crate::commands::bench::live::{self as live_bench, Phase, PhaseResult};
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
    /// What `stampede proxy` adds to an unloaded call: calls one at a time to a zero-latency
    /// mock, alternately direct and through a recording proxy; latency percentiles of both.
    Proxy {
        /// Calls on each path.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
        calls: u64,
    },
    /// The live load generator against a zero-latency mock in its own process (or `--url`):
    /// closed-loop capacity, an open loop at a constant rate, CPU time per request, memory.
    Live(LiveArgs),
}

/// `stampede bench live`'s arguments.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Closed-loop users (and workers of both phases).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of each phase.
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    duration: Duration,
    /// A server on this machine to measure against instead of starting the mock.
    #[arg(long)]
    url: Option<String>,
    /// Open-loop rate in requests per second (default: 0.75 × the closed loop's).
    #[arg(long)]
    rate: Option<f64>,
    /// HTTP version to the server: 1.1 (keep-alive) or 2 (cleartext, one connection).
    #[arg(long, default_value = "1.1", value_parser = parse_http)]
    http: HttpVersion,
    /// Run one phase only.
    #[arg(long, value_enum)]
    only: Option<Phase>,
    /// The executable that serves the mock (default: this one; tests, which run the command
    /// in-process, name the built binary).
    #[arg(long, hide = true)]
    mock_exe: Option<std::path::PathBuf>,
}

fn parse_http(s: &str) -> Result<HttpVersion, String> {
    match s {
        "1.1" | "1" => Ok(HttpVersion::Http1),
        "2" => Ok(HttpVersion::Http2),
        _ => Err("expected 1.1 or 2".into()),
    }
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
        BenchCommand::Live(args) => bench_live(args, io),
        BenchCommand::Proxy { calls } => bench_proxy(calls as usize, io),
    }
}

fn bench_proxy(calls: usize, io: &mut Io<'_>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let record = std::env::temp_dir().join(format!("stampede-bench-proxy-{}.jsonl", std::process::id()));
    let b = runtime.block_on(bench::proxy::proxy_overhead(calls, &record));
    let _ = std::fs::remove_file(&record);
    let b = b.map_err(|e| CliError::Failed(format!("{e:#}")))?;
    writeln!(
        io.out,
        "bench proxy: {} unloaded calls on each path, alternating, to a zero-latency mock\n\
         direct          p50 {:.3} ms   p99 {:.3} ms   max {:.3} ms\n\
         through proxy   p50 {:.3} ms   p99 {:.3} ms   max {:.3} ms   (recording every call)\n\
         added           p50 {:.3} ms   p99 {:.3} ms",
        b.calls,
        b.direct.p50,
        b.direct.p99,
        b.direct.max,
        b.proxied.p50,
        b.proxied.p99,
        b.proxied.max,
        b.proxied.p50 - b.direct.p50,
        b.proxied.p99 - b.direct.p99,
    )?;
    Ok(Exit::Ok)
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

fn bench_live(a: LiveArgs, io: &mut Io<'_>) -> Outcome {
    if a.connections == 0 || a.duration.is_zero() || a.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(CliError::Input(
            "--connections and --duration must be above zero, and --rate a positive number".into(),
        ));
    }
    // A benchmark sends as fast as it can: only ever to this machine.
    if let Some(url) = a.url.as_deref().filter(|u| !crate::spend::is_loopback(u)) {
        return Err(CliError::Input(format!(
            "--url {url}: bench live sends only to a server on this machine (localhost or 127.0.0.1)"
        )));
    }
    let mock = match &a.url {
        Some(_) => None,
        None => {
            let exe = match &a.mock_exe {
                Some(bin) => bin.clone(),
                None => std::env::current_exe().map_err(|e| CliError::Failed(e.to_string()))?,
            };
            Some(live_bench::start_mock(&exe).map_err(CliError::Failed)?)
        }
    };
    let url = a
        .url
        .clone()
        .or_else(|| mock.as_ref().map(|(_, url)| url.clone()))
        .unwrap_or_default();
    let version = match a.http {
        HttpVersion::Http1 => "HTTP/1.1",
        HttpVersion::Http2 => "HTTP/2",
    };
    let server = if mock.is_some() {
        "the zero-latency mock (its own process)"
    } else {
        "your server"
    };
    writeln!(
        io.out,
        "bench live: {url} ({server}), {version}, {} per phase",
        secs(a.duration.as_secs_f64())
    )?;
    let mut closed_rate = None;
    if a.only != Some(Phase::Open) {
        let text = live_bench::closed_scenario(&url, a.connections, a.duration, a.http);
        let r = live_bench::run_phase(&text).map_err(CliError::Failed)?;
        writeln!(
            io.out,
            "{}",
            phase_line(&format!("closed loop, {} users", a.connections), &r)
        )?;
        closed_rate = Some(r.answered_per_sec());
    }
    if a.only != Some(Phase::Closed) {
        let rate = a.rate.or(closed_rate.map(|c| (0.75 * c).round())).unwrap_or(10_000.0);
        let text = live_bench::open_scenario(&url, rate, a.connections, a.duration, a.http);
        let r = live_bench::run_phase(&text).map_err(CliError::Failed)?;
        let s = &r.summary;
        writeln!(io.out, "{}", phase_line(&format!("open loop, {rate:.0}/s"), &r))?;
        writeln!(
            io.out,
            "  open loop: {} scheduled, {} answered, {} failed, {} dropped; schedule lag p50 {} ms, p99 {} ms, \
             max {} ms; latency p99 {} ms",
            s.requests.scheduled,
            s.requests.succeeded,
            s.requests.failed,
            s.requests.dropped,
            ms3(s.schedule_lag_ms.p50),
            ms3(s.schedule_lag_ms.p99),
            ms3(s.schedule_lag_ms.max),
            ms3(s.latency_ms.p99),
        )?;
        if a.duration >= Duration::from_secs(20) {
            if let (Some(early), Some(late)) = (r.rss_at(10.0), r.rss_at(r.wall.as_secs_f64())) {
                writeln!(
                    io.out,
                    "  resident memory: {early:.1} MiB at 10 s, {late:.1} MiB at {:.0} s ({:+.1}%)",
                    r.wall.as_secs_f64(),
                    (late / early - 1.0) * 100.0
                )?;
            }
        }
    }
    writeln!(
        io.out,
        "peak resident memory {}\nbeside it, on the same server: {}",
        bench::peak_rss_mib().map_or("unknown".to_string(), |m| format!("{m:.1} MiB")),
        live_bench::oha_command(&url, a.connections, a.duration, a.http),
    )?;
    Ok(Exit::Ok)
}

/// One phase's line: answers per second, failures, CPU per request.
fn phase_line(name: &str, r: &PhaseResult) -> String {
    let (user, sys) = r.cpu_us_per_request();
    format!(
        "{name:<24} {:>8.0} answers/s  {} answered, {} not · CPU {:.1} µs/request (user {user:.1}, sys {sys:.1})",
        r.answered_per_sec(),
        r.summary.requests.succeeded,
        r.summary.requests.scheduled - r.summary.requests.succeeded,
        user + sys,
    )
}

/// Milliseconds to three places, or a dash when there were none.
fn ms3(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.3}"))
}
