//! The runbook's "Post-Incident Activities" (step 6): what is to be done after an incident is
//! resolved, by when, and what of it is done, read back from the timeline. Pure: no clock, no I/O.
//!
//! The runbook's "Immediate (Within 24 hours)" list, plus the post-mortem it leads to, are the
//! [`Task`]s, each due [`PostIncidentPolicy::within`] (default `24h`) after resolution:
//!
//! | task | done when the timeline has |
//! |---|---|
//! | [`Task::Ticket`] (create the post-incident ticket) | a succeeded `message_sent` of kind [`TICKET_KIND`] |
//! | [`Task::Meeting`] (schedule the post-mortem meeting) | a succeeded `message_sent` of kind [`INVITE_KIND`] |
//! | [`Task::TimelineAndMetrics`] (gather timeline and metrics) | an `evidence_added` named [`TIMELINE_EVIDENCE`] |
//! | [`Task::Evidence`] (preserve logs and evidence) | an `evidence_added` (any other name) at or after resolution |
//! | [`Task::PostMortem`] (write the post-mortem) | an `evidence_added` named [`POSTMORTEM_EVIDENCE`] |
//!
//! A message that failed or was skipped does not count: the task stays open (and becomes overdue).
//!
//! [`PostIncidentDriver`] reports each task once it is overdue: a reminder to the incident channel
//! (kind `postincident_overdue:<task>`), recorded on the timeline and read back from it, so a restarted
//! driver neither repeats nor forgets (a failed reminder is retried after 15 minutes).
//!
//! The meeting invite is an RFC 5545 calendar ([`invite_ics`]): one `VEVENT` whose `UID` derives from
//! the incident id (re-sending updates the same meeting instead of adding a second), starting at
//! [`PostIncidentPolicy::meeting_at`] local time on the first working day of the policy's
//! `business_hours` after the day of resolution, with CRLF line endings and lines folded at 75 octets.
//!
//! ```toml
//! [post_incident]
//! within = "24h"
//! meeting_at = "10:00"
//! meeting_length = "1h"
//! timeline_url = "https://incidents.example.com/{id}"
//! ```

use chrono::{DateTime, NaiveDateTime, Offset as _, TimeDelta, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::incident::Incident;
pub use crate::policy::PostIncidentPolicy;
use crate::policy::{BusinessCalendar, BusinessHours};
use crate::timeline::{EventKind, Outcome, Timeline};

/// The webhook name of the issue tracker: the post-incident ticket goes to
/// `Destination::Webhook { name: "tracker" }`, which `incident-notify` routes to its GitHub Issues or
/// Jira Cloud provider, or to a webhook of that name for any other tracker.
pub const TRACKER: &str = "tracker";
/// `message_sent` kind of the post-incident ticket.
pub const TICKET_KIND: &str = "postincident_ticket";
/// `message_sent` kind of the post-mortem meeting invite posted to the incident channel.
pub const INVITE_KIND: &str = "postmortem_invite";
/// `evidence_added` name of the gathered timeline and metrics.
pub const TIMELINE_EVIDENCE: &str = "timeline-metrics.json";
/// `evidence_added` name of the written post-mortem document.
pub const POSTMORTEM_EVIDENCE: &str = "postmortem.md";

/// One post-incident activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Create the post-incident ticket.
    Ticket,
    /// Schedule the post-mortem meeting.
    Meeting,
    /// Gather timeline and metrics.
    TimelineAndMetrics,
    /// Preserve logs and evidence.
    Evidence,
    /// Write the post-mortem.
    PostMortem,
}

impl Task {
    /// Every task, in the runbook's order.
    pub const ALL: [Self; 5] =
        [Self::Ticket, Self::Meeting, Self::TimelineAndMetrics, Self::Evidence, Self::PostMortem];

    /// The task's name (`ticket`, `meeting`, `timeline_and_metrics`, `evidence`, `post_mortem`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Meeting => "meeting",
            Self::TimelineAndMetrics => "timeline_and_metrics",
            Self::Evidence => "evidence",
            Self::PostMortem => "post_mortem",
        }
    }

    /// The runbook's wording.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Ticket => "Create post-incident ticket",
            Self::Meeting => "Schedule post-mortem meeting",
            Self::TimelineAndMetrics => "Gather timeline and metrics",
            Self::Evidence => "Preserve logs and evidence",
            Self::PostMortem => "Write the post-mortem",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// A task, when it is due and when it was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskStatus {
    /// The task.
    pub task: Task,
    /// Due by (resolution + `within`).
    pub due: DateTime<Utc>,
    /// When the timeline shows it done.
    pub done_at: Option<DateTime<Utc>>,
}

impl TaskStatus {
    /// Not done and past due at `now`.
    #[must_use]
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.done_at.is_none() && now > self.due
    }
}

/// The post-incident tasks of a resolved incident (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostIncident {
    /// When the incident was resolved.
    pub resolved_at: DateTime<Utc>,
    /// Every task, in the runbook's order.
    pub tasks: Vec<TaskStatus>,
}

impl PostIncident {
    /// The tasks of `incident` read back from `timeline`; `None` while it is not resolved.
    #[must_use]
    pub fn of(incident: &Incident, timeline: &Timeline, policy: &PostIncidentPolicy) -> Option<Self> {
        let resolved_at = incident.resolved_at?;
        let due = resolved_at.checked_add_signed(policy.within.as_delta()).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let done = |task: Task| {
            timeline
                .events()
                .iter()
                .find(|e| match (&e.kind, task) {
                    (EventKind::MessageSent { kind, outcome: Outcome::Succeeded, .. }, Task::Ticket) => {
                        kind == TICKET_KIND
                    }
                    (EventKind::MessageSent { kind, outcome: Outcome::Succeeded, .. }, Task::Meeting) => {
                        kind == INVITE_KIND
                    }
                    (EventKind::EvidenceAdded { name, .. }, Task::TimelineAndMetrics) => name == TIMELINE_EVIDENCE,
                    (EventKind::EvidenceAdded { name, .. }, Task::PostMortem) => name == POSTMORTEM_EVIDENCE,
                    (EventKind::EvidenceAdded { name, .. }, Task::Evidence) => {
                        e.at >= resolved_at && name != TIMELINE_EVIDENCE && name != POSTMORTEM_EVIDENCE
                    }
                    _ => false,
                })
                .map(|e| e.at)
        };
        let tasks = Task::ALL.into_iter().map(|task| TaskStatus { task, due, done_at: done(task) }).collect();
        Some(Self { resolved_at, tasks })
    }

    /// The tasks not done and past due at `now`.
    #[must_use]
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<&TaskStatus> {
        self.tasks.iter().filter(|t| t.is_overdue(now)).collect()
    }

    /// The tasks not done yet.
    #[must_use]
    pub fn open(&self) -> Vec<&TaskStatus> {
        self.tasks.iter().filter(|t| t.done_at.is_none()).collect()
    }
}

/// When the post-mortem meeting starts: `meeting_at` local time (in `hours`' time zone) on the first
/// working day after the local day of `resolved_at`. A local time skipped by a DST change is read with
/// the offset in force before it, a repeated one as the first (RFC 5545's rules).
///
/// # Errors
/// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for an invalid `business_hours`.
pub fn meeting_start(
    resolved_at: DateTime<Utc>,
    hours: &BusinessHours,
    policy: &PostIncidentPolicy,
) -> Result<DateTime<Utc>> {
    let cal = BusinessCalendar::new(hours)?;
    let tz = cal.tz();
    let mut day = cal.local(resolved_at).date_naive();
    // `BusinessCalendar::new` guarantees a working weekday; holidays are finite.
    for _ in 0..3660 {
        day = day.succ_opt().ok_or_else(|| crate::Error::internal("date out of range"))?;
        if cal.is_working_day(day) {
            let local: NaiveDateTime = day.and_time(policy.meeting_at.time());
            let at = match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t,
                chrono::LocalResult::None => {
                    // In the DST gap: the offset before the change.
                    let before = tz.from_local_datetime(&(local - TimeDelta::hours(3))).earliest();
                    let offset = before.map(|b| b.offset().fix()).ok_or_else(|| crate::Error::internal("no offset"))?;
                    return Ok((local - offset).and_utc());
                }
            };
            return Ok(at.with_timezone(&Utc));
        }
    }
    Err(crate::Error::policy("policy field `business_hours`: no working day in ten years"))
}

/// Escape RFC 5545 TEXT (section 3.3.11): `\` `;` `,` and newlines; CRs dropped.
#[must_use]
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Fold one content line (RFC 5545 section 3.1): at most 75 octets per line, never splitting a UTF-8
/// character, continuation lines starting with one space; every line ends with CRLF.
#[must_use]
pub fn fold_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0usize;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The post-mortem meeting invite of a resolved `incident` as an RFC 5545 `.ics` text (see the
/// [module docs](self)): `SUMMARY` `Post-mortem: [P1] title`, `DESCRIPTION` with the incident channel
/// and the timeline link, `DTSTAMP` the resolution, `DTSTART` [`meeting_start`].
///
/// # Errors
/// [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed) when the incident is not
/// resolved; as [`meeting_start`].
pub fn invite_ics(incident: &Incident, hours: &BusinessHours, policy: &PostIncidentPolicy) -> Result<String> {
    let resolved_at = incident.resolved_at.ok_or_else(|| {
        crate::Error::precondition(format!("incident {} is not resolved: no post-mortem to schedule", incident.id))
    })?;
    let start = meeting_start(resolved_at, hours, policy)?;
    let end = start.checked_add_signed(policy.meeting_length.as_delta()).unwrap_or(start);
    let description = format!(
        "Post-mortem of {} ({}).\nIncident channel: {}\nTimeline: {}\nRoot cause: {}",
        incident.id,
        incident.severity,
        incident.channel,
        policy.timeline_link(&incident.id),
        incident.root_cause.as_deref().unwrap_or("(to be determined)"),
    );
    let uid: String =
        incident.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//incident-core//post-mortem//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:postmortem-{uid}@incident-core"),
        format!("DTSTAMP:{}", ics_time(resolved_at)),
        format!("DTSTART:{}", ics_time(start)),
        format!("DTEND:{}", ics_time(end)),
        format!("SUMMARY:{}", escape_text(&format!("Post-mortem: [{}] {}", incident.severity, incident.title))),
        format!("DESCRIPTION:{}", escape_text(&description)),
        format!("LOCATION:{}", escape_text(&incident.channel)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    Ok(lines.iter().map(|l| fold_line(l)).collect())
}

/// The post-incident ticket's text: the title line `Post-incident: [P1] title (ID)`, then what
/// happened, the tasks and their deadline, the post-mortem meeting, and its `.ics` invite in a fenced
/// block (trackers keep it with the ticket: a GitHub issue shows it, Jira makes it a code block).
/// `invite` is [`invite_ics`]'s result: when it failed, the ticket says why instead.
#[must_use]
pub fn ticket_text(incident: &Incident, policy: &crate::Policy, invite: &Result<String>) -> String {
    let p = &policy.post_incident;
    let resolved = incident.resolved_at.map_or_else(|| "(not resolved)".to_owned(), crate::clock::format_utc);
    let due = incident
        .resolved_at
        .and_then(|r| r.checked_add_signed(p.within.as_delta()))
        .map_or_else(|| "(unknown)".to_owned(), crate::clock::format_utc);
    let mut out = format!("Post-incident: [{}] {} ({})\n\n", incident.severity, incident.title, incident.id);
    out.push_str(&format!("Incident: {}\nSeverity: {}\nResolved: {resolved}\n", incident.id, incident.severity));
    out.push_str(&format!("Root cause: {}\n", incident.root_cause.as_deref().unwrap_or("(to be determined)")));
    out.push_str(&format!("Resolution: {}\n", incident.resolution.as_deref().unwrap_or("(none given)")));
    out.push_str(&format!(
        "Impact: {}\n",
        if incident.impact.trim().is_empty() { "(not yet assessed)" } else { &incident.impact }
    ));
    out.push_str(&format!("Channel: {}\nTimeline: {}\n\n", incident.channel, p.timeline_link(&incident.id)));
    out.push_str(&format!("Post-incident tasks (due by {due}, within {} of resolution):\n", p.within));
    for t in Task::ALL {
        out.push_str(&format!("- [{}] {}\n", if t == Task::Ticket { "x" } else { " " }, t.title()));
    }
    out.push('\n');
    match invite {
        Ok(ics) => {
            let start = incident
                .resolved_at
                .and_then(|r| meeting_start(r, &policy.business_hours, p).ok())
                .map_or_else(String::new, |s| format!(" at {}", crate::clock::format_utc(s)));
            out.push_str(&format!(
                "Post-mortem meeting{start} (invite below, also posted to {}):\n\n",
                incident.channel
            ));
            out.push_str("```ics\n");
            out.push_str(&ics.replace("\r\n", "\n"));
            out.push_str("```\n");
        }
        Err(e) => out.push_str(&format!("Post-mortem meeting: not scheduled ({e}); schedule it by hand.\n")),
    }
    out
}

/// The message posting the invite to the incident channel: one line saying when, then the `.ics` text.
#[must_use]
pub fn invite_message(incident: &Incident, policy: &crate::Policy, ics: &str) -> String {
    let start = incident
        .resolved_at
        .and_then(|r| meeting_start(r, &policy.business_hours, &policy.post_incident).ok())
        .map_or_else(String::new, |s| format!(" {}", crate::clock::format_utc(s)));
    format!("Post-mortem meeting for {} scheduled{start}. Calendar invite (.ics):\n```\n{ics}```", incident.id)
}

/// The notifications [`Incidents::resolve`](crate::lifecycle::Incidents::resolve) sends for a resolved
/// incident: the ticket (kind [`TICKET_KIND`] to `Destination::Webhook { name: "tracker" }`), then the
/// invite (kind [`INVITE_KIND`] to the incident channel; none when the invite could not be built, which
/// the ticket then says).
#[must_use]
pub fn notifications(incident: &Incident, policy: &crate::Policy) -> Vec<crate::backend::Notification> {
    use crate::backend::{Destination, Notification};
    let invite = invite_ics(incident, &policy.business_hours, &policy.post_incident);
    let mut out = vec![Notification {
        incident_id: incident.id.clone(),
        to: Destination::Webhook { name: TRACKER.into() },
        kind: TICKET_KIND.into(),
        text: ticket_text(incident, policy, &invite),
    }];
    if let Ok(ics) = &invite {
        out.push(Notification {
            incident_id: incident.id.clone(),
            to: Destination::Channel { name: incident.channel.clone() },
            kind: INVITE_KIND.into(),
            text: invite_message(incident, policy, ics),
        });
    }
    out
}

mod driver;
pub use driver::{OverdueReminder, PostIncidentDriver, PostIncidentOptions, PostIncidentReport, REMINDER_KIND};

#[cfg(test)]
mod tests;
