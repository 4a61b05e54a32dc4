//! Live progress: an indicatif bar on a terminal, a plain line every few seconds otherwise.
//!
//! It runs on its own thread and reads the engine's atomic counters, so it works the same in
//! virtual time (showing simulated time) and in real time.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Progress;
use crate::prepare::Prepared;

/// A running progress display.
pub struct Display {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Seconds for the progress line: `12.3 s`.
fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The progress message: where the run is in its traffic window (or that it is draining after
/// it), then the live counters. 429s and other errors stand out in colour on a terminal that
/// takes it (`NO_COLOR` turns colour off).
fn line(p: &Progress, elapsed_ms: u64, total_ms: u64, clock: &str, rate: f64) -> String {
    let g = Progress::get;
    let when = if elapsed_ms < total_ms {
        format!(
            "{} of {} {clock}, {} left",
            secs(elapsed_ms),
            secs(total_ms),
            secs(total_ms - elapsed_ms)
        )
    } else {
        format!(
            "traffic done at {}; draining at {} {clock}",
            secs(total_ms),
            secs(elapsed_ms)
        )
    };
    let loud = |n: u64, what: &str, colour: console::Color| {
        let text = format!("{n} {what}");
        if n == 0 {
            text
        } else {
            console::style(text).fg(colour).for_stderr().to_string()
        }
    };
    format!(
        "{when} · {rate:.1}/s sent · {} in flight · {} queued · {} answered · {} · {}",
        g(&p.inflight),
        g(&p.queued),
        g(&p.succeeded),
        loud(g(&p.status_429), "429s", console::Color::Yellow),
        loud(g(&p.errors), "other errors", console::Color::Red),
    )
}

impl Display {
    /// Starts the display for a run of `plan`'s traffic window.
    pub fn start(progress: Arc<Progress>, plan: &Prepared<'_>) -> Display {
        let done = Arc::new(AtomicBool::new(false));
        let total_ms = plan.duration().as_millis() as u64;
        let simulated = !plan.target().is_live();
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let tty = std::io::stderr().is_terminal();
            let started = Instant::now();
            // Runs that end within a moment show nothing.
            while started.elapsed() < Duration::from_millis(700) {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let bar = ProgressBar::with_draw_target(
                Some(total_ms),
                if tty {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::hidden()
                },
            );
            let clock = if simulated { "simulated" } else { "elapsed" };
            bar.set_style(ProgressStyle::with_template("{bar:30.cyan/blue} {msg}").expect("valid template"));
            let mut last_plain = Instant::now();
            let (mut last_attempts, mut last_at) = (0u64, Instant::now());
            let mut rate = 0.0;
            while !flag.load(Ordering::Relaxed) {
                let attempts = Progress::get(&progress.attempts);
                let elapsed_ms = Progress::get(&progress.elapsed_ms);
                let dt = last_at.elapsed().as_secs_f64();
                if dt >= 1.0 {
                    rate = (attempts - last_attempts) as f64 / dt;
                    (last_attempts, last_at) = (attempts, Instant::now());
                }
                bar.set_position(elapsed_ms.min(total_ms));
                let message = line(&progress, elapsed_ms, total_ms, clock, rate);
                if !tty && last_plain.elapsed() >= Duration::from_secs(5) {
                    eprintln!("{}", console::strip_ansi_codes(&message));
                    last_plain = Instant::now();
                }
                bar.set_message(message);
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Display {
            done,
            thread: Some(thread),
        }
    }

    /// Stops and clears the display.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Guard of the interrupt watcher; dropping it stops watching.
pub struct InterruptGuard(Arc<AtomicBool>);

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// First Ctrl-C or SIGTERM (what a container runtime or a CI runner sends): stop scheduling,
/// let in-flight requests finish, write a partial report. A second one: end the requests in
/// flight at once (as stopped) and write what the run has. A third: exit at once with code 3.
pub fn watch_interrupts(progress: Arc<Progress>) -> Option<InterruptGuard> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let mut presses = 0;
            #[cfg(unix)]
            let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            #[cfg(not(unix))]
            let mut sigterm: Option<()> = None;
            loop {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => {
                        if r.is_err() { return; }
                        presses += 1;
                        on_signal(presses, &progress);
                    }
                    Some(()) = terminate(&mut sigterm) => {
                        presses += 1;
                        on_signal(presses, &progress);
                    }
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {
                        if flag.load(Ordering::Relaxed) { return; }
                    }
                }
            }
        });
    });
    Some(InterruptGuard(done))
}

/// What the `presses`-th interrupt does: the first stops the run gently, the second ends the
/// requests in flight and writes what there is, the third ends the process.
fn on_signal(presses: u32, progress: &Progress) {
    match presses {
        1 => {
            eprintln!(
                "\ninterrupted: no new requests; waiting for those in flight, then the partial report (interrupt \
                 again to end them now)"
            );
            progress.request_stop();
        }
        2 => {
            eprintln!(
                "interrupted again: the requests in flight end now as stopped; writing the partial report (interrupt \
                 a third time to quit without it)"
            );
            progress.request_abort();
        }
        _ => {
            eprintln!("interrupted a third time: quitting now; this run's report is not written");
            std::process::exit(3);
        }
    }
}

/// The next SIGTERM, or never when it cannot be watched.
#[cfg(unix)]
async fn terminate(sigterm: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match sigterm {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Never: SIGTERM exists on Unix only.
#[cfg(not(unix))]
async fn terminate(_: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_where_the_run_is_and_what_is_in_flight() {
        let p = Progress::default();
        Progress::set(&p.inflight, 7);
        Progress::set(&p.queued, 3);
        Progress::set(&p.succeeded, 40);
        let text = line(&p, 12_300, 25_000, "simulated", 9.96);
        assert_eq!(
            console::strip_ansi_codes(&text),
            "12.3 s of 25.0 s simulated, 12.7 s left · 10.0/s sent · 7 in flight · 3 queued · 40 answered · \
             0 429s · 0 other errors"
        );
        let text = line(&p, 31_000, 25_000, "elapsed", 0.0);
        assert!(
            text.starts_with("traffic done at 25.0 s; draining at 31.0 s elapsed ·"),
            "{text}"
        );
    }
}
