//! The accept loop: hyper HTTP/1.1 connections with a header-read timer, an idle timeout and a cap on
//! open connections (the longest-idle one is shed to let a new one in), and graceful shutdown.
//!
//! * **Header timeout** — hyper's `header_read_timeout` (with a tokio timer): the request head must
//!   arrive within it, counted from when the connection starts waiting for one (so a silent or idle
//!   keep-alive connection is bounded by it as well).
//! * **Body timeout** — the handlers read the body under a deadline (`408`, see `http.rs`).
//! * **Idle timeout** — a connection with no request in progress for longer is closed.
//! * **Connection cap** — `receiver.max_connections`, kept below the file-descriptor limit (raised to
//!   its hard limit at start). At the cap, the connection idle the longest (no request in progress; a
//!   slowloris sending headers counts as idle) is closed; when every connection is busy, the new one is
//!   refused.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::metrics::{Metrics, TimeoutKind};

/// File descriptors kept for everything but connections (store, logs, outbound fetches, the runtime).
pub(crate) const FD_RESERVE: u64 = 64;

/// The limits the accept loop applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    /// Requests in progress at shutdown get this long to finish.
    pub(crate) drain: Duration,
}

/// One open connection, as the accept loop sees it.
#[derive(Debug)]
struct Conn {
    /// Requests in progress.
    busy: AtomicUsize,
    /// When the last request finished (or the connection opened), milliseconds since `epoch`.
    idle_since_ms: AtomicU64,
    /// Close now (shed at the cap).
    kill: Notify,
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    metrics: Arc<Metrics>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admit a new connection: at `cap`, shed the longest-idle one first; `None` when every connection
    /// is busy (the new one is refused).
    fn admit(&self, id: u64, cap: usize) -> Option<Arc<Conn>> {
        let mut conns = self.lock();
        if conns.len() >= cap {
            let victim = conns
                .iter()
                .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, c)| c.idle_since_ms.load(Ordering::Acquire))
                .map(|(id, _)| *id);
            self.metrics.shed();
            let victim = victim?;
            if let Some(c) = conns.remove(&victim) {
                c.kill.notify_one();
            }
        }
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            kill: Notify::new(),
        });
        conns.insert(id, Arc::clone(&conn));
        self.metrics.set_open_connections(conns.len());
        Some(conn)
    }

    /// Shed the longest-idle connection (out of file descriptors).
    fn shed_one(&self) {
        let mut conns = self.lock();
        let victim = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.idle_since_ms.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        if let Some(c) = victim.and_then(|v| conns.remove(&v)) {
            self.metrics.shed();
            c.kill.notify_one();
        }
        self.metrics.set_open_connections(conns.len());
    }

    fn remove(&self, id: u64) {
        let mut conns = self.lock();
        conns.remove(&id);
        self.metrics.set_open_connections(conns.len());
    }
}

/// Marks a request in progress on its connection until dropped.
struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Busy {
    fn new(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Self { conn, registry }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn.idle_since_ms.store(self.registry.now_ms(), Ordering::Release);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; the soft limit in force afterwards (`None` when it
/// cannot be read, or is unlimited).
pub(crate) fn raise_nofile_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "receiver: cannot raise the file-descriptor limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The connection cap: `max_connections`, below the file-descriptor limit less [`FD_RESERVE`].
pub(crate) fn connection_cap(max_connections: usize, nofile: Option<u64>) -> usize {
    let by_fds = nofile.map_or(usize::MAX, |n| usize::try_from(n.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX));
    max_connections.min(by_fds).max(1)
}

/// Whether an accept error means "out of file descriptors".
fn out_of_fds(e: &std::io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|c| c == rustix::io::Errno::MFILE.raw_os_error() || c == rustix::io::Errno::NFILE.raw_os_error())
}

/// Serve `router` on `listener` until `shutdown` completes; then stop accepting, let requests in
/// progress finish (idle connections close at once) and return when every connection is closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry { epoch: Instant::now(), conns: Mutex::new(HashMap::new()), metrics });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        // Reap finished connection tasks as we go.
        while tasks.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                if out_of_fds(&e) {
                    tracing::warn!(error = %e, "receiver: out of file descriptors; shedding an idle connection");
                    registry.shed_one();
                } else {
                    tracing::warn!(error = %e, "receiver: accept failed");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        next_id += 1;
        let Some(conn) = registry.admit(next_id, limits.max_connections) else {
            tracing::warn!("receiver: connection cap reached and every connection busy; refusing a connection");
            drop(stream);
            continue;
        };
        tasks.spawn(connection(stream, next_id, conn, Arc::clone(&registry), router.clone(), limits, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = tasks.len(), drain = ?limits.drain, "receiver: requests still in progress after the drain timeout; closing them");
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

async fn connection(
    stream: TcpStream,
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    router: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = {
        let (conn, registry) = (Arc::clone(&conn), Arc::clone(&registry));
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = Busy::new(Arc::clone(&conn), Arc::clone(&registry));
            let router = router.clone();
            async move {
                let resp = router.oneshot(req.map(axum::body::Body::new)).await;
                drop(busy);
                resp
            }
        })
    };
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(http);
    let mut draining = *stop.borrow();
    if draining {
        http.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = if conn.busy.load(Ordering::Acquire) == 0 {
            let idle_since = registry.epoch + Duration::from_millis(conn.idle_since_ms.load(Ordering::Acquire));
            idle_since + limits.idle_timeout
        } else {
            Instant::now() + limits.idle_timeout
        };
        tokio::select! {
            r = http.as_mut() => {
                if let Err(e) = r {
                    if e.is_timeout() {
                        registry.metrics.timeout(TimeoutKind::Header);
                    } else {
                        tracing::debug!(error = %e, "receiver: connection error");
                    }
                }
                break;
            }
            () = conn.kill.notified() => break,
            changed = stop.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    http.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let idle_ms = registry.now_ms().saturating_sub(conn.idle_since_ms.load(Ordering::Acquire));
                if conn.busy.load(Ordering::Acquire) == 0 && Duration::from_millis(idle_ms) >= limits.idle_timeout {
                    registry.metrics.timeout(TimeoutKind::Idle);
                    break;
                }
            }
        }
    }
    registry.remove(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(512, Some(1024)), 512);
        assert_eq!(connection_cap(512, Some(128)), 64);
        assert_eq!(connection_cap(512, None), 512);
        assert_eq!(connection_cap(512, Some(10)), 1);
    }
}
