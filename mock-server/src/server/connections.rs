//! The open connections: how many there may be, and how long each may stay without a request.
//!
//! Each accepted socket gets a [`Conn`] in the [`Connections`] table. Its reads are watched
//! ([`Watched`]), and its requests counted from the moment the handler is called until the
//! answer's body is dropped ([`InFlight`]). A watchdog per connection closes it when
//!
//! - a request head started (a byte arrived with no request in flight) and did not end within
//!   the header timeout: a slowloris;
//! - nothing arrived for the idle timeout while no request was in flight.
//!
//! hyper's own `header_read_timeout` starts as soon as a connection waits for a head, which
//! would also close idle keep-alive connections after the (short) header timeout; hence the
//! mock times the head from its first byte itself. Past `max_connections` the connection quiet
//! for longest is closed to make room; when every connection has a request in flight, the new
//! one is closed at once and the accept loop goes on.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::transport::{Transport, TransportStats};

/// "No request head has started."
const NO_HEAD: u64 = u64::MAX;

/// One open connection's activity.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    origin: Instant,
    in_flight: AtomicU32,
    last_activity_ms: AtomicU64,
    head_since_ms: AtomicU64,
    /// Wakes the watchdog: a head started or a request ended.
    wake: Notify,
    close: Notify,
}

impl Conn {
    fn now_ms(&self) -> u64 {
        Instant::now().saturating_duration_since(self.origin).as_millis() as u64
    }

    fn on_read(&self) {
        let now = self.now_ms();
        self.last_activity_ms.store(now, Ordering::Relaxed);
        let started = self.in_flight.load(Ordering::Relaxed) == 0
            && self
                .head_since_ms
                .compare_exchange(NO_HEAD, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if started {
            self.wake.notify_one();
        }
    }

    /// A request's head was read and its handler called; the guard ends it when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_since_ms.store(NO_HEAD, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn quiet_since(&self) -> u64 {
        self.last_activity_ms.load(Ordering::Relaxed)
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }
}

/// A request in flight on a connection; dropped with the answer's body.
#[derive(Debug)]
pub struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.now_ms();
        self.0.last_activity_ms.store(now, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.wake.notify_one();
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// A request head took longer than the header timeout.
    HeaderTimeout,
    /// Quiet for the idle timeout with no request in flight.
    Idle,
    /// Closed to make room for a new connection.
    Evicted,
}

/// The table of open connections.
#[derive(Debug)]
pub struct Connections {
    transport: Arc<Transport>,
    origin: Instant,
    next_id: AtomicU64,
    table: Mutex<FxHashMap<u64, Arc<Conn>>>,
}

impl Connections {
    /// An empty table under `transport`'s limits.
    pub fn new(transport: Arc<Transport>) -> Connections {
        Connections {
            transport,
            origin: Instant::now(),
            next_id: AtomicU64::new(0),
            table: Mutex::default(),
        }
    }

    /// A place for a new connection: at the cap, the idle connection quiet for longest is
    /// closed to make room; `None` when every open connection has a request in flight.
    pub fn admit(&self) -> Option<Arc<Conn>> {
        let stats = &self.transport.stats;
        let mut table = self.table.lock();
        if table.len() >= self.transport.limits.max_connections.max(1) {
            let victim = table
                .values()
                .filter(|c| c.is_idle())
                .min_by_key(|c| c.quiet_since())
                .map(|c| c.id);
            let Some(victim) = victim.and_then(|id| table.remove(&id)) else {
                TransportStats::bump(&stats.refused);
                return None;
            };
            victim.close.notify_one();
            TransportStats::bump(&stats.evicted);
            stats.open.fetch_sub(1, Ordering::Relaxed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            origin: self.origin,
            in_flight: AtomicU32::new(0),
            last_activity_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(NO_HEAD),
            wake: Notify::new(),
            close: Notify::new(),
        });
        conn.last_activity_ms.store(conn.now_ms(), Ordering::Relaxed);
        table.insert(id, conn.clone());
        stats.open.fetch_add(1, Ordering::Relaxed);
        Some(conn)
    }

    /// Forgets a connection that has ended.
    pub fn remove(&self, conn: &Conn) {
        if self.table.lock().remove(&conn.id).is_some() {
            self.transport.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Resolves when `conn` must be closed, and says why (counted on `/metrics`).
    pub async fn watchdog(&self, conn: &Conn) -> Closed {
        let limits = &self.transport.limits;
        let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u64;
        let (header, idle) = (ms(limits.header_timeout), ms(limits.idle_timeout));
        loop {
            let head = conn.head_since_ms.load(Ordering::Relaxed);
            let due = if !conn.is_idle() {
                None
            } else if head != NO_HEAD {
                Some((head.saturating_add(header), Closed::HeaderTimeout))
            } else {
                Some((conn.quiet_since().saturating_add(idle), Closed::Idle))
            };
            if let Some((_, why)) = due.filter(|(d, _)| *d <= conn.now_ms()) {
                let counter = match why {
                    Closed::HeaderTimeout => &self.transport.stats.header_timeouts,
                    _ => &self.transport.stats.idle_timeouts,
                };
                TransportStats::bump(counter);
                return why;
            }
            let sleep = async {
                match due {
                    Some((deadline, _)) => {
                        tokio::time::sleep_until(conn.origin + Duration::from_millis(deadline)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = conn.wake.notified() => {}
                () = conn.close.notified() => return Closed::Evicted,
            }
        }
    }
}

/// A socket whose reads mark its connection's activity.
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    conn: Arc<Conn>,
}

impl<T> Watched<T> {
    /// Watches `inner` for `conn`.
    pub fn new(inner: T, conn: Arc<Conn>) -> Watched<T> {
        Watched { inner, conn }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router as the hyper service of one connection: each request counts as in flight on
/// `conn` from the handler's call until its answer's body is dropped (sent whole or cut).
pub fn tracked(
    app: axum::Router,
    conn: Arc<Conn>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<Tracked>,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<hyper::Response<Tracked>, std::convert::Infallible>> + Send + 'static,
> + Clone
       + Send
       + 'static {
    let service = move |req: hyper::Request<hyper::body::Incoming>| {
        let guard = conn.begin();
        let app = app.clone();
        async move {
            let resp = tower::ServiceExt::oneshot(app, req).await?;
            Ok(resp.map(|inner| Tracked { inner, _guard: guard }))
        }
    };
    hyper::service::service_fn(service)
}

/// An answer's body that ends its request's time in flight when dropped.
#[derive(Debug)]
pub struct Tracked {
    inner: axum::body::Body,
    _guard: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
