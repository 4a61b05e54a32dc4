//! The standalone mock command, shared by `stampede mock` and the `stampede-mock` binary.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::model::{MockModel, StoreBounds};
use crate::profile::MockProfile;
use crate::server::{self, ServerOptions, TransportLimits};

/// `--catalog FILE`: a catalog file that extends (or, by name, replaces) the embedded models,
/// prices and tier presets for this process (`stampede catalog --file FILE` shows the result).
#[derive(Debug, Clone, Default, Args)]
pub struct CatalogArg {
    /// A catalog file extending the embedded one (models, prices, tier presets); `stampede
    /// catalog --file FILE` shows the result.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

impl CatalogArg {
    /// Puts the file's catalog in force (nothing to do without one).
    pub fn install(&self) -> Result<(), String> {
        match &self.catalog {
            Some(path) => crate::catalog::data::install(path),
            None => Ok(()),
        }
    }
}

/// Options of `stampede mock`.
#[derive(Debug, Clone, Args)]
pub struct MockArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Address to bind; loopback unless you mean to expose the mock.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// A preset (free, free-2025, free-2026, tier1, tier2, tier3, unlimited) or a profile .toml file.
    #[arg(long, default_value = "tier1")]
    pub profile: String,
    /// Seed for latency, faults and answer lengths.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Append one JSON line per request to this file (API keys are never written).
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// Record each generate request an application sends as a line of stampede's trace format
    /// (replayed by `arrival = "trace"`, format "jsonl"; read by `stampede calibrate`). No
    /// prompt text, header or key is written.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keep the prompts' text in the recording (off by default: prompts may be private).
    #[arg(long, requires = "record")]
    pub record_prompts: bool,
    /// The catalog in force.
    #[command(flatten)]
    pub catalog: CatalogArg,
    /// What one client may make the mock hold.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The mock's bounds under hostile or careless clients: connections, timeouts, request bodies
/// and the stores (see "The mock under hostile requests" in the book's limits chapter).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Most connections open at once; past it the quietest idle one is closed to make room.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Longest time from a request's first byte to the end of its head (slowloris).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: Duration,
    /// Longest time a connection with no request in flight may stay quiet.
    #[arg(long, default_value = "60s", value_parser = positive_duration)]
    pub idle_timeout: Duration,
    /// Largest request body in MiB (Gemini's inline-request limit is 20 MB).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_body_mib: u32,
    /// Request-body bytes all connections may hold at once, in MiB (503 past it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub body_budget_mib: u32,
    /// Slowest request body accepted, in bytes per second over each window (408 below it).
    #[arg(long, default_value_t = 16384)]
    pub body_rate_floor: u64,
    /// The window over which a body's rate is judged.
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    pub body_rate_window: Duration,
    /// Bytes all keys' explicit caches may hold, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub cache_budget_mib: u32,
    /// Bytes one API key's explicit caches may hold, in MiB.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub cache_key_budget_mib: u32,
    /// Bytes all keys' batch jobs may hold, in MiB.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub batch_budget_mib: u32,
    /// Bytes one API key's batch jobs may hold, in MiB.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub batch_key_budget_mib: u32,
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d.is_zero() || d > Duration::from_secs(86_400) {
        return Err("must be above 0 and at most 24h".into());
    }
    Ok(d)
}

impl LimitArgs {
    /// The transport's bounds.
    pub fn transport(&self) -> TransportLimits {
        TransportLimits {
            max_connections: self.max_connections as usize,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_body: (self.max_body_mib as usize) << 20,
            body_budget: (self.body_budget_mib as usize) << 20,
            body_rate_floor: self.body_rate_floor,
            body_rate_window: self.body_rate_window,
        }
    }

    /// The stores' bounds (per-key counts keep their defaults).
    pub fn stores(&self) -> StoreBounds {
        let mut b = StoreBounds::default();
        b.caches.total_bytes = u64::from(self.cache_budget_mib) << 20;
        b.caches.key_bytes = u64::from(self.cache_key_budget_mib) << 20;
        b.batches.total_bytes = u64::from(self.batch_budget_mib) << 20;
        b.batches.key_bytes = u64::from(self.batch_key_budget_mib) << 20;
        b
    }
}

/// Runs the mock until Ctrl-C. Errors are about the profile or the socket.
pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    args.catalog.install().map_err(anyhow::Error::msg)?;
    let profile = MockProfile::load(&args.profile)?;
    let summary = describe(&args.profile, &profile);
    let model = Arc::new(MockModel::with_stores(profile, args.seed, args.limits.stores()));
    let options = ServerOptions {
        request_log: args.request_log.clone(),
        record: args.record.clone(),
        record_prompts: args.record_prompts,
        limits: args.limits.transport(),
        ..ServerOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port)).await?;
    let addr = listener.local_addr()?;
    println!("{}", banner(addr, &summary));
    let mock = server::build(model, options)?;
    server::serve_with(listener, mock.router, mock.transport, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// What the mock will do, for the banner: where the profile came from, its quotas, and every
/// behaviour that departs from a plain preset (faults, fault windows, capacity, decode speed).
fn describe(source: &str, p: &MockProfile) -> String {
    let mut lines = Vec::new();
    for (model, l) in &p.models {
        let show = |v: u64| if v == 0 { "unlimited".to_string() } else { v.to_string() };
        lines.push(format!(
            "  {model:<24} rpm {:<10} tpm {:<10} rpd {}",
            show(l.rpm),
            show(l.tpm),
            show(l.rpd)
        ));
    }
    let origin = if source == p.preset {
        format!("profile {source}")
    } else {
        format!("profile {source} (on preset {})", p.preset)
    };
    let mut traits = vec![format!("{:?} quota windows", p.window).to_lowercase()];
    let e = &p.errors;
    let faults: Vec<String> = [
        ("429", e.rate_429),
        ("500", e.rate_500),
        ("503", e.rate_503),
        ("504", e.rate_504),
        ("reset", e.rate_reset),
        ("hang", e.rate_hang),
        ("truncate", e.rate_truncate),
        ("malformed", e.rate_malformed),
        ("slow headers", e.rate_slow_headers),
    ]
    .iter()
    .filter(|(_, r)| *r > 0.0)
    .map(|(what, r)| format!("{what} {:.1}%", r * 100.0))
    .collect();
    if !faults.is_empty() {
        traits.push(format!("injected faults: {}", faults.join(", ")));
    }
    if !p.fault_windows.is_empty() {
        traits.push(format!("{} fault windows", p.fault_windows.len()));
    }
    if p.max_concurrent > 0 {
        traits.push(format!(
            "capacity {} in flight, backlog {}",
            p.max_concurrent, p.backlog
        ));
    }
    if p.monthly_cap_usd > 0.0 {
        traits.push(format!("monthly spend cap ${:.0}", p.monthly_cap_usd));
    }
    if let Some(l) = p.spend_limit {
        traits.push(format!(
            "spend limit ${} per {}",
            l.usd,
            humantime::format_duration(l.window)
        ));
    }
    traits.push(match p.service_tiers.priority_rpm {
        None => "flex; no priority (served as standard)".to_string(),
        Some(0) => "flex; priority without a limit".to_string(),
        Some(n) => format!("flex; priority up to {n}/min per model, then standard"),
    });
    if !p.implicit_cache_ttl.is_zero() {
        traits.push(format!(
            "implicit caching ({} per entry)",
            humantime::format_duration(p.implicit_cache_ttl)
        ));
    }
    format!("{origin}: {}\n{}", traits.join("; "), lines.join("\n"))
}

fn banner(addr: SocketAddr, profile: &str) -> String {
    format!(
        "stampede mock listening on http://{addr}
{profile}

Point a client at it by changing only the base URL (any key works unless the profile lists keys):
  curl -s http://{addr}/v1beta/models/gemini-2.5-flash:generateContent \\
    -H 'x-goog-api-key: test' -H 'Content-Type: application/json' \\
    -d '{{\"contents\": [{{\"parts\": [{{\"text\": \"Hello\"}}]}}]}}'
  python: genai.Client(api_key=\"test\", http_options={{\"base_url\": \"http://{addr}\"}})
  or export GOOGLE_GEMINI_BASE_URL=http://{addr}
Stats: http://{addr}/__stampede/stats   Prometheus: http://{addr}/metrics   Ctrl-C stops."
    )
}
