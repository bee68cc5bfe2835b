//! A severity and the rules that fired (`incident classify`, and the middle of `incident declare`).

use std::fmt::Write as _;

use crate::classify::Classification;
use crate::{Policy, Severity};

/// `"{severity} ({label}): respond within {time}, escalate {window} to {roles}"`: what a severity asks of
/// the responders under `policy`.
#[must_use]
pub fn severity_line(policy: &Policy, sev: Severity) -> String {
    let p = policy.severities.get(sev);
    let who: Vec<&str> = p.escalation.iter().map(|r| r.title()).collect();
    format!(
        "{sev} ({label}): respond within {rt}, escalate {window} to {who}",
        label = sev.label(),
        rt = p.response_time,
        window = p.escalation_window.phrase(),
        who = who.join(", "),
    )
}

/// The classification explained: the [`severity_line`] and one line per rule that fired, or what is
/// missing when no rule matched.
#[must_use]
pub fn classification(policy: &Policy, c: &Classification) -> String {
    let mut out = String::new();
    match c.severity() {
        None => out.push_str(
            "insufficient facts: no runbook severity rule matched (state outage scope, errors, degradation, data \
             loss, security or revenue impact)",
        ),
        Some(sev) => {
            out.push_str(&severity_line(policy, sev));
            for r in c.reasons() {
                let _ = write!(out, "\n  - {} {} [{}]", r.severity, r.text, r.rule);
            }
        }
    }
    out
}
