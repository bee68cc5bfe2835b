//! A drill's live log (`incident drill`): one line per stage start, stage end and log line, stamped with
//! the virtual time since the drill began.

use crate::drill_run::DrillEvent;

/// `+HH:MM:SS` for `secs` seconds since the drill began (negative counts as 0).
#[must_use]
pub fn drill_offset(secs: i64) -> String {
    let secs = secs.max(0);
    format!("+{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

/// The live-log line of `event` at `offset` (from [`drill_offset`]): `▶ STAGE (budget B)` when a stage
/// starts, `■ STAGE Ns VERDICT` when it ends (`FAILED`, `over budget`, `within budget`, or `done` without
/// a budget), the text of a log line indented.
#[must_use]
pub fn drill_event(offset: &str, event: &DrillEvent) -> String {
    match event {
        DrillEvent::StageStarted { stage, budget, .. } => {
            format!("{offset} ▶ {stage}{}", budget.map(|b| format!(" (budget {b})")).unwrap_or_default())
        }
        DrillEvent::StageFinished { result } => {
            let verdict = match (result.ok, result.within_budget) {
                (false, _) => "FAILED",
                (true, Some(false)) => "over budget",
                (true, Some(true)) => "within budget",
                (true, None) => "done",
            };
            format!("{offset} ■ {} {}s {verdict}", result.stage, result.elapsed_secs)
        }
        DrillEvent::Log { text, .. } => format!("{offset}   {text}"),
    }
}
