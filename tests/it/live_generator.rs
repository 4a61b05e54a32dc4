//! The live load generator's own path: attempts on the runtime's workers, hyper's connections
//! pooled per worker (HTTP/1.1) or multiplexed (HTTP/2), arrivals taken in on time, and
//! `stampede bench live`. Each test is bounded to a second or two of traffic on 127.0.0.1.

use crate::support::{assert_accounted, run_to, scenario, stampede};

/// A zero-latency mock, `users` closed-loop users with as many workers, over `http`.
fn closed(users: u32, http: &str) -> String {
    format!(
        r#"
name = "closed"
seed = 5
duration = "1s"

[target]
kind = "mock"
model = "gemini-2.5-flash"
http = "{http}"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = {{ dist = "constant", value = "0s" }}

[traffic]
arrival = "closed"
users = {users}
think = {{ dist = "constant", value = "0s" }}
input_tokens = 8
output_tokens = 8

[strategy]
workers = {users}
"#
    )
}

#[test]
fn http1_holds_at_most_one_connection_per_worker_and_http2_one_in_all() {
    for (http, most) in [("1.1", 8), ("2", 1)] {
        let dir = tempfile::tempdir().unwrap();
        let path = scenario(dir.path(), "closed", &closed(8, http));
        let (o, s) = run_to(&path, &dir.path().join("out"), &[]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_accounted(&s);
        let answered = s["requests"]["succeeded"].as_u64().unwrap();
        assert_eq!(answered, s["requests"]["scheduled"].as_u64().unwrap(), "HTTP/{http}");
        // Thousands of answers a second on a zero-latency mock, even on a loaded machine.
        assert!(answered > 1_000, "HTTP/{http}: {answered} answered in 1 s");
        // Every prompt counted as planned: the lean path sends the same bodies.
        assert_eq!(s["tokens"]["input"].as_u64().unwrap(), 8 * answered, "HTTP/{http}");
        // Connections are kept: a worker's next request goes on the connection its last used
        // (reqwest's pool opened 81 for 64 workers), and HTTP/2 multiplexes on one.
        let opened = s["connections"]["opened"].as_u64().unwrap();
        assert!((1..=most).contains(&opened), "HTTP/{http}: {opened} connections opened");
        assert_eq!(s["attempts"]["transport_errors"], 0, "HTTP/{http}");
    }
}

#[test]
fn an_open_loop_takes_each_arrival_in_on_time_without_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let text = closed(16, "1.1").replace(
        "arrival = \"closed\"\nusers = 16\nthink = { dist = \"constant\", value = \"0s\" }",
        "arrival = \"constant\"\nrate = 2000",
    );
    let path = scenario(dir.path(), "open", &text);
    let out = dir.path().join("out");
    // Its own process, so that its CPU time is its own (the other tests run beside it); reaped
    // by `wait_with_cpu` (wait4), which also reads its CPU time.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (code, cpu) = wait_with_cpu(child.id());
    assert_eq!(code, 0);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_accounted(&s);
    assert_eq!(s["requests"]["scheduled"], 2000);
    assert_eq!(s["requests"]["succeeded"], 2000);
    // Arrivals 0.5 ms apart are taken in within tens of microseconds of their time: tokio's
    // millisecond timer alone would make the median lag about 0.5 ms. (The p99 depends on what
    // else the machine is doing; the test suite runs beside it.)
    let lag_p50 = s["schedule_lag_ms"]["p50"].as_f64().unwrap();
    assert!(lag_p50 < 0.3, "schedule lag p50 {lag_p50} ms");
    let lag_p99 = s["schedule_lag_ms"]["p99"].as_f64().unwrap();
    assert!(lag_p99 < 10.0, "schedule lag p99 {lag_p99} ms");
    // The engine waits for them asleep: a spin would take a whole core for the second, where
    // the whole run (client and mock, 2,000 requests) needs a fraction of one.
    assert!(
        cpu < 0.8,
        "the run used {cpu:.2} s of CPU for 1 s of traffic at 2,000/s"
    );
}

/// Waits for child `pid`; its exit code and the CPU time (user + system) it used.
fn wait_with_cpu(pid: u32) -> (i32, f64) {
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: waits for our own child; wait4 fills `status` and a whole rusage.
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(rc, pid as libc::pid_t);
    // SAFETY: wait4 returned the child, so it filled the struct.
    let u = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (libc::WEXITSTATUS(status), secs(u.ru_utime) + secs(u.ru_stime))
}

#[test]
fn bench_live_measures_both_loops_against_its_own_mock() {
    let bin = env!("CARGO_BIN_EXE_stampede");
    let o = stampede(&[
        "bench",
        "live",
        "--duration",
        "1s",
        "--connections",
        "4",
        "--mock-exe",
        bin,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = |start: &str| {
        o.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{}", o.stdout))
            .to_string()
    };
    let closed = line("closed loop, 4 users");
    let rate: f64 = closed.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(rate > 500.0, "{closed}");
    assert!(closed.contains("µs/request"), "{closed}");
    // The open loop runs at three quarters of the closed loop's rate and answers everything.
    let open = line("open loop:");
    assert!(open.contains(" 0 failed, 0 dropped"), "{open}");
    let scheduled: f64 = open.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(
        (scheduled - 0.75 * rate).abs() <= 0.05 * rate + 2.0,
        "{open} vs {closed}"
    );
    assert!(line("beside it").contains("oha -z 1s -c 4 "), "{}", o.stdout);
    // Only servers on this machine.
    let o = stampede(&["bench", "live", "--url", "http://example.com", "--duration", "1s"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stderr.contains("on this machine"), "{}", o.stderr);
}
