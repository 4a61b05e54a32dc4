//! Connections that never finish a request head (slowloris), or never send anything: closed
//! after the header or idle timeout, and past the connection cap the quietest idle one is
//! closed to make room, so the mock keeps answering.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{metric, Mock};

/// Whether the server closed `tcp` within `limit`.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slowloris_connections_are_closed_after_the_header_timeout() {
    let mock = Mock::start(&["--header-timeout", "1s"]);
    let started = Instant::now();
    let mut lorises = Vec::new();
    for _ in 0..500 {
        let mut tcp = TcpStream::connect(mock.addr).await.unwrap();
        tcp.write_all(b"POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nhost: m\r\n")
            .await
            .unwrap();
        lorises.push(tcp);
    }
    // One more header byte every 200 ms: a head that never ends.
    let drip = tokio::spawn(async move {
        for _ in 0..20 {
            for tcp in &mut lorises {
                let _ = tcp.write_all(b"x").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lorises
    });
    mock.assert_answers().await;
    let mut lorises = drip.await.unwrap();
    for tcp in &mut lorises {
        assert!(
            closed_within(tcp, Duration::from_secs(2)).await,
            "a slowloris still open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(metric(mock.addr, "stampede_mock_header_timeouts_total").await >= 500.0);
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("500 slowloris connections");
}

#[tokio::test]
async fn idle_connections_past_the_cap_make_room() {
    let mock = Mock::start(&["--max-connections", "200"]);
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(mock.addr).await.unwrap());
    }
    // 1,000 idle connections against a cap of 200: an ordinary request is still answered.
    mock.assert_answers().await;
    // The mock accepts them as fast as it can; within seconds 800 have made room for others.
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(mock.addr, "stampede_mock_connections_evicted_total").await < 800.0 {
        assert!(Instant::now() < deadline, "idle connections were not evicted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metric(mock.addr, "stampede_mock_connections_open").await <= 201.0);
    mock.assert_answers().await;
    mock.assert_peak_under_ceiling("1,000 idle connections, cap 200");
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let mock = Mock::start(&["--idle-timeout", "1s"]);
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(mock.addr).await.unwrap());
    }
    for tcp in &mut idle {
        assert!(
            closed_within(tcp, Duration::from_secs(5)).await,
            "an idle connection still open"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(metric(mock.addr, "stampede_mock_idle_timeouts_total").await >= 50.0);
    mock.assert_answers().await;
}
