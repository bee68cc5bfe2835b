//! Shared PostgreSQL plumbing: one-off connections driven in the caller's task (no spawned task), and the
//! mapping of `tokio_postgres` errors onto [`ErrorKind`]s with redacted messages ([`classify`] and
//! [`millis`] are also used by `incident_store::PgStore`).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use incident_core::{Error, ErrorKind, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::secret::ConnectionString;

/// Notices (`VACUUM VERBOSE` output, warnings) the server sent on a connection.
pub(crate) type Notices = Arc<Mutex<Vec<String>>>;

/// Connect to `target` (within `timeout`), run `work` with the client and drive the connection in the same
/// task until `work` returns and drops the client. Server notices are collected into `notices`.
pub(crate) async fn with_client<T, F, Fut>(
    target: &ConnectionString,
    application_name: &str,
    timeout: Duration,
    notices: Option<Notices>,
    work: F,
) -> Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    let mut config = target.config().clone();
    config.application_name(application_name);
    config.connect_timeout(timeout);
    let connect = config.connect(NoTls);
    let (client, mut connection) = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(map_error(target, "connect", &e).with_source(e)),
        Err(_) => {
            return Err(Error::timeout(format!(
                "postgres {target}: connect: no connection within {} ms",
                timeout.as_millis()
            )));
        }
    };
    let drive = std::future::poll_fn(move |cx| {
        loop {
            match connection.poll_message(cx) {
                Poll::Ready(Some(Ok(AsyncMessage::Notice(n)))) => {
                    if let Some(sink) = &notices {
                        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
                        sink.push(format!("{}: {}", n.severity(), n.message()));
                    }
                }
                Poll::Ready(Some(Ok(_))) => {}
                // A broken connection surfaces as errors of the client's queries.
                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    });
    let (out, ()) = tokio::join!(work(client), drive);
    Ok(out)
}

/// The error of `op` on `target`: kind from the SQLSTATE or the transport failure, message with the
/// (scrubbed) server message. The caller attaches `e` as the source.
pub(crate) fn map_error(target: &ConnectionString, op: &str, e: &tokio_postgres::Error) -> Error {
    let (kind, what) = classify(e);
    let detail = e.as_db_error().map(|db| target.scrub(db.message()));
    let msg = match detail {
        Some(d) => format!("postgres {target}: {op}: {what}: {d}"),
        None => format!("postgres {target}: {op}: {what}"),
    };
    Error::new(kind, msg)
}

/// `(kind, short reason)` of a `tokio_postgres` error.
pub fn classify(e: &tokio_postgres::Error) -> (ErrorKind, &'static str) {
    if let Some(code) = e.code() {
        let c = code.code();
        return match code {
            _ if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED => {
                (ErrorKind::Unavailable, "serialization failure or deadlock (retry)")
            }
            _ if *code == SqlState::UNIQUE_VIOLATION => (ErrorKind::Conflict, "unique constraint violated"),
            _ if *code == SqlState::FOREIGN_KEY_VIOLATION => (ErrorKind::NotFound, "referenced row does not exist"),
            _ if *code == SqlState::QUERY_CANCELED => (ErrorKind::Timeout, "statement timed out or was cancelled"),
            _ if *code == SqlState::LOCK_NOT_AVAILABLE => (ErrorKind::Timeout, "lock not available in time"),
            _ if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                (ErrorKind::PermissionDenied, "authentication failed")
            }
            _ if *code == SqlState::INSUFFICIENT_PRIVILEGE => (ErrorKind::PermissionDenied, "permission denied"),
            _ if *code == SqlState::TOO_MANY_CONNECTIONS => (ErrorKind::Unavailable, "too many connections"),
            _ if *code == SqlState::READ_ONLY_SQL_TRANSACTION => {
                (ErrorKind::Unavailable, "the database is read-only (standby or default_transaction_read_only)")
            }
            _ if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED => {
                (ErrorKind::Integrity, "data or index corruption reported by the server")
            }
            _ if *code == SqlState::INVALID_CATALOG_NAME => (ErrorKind::NotFound, "database does not exist"),
            _ if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => {
                (ErrorKind::Unavailable, "server unavailable")
            }
            _ if c.starts_with("42") || c.starts_with("22") || c.starts_with("21") => {
                (ErrorKind::InvalidInput, "the statement was refused")
            }
            _ => (ErrorKind::Internal, "unexpected database error"),
        };
    }
    if e.is_closed() {
        return (ErrorKind::Unavailable, "connection closed");
    }
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => (ErrorKind::Unavailable, "connection refused"),
        Some(std::io::ErrorKind::TimedOut) => (ErrorKind::Timeout, "connection timed out"),
        Some(_) => (ErrorKind::Unavailable, "network error"),
        None => {
            // tokio-postgres reports connect timeouts and DNS failures without an io source kind we can
            // rely on; its Display is fixed text without user data.
            let text = e.to_string();
            if text.contains("timeout") || text.contains("timed out") {
                (ErrorKind::Timeout, "connection timed out")
            } else {
                (ErrorKind::Unavailable, "cannot reach the server")
            }
        }
    }
}

/// A `std::time::Duration` as whole milliseconds for `SET statement_timeout` (at least 1).
#[must_use]
pub fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}
