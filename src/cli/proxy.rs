//! `stampede proxy`: forwards an application's calls to Gemini (or any upstream) unchanged,
//! records them as a replayable trace, and can add faults on top.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, Exit, Io, Outcome};
use crate::commands::proxy::{self, Injection, ProxyOptions};

/// `stampede proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where to forward: the API's base URL, such as https://generativelanguage.googleapis.com
    /// or http://127.0.0.1:8089 (the mock). Keys travel in the application's requests.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// Address to bind; loopback unless you mean to expose the proxy.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Record each generate call as a line of stampede's trace format, with what the upstream
    /// did (no prompt text, header or key).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keep the prompts' text in the recording (off by default: prompts may be private).
    #[arg(long, requires = "record")]
    pub record_prompts: bool,
    /// Share of generate calls answered 429 by the proxy itself, in Gemini's body (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub inject_429: f64,
    /// Share of generate calls answered 503 "The model is overloaded" by the proxy (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub inject_503: f64,
    /// The per-minute quota injected 429s name (QuotaFailure quotaValue).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub inject_quota: u64,
    /// The retryDelay injected 429s carry.
    #[arg(long, default_value = "10s", value_parser = duration_up_to_an_hour)]
    pub inject_retry_delay: Duration,
    /// Time added before each generate call is forwarded (a slower region).
    #[arg(long, default_value = "0s", value_parser = duration_up_to_an_hour)]
    pub add_latency: Duration,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Largest request body forwarded, in MiB (413 past it).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_body_mib: u32,
}

fn duration_up_to_an_hour(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d > Duration::from_secs(3600) {
        return Err("expected at most 1h".into());
    }
    Ok(d)
}

/// Serves until interrupted.
pub(super) fn proxy(args: ProxyArgs, io: &mut Io<'_>) -> Outcome {
    let options = ProxyOptions {
        upstream: args.upstream.clone(),
        record: args.record.clone(),
        record_prompts: args.record_prompts,
        inject: Injection {
            share_429: args.inject_429,
            share_503: args.inject_503,
            quota: args.inject_quota,
            retry_delay: args.inject_retry_delay,
            added_latency: args.add_latency,
        },
        seed: args.seed,
        max_body: (args.max_body_mib as usize) << 20,
    };
    options.inject.validate().map_err(CliError::Input)?;
    proxy::upstream_base(&options.upstream).map_err(CliError::Input)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async {
        let router = proxy::router(options).map_err(|e| CliError::Input(format!("{e:#}")))?;
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?;
        let recording = args
            .record
            .as_ref()
            .map_or_else(String::new, |p| format!(", recording to {}", p.display()));
        // The address on stdout alone, as the mock says its own (scripts read it with --port 0).
        let _ = writeln!(io.out, "stampede proxy listening on http://{local}");
        let _ = io.out.flush();
        let _ = writeln!(
            io.err,
            "stampede proxy: forwarding to {}{recording} (Ctrl-C to stop)",
            args.upstream.trim_end_matches('/')
        );
        // Served as the mock is: TCP_NODELAY, bounded connections and header timeouts.
        stampede_mock::server::serve(listener, router, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| CliError::Failed(e.to_string()))
    })?;
    Ok(Exit::Ok)
}
