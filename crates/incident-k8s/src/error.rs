//! kube-rs errors as [`incident_core::Error`]s: the HTTP status decides the kind, the message keeps the
//! apiserver's own words (which name the verb, resource and user on an RBAC denial).

use incident_core::{Error, ErrorKind};

/// Map a kube-rs error to the core's error, prefixed with `what` (e.g. `scale deployment ml/api`).
pub(crate) fn map(what: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(status) => {
            let code = status.code;
            let reason = if status.reason.is_empty() { String::new() } else { format!(" ({})", status.reason) };
            let msg = format!("{what}: {}{reason} [HTTP {code}]", status.message);
            Error::new(kind_of_status(code), msg)
        }
        kube::Error::HyperError(e) => {
            Error::new(ErrorKind::Unavailable, format!("{what}: connection failed: {}", chain(&e)))
        }
        kube::Error::Service(e) => {
            let text = chain(&*e);
            let kind = if text.to_ascii_lowercase().contains("timed out") || text.contains("elapsed") {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            };
            Error::new(kind, format!("{what}: {text}"))
        }
        kube::Error::SerdeError(e) => Error::internal(format!("{what}: unexpected response from the apiserver: {e}")),
        kube::Error::Discovery(e) => Error::not_found(format!("{what}: {e}")),
        other => Error::new(ErrorKind::Unavailable, format!("{what}: {other}")),
    }
}

/// An error with its sources (`client error (Connect): dns error: failed to lookup address ...`): the
/// outer text alone rarely says what went wrong with a connection.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = s.source();
    }
    text
}

/// The core kind for an HTTP status from the apiserver.
pub(crate) fn kind_of_status(code: u16) -> ErrorKind {
    match code {
        400 | 422 => ErrorKind::InvalidInput,
        401 | 403 => ErrorKind::PermissionDenied,
        404 | 410 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        412 => ErrorKind::PreconditionFailed,
        408 | 504 => ErrorKind::Timeout,
        _ => ErrorKind::Unavailable,
    }
}

/// `true` when the error is a 404 from the apiserver (a read that found nothing).
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_of_status(403), ErrorKind::PermissionDenied);
        assert_eq!(kind_of_status(401), ErrorKind::PermissionDenied);
        assert_eq!(kind_of_status(404), ErrorKind::NotFound);
        assert_eq!(kind_of_status(409), ErrorKind::Conflict);
        assert_eq!(kind_of_status(422), ErrorKind::InvalidInput);
        assert_eq!(kind_of_status(429), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(503), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(504), ErrorKind::Timeout);
    }
}
