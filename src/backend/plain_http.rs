//! The lean HTTP path for plain `http://` targets (the mock, a local server): hyper's own client
//! connections, kept in a pool sized to the workers, with no per-request URL parsing, redirect
//! or proxy handling. Real Gemini is `https://` and goes through reqwest, whose cost is nothing
//! beside an internet round trip; against a zero-latency mock on the same machine the client's
//! CPU per request is the whole story, and this path halves it (see `docs/src/bench.md`).
//!
//! HTTP/1.1: one request at a time per connection, kept alive; a connection goes back to the
//! pool only once its answer has been read to the end (an attempt cut short drops it, and hyper
//! closes it). HTTP/2 (prior knowledge, `h2c`): every request multiplexed on one connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::time::Instant;

use super::connections::ConnectionTimings;

/// Which HTTP version the lean path speaks (scenario key `target.http`: `"1.1"` or `"2"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive, one connection per request in flight.
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2 over cleartext (prior knowledge), every request on one connection.
    #[serde(rename = "2")]
    Http2,
}

/// Why a POST got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostError {
    /// No connection could be made: nothing reached the server.
    Connect,
    /// The exchange failed after a connection was made, before the answer's headers.
    Exchange,
}

/// A pool of connections to one `http://host:port`.
pub(crate) struct PlainPool {
    host: String,
    port: u16,
    /// `host:port`, the Host header of HTTP/1.1 requests.
    authority: HeaderValue,
    /// `http://host:port` plus the base URL's path, the prefix of HTTP/2 request URIs.
    origin: String,
    /// The base URL's path (`""` or `/v1`), the prefix of HTTP/1.1 request paths.
    base_path: String,
    version: HttpVersion,
    idle: parking_lot::Mutex<Vec<http1::SendRequest<Full<Bytes>>>>,
    max_idle: usize,
    /// The HTTP/2 connection, cloned for each request (the lock is held only to clone it).
    h2: parking_lot::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    /// Held while an HTTP/2 connection is being made, so that only one is.
    h2_connecting: tokio::sync::Mutex<()>,
    timings: Option<Arc<ConnectionTimings>>,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for PlainPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainPool")
            .field("origin", &self.origin)
            .field("version", &self.version)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

/// A connection to send on: HTTP/1.1 (returned to the pool after its answer) or HTTP/2 (shared).
enum Lease {
    /// An HTTP/1.1 connection, and whether it was kept from an earlier request.
    H1(http1::SendRequest<Full<Bytes>>, bool),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// An answer on the lean path: status and headers, then the body piece by piece.
pub(crate) struct PlainReply {
    response: Response<Incoming>,
    /// The HTTP/1.1 connection, given back to the pool when the body has been read to the end.
    lease: Option<(http1::SendRequest<Full<Bytes>>, Arc<PlainPool>)>,
}

impl PlainPool {
    /// A pool for `base_url` when it is plain `http://` (`None` otherwise), keeping up to `pool`
    /// idle connections.
    pub(crate) fn for_url(
        base_url: &str,
        pool: usize,
        version: HttpVersion,
        timings: Option<Arc<ConnectionTimings>>,
    ) -> Option<Arc<PlainPool>> {
        let uri: Uri = base_url.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(80);
        let authority = HeaderValue::from_str(uri.authority()?.as_str()).ok()?;
        let base_path = uri.path().trim_end_matches('/').to_string();
        Some(Arc::new(PlainPool {
            origin: format!("http://{}{base_path}", uri.authority()?),
            host,
            port,
            authority,
            base_path,
            version,
            idle: parking_lot::Mutex::new(Vec::with_capacity(pool)),
            max_idle: pool.max(1),
            h2: parking_lot::Mutex::new(None),
            h2_connecting: tokio::sync::Mutex::new(()),
            timings,
            user_agent: HeaderValue::from_static(concat!("stampede/", env!("CARGO_PKG_VERSION"))),
        }))
    }

    /// POSTs `body` as JSON to the base URL's path plus `path` with `headers` added; `Err` when
    /// no connection could be made ([`PostError::Connect`]) or the exchange failed before the
    /// answer's headers ([`PostError::Exchange`]).
    pub(crate) async fn post(
        self: &Arc<Self>,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<PlainReply, PostError> {
        let uri = match self.version {
            HttpVersion::Http1 => format!("{}{path}", self.base_path),
            HttpVersion::Http2 => format!("{}{path}", self.origin),
        };
        let mut request = Request::post(uri)
            .body(Full::new(body))
            .map_err(|_| PostError::Exchange)?;
        let h = request.headers_mut();
        *h = headers;
        if self.version == HttpVersion::Http1 {
            h.insert(HOST, self.authority.clone());
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(USER_AGENT, self.user_agent.clone());
        match self.checkout().await.map_err(|()| PostError::Connect)? {
            Lease::H1(mut sender, kept) => {
                let response = match sender.try_send_request(request).await {
                    Ok(response) => response,
                    // A kept connection the server closed while it was idle: the request was
                    // never written, so it goes on a new connection (as reqwest does); a
                    // healthy server must not show up as a transport error.
                    Err(mut e) => {
                        let unsent = if kept { e.take_message() } else { None };
                        let request = unsent.ok_or(PostError::Exchange)?;
                        sender = self.connect_h1().await.map_err(|()| PostError::Connect)?;
                        sender.send_request(request).await.map_err(|_| PostError::Exchange)?
                    }
                };
                Ok(PlainReply {
                    response,
                    lease: Some((sender, self.clone())),
                })
            }
            Lease::H2(mut sender) => {
                let response = sender.send_request(request).await.map_err(|_| PostError::Exchange)?;
                Ok(PlainReply { response, lease: None })
            }
        }
    }

    /// An idle HTTP/1.1 connection that is ready, or a new one; the HTTP/2 connection.
    async fn checkout(&self) -> Result<Lease, ()> {
        if self.version == HttpVersion::Http2 {
            if let Some(sender) = self.shared_h2() {
                return Ok(Lease::H2(sender));
            }
            let _connecting = self.h2_connecting.lock().await;
            // Another request may have made it while this one waited.
            if let Some(sender) = self.shared_h2() {
                return Ok(Lease::H2(sender));
            }
            let sender = self.connect_h2().await?;
            *self.h2.lock() = Some(sender.clone());
            return Ok(Lease::H2(sender));
        }
        loop {
            let Some(mut sender) = self.idle.lock().pop() else {
                return self.connect_h1().await.map(|s| Lease::H1(s, false));
            };
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok(Lease::H1(sender, true));
            }
        }
    }

    /// The HTTP/2 connection, if it is open.
    fn shared_h2(&self) -> Option<http2::SendRequest<Full<Bytes>>> {
        self.h2.lock().as_ref().filter(|s| !s.is_closed()).cloned()
    }

    /// Gives an HTTP/1.1 connection whose answer was read to the end back to the pool.
    fn give_back(&self, sender: http1::SendRequest<Full<Bytes>>) {
        let mut idle = self.idle.lock();
        if idle.len() < self.max_idle && !sender.is_closed() {
            idle.push(sender);
        }
    }

    /// A TCP connection without Nagle's delay, its set-up (and any DNS lookup) timed.
    async fn dial(&self) -> Result<TokioIo<tokio::net::TcpStream>, ()> {
        let start = Instant::now();
        let stream = async {
            let addr: SocketAddr = match self.host.parse() {
                Ok(ip) => SocketAddr::new(ip, self.port),
                Err(_) => {
                    let looked_up = Instant::now();
                    let addr = tokio::net::lookup_host((self.host.as_str(), self.port))
                        .await
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or(())?;
                    if let Some(t) = &self.timings {
                        t.dns(looked_up.elapsed());
                    }
                    addr
                }
            };
            let stream = tokio::net::TcpStream::connect(addr).await.map_err(|_| ())?;
            stream.set_nodelay(true).map_err(|_| ())?;
            Ok(stream)
        }
        .await;
        if let Some(t) = &self.timings {
            t.connect(start.elapsed(), stream.is_ok());
        }
        stream.map(TokioIo::new)
    }

    async fn connect_h1(&self) -> Result<http1::SendRequest<Full<Bytes>>, ()> {
        let io = self.dial().await?;
        let (sender, connection) = http1::handshake(io).await.map_err(|_| ())?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn connect_h2(&self) -> Result<http2::SendRequest<Full<Bytes>>, ()> {
        let io = self.dial().await?;
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await.map_err(|_| ())?;
        tokio::spawn(connection);
        Ok(sender)
    }
}

impl PlainReply {
    /// The answer's status.
    pub(crate) fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The answer's headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The next piece of the body (`None` at its end, when an HTTP/1.1 connection goes back to
    /// the pool); `Err` when the connection failed or the body was cut short.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, ()> {
        loop {
            match self.response.body_mut().frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
                Some(Err(_)) => return Err(()),
                None => {
                    if let Some((sender, pool)) = self.lease.take() {
                        pool.give_back(sender);
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// The whole body.
    pub(crate) async fn bytes(mut self) -> Result<Bytes, ()> {
        let first = match self.chunk().await? {
            Some(b) => b,
            None => return Ok(Bytes::new()),
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = Vec::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(more) = self.chunk().await? {
            all.extend_from_slice(&more);
        }
        Ok(Bytes::from(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers each connection's first request, then closes it (as a server whose
    /// keep-alive timeout ran out would).
    async fn one_answer_per_connection() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    let body = "{}";
                    let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    let _ = socket.write_all(reply.as_bytes()).await;
                    // Closed at once, before the client is done with the answer.
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_not_a_failed_request() {
        let url = one_answer_per_connection().await;
        let pool = PlainPool::for_url(&url, 4, HttpVersion::Http1, None).unwrap();
        for _ in 0..20 {
            let reply = pool.post("/x", HeaderMap::new(), Bytes::from_static(b"{}")).await;
            let reply = reply.expect("a healthy server answers every request");
            assert_eq!(reply.status(), StatusCode::OK);
            assert_eq!(&reply.bytes().await.unwrap()[..], b"{}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_told_from_a_failed_exchange() {
        // A port with nothing listening: the connection is refused, nothing reached a server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pool = PlainPool::for_url(&format!("http://127.0.0.1:{port}"), 4, HttpVersion::Http1, None).unwrap();
        let reply = pool.post("/x", HeaderMap::new(), Bytes::from_static(b"{}")).await;
        assert_eq!(reply.err(), Some(PostError::Connect));
        // A server that accepts and closes without answering: the exchange failed after it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                drop(socket);
            }
        });
        let pool = PlainPool::for_url(&format!("http://{addr}"), 4, HttpVersion::Http1, None).unwrap();
        let reply = pool.post("/x", HeaderMap::new(), Bytes::from_static(b"{}")).await;
        assert_eq!(reply.err(), Some(PostError::Exchange));
    }

    #[test]
    fn only_plain_http_takes_the_lean_path() {
        assert!(PlainPool::for_url("https://generativelanguage.googleapis.com", 1, HttpVersion::Http1, None).is_none());
        let p = PlainPool::for_url("http://localhost:8089/v1/", 1, HttpVersion::Http1, None).unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.base_path.as_str()),
            ("localhost", 8089, "/v1")
        );
    }
}
