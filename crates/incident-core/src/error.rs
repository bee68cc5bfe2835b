//! The crate's error type: one enum, a stable [`ErrorKind`], and the two questions a resumable executor
//! needs answered (`is_retryable`, `request_may_have_been_sent`).

use std::fmt;

/// A stable classification of every error this crate (and its adapters) can return.
///
/// Bindings map each kind one-to-one onto a host exception class (Python) or error `code` (Node), so the
/// set only grows and the string forms never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A policy file or policy value is invalid.
    Policy,
    /// Caller input (payload, argument, file) is malformed or out of range.
    InvalidInput,
    /// The named object does not exist.
    NotFound,
    /// The object exists in a state that conflicts with the request (e.g. an illegal status transition,
    /// a concurrent executor holding the step).
    Conflict,
    /// A backend refused for lack of permission (RBAC, IAM).
    PermissionDenied,
    /// A deadline passed.
    Timeout,
    /// A backend is unreachable or throttling; usually retryable.
    Unavailable,
    /// Live state no longer matches what a plan or step expected (stale plan, failed verification).
    PreconditionFailed,
    /// A guard rail refused the request (missing approval, namespace not allowed, replica limit, ...).
    Refused,
    /// A stored timeline or journal failed its integrity check.
    Integrity,
    /// A bug: an invariant of this library was broken.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order: the bindings build their error classes / codes from this.
    pub const ALL: [Self; 11] = [
        Self::Policy,
        Self::InvalidInput,
        Self::NotFound,
        Self::Conflict,
        Self::PermissionDenied,
        Self::Timeout,
        Self::Unavailable,
        Self::PreconditionFailed,
        Self::Refused,
        Self::Integrity,
        Self::Internal,
    ];

    /// Whether retrying the same request may succeed: `Unavailable` and `Timeout`. The one place the rule
    /// lives (`Error::is_retryable`, Python's `retryable` and Node's `retryable` read it).
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(self, Self::Unavailable | Self::Timeout)
    }

    /// The stable string used by the bindings (`err.code` in Node, the exception name in Python).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PermissionDenied => "permission_denied",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::PreconditionFailed => "precondition_failed",
            Self::Refused => "refused",
            Self::Integrity => "integrity",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type of `incident-core`.
///
/// `Display` is a one-line reason naming what is wrong; a lower-level cause, when there is one, is
/// reachable through [`std::error::Error::source`] and is not repeated in the message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// For mutating requests: `true` when the request may have reached the backend (a timeout after
    /// sending, a connection reset mid-response). The executor then reconciles against live state instead
    /// of blindly retrying.
    maybe_sent: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a one-line `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), maybe_sent: false, source: None }
    }

    /// Attach a lower-level cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Mark that a mutating request may have reached the backend before this error.
    #[must_use]
    pub fn request_maybe_sent(mut self) -> Self {
        self.maybe_sent = true;
        self
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Policy`].
    pub fn policy(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Policy, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// Shorthand for [`ErrorKind::Refused`] (a guard rail said no).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Shorthand for [`ErrorKind::Timeout`].
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// Shorthand for [`ErrorKind::PreconditionFailed`].
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PreconditionFailed, message)
    }

    /// Shorthand for [`ErrorKind::Integrity`].
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The stable kind of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The one-line message (without the source chain).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying the same request may succeed (throttling, unavailability, timeouts).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Whether a mutating request may have reached the backend (see [`Error::request_maybe_sent`]).
    #[must_use]
    pub fn request_may_have_been_sent(&self) -> bool {
        self.maybe_sent
    }

    /// Prefix the message with context (`"{context}: {message}"`), keeping kind and source.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl Clone for Error {
    /// Clones kind, message and the sent flag; the source chain is flattened into text.
    fn clone(&self) -> Self {
        let mut message = self.message.clone();
        if let Some(src) = &self.source {
            message = format!("{message} ({src})");
        }
        Self { kind: self.kind, message, maybe_sent: self.maybe_sent, source: None }
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_only_for_transient_kinds() {
        assert!(Error::unavailable("x").is_retryable());
        assert!(Error::timeout("x").is_retryable());
        assert!(!Error::refused("x").is_retryable());
        assert!(!Error::invalid_input("x").is_retryable());
    }

    #[test]
    fn display_does_not_repeat_source() {
        let io = std::io::Error::other("disk gone");
        let e = Error::unavailable("store unreachable").with_source(io);
        assert_eq!(e.to_string(), "store unreachable");
        assert_eq!(std::error::Error::source(&e).map(ToString::to_string).as_deref(), Some("disk gone"));
    }
}
