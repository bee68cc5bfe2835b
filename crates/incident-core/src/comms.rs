//! Incident communication: the runbook's message templates and the update-cadence tracker.
//!
//! # Templates
//!
//! * [`initial_status_page`]: section 3 "Initial Communication";
//! * [`status_update`]: section 4 "Communication Template";
//! * [`resolved_message`]: section 5 "Final Communication".
//!
//! The text is the runbook's, placeholder for placeholder. Every timestamp is rendered by
//! [`format_utc`] as `2026-11-26 14:05 UTC` (UTC, minute precision, seconds dropped). Messages carry no
//! trailing newline. The runbook's initial status-page text wraps after `[service]. ` with a trailing
//! space; it is rendered as two lines without the trailing space.
//!
//! Values never add or forge a line: line breaks and control characters in a value are replaced by a
//! space ([`text::neutralise`]; the `details` block of an update keeps its line feeds), so
//! `impact = "line1\nStatus: resolved"` renders one `Impact:` line and one `Status:` line. Callers that
//! take typed input (the CLI, the bindings) refuse such values first with [`text::single_line`].
//!
//! # Cadence
//!
//! [`cadence_status`] answers "which updates are due, and which are late?" to the second:
//!
//! * **internal** updates every `policy.cadence.internal_update` for the current severity (runbook: P0
//!   15 min, P1 30 min, P2 hourly, P3 none), counted from the last internal update, or from the
//!   declaration when there has been none;
//! * **status page** (only for severities in `policy.cadence.status_page_for`): the first update is due
//!   `status_page_within` (15 min) after declaration; later ones follow the internal cadence from the
//!   last status-page update (none after the first when the severity has no internal cadence);
//! * an update is **overdue** once `now` is at least one whole second past its due time: due at 14:15:00
//!   is not overdue at 14:15:00 (or 14:15:00.999), and is 1 s late at 14:15:01;
//! * nothing is due once the incident is resolved.
//!
//! The severity is read when asked, so a severity change takes effect at once (raising P2 to P0 can
//! make an update immediately overdue).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::clock::format_utc;
use crate::incident::Incident;
use crate::timeline::{EventKind, Outcome, Timeline};
use crate::{Error, HumanDuration, Policy, Result, Status, text};

/// `value` trimmed, with line breaks and control characters neutralised ([`text::neutralise`]): a
/// template value never adds or forges a line. Blank is an error.
fn required<'a>(field: &str, value: &'a str) -> Result<Cow<'a, str>> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid_input(format!("{field} must not be empty")));
    }
    match text::neutralise(v) {
        Cow::Borrowed(b) => Ok(Cow::Borrowed(b)),
        Cow::Owned(o) => Ok(Cow::Owned(o.trim().to_owned())),
    }
}

/// The runbook's initial status-page update for `service`:
///
/// ```text
/// We are investigating reports of issues with [service].
/// We will provide updates as we learn more.
/// ```
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank service.
pub fn initial_status_page(service: &str) -> Result<String> {
    let service = required("service", service)?;
    Ok(format!("We are investigating reports of issues with {service}.\nWe will provide updates as we learn more."))
}

/// Fields of the runbook's communication template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateInput {
    /// The update's timestamp.
    pub time: DateTime<Utc>,
    /// Current status.
    pub status: Status,
    /// Brief description of user impact (required).
    pub impact: String,
    /// When the next update will be provided; `None` renders `none scheduled`.
    #[serde(default)]
    pub next_update: Option<DateTime<Utc>>,
    /// Technical details for the internal audience; blank renders `(none)`.
    #[serde(default)]
    pub details: String,
}

impl UpdateInput {
    /// An update for `incident` at `now`, with `next_update` set from the internal cadence (none for a
    /// severity without cadence, or once resolved).
    #[must_use]
    pub fn for_incident(incident: &Incident, policy: &Policy, now: DateTime<Utc>, details: &str) -> Self {
        let next_update = if incident.status == Status::Resolved {
            None
        } else {
            policy.cadence.internal_update.get(incident.severity).map(|every| now + every.as_delta())
        };
        Self {
            time: now,
            status: incident.status,
            impact: incident.impact.clone(),
            next_update,
            details: details.to_owned(),
        }
    }
}

/// The runbook's communication template:
///
/// ```text
/// Time: 2026-11-26 14:05 UTC
/// Status: investigating
/// Impact: [brief description of user impact]
/// Next Update: 2026-11-26 14:35 UTC
///
/// Details:
/// [Technical details for internal audience]
/// ```
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank impact.
pub fn status_update(input: &UpdateInput) -> Result<String> {
    let impact = required("impact", &input.impact)?;
    let next = input.next_update.map_or_else(|| "none scheduled".to_owned(), format_utc);
    let details = text::neutralise_block(input.details.trim());
    let details = if details.trim().is_empty() { "(none)" } else { details.trim() };
    Ok(format!(
        "Time: {time}\nStatus: {status}\nImpact: {impact}\nNext Update: {next}\n\nDetails:\n{details}",
        time = format_utc(input.time),
        status = input.status,
    ))
}

/// Fields of the runbook's final communication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResolvedInput {
    /// When it was resolved.
    pub time: DateTime<Utc>,
    /// The affected service.
    pub service: String,
    /// When the issue started.
    pub started_at: DateTime<Utc>,
    /// Brief description of the root cause.
    pub root_cause: String,
    /// What was done to fix it.
    pub resolution: String,
    /// Summary of user impact.
    pub impact: String,
}

impl ResolvedInput {
    /// From a resolved incident: `service` defaults to the components joined by `, `, the start to
    /// `started_at` (else detection), the time to `resolved_at`.
    ///
    /// # Errors
    /// [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed) when the incident is not
    /// resolved or lacks a root cause or resolution.
    pub fn from_incident(incident: &Incident) -> Result<Self> {
        let missing = |what: &str| Error::precondition(format!("incident {} has no {what} yet", incident.id));
        let time = incident.resolved_at.ok_or_else(|| missing("resolution time (not resolved)"))?;
        let root_cause = incident.root_cause.clone().ok_or_else(|| missing("root cause"))?;
        let resolution = incident.resolution.clone().ok_or_else(|| missing("resolution"))?;
        let service =
            if incident.components.is_empty() { incident.title.clone() } else { incident.components.join(", ") };
        Ok(Self {
            time,
            service,
            started_at: incident.started_at.unwrap_or(incident.detected_at),
            root_cause,
            resolution,
            impact: incident.impact.clone(),
        })
    }
}

/// The runbook's final communication (`Status: RESOLVED` ...).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the first blank field.
pub fn resolved_message(input: &ResolvedInput) -> Result<String> {
    let service = required("service", &input.service)?;
    let root_cause = required("root cause", &input.root_cause)?;
    let resolution = required("resolution", &input.resolution)?;
    let impact = required("impact", &input.impact)?;
    Ok(format!(
        "Status: RESOLVED\n\
         Time: {time}\n\
         \n\
         We have resolved the issue affecting {service}. All systems are now operating normally.\n\
         \n\
         Summary:\n\
         - Issue started at {started}\n\
         - Root cause: {root_cause}\n\
         - Resolution: {resolution}\n\
         - Impact: {impact}\n\
         \n\
         We will be conducting a post-incident review to prevent similar issues in the future.",
        time = format_utc(input.time),
        started = format_utc(input.started_at),
    ))
}

/// Which update stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    /// Internal update (incident channel).
    Internal,
    /// Public status-page update.
    StatusPage,
}

impl UpdateKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Internal, Self::StatusPage];

    /// Both kinds' wire names (`internal`, `status_page`): the allowed values the bindings list.
    pub const NAMES: [&'static str; 2] = ["internal", "status_page"];

    /// The `kind` of a `message_sent` timeline event that counts as this update: `internal_update` or
    /// `status_page_update`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal_update",
            Self::StatusPage => "status_page_update",
        }
    }

    /// Words for people: `internal`, `status page` (also the `Display` form).
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::StatusPage => "status page",
        }
    }
}

impl std::fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// An update that is late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Overdue {
    /// Which update.
    pub kind: UpdateKind,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// How late it is at the time asked (whole seconds, at least 1 s).
    pub late_by: HumanDuration,
}

/// What [`cadence_status`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CadenceStatus {
    /// When the next internal update is due (`None`: no cadence, or resolved).
    pub next_internal_due: Option<DateTime<Utc>>,
    /// When the next status-page update is due (`None`: not required, or resolved).
    pub next_status_page_due: Option<DateTime<Utc>>,
    /// Updates already late, internal first.
    pub overdue: Vec<Overdue>,
}

/// Which updates are due and late at `now` (rules in the [module docs](self)).
#[must_use]
pub fn cadence_status(
    policy: &Policy,
    incident: &Incident,
    last_internal_update: Option<DateTime<Utc>>,
    last_status_page_update: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> CadenceStatus {
    if incident.status == Status::Resolved {
        return CadenceStatus { next_internal_due: None, next_status_page_due: None, overdue: Vec::new() };
    }
    let every = policy.cadence.internal_update.get(incident.severity).map(HumanDuration::as_delta);
    let next_internal_due = every.map(|d| last_internal_update.unwrap_or(incident.declared_at) + d);
    let next_status_page_due = if policy.cadence.status_page_for.contains(&incident.severity) {
        match last_status_page_update {
            None => Some(incident.declared_at + policy.cadence.status_page_within.as_delta()),
            Some(last) => every.map(|d| last + d),
        }
    } else {
        None
    };
    let overdue = [(UpdateKind::Internal, next_internal_due), (UpdateKind::StatusPage, next_status_page_due)]
        .into_iter()
        .filter_map(|(kind, due)| {
            let due_at = due?;
            let late = u64::try_from((now - due_at).num_seconds()).ok().filter(|s| *s >= 1)?;
            Some(Overdue { kind, due_at, late_by: HumanDuration::from_secs(late) })
        })
        .collect();
    CadenceStatus { next_internal_due, next_status_page_due, overdue }
}

/// [`cadence_status`] after checking the times make sense: `now` and the last updates must not be earlier
/// than the declaration, and the last updates must not be later than `now`. Typed input (the CLI's
/// `comms cadence`, the bindings) goes through here; one rule in one place.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the offending time.
pub fn try_cadence_status(
    policy: &Policy,
    incident: &Incident,
    last_internal_update: Option<DateTime<Utc>>,
    last_status_page_update: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<CadenceStatus> {
    check_cadence_times(incident, last_internal_update, last_status_page_update, now)?;
    Ok(cadence_status(policy, incident, last_internal_update, last_status_page_update, now))
}

fn check_cadence_times(
    incident: &Incident,
    last_internal_update: Option<DateTime<Utc>>,
    last_status_page_update: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let declared = incident.declared_at;
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    if now < declared {
        return Err(Error::invalid_input(format!(
            "now ({}) is earlier than the declaration ({})",
            fmt(now),
            fmt(declared)
        )));
    }
    for (what, t) in
        [("last internal update", last_internal_update), ("last status-page update", last_status_page_update)]
    {
        let Some(t) = t else { continue };
        if t < declared {
            return Err(Error::invalid_input(format!(
                "{what} ({}) is earlier than the declaration ({})",
                fmt(t),
                fmt(declared)
            )));
        }
        if t > now {
            return Err(Error::invalid_input(format!("{what} ({}) is later than now ({})", fmt(t), fmt(now))));
        }
    }
    Ok(())
}

/// Remembers the last internal and status-page updates and answers [`cadence_status`] questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CadenceTracker {
    /// Last internal update sent.
    pub last_internal_update: Option<DateTime<Utc>>,
    /// Last status-page update sent.
    pub last_status_page_update: Option<DateTime<Utc>>,
}

impl CadenceTracker {
    /// Nothing sent yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// From a timeline: the latest succeeded `message_sent` events whose `kind` is
    /// [`UpdateKind::as_str`].
    #[must_use]
    pub fn from_timeline(timeline: &Timeline) -> Self {
        let mut t = Self::new();
        for ev in timeline.events() {
            if let EventKind::MessageSent { kind, outcome: Outcome::Succeeded, .. } = &ev.kind {
                if kind == UpdateKind::Internal.as_str() {
                    t.record(UpdateKind::Internal, ev.at);
                } else if kind == UpdateKind::StatusPage.as_str() {
                    t.record(UpdateKind::StatusPage, ev.at);
                }
            }
        }
        t
    }

    /// Note that an update of `kind` went out at `at` (an older time than the one recorded is ignored).
    pub fn record(&mut self, kind: UpdateKind, at: DateTime<Utc>) {
        let slot = match kind {
            UpdateKind::Internal => &mut self.last_internal_update,
            UpdateKind::StatusPage => &mut self.last_status_page_update,
        };
        if slot.is_none_or(|prev| at > prev) {
            *slot = Some(at);
        }
    }

    /// [`cadence_status`] with the recorded times.
    #[must_use]
    pub fn status(&self, policy: &Policy, incident: &Incident, now: DateTime<Utc>) -> CadenceStatus {
        cadence_status(policy, incident, self.last_internal_update, self.last_status_page_update, now)
    }

    /// [`try_cadence_status`] with the recorded times.
    ///
    /// # Errors
    /// As [`try_cadence_status`].
    pub fn try_status(&self, policy: &Policy, incident: &Incident, now: DateTime<Utc>) -> Result<CadenceStatus> {
        try_cadence_status(policy, incident, self.last_internal_update, self.last_status_page_update, now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::Severity;
    use crate::incident::tests::{at, declared};

    fn secs(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, s).single().expect("valid time")
    }

    #[test]
    fn format_is_utc_minutes() {
        assert_eq!(format_utc(secs(14, 5, 59)), "2026-11-26 14:05 UTC");
    }

    #[test]
    fn initial_status_page_exact() {
        assert_eq!(
            initial_status_page(" ml-inference-api ").expect("render"),
            "We are investigating reports of issues with ml-inference-api.\nWe will provide updates as we learn more."
        );
        assert!(initial_status_page("").is_err());
    }

    #[test]
    fn status_update_exact() {
        let input = UpdateInput {
            time: at(14, 5),
            status: Status::Identified,
            impact: "30% of prediction requests fail".into(),
            next_update: Some(at(14, 35)),
            details: "Bad deploy of ml-inference-api v2.3.1; rolling back.".into(),
        };
        assert_eq!(
            status_update(&input).expect("render"),
            "Time: 2026-11-26 14:05 UTC\n\
             Status: identified\n\
             Impact: 30% of prediction requests fail\n\
             Next Update: 2026-11-26 14:35 UTC\n\
             \n\
             Details:\n\
             Bad deploy of ml-inference-api v2.3.1; rolling back."
        );
        let bare = UpdateInput { next_update: None, details: " ".into(), ..input.clone() };
        insta::assert_snapshot!("status_update_without_next_or_details", status_update(&bare).expect("render"));
        let err = status_update(&UpdateInput { impact: String::new(), ..input }).expect_err("blank impact");
        assert!(err.message().contains("impact"));
    }

    #[test]
    fn template_values_cannot_forge_lines() {
        let input = UpdateInput {
            time: at(14, 5),
            status: Status::Investigating,
            impact: "line1\nStatus: resolved\r".into(),
            next_update: None,
            details: "step 1\r\nstep 2\u{1b}[2J".into(),
        };
        let text = status_update(&input).expect("render");
        assert_eq!(text.lines().filter(|l| l.starts_with("Status:")).count(), 1, "{text}");
        assert!(text.contains("Impact: line1 Status: resolved\n"), "{text}");
        assert!(text.ends_with("Details:\nstep 1\nstep 2 [2J"), "{text}");
        let resolved = ResolvedInput {
            time: at(15, 5),
            service: "api\nStatus: investigating".into(),
            started_at: at(13, 50),
            root_cause: "x".into(),
            resolution: "y".into(),
            impact: "z\u{2028}- Impact: none".into(),
        };
        let text = resolved_message(&resolved).expect("render");
        assert_eq!(text.lines().filter(|l| l.starts_with("Status:")).count(), 1, "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("- Impact:")).count(), 1, "{text}");
        assert_eq!(
            initial_status_page("a\nb").expect("render").lines().count(),
            2,
            "the initial message stays two lines"
        );
    }

    #[test]
    fn try_cadence_status_refuses_times_before_the_declaration() {
        let (inc, _) = declared(Severity::P1);
        let policy = Policy::default();
        let before = inc.declared_at - TimeDelta::minutes(1);
        let after = inc.declared_at + TimeDelta::minutes(10);
        let e = try_cadence_status(&policy, &inc, None, None, before).expect_err("now before declaration");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.message().starts_with("now ("), "{e}");
        assert!(e.message().contains("earlier than the declaration"), "{e}");
        let e = try_cadence_status(&policy, &inc, Some(before), None, after).expect_err("last update before");
        assert!(e.message().starts_with("last internal update"), "{e}");
        let e = try_cadence_status(&policy, &inc, None, Some(before), after).expect_err("status page before");
        assert!(e.message().starts_with("last status-page update"), "{e}");
        let e = try_cadence_status(&policy, &inc, Some(after + TimeDelta::minutes(1)), None, after)
            .expect_err("update after now");
        assert!(e.message().contains("later than now"), "{e}");
        let ok = try_cadence_status(&policy, &inc, Some(inc.declared_at), None, inc.declared_at).expect("edges");
        assert_eq!(ok, cadence_status(&policy, &inc, Some(inc.declared_at), None, inc.declared_at));
        let tracker = CadenceTracker { last_internal_update: Some(before), last_status_page_update: None };
        assert!(tracker.try_status(&policy, &inc, after).is_err());
    }

    #[test]
    fn update_input_for_incident_uses_cadence() {
        let (inc, _) = declared(Severity::P1);
        let u = UpdateInput::for_incident(&inc, &Policy::default(), at(14, 10), "");
        assert_eq!(u.next_update, Some(at(14, 40)));
        assert_eq!(u.status, Status::Investigating);
        let (p3, _) = declared(Severity::P3);
        assert_eq!(UpdateInput::for_incident(&p3, &Policy::default(), at(14, 10), "").next_update, None);
    }

    #[test]
    fn resolved_message_exact() {
        let input = ResolvedInput {
            time: at(15, 5),
            service: "ml-inference-api".into(),
            started_at: at(13, 50),
            root_cause: "A config change exhausted the DB connection pool".into(),
            resolution: "Rolled back the deployment".into(),
            impact: "30% of prediction requests failed for 75 minutes".into(),
        };
        assert_eq!(
            resolved_message(&input).expect("render"),
            "Status: RESOLVED
Time: 2026-11-26 15:05 UTC

We have resolved the issue affecting ml-inference-api. All systems are now operating normally.

Summary:
- Issue started at 2026-11-26 13:50 UTC
- Root cause: A config change exhausted the DB connection pool
- Resolution: Rolled back the deployment
- Impact: 30% of prediction requests failed for 75 minutes

We will be conducting a post-incident review to prevent similar issues in the future."
        );
        for (field, input) in [
            ("service", ResolvedInput { service: " ".into(), ..input.clone() }),
            ("root cause", ResolvedInput { root_cause: String::new(), ..input.clone() }),
            ("resolution", ResolvedInput { resolution: String::new(), ..input.clone() }),
            ("impact", ResolvedInput { impact: String::new(), ..input.clone() }),
        ] {
            let err = resolved_message(&input).expect_err(field);
            assert_eq!(err.message(), format!("{field} must not be empty"));
        }
    }

    #[test]
    fn resolved_input_from_incident() {
        let (mut inc, mut tl) = declared(Severity::P1);
        let err = ResolvedInput::from_incident(&inc).expect_err("open");
        assert_eq!(err.kind(), crate::ErrorKind::PreconditionFailed);
        inc.set_root_cause("pool exhausted").expect("rc");
        inc.set_resolution("rolled back").expect("res");
        inc.resolve(at(15, 5), "alice", &mut tl).expect("resolve");
        let input = ResolvedInput::from_incident(&inc).expect("complete");
        assert_eq!(input.service, "api, db");
        assert_eq!(input.started_at, at(13, 50));
        assert_eq!(input.time, at(15, 5));
    }

    #[test]
    fn cadence_minute_boundaries() {
        let policy = Policy::default();
        // Declared 14:05.
        let (p0, _) = declared(Severity::P0);
        let s = cadence_status(&policy, &p0, None, None, secs(14, 20, 0));
        assert_eq!(s.next_internal_due, Some(secs(14, 20, 0)));
        assert_eq!(s.next_status_page_due, Some(secs(14, 20, 0)));
        assert!(s.overdue.is_empty(), "due exactly now is not overdue");
        let s = cadence_status(&policy, &p0, None, None, secs(14, 20, 0) + TimeDelta::milliseconds(999));
        assert!(s.overdue.is_empty(), "sub-second is not overdue");
        let s = cadence_status(&policy, &p0, None, None, secs(14, 20, 1));
        assert_eq!(
            s.overdue,
            vec![
                Overdue { kind: UpdateKind::Internal, due_at: secs(14, 20, 0), late_by: HumanDuration::from_secs(1) },
                Overdue { kind: UpdateKind::StatusPage, due_at: secs(14, 20, 0), late_by: HumanDuration::from_secs(1) },
            ]
        );

        for (sev, every) in [(Severity::P0, 15), (Severity::P1, 30), (Severity::P2, 60)] {
            let (inc, _) = declared(sev);
            let last = secs(14, 10, 0);
            let s = cadence_status(&policy, &inc, Some(last), Some(last), secs(14, 11, 0));
            let want = last + TimeDelta::minutes(every);
            assert_eq!(s.next_internal_due, Some(want), "{sev}");
            assert_eq!(s.next_status_page_due, Some(want), "{sev}: later status-page updates follow the cadence");
            assert!(s.overdue.is_empty());
            let s = cadence_status(&policy, &inc, Some(last), Some(last), want + TimeDelta::minutes(2));
            assert_eq!(s.overdue.len(), 2);
            assert_eq!(s.overdue[0].late_by, HumanDuration::from_mins(2));
        }
        // P1 first status page is still 15 minutes after declaration, internal 30.
        let (p1, _) = declared(Severity::P1);
        let s = cadence_status(&policy, &p1, None, None, secs(14, 6, 0));
        assert_eq!(s.next_internal_due, Some(secs(14, 35, 0)));
        assert_eq!(s.next_status_page_due, Some(secs(14, 20, 0)));
    }

    #[test]
    fn p3_and_resolved_have_nothing_due() {
        let policy = Policy::default();
        let (p3, _) = declared(Severity::P3);
        let s = cadence_status(&policy, &p3, None, None, secs(23, 0, 0));
        assert_eq!((s.next_internal_due, s.next_status_page_due), (None, None));
        assert!(s.overdue.is_empty());

        let (mut p0, mut tl) = declared(Severity::P0);
        p0.resolve(secs(14, 30, 0), "alice", &mut tl).expect("resolve");
        let s = cadence_status(&policy, &p0, None, None, secs(18, 0, 0));
        assert_eq!(s, CadenceStatus { next_internal_due: None, next_status_page_due: None, overdue: vec![] });
    }

    #[test]
    fn tracker_reads_timeline() {
        let policy = Policy::default();
        let (inc, mut tl) = declared(Severity::P0);
        let sent = |kind: UpdateKind, outcome| EventKind::MessageSent {
            channel: "x".into(),
            kind: kind.as_str().into(),
            outcome,
            detail: String::new(),
        };
        tl.append(secs(14, 10, 0), "bot", sent(UpdateKind::StatusPage, Outcome::Succeeded)).expect("append");
        tl.append(secs(14, 12, 0), "bot", sent(UpdateKind::Internal, Outcome::Succeeded)).expect("append");
        tl.append(secs(14, 20, 0), "bot", sent(UpdateKind::Internal, Outcome::Failed)).expect("append");
        let tracker = CadenceTracker::from_timeline(&tl);
        assert_eq!(tracker.last_internal_update, Some(secs(14, 12, 0)));
        assert_eq!(tracker.last_status_page_update, Some(secs(14, 10, 0)));
        let s = tracker.status(&policy, &inc, secs(14, 27, 30));
        assert_eq!(s.next_internal_due, Some(secs(14, 27, 0)));
        assert_eq!(s.next_status_page_due, Some(secs(14, 25, 0)));
        let late: Vec<_> = s.overdue.iter().map(|o| (o.kind, o.late_by.as_secs())).collect();
        assert_eq!(late, [(UpdateKind::Internal, 30), (UpdateKind::StatusPage, 150)]);

        let mut t = CadenceTracker::new();
        t.record(UpdateKind::Internal, secs(14, 12, 0));
        t.record(UpdateKind::Internal, secs(14, 0, 0));
        assert_eq!(t.last_internal_update, Some(secs(14, 12, 0)), "older record ignored");
    }
}
