//! Working a live incident (`incident list`, `show`, `ack`, `assign`, `severity`, `status`, `note`,
//! `mitigated`, `resolve`): the text for [`crate::lifecycle`]'s values.

use std::fmt::Write as _;

use crate::cadence::UpdateAttempt;
use crate::comms::format_utc;
use crate::escalation::EscalationState;
use crate::incident::{Incident, describe_contact};
use crate::lifecycle::{Change, ChangeOutcome, IncidentView};
use crate::text::neutralise;

/// One line per incident (`INC-... [P1] identified  declared 2026-11-26 14:05 UTC  IC alice  title`),
/// newest first; `No incidents.` for none.
#[must_use]
pub fn incident_list(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "No incidents.".into();
    }
    let width = incidents.iter().map(|i| i.id.chars().count()).max().unwrap_or(0);
    let status_width = incidents.iter().map(|i| i.status.to_string().len()).max().unwrap_or(0);
    let mut s = String::new();
    for i in incidents {
        let ack = if i.acknowledged_at.is_some() || i.resolved_at.is_some() { "" } else { "  UNACKNOWLEDGED" };
        let _ = writeln!(
            s,
            "{:<width$}  [{}] {:<status_width$}  declared {}  IC {}  {}{ack}",
            neutralise(&i.id),
            i.severity,
            i.status.to_string(),
            format_utc(i.declared_at),
            neutralise(&i.commander),
            neutralise(&i.title),
        );
    }
    s.trim_end().to_owned()
}

/// Everything about one incident: summary, roles, stakeholders, cadence, metrics, runs, timeline.
#[must_use]
pub fn incident_view(v: &IncidentView) -> String {
    let i = &v.incident;
    let mut s = String::new();
    let _ = writeln!(s, "Incident {}: [{}] {}", neutralise(&i.id), i.severity, neutralise(&i.title));
    let _ = writeln!(s, "Status: {}", i.status);
    let _ = writeln!(s, "Channel: {}", i.channel);
    let _ = writeln!(s, "Impact: {}", if i.impact.is_empty() { "(not yet assessed)" } else { &i.impact });
    let components = if i.components.is_empty() { "(none)".to_owned() } else { i.components.join(", ") };
    let _ = writeln!(s, "Components: {}", neutralise(&components));
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "-".to_owned(), format_utc);
    let _ = writeln!(s, "Declared: {}", format_utc(i.declared_at));
    let _ = writeln!(s, "Acknowledged: {}", when(i.acknowledged_at));
    let _ = writeln!(s, "Mitigated: {}", when(i.mitigated_at));
    let _ = writeln!(s, "Resolved: {}", when(i.resolved_at));
    if let Some(rc) = &i.root_cause {
        let _ = writeln!(s, "Root cause: {}", neutralise(rc));
    }
    if let Some(r) = &i.resolution {
        let _ = writeln!(s, "Resolution: {}", neutralise(r));
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Roles:");
    let _ = writeln!(s, "- Incident commander: {}", neutralise(&v.roles.commander));
    let none = || "(unassigned)".to_owned();
    let _ = writeln!(
        s,
        "- Communications lead: {}",
        v.roles.communications.as_deref().map_or_else(none, |p| neutralise(p).into_owned())
    );
    let _ = writeln!(s, "- Scribe: {}", v.roles.scribe.as_deref().map_or_else(none, |p| neutralise(p).into_owned()));
    let _ = writeln!(s);
    let _ = writeln!(s, "Stakeholders:");
    for st in &v.stakeholders {
        let how = st.contact.as_ref().map_or_else(|| "(no contact on file)".to_owned(), describe_contact);
        let _ = writeln!(s, "- {}: {how}", st.label());
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Updates (as of {}):", format_utc(v.at));
    for line in super::cadence_status(&v.cadence).lines() {
        let _ = writeln!(s, "- {line}");
    }
    let e = &v.escalation;
    let _ = write!(s, "Escalation: {}", e.state.as_str());
    match e.state {
        EscalationState::Waiting | EscalationState::Paging => {
            let _ = write!(s, " (level {}), acknowledge by {}", e.level, format_utc(e.deadline));
            if let Some(n) = &e.next {
                let who = n.roles.iter().map(|r| r.title()).collect::<Vec<_>>().join(" + ");
                let _ = write!(s, "; next: level {} ({who}) at {}", n.level, format_utc(n.at));
            }
        }
        EscalationState::Exhausted => {
            let _ = write!(s, ": unacknowledged past the last level (since {})", format_utc(e.deadline));
        }
        EscalationState::Acknowledged | EscalationState::Resolved => {}
    }
    let _ = writeln!(s);
    if let Some(p) = &v.post_incident {
        let due = p.tasks.first().map_or_else(String::new, |t| format!(" (due {})", format_utc(t.due)));
        let _ = writeln!(s, "Post-incident tasks{due}:");
        for t in &p.tasks {
            let state = match t.done_at {
                Some(at) => format!("done {}", format_utc(at)),
                None if t.is_overdue(v.at) => "OVERDUE".to_owned(),
                None => "open".to_owned(),
            };
            let _ = writeln!(s, "- {}: {state}", t.task.title());
        }
    }
    let _ = writeln!(s);
    let m = &v.metrics;
    let metric = |d: Option<crate::HumanDuration>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
    let _ = writeln!(
        s,
        "Metrics: MTTD {}, MTTA {}, MTTM {}, MTTR {}",
        metric(m.mttd),
        metric(m.mtta),
        metric(m.mttm),
        metric(m.mttr)
    );
    let _ = writeln!(s);
    if v.runs.is_empty() {
        let _ = writeln!(s, "Runs: none");
    } else {
        let _ = writeln!(s, "Runs:");
        for r in &v.runs {
            let approved = if r.approved { "approved" } else { "not approved" };
            let _ = writeln!(
                s,
                "- {} {}: {} ({approved}; planned {}, updated {})",
                neutralise(&r.run_id),
                neutralise(&r.procedure),
                r.status,
                format_utc(r.created_at),
                format_utc(r.updated_at)
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Timeline ({} events, head {}):", v.timeline.len(), v.timeline.head_hash());
    for e in v.timeline.events() {
        let _ =
            writeln!(s, "#{} {} {}: {}", e.seq, format_utc(e.at), neutralise(&e.actor), neutralise(&e.kind.describe()));
    }
    s.trim_end().to_owned()
}

/// What an operation did: `INC-1: recorded` and its events, or `INC-1: unchanged: why`; then the
/// incident's status line and any message sent.
#[must_use]
pub fn change(c: &Change) -> String {
    let i = &c.incident;
    let mut s = String::new();
    match &c.outcome {
        ChangeOutcome::Applied => {
            let _ = writeln!(s, "{}: {} recorded", neutralise(&i.id), c.operation.as_str());
            for e in &c.events {
                let _ = writeln!(
                    s,
                    "  #{} {} {}: {}",
                    e.seq,
                    format_utc(e.at),
                    neutralise(&e.actor),
                    neutralise(&e.kind.describe())
                );
            }
        }
        ChangeOutcome::Unchanged { why } => {
            let _ = writeln!(s, "{}: unchanged: {}", neutralise(&i.id), neutralise(why));
        }
    }
    for m in &c.messages {
        let detail = if m.detail.is_empty() { String::new() } else { format!(" ({})", neutralise(&m.detail)) };
        let _ = writeln!(s, "  message {} to {}: {}{detail}", m.kind, neutralise(&m.channel), m.outcome);
    }
    let _ = write!(
        s,
        "[{}] {}, IC {}{}",
        i.severity,
        i.status,
        neutralise(&i.commander),
        if i.acknowledged_at.is_some() { "" } else { ", not acknowledged" }
    );
    s
}

/// One line per update posted (`incident update`): kind, where, outcome, the recording event.
#[must_use]
pub fn update_attempts(incident_id: &str, attempts: &[UpdateAttempt]) -> String {
    let mut s = String::new();
    for a in attempts {
        let detail = if a.detail.is_empty() { String::new() } else { format!(" ({})", neutralise(&a.detail)) };
        let _ = writeln!(
            s,
            "{}: {} update to {}: {}{detail} (event #{})",
            neutralise(incident_id),
            a.kind,
            neutralise(&a.channel),
            a.outcome,
            a.event_seq
        );
    }
    s.trim_end().to_owned()
}
