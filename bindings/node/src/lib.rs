//! Node.js bindings for `incident-core`, built with napi-rs v3.
//!
//! Glue only: one file per core module converts JS values to core types and back, and every core error
//! becomes a JS `Error` with a stable `code` (see its `error` module). Sync exports carry `#[napi(strict, catch_unwind)]`
//! so a Rust panic throws instead of aborting Node. Async exports run on a libuv worker thread inside
//! the simulator's paused-clock runtime (see [`task`]).

pub mod backends;
pub mod classify;
pub mod comms;
pub mod detector;
pub mod drill;
pub mod drills;
pub mod engine;
mod error;
pub mod evidence;
pub mod incident;
pub mod incidents;
pub mod ingest;
pub mod library;
pub mod policy;
pub mod postmortem;
pub mod task;
pub mod timeline;
pub mod triage;
pub mod wire;

use napi_derive::napi;

/// The package version (same as the Cargo workspace version).
#[napi(strict, catch_unwind)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Every error code (`incident_core::ErrorKind::ALL`, as strings) with whether it is retryable
/// (`ErrorKind::is_retryable`): the JS layer builds its error classes and `retryable` from this.
#[napi(strict, catch_unwind, js_name = "_errorKinds")]
pub fn error_kinds() -> Vec<ErrorKindInfo> {
    incident_core::ErrorKind::ALL
        .into_iter()
        .map(|k| ErrorKindInfo { code: k.as_str().to_owned(), retryable: k.is_retryable() })
        .collect()
}

/// One `incident_core::ErrorKind`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ErrorKindInfo {
    /// The stable code (`invalid_input`, ...).
    pub code: String,
    /// Retrying the same call may succeed.
    pub retryable: bool,
}

/// Test hook: panics with `message` inside a `catch_unwind` export; the panic must surface as a thrown
/// `Error` (code `internal` after the JS layer), never abort the process.
#[napi(strict, catch_unwind, js_name = "_panicForTests")]
pub fn panic_for_tests(message: String) -> napi::Result<()> {
    panic!("{message}")
}
