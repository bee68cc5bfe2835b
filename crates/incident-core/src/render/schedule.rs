//! The monthly drill schedule (`incident drills next`).

use crate::comms::format_utc;
use crate::drills::ScheduledDrill;

/// One line per scheduled drill: `START  KIND (Friday #N)`.
#[must_use]
pub fn drill_schedule(drills: &[ScheduledDrill]) -> String {
    drills
        .iter()
        .map(|d| format!("{}  {} (Friday #{})", format_utc(d.starts_at), d.kind.as_str(), d.nth_friday))
        .collect::<Vec<_>>()
        .join("\n")
}
