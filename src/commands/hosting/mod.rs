//! What to buy to host a calling plan: memory and CPU measured from the live client.
//!
//! The probe serves the scenario's mock profile from a separate `stampede mock` process on
//! 127.0.0.1 (so the server's own memory and CPU are not counted), then runs the calling plan
//! at the recommended worker count in this process over real HTTP for a short window — with
//! the scenario's requests arriving steadily at the busiest 10 s rate of the plan's run, so
//! the workers are as busy as they get — sampling
//! the heap in use, resident memory, and in-flight and queued requests every 5 ms, and reading
//! the CPU time used. From that it derives the memory each in-flight request holds and the CPU
//! time each attempt costs, and scales both to the recommendation at the scenario's busiest
//! rate.
//!
//! The figures are stampede's own Rust client (reqwest, tokio); a client in another language
//! costs more per request, and the application around it needs its own memory.

use crate::meter;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::backend::ApiKey;
use crate::engine::Progress;
use crate::prepare::{Prepared, RunOptions};
use crate::run::{execute, RunError};
use crate::scenario::Candidate;
use crate::scenario::{LoadedScenario, TargetKind};

/// Headroom on the measured memory and CPU.
pub(crate) const HEADROOM: f64 = 2.0;
const MIB: f64 = 1024.0 * 1024.0;

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The `stampede` executable that serves the mock (`stampede mock`).
    pub mock_exe: PathBuf,
    /// Traffic window of the probe.
    pub duration: Duration,
    /// Seed of the probe's traffic and mock.
    pub seed: u64,
}

/// What the probe measured, and what to buy.
#[derive(Debug, Clone, Serialize)]
pub struct Hosting {
    /// Workers of the calling plan probed.
    pub workers: u32,
    /// Traffic window of the probe (s).
    pub probe_s: f64,
    /// Mean arrival rate of the probe's traffic (per second): the busiest 10 s of the plan's
    /// run, sustained.
    pub probe_rps: f64,
    /// Requests scheduled during the probe.
    pub requests: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// Most attempts in flight at once.
    pub peak_in_flight: u64,
    /// Most requests queued at once.
    pub peak_queued: u64,
    /// Highest heap in use above the heap before the probe (MiB); `None` when the binary does
    /// not count its heap.
    pub heap_peak_mib: Option<f64>,
    /// That heap divided by the peak in-flight count (KiB per in-flight request).
    pub heap_per_in_flight_kib: Option<f64>,
    /// Resident memory of the process before and at its highest during the probe (MiB).
    pub rss_mib: Option<(f64, f64)>,
    /// CPU time used by the client during the probe (s).
    pub cpu_s: f64,
    /// CPU time per attempt sent (ms).
    pub cpu_ms_per_attempt: f64,
    /// The busiest attempt rate of the plan's run (busiest 10 s of arrivals × attempts per
    /// request), per second.
    pub peak_attempt_rps: f64,
    /// Memory for the recommended workers in flight, with headroom (MiB).
    pub memory_mib: Option<f64>,
    /// CPU for the busiest rate, with headroom (vCPU).
    pub vcpu: f64,
    /// What to buy, in a sentence with the figures.
    pub why: String,
}

/// A `stampede mock` process, killed when dropped.
pub struct MockProcess(Child);

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `EXE mock --port 0` on 127.0.0.1 with the profile file `profile_path` (a preset-based
/// `.toml` or a whole profile as `.json`); returns the process and its base URL.
pub fn spawn_mock(
    exe: &std::path::Path,
    profile_path: &std::path::Path,
    seed: u64,
) -> Result<(MockProcess, String), RunError> {
    let child = Command::new(exe)
        .args(["mock", "--port", "0", "--seed", &seed.to_string(), "--profile"])
        .arg(profile_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RunError::Failed(format!("could not start the probe's mock ({}): {e}", exe.display())))?;
    let mut mock = MockProcess(child);
    let stdout = mock.0.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader
        .read_line(&mut line)
        .map_err(|e| RunError::Failed(format!("the probe's mock did not start: {e}")))?;
    // Keep reading what it prints: a closed pipe would kill it at its next line.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("stampede mock listening on ")
        .ok_or_else(|| RunError::Failed(format!("the probe's mock did not start: it said {:?}", line.trim())))?;
    Ok((mock, url.to_string()))
}

/// Highest values seen by the sampler.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    heap: Option<u64>,
    rss: Option<u64>,
    in_flight: u64,
    queued: u64,
    /// CPU time of the sampler itself (s), taken off the client's.
    own_cpu: f64,
}

/// Samples the heap and the engine's counters every 5 ms and resident memory every 50 ms,
/// until `stop` is set.
fn sample(progress: Arc<Progress>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Peaks> {
    std::thread::spawn(move || {
        let start = meter::thread_cpu_seconds().unwrap_or(0.0);
        let mut p = Peaks::default();
        let mut tick = 0u32;
        while !stop.load(Ordering::Relaxed) {
            p.heap = p.heap.max(meter::heap_bytes());
            if tick % 10 == 0 {
                p.rss = p.rss.max(meter::rss_bytes());
            }
            tick += 1;
            p.in_flight = p.in_flight.max(Progress::get(&progress.inflight));
            p.queued = p.queued.max(Progress::get(&progress.queued));
            std::thread::sleep(Duration::from_millis(5));
        }
        p.own_cpu = meter::thread_cpu_seconds().unwrap_or(start) - start;
        p
    })
}

/// Rounds up to a multiple of `step`.
fn round_up(v: f64, step: f64) -> f64 {
    ((v / step).ceil() * step).max(step)
}

/// The busiest stretch of a plan's run.
#[derive(Debug, Clone, Copy)]
pub struct Busiest {
    /// Arrivals per second over the busiest 10 s.
    pub arrival_rps: f64,
    /// Attempts per second at that rate (arrivals × attempts per request).
    pub attempt_rps: f64,
}

/// Probes `candidate` at `workers` against a mock in another process, with the scenario's
/// requests arriving steadily at the `busiest` arrival rate.
pub fn probe(
    loaded: &LoadedScenario,
    candidate: &Candidate,
    workers: u32,
    busiest: Busiest,
    options: &ProbeOptions,
) -> Result<Hosting, RunError> {
    let peak_attempt_rps = busiest.attempt_rps;
    let mut loaded = loaded.clone();
    let probe_rps = if busiest.arrival_rps > 0.0 {
        loaded.traffic = loaded.traffic.steady(busiest.arrival_rps);
        busiest.arrival_rps
    } else {
        loaded.traffic.request_rate().unwrap_or(0.0)
    };
    let loaded = &loaded;
    let (_mock, url, key) = start_mock(loaded, candidate, options)?;
    let mut strategy = candidate.strategy.clone();
    strategy.workers = workers;
    let run_options = RunOptions {
        target: Some(TargetKind::Gemini),
        base_url: Some(url),
        seed: Some(options.seed),
        duration: Some(options.duration),
        max_requests: None,
        strategy: Some(strategy),
        key: Some(ApiKey::new(key)),
        ..RunOptions::default()
    };
    let plan = Prepared::new(loaded, &run_options)?;

    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let heap_before = meter::heap_bytes();
    let rss_before = meter::rss_bytes();
    let cpu_before = meter::cpu_seconds().unwrap_or(0.0);
    let sampler = sample(progress.clone(), stop.clone());
    let summary = execute(&plan, progress, None);
    let cpu_used = meter::cpu_seconds().unwrap_or(0.0) - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let peaks = sampler.join().unwrap_or_default();
    let cpu_s = (cpu_used - peaks.own_cpu).max(0.0);
    let summary = summary?;

    let measured = Measured {
        summary,
        peaks,
        heap_before,
        rss_before,
        cpu_s,
    };
    Ok(sized(&measured, workers, peak_attempt_rps, probe_rps, options.duration))
}

/// Starts the probe's mock in another process, serving the scenario's profile for the
/// candidate's models; returns the process (ended when dropped), its URL and an API key it takes.
fn start_mock(
    loaded: &LoadedScenario,
    candidate: &Candidate,
    options: &ProbeOptions,
) -> Result<(MockProcess, String, String), RunError> {
    let models = loaded.models_for(&candidate.strategy);
    let profile = loaded.mock_profile_for(&models).map_err(RunError::Input)?;
    let key = profile
        .api_keys
        .first()
        .cloned()
        .unwrap_or_else(|| "stampede-probe".into());
    let path = std::env::temp_dir().join(format!(
        "stampede-probe-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    // The one place the real keys are written: the child mock must accept the key we send.
    let json = profile.to_handoff_json().map_err(|e| RunError::Failed(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))?;
    let spawned = spawn_mock(&options.mock_exe, &path, options.seed);
    let _ = std::fs::remove_file(&path);
    let (mock, url) = spawned?;
    Ok((mock, url, key))
}

/// What the probe measured.
struct Measured {
    summary: crate::summary::Summary,
    peaks: Peaks,
    heap_before: Option<u64>,
    rss_before: Option<u64>,
    /// CPU the client used (s), the sampler's own taken off.
    cpu_s: f64,
}

/// What to buy, from the probe's measurements: memory per in-flight request scaled to the
/// workers, CPU per attempt scaled to the busiest attempt rate, each with headroom.
fn sized(m: &Measured, workers: u32, peak_attempt_rps: f64, probe_rps: f64, probe: std::time::Duration) -> Hosting {
    let Measured {
        summary,
        peaks,
        heap_before,
        rss_before,
        cpu_s,
    } = m;
    let (heap_before, rss_before, cpu_s) = (*heap_before, *rss_before, *cpu_s);
    let attempts = summary.attempts.total;
    let cpu_ms_per_attempt = if attempts > 0 {
        cpu_s * 1000.0 / attempts as f64
    } else {
        0.0
    };
    let heap_peak = match (peaks.heap, heap_before) {
        (Some(p), Some(b)) => Some(p.saturating_sub(b) as f64 / MIB),
        _ => None,
    };
    let heap_per_in_flight_kib = heap_peak.map(|h| h * 1024.0 / peaks.in_flight.max(1) as f64);
    let memory_mib = heap_per_in_flight_kib.map(|k| round_up(k / 1024.0 * f64::from(workers) * HEADROOM, 16.0));
    let vcpu = round_up(cpu_ms_per_attempt / 1000.0 * peak_attempt_rps * HEADROOM, 0.25);
    let rss_mib = rss_before
        .zip(peaks.rss)
        .map(|(b, p)| (b as f64 / MIB, p.max(b) as f64 / MIB));
    let memory_text = match (memory_mib, heap_per_in_flight_kib) {
        (Some(m), Some(k)) => format!(
            "{m:.0} MiB of memory ({k:.1} KiB per in-flight request measured at up to {} in flight, fixed costs such as \
             histograms and the connection pool included, × {workers} workers, × {HEADROOM} headroom)",
            peaks.in_flight
        ),
        _ => "memory: not measured (this binary does not count its heap)".into(),
    };
    let why = format!(
        "Buy {memory_text} and {vcpu} vCPU ({cpu_ms_per_attempt:.3} ms of CPU per attempt measured over {attempts} attempts, \
         × {peak_attempt_rps:.1} attempts/s at the busiest 10 s, × {HEADROOM} headroom) for the client, on top of your \
         application's own footprint. Measured from stampede's Rust client over real HTTP against the mock in another \
         process for {} of the scenario's traffic at its busiest rate ({probe_rps:.1}/s); a client in another language \
         costs more per request.",
        crate::format::secs(probe.as_secs_f64())
    );
    Hosting {
        workers,
        probe_s: probe.as_secs_f64(),
        probe_rps,
        requests: summary.requests.scheduled,
        attempts,
        peak_in_flight: peaks.in_flight,
        peak_queued: peaks.queued,
        heap_peak_mib: heap_peak,
        heap_per_in_flight_kib,
        rss_mib,
        cpu_s,
        cpu_ms_per_attempt,
        peak_attempt_rps,
        memory_mib,
        vcpu,
        why,
    }
}
