//! The runbook's library procedures (`incident procedure list`).

/// One line per `(name, description)`, names in a column.
#[must_use]
pub fn procedure_list(procedures: &[(String, String)]) -> String {
    procedures.iter().map(|(n, d)| format!("{n:<22} {d}")).collect::<Vec<_>>().join("\n")
}
