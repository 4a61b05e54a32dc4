//! Bodies that are too large, or that arrive and stall: refused from their declared size, held
//! within the body budget, and dropped with 408 when they fall below the rate floor.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{metric, Mock, GEN};

/// Opens a connection that declares `declared` bytes of body, sends `sent`, then stalls.
async fn stalling_body(addr: std::net::SocketAddr, declared: usize, sent: usize) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {GEN} HTTP/1.1\r\nhost: mock\r\nx-goog-api-key: k\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        if tcp.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        left -= n;
    }
    tcp
}

/// What the server said on `tcp` within `limit` (its status, or 0 when it closed silently).
async fn status_within(tcp: &mut TcpStream, limit: Duration) -> u16 {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(limit, tcp.read(&mut buf))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_body_declared_past_the_limit_is_refused_before_it_is_read() {
    let mock = Mock::start(&[]);
    let mut tcp = stalling_body(mock.addr, 64 << 20, 0).await;
    assert_eq!(status_within(&mut tcp, Duration::from_secs(5)).await, 400);
    mock.assert_answers().await;
}

#[tokio::test]
async fn stalled_bodies_are_held_within_the_budget_and_dropped_with_408() {
    let mock = Mock::start(&["--body-rate-window", "2s"]);
    // Ten connections each declare 20 MiB, send 19 MiB and stall: at most the 64 MiB budget
    // is held; the rest are refused at once with 503.
    let started = Instant::now();
    let mut attackers = Vec::new();
    for _ in 0..10 {
        attackers.push(tokio::spawn({
            let addr = mock.addr;
            async move {
                let mut tcp = stalling_body(addr, 20 << 20, 19 << 20).await;
                status_within(&mut tcp, Duration::from_secs(10)).await
            }
        }));
    }
    // During the attack an ordinary request is answered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    mock.assert_answers().await;
    let mut statuses = Vec::new();
    for a in attackers {
        statuses.push(a.await.unwrap());
    }
    statuses.sort_unstable();
    println!("stalled bodies: {statuses:?} after {:?}", started.elapsed());
    assert!(statuses.iter().all(|s| *s == 408 || *s == 503), "{statuses:?}");
    assert!(statuses.contains(&408) && statuses.contains(&503), "{statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // After it, nothing stays held: ordinary requests are answered and the counters say why.
    mock.assert_answers().await;
    assert!(metric(mock.addr, "stampede_mock_slow_bodies_total").await >= 1.0);
    assert!(metric(mock.addr, "stampede_mock_body_budget_refusals_total").await >= 1.0);
    mock.assert_peak_under_ceiling("10 bodies declaring 20 MiB, stalled after 19 MiB");
}

#[tokio::test]
async fn fifty_stalled_bodies_do_not_end_the_mock() {
    let mock = Mock::start(&["--body-rate-window", "1s"]);
    let mut attackers = Vec::new();
    for _ in 0..50 {
        let addr = mock.addr;
        attackers.push(tokio::spawn(async move {
            let mut tcp = stalling_body(addr, 20 << 20, 15 << 20).await;
            status_within(&mut tcp, Duration::from_secs(10)).await
        }));
    }
    for a in attackers {
        let s = a.await.unwrap();
        assert!(s == 408 || s == 503, "{s}");
    }
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("50 bodies declaring 20 MiB, stalled after 15 MiB");
}
