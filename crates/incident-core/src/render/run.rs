//! An executed (or resumed) run (`incident run`, `incident resume`).

use std::fmt::Write as _;

use crate::engine::RunReport;

/// `run ID (PROCEDURE): STATUS`, one line per step with its status and error, and one `left:` line per
/// change left in place.
#[must_use]
pub fn run_report(report: &RunReport) -> String {
    let mut s = format!("run {} ({}): {}\n", report.run_id, report.procedure, report.status);
    for st in &report.steps {
        let _ = writeln!(
            s,
            "  {:<28} {}{}",
            st.id,
            st.status,
            st.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    for l in &report.left_state {
        let _ = writeln!(s, "  left: {l}");
    }
    s
}
