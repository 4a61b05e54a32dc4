//! The mock binary as a child process, a bare HTTP/1.1 client over TCP, and the child's peak
//! memory (VmHWM from /proc) — what an attacker on the same machine would see and do.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Peak memory every attack must stay under.
pub const MEMORY_CEILING_MB: f64 = 256.0;

/// A running mock; killed when dropped.
pub struct Mock {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mock {
    /// Starts `stampede-mock` with a zero-latency profile and `args`.
    pub fn start(args: &[&str]) -> Mock {
        Mock::start_with(
            "latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 8\nrpm = 0\ntpm = 0\nrpd = 0\n",
            args,
        )
    }

    /// Starts `stampede-mock` with profile settings `profile` and `args`.
    pub fn start_with(profile: &str, args: &[&str]) -> Mock {
        let file = std::env::temp_dir().join(format!(
            "stampede-hostile-{}-{}.toml",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::write(&file, profile).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stampede-mock"))
            .args(["--port", "0", "--profile", file.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mock starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = std::fs::remove_file(&file);
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Mock { child, addr }
    }

    /// The child's peak resident memory so far, in MB.
    pub fn peak_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kb / 1024.0
    }

    /// Asserts the peak stayed under the ceiling, and prints it (the report's figures).
    pub fn assert_peak_under_ceiling(&self, attack: &str) {
        let peak = self.peak_mb();
        println!("{attack}: mock peak memory {peak:.1} MB");
        assert!(peak < MEMORY_CEILING_MB, "{attack}: peak {peak:.1} MB");
    }

    /// Everything the child wrote to stderr so far (ends it).
    pub fn stop_and_read_stderr(mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        err
    }

    /// An ordinary generate request, answered 200 with a body that has candidates.
    pub async fn assert_answers(&self) {
        let r = post(self.addr, GEN, "k", &[], HELLO.as_bytes()).await;
        assert_eq!(r.status, 200, "an ordinary request: {}", r.body);
        assert!(r.body.contains("candidates"), "{}", r.body);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The generate path.
pub const GEN: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
/// An ordinary body.
pub const HELLO: &str =
    r#"{"contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}]}"#;

/// An answer: status and body (de-chunked).
#[derive(Debug)]
pub struct Reply {
    /// Status code (0: the connection closed without one).
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// POST with `x-goog-api-key: key` and extra headers.
pub async fn post(addr: SocketAddr, path: &str, key: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send(addr, "POST", path, key, headers, body).await
}

/// GET with `x-goog-api-key: key`.
pub async fn get(addr: SocketAddr, path: &str, key: &str) -> Reply {
    send(addr, "GET", path, key, &[], b"").await
}

/// One request on its own connection (`Connection: close`), within 20 s.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let exchange = async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: mock\r\nconnection: close\r\nx-goog-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let _ = tcp.write_all(body).await;
        let mut raw = Vec::new();
        let _ = tcp.read_to_end(&mut raw).await;
        parse(&raw)
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("an answer within 20 s")
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Reply {
            status: 0,
            body: text.into_owned(),
        };
    };
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Reply { status, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of a counter on the mock's `/metrics` page.
pub async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let page = get(addr, "/metrics", "k").await.body;
    page.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} not on /metrics"))
}
