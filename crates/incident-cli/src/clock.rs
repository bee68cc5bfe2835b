//! Times on the command line: RFC 3339 flags, and the wall clock when a time is not given (the CLI is
//! where the real clock is wired).

use chrono::{DateTime, Utc};
use incident_core::{Error, Result};

/// Wall-clock "now" for commands whose time is not given.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_now() -> DateTime<Utc> {
    Utc::now()
}

/// Parse an RFC 3339 time flag.
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        Error::invalid_input(format!("invalid time {s:?}: {e} (expected RFC 3339, e.g. 2026-11-26T14:05:00Z)"))
    })
}

/// The time `t` names, or the wall clock's now.
pub(crate) fn time_or_now(t: Option<&String>) -> Result<DateTime<Utc>> {
    t.map_or_else(|| Ok(wall_now()), |s| parse_time(s))
}
