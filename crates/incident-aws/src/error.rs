//! Mapping of AWS SDK errors onto [`incident_core::ErrorKind`], with secrets scrubbed from every message.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use incident_core::redact::Redactor;
use incident_core::{Error, ErrorKind};

/// Error codes AWS uses for throttling (retryable, `Unavailable`).
const THROTTLING: [&str; 9] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// Error codes meaning "your identity may not do this" or "your credentials are not valid".
const DENIED: [&str; 10] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "NotAuthorized",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
];

/// The values that must never appear in a message (secret access keys, session tokens) plus the pattern
/// rules (access key ids, signatures, ...): `incident_core::redact`'s [`Redactor`].
pub(crate) fn redactor(secrets: &[String]) -> Redactor {
    // Very short values would blank unrelated text; real secret keys and tokens are long.
    Redactor::new().with_secrets(secrets.iter().filter(|s| s.len() >= 4))
}

/// A scrubbed, owned copy of a lower-level error, kept as the `source` of our errors so the chain is
/// inspectable without carrying SDK internals (raw responses) around.
#[derive(Debug)]
struct Cause(String);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cause {}

/// Whether a request is a mutation: for those, a lost response or a timeout is reported with
/// `request_maybe_sent()` so the executor reconciles instead of retrying blindly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// A read.
    Read,
    /// A mutation.
    Mutation,
}

/// Classify an AWS error code (and HTTP status) into an [`ErrorKind`].
pub(crate) fn kind_of(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    let code = code.unwrap_or_default();
    if THROTTLING.contains(&code) || status == Some(429) {
        return ErrorKind::Unavailable;
    }
    if DENIED.contains(&code) || code.starts_with("AccessDenied") {
        return ErrorKind::PermissionDenied;
    }
    if code.contains("NotFound") || code.starts_with("NoSuch") {
        return ErrorKind::NotFound;
    }
    if code.starts_with("InvalidParameter")
        || code.starts_with("InvalidInput")
        || code == "ValidationError"
        || code == "ValidationException"
        || code == "InvalidChangeBatch"
        || code == "InvalidRestoreFault"
        || code == "InvalidRestoreTime"
        || code == "MissingParameter"
        || code == "InvalidArgument"
    {
        return ErrorKind::InvalidInput;
    }
    if code.contains("AlreadyExists") || code.starts_with("Invalid") && code.contains("State") {
        return ErrorKind::Conflict;
    }
    if code.contains("QuotaExceeded") || code.contains("LimitExceeded") {
        return ErrorKind::Refused;
    }
    match status {
        Some(s) if s >= 500 => ErrorKind::Unavailable,
        Some(401 | 403) => ErrorKind::PermissionDenied,
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(400..=499) => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    }
}

/// Map an SDK error of operation `op` (e.g. `rds:PromoteReadReplica`) to our error.
pub(crate) fn map_sdk<E>(redactor: &Redactor, op: &str, call: Call, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = redactor.scrub(&DisplayErrorContext(&err).to_string());
    let cause = Cause(detail.clone());
    let mutation = call == Call::Mutation;
    let e = match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code();
            let message = se.err().message().map(|m| redactor.scrub(m));
            let kind = kind_of(code, Some(status));
            let text = match (code, message) {
                (Some(c), Some(m)) if !m.is_empty() => format!("{op} failed: {c}: {m}"),
                (Some(c), _) => format!("{op} failed: {c} (HTTP {status})"),
                (None, _) => format!("{op} failed: HTTP {status}"),
            };
            Error::new(kind, text)
        }
        SdkError::TimeoutError(_) => {
            let e = Error::new(ErrorKind::Timeout, format!("{op} timed out"));
            if mutation { e.request_maybe_sent() } else { e }
        }
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                let e = Error::new(ErrorKind::Timeout, format!("{op} timed out: {detail}"));
                if mutation { e.request_maybe_sent() } else { e }
            } else if d.is_user() || detail.contains("credentials") {
                Error::new(ErrorKind::PermissionDenied, format!("{op} could not be signed: {detail}"))
            } else {
                // Connection refused / reset, DNS failure: the request did not complete. An I/O error
                // after the request was written may have reached the backend.
                let e = Error::new(ErrorKind::Unavailable, format!("{op}: AWS endpoint unreachable: {detail}"));
                if mutation && d.is_io() { e.request_maybe_sent() } else { e }
            }
        }
        SdkError::ResponseError(_) => {
            let e = Error::new(ErrorKind::Unavailable, format!("{op}: unreadable response: {detail}"));
            if mutation { e.request_maybe_sent() } else { e }
        }
        SdkError::ConstructionFailure(_) => {
            if detail.contains("credentials") {
                Error::new(ErrorKind::PermissionDenied, format!("{op}: no usable AWS credentials: {detail}"))
            } else {
                Error::new(ErrorKind::InvalidInput, format!("{op}: invalid request: {detail}"))
            }
        }
        _ => Error::new(ErrorKind::Internal, format!("{op} failed: {detail}")),
    };
    e.with_source(cause)
}

/// An `InvalidInput` for a request we refuse to build (a builder rejected a missing field).
pub(crate) fn build_error(what: &str, e: impl fmt::Display) -> Error {
    Error::invalid_input(format!("cannot build {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of(Some("Throttling"), Some(400)), ErrorKind::Unavailable);
        assert_eq!(kind_of(Some("ThrottlingException"), Some(400)), ErrorKind::Unavailable);
        assert_eq!(kind_of(None, Some(503)), ErrorKind::Unavailable);
        assert_eq!(kind_of(Some("InternalFailure"), Some(500)), ErrorKind::Unavailable);
        assert_eq!(kind_of(Some("AccessDenied"), Some(403)), ErrorKind::PermissionDenied);
        assert_eq!(kind_of(Some("AccessDeniedException"), Some(400)), ErrorKind::PermissionDenied);
        assert_eq!(kind_of(Some("DBInstanceNotFound"), Some(404)), ErrorKind::NotFound);
        assert_eq!(kind_of(Some("NoSuchHostedZone"), Some(404)), ErrorKind::NotFound);
        assert_eq!(kind_of(Some("InvalidParameterValue"), Some(400)), ErrorKind::InvalidInput);
        assert_eq!(kind_of(Some("InvalidParameterCombination"), Some(400)), ErrorKind::InvalidInput);
        assert_eq!(kind_of(Some("InvalidChangeBatch"), Some(400)), ErrorKind::InvalidInput);
        assert_eq!(kind_of(Some("DBInstanceAlreadyExists"), Some(400)), ErrorKind::Conflict);
        assert_eq!(kind_of(Some("InvalidDBInstanceState"), Some(400)), ErrorKind::Conflict);
        assert_eq!(kind_of(Some("Weird"), None), ErrorKind::Internal);
    }
}
