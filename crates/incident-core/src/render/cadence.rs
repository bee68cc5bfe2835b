//! When the next updates are due and which are late (`incident comms cadence`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::comms::{CadenceStatus, format_utc};

/// The next internal and status-page updates (`none` when not due), then one `OVERDUE` line per late one.
#[must_use]
pub fn cadence_status(status: &CadenceStatus) -> String {
    let fmt = |t: Option<DateTime<Utc>>| t.map_or_else(|| "none".to_owned(), format_utc);
    let mut s = format!(
        "next internal update: {}\nnext status-page update: {}",
        fmt(status.next_internal_due),
        fmt(status.next_status_page_due)
    );
    for o in &status.overdue {
        let _ = write!(s, "\nOVERDUE {} update: due {} ({}s late)", o.kind, format_utc(o.due_at), o.late_by.as_secs());
    }
    s
}
