//! A declaration (`incident declare`): the rules sustained, the severity, the channel, the ticket and who
//! to notify; or why nothing was declared.

use std::fmt::Write as _;

use crate::Policy;
use crate::classify::Classification;
use crate::comms::format_utc;
use crate::detector::Declaration;
use crate::incident::Stakeholder;

/// What a declaration produced, as [`declared`] prints it.
#[derive(Debug, Clone, Copy)]
pub struct Declared<'a> {
    /// The sustained rules, in the order they fired.
    pub declarations: &'a [Declaration],
    /// The incident's classification.
    pub classification: &'a Classification,
    /// The incident channel's name.
    pub channel: &'a str,
    /// The ticket text.
    pub ticket: &'a str,
    /// Who to notify.
    pub stakeholders: &'a [Stakeholder],
}

/// The declaration: one `DECLARE` line per sustained rule, the classification, the channel, the ticket
/// and the stakeholders to notify.
#[must_use]
pub fn declared(policy: &Policy, d: &Declared<'_>) -> String {
    let mut out = String::new();
    for decl in d.declarations {
        let _ = writeln!(
            out,
            "DECLARE {}: {} (sustained {}s since {})",
            decl.service,
            decl.rule.words(),
            decl.sustained_for().num_seconds(),
            format_utc(decl.window_start)
        );
    }
    let _ = writeln!(out, "\n{}", super::classification(policy, d.classification));
    let _ = writeln!(out, "\nChannel: {}\n\n{}\n", d.channel, d.ticket);
    out.push_str("Notify:\n");
    for s in d.stakeholders {
        let _ = writeln!(out, "  - {}", s.label());
    }
    out
}

/// Why no incident was declared over `observations` samples, `out_of_order` and `invalid` of which the
/// detector set aside.
#[must_use]
pub fn no_declaration(observations: usize, out_of_order: u64, invalid: u64) -> String {
    format!(
        "no incident: no declaration rule was sustained over {observations} observation(s) ({out_of_order} out of \
         order ignored, {invalid} invalid rejected)"
    )
}
