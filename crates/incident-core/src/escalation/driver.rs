//! [`EscalationDriver`]: sends the pages [`super::status`] says are due, each recorded on the timeline.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{BusinessCalendar, EscalationState, EscalationStatus, LevelStatus, Target, TargetStatus};
use crate::backend::{Clock, Destination, Notification, Notifier};
use crate::cadence::IncidentFailure;
use crate::clock::format_utc;
use crate::delivery::{self, DeliveryRecord};
use crate::incident::Incident;
use crate::store::Store;
use crate::timeline::Outcome;
use crate::{ErrorKind, HumanDuration, Policy, Result, Severity, Status, text};

/// Settings of an [`EscalationDriver`]; the defaults are safe for production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationOptions {
    /// Actor of the recorded events.
    pub actor: String,
    /// Wait this long after a failed page before trying again (default 1 min: a page is urgent, but a
    /// provider that is down must not be hammered).
    pub retry_failed_after: HumanDuration,
    /// Wait this long after a skipped page (no provider configured) before trying again (default 15 min).
    pub retry_skipped_after: HumanDuration,
    /// How long the declaration's own level-1 pages may take to be recorded before the driver sends them
    /// itself (default 2 min; the receiver records them in the background).
    pub declaration_grace: HumanDuration,
}

impl Default for EscalationOptions {
    fn default() -> Self {
        Self {
            actor: "incident-escalation".into(),
            retry_failed_after: HumanDuration::from_mins(1),
            retry_skipped_after: HumanDuration::from_mins(15),
            declaration_grace: HumanDuration::from_mins(2),
        }
    }
}

/// One page or mention the driver tried to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageAttempt {
    /// Incident id.
    pub incident_id: String,
    /// Escalation level (1 = the first pages).
    pub level: u32,
    /// Where it went.
    pub target: Target,
    /// When the level was due.
    pub due_at: DateTime<Utc>,
    /// The timeline event's channel (`page:CTO`, `#incident-...`).
    pub channel: String,
    /// How it went.
    pub outcome: Outcome,
    /// Provider reference, skip reason or error, as recorded.
    pub detail: String,
    /// The error's kind, when it failed.
    #[schemars(with = "Option<String>")]
    pub error_kind: Option<ErrorKind>,
    /// Sequence number of the timeline event that records it.
    pub event_seq: u64,
}

/// An incident with every level paged and the last response time passed, still unacknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExhaustedEscalation {
    /// Incident id.
    pub incident_id: String,
    /// Its severity.
    pub severity: Severity,
    /// When the last level's response time ended.
    pub deadline: DateTime<Utc>,
}

/// What one [`EscalationDriver::tick`] did and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EscalationReport {
    /// The tick's time.
    pub at: DateTime<Utc>,
    /// Open incidents looked at.
    pub open_incidents: usize,
    /// Delivered pages and mentions.
    pub sent: Vec<PageAttempt>,
    /// Attempts the notifier skipped (no provider for the destination).
    pub skipped: Vec<PageAttempt>,
    /// Attempts that failed (or may not have gone out).
    pub failed: Vec<PageAttempt>,
    /// Unacknowledged incidents with nobody left to page.
    pub exhausted: Vec<ExhaustedEscalation>,
    /// Incidents that could not be handled.
    pub errors: Vec<IncidentFailure>,
    /// The earliest time something next falls due (a level, a retry), across open incidents.
    pub next_due: Option<DateTime<Utc>>,
}

impl EscalationReport {
    fn new(at: DateTime<Utc>) -> Self {
        Self {
            at,
            open_incidents: 0,
            sent: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            exhausted: Vec::new(),
            errors: Vec::new(),
            next_due: None,
        }
    }

    /// Nothing failed, nothing is exhausted and every incident was handled.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.exhausted.is_empty() && self.errors.is_empty()
    }

    fn push(&mut self, attempt: PageAttempt) {
        match attempt.outcome {
            Outcome::Succeeded => self.sent.push(attempt),
            Outcome::Skipped => self.skipped.push(attempt),
            _ => self.failed.push(attempt),
        }
    }

    fn due(&mut self, t: DateTime<Utc>) {
        self.next_due = Some(self.next_due.map_or(t, |n| n.min(t)));
    }
}

/// Pages and escalates unacknowledged incidents (see the [module docs](super)).
pub struct EscalationDriver<S: ?Sized, C: ?Sized, N: ?Sized> {
    store: Arc<S>,
    clock: Arc<C>,
    notifier: Arc<N>,
    policy: Policy,
    options: EscalationOptions,
}

impl<S: ?Sized, C: ?Sized + std::fmt::Debug, N: ?Sized> std::fmt::Debug for EscalationDriver<S, C, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationDriver")
            .field("clock", &self.clock)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S, C, N> EscalationDriver<S, C, N>
where
    S: Store + ?Sized,
    C: Clock + ?Sized,
    N: Notifier + ?Sized,
{
    /// A driver over `store`, paging through `notifier`, with the [default options](EscalationOptions).
    pub fn new(store: Arc<S>, clock: Arc<C>, notifier: Arc<N>, policy: Policy) -> Self {
        Self { store, clock, notifier, policy, options: EscalationOptions::default() }
    }

    /// Replace the options.
    #[must_use]
    pub fn with_options(mut self, options: EscalationOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    #[must_use]
    pub fn options(&self) -> &EscalationOptions {
        &self.options
    }

    /// Handle every open incident at `now`.
    ///
    /// # Errors
    /// `Policy` for an invalid business calendar; the store's error when the incidents cannot be listed.
    /// A problem with one incident is reported in [`EscalationReport::errors`] and the others are still
    /// handled.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<EscalationReport> {
        let calendar = BusinessCalendar::new(&self.policy.business_hours)?;
        let mut report = EscalationReport::new(now);
        for incident in self.store.incidents().await?.into_iter().filter(|i| i.status != Status::Resolved) {
            report.open_incidents += 1;
            if let Err(e) = self.tick_incident(&calendar, &incident, now, &mut report).await {
                report.errors.push(IncidentFailure {
                    incident_id: incident.id.clone(),
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
        Ok(report)
    }

    /// Handle one incident at `now`, as [`EscalationDriver::tick`] does for each.
    ///
    /// # Errors
    /// `NotFound` for an unknown incident; `Policy` for an invalid business calendar; store errors.
    pub async fn tick_one(&self, incident_id: &str, now: DateTime<Utc>) -> Result<EscalationReport> {
        let calendar = BusinessCalendar::new(&self.policy.business_hours)?;
        let mut report = EscalationReport::new(now);
        let incident =
            self.store.incident(incident_id).await?.ok_or_else(|| crate::store::incident_not_found(incident_id))?;
        if incident.status != Status::Resolved {
            report.open_incidents = 1;
            self.tick_incident(&calendar, &incident, now, &mut report).await?;
        }
        Ok(report)
    }

    /// Tick at the clock's time, then sleep until something next falls due (at most `poll`, at least one
    /// second), until `on_tick` breaks or `max_ticks` ticks ran. Returns the number of ticks.
    pub async fn run<F>(&self, poll: Duration, max_ticks: Option<u64>, on_tick: F) -> u64
    where
        F: FnMut(Result<EscalationReport>) -> ControlFlow<()> + Send,
    {
        crate::clock::drive(&*self.clock, poll, max_ticks, |now| self.tick(now), |r| r.next_due, on_tick).await
    }

    async fn tick_incident(
        &self,
        calendar: &BusinessCalendar,
        incident: &Incident,
        now: DateTime<Utc>,
        report: &mut EscalationReport,
    ) -> Result<()> {
        let timeline = self.store.timeline(&incident.id).await?;
        let status = super::status_with(&self.policy, calendar, incident, &timeline, now);
        if !status.state.is_active() {
            return Ok(());
        }
        let grace_end = incident.declared_at + self.options.declaration_grace.as_delta();
        for (level, target) in status.undelivered(now) {
            let wait_until = match target.last_attempt {
                Some(a) => Some(a.at + self.retry_after(a.outcome)),
                // The declaration sends it: only step in when nothing was recorded in time.
                None if target.by_declaration => Some(grace_end),
                None => None,
            };
            if let Some(t) = wait_until.filter(|t| now < *t) {
                report.due(t);
                continue;
            }
            let notification = self.render(incident, &status, level, target, now);
            let record = delivery::deliver_and_record(
                &*self.store,
                &*self.notifier,
                &*self.clock,
                &self.options.actor,
                notification,
            )
            .await?;
            if !record.is_delivered() {
                report.due(record.event.at + self.retry_after(record.outcome));
            }
            report.push(attempt(incident, level, target.target, &record));
        }
        if status.state == EscalationState::Exhausted {
            report.exhausted.push(ExhaustedEscalation {
                incident_id: incident.id.clone(),
                severity: status.severity,
                deadline: status.deadline,
            });
        } else if let Some(next) = &status.next {
            report.due(next.at);
        }
        Ok(())
    }

    /// Spacing before the next attempt after an unsuccessful one.
    fn retry_after(&self, outcome: Outcome) -> chrono::TimeDelta {
        match outcome {
            Outcome::Skipped => self.options.retry_skipped_after.as_delta(),
            _ => self.options.retry_failed_after.as_delta(),
        }
    }

    fn render(
        &self,
        incident: &Incident,
        status: &EscalationStatus,
        level: &LevelStatus,
        target: &TargetStatus,
        now: DateTime<Utc>,
    ) -> Notification {
        let title = text::neutralise(&incident.title);
        let why = if level.level == 1 {
            match status.window {
                crate::policy::EscalationWindow::BusinessHours => {
                    format!("paged in business hours ({})", self.policy.business_hours.timezone)
                }
                _ => "paged at once".to_owned(),
            }
        } else {
            format!(
                "not acknowledged within {} of the level {} page: escalated",
                super::describe_response(status),
                level.level - 1
            )
        };
        let late = if now > level.due_at { format!(" (due {})", format_utc(level.due_at)) } else { String::new() };
        let roles = level.roles.iter().map(|r| r.title()).collect::<Vec<_>>().join(", ");
        let ack = format!(
            "Acknowledge by {} (`incident ack {}`), channel {}.",
            format_utc(level.acknowledge_by),
            text::neutralise(&incident.id),
            incident.channel
        );
        match target.target {
            Target::Page { role } => Notification {
                incident_id: incident.id.clone(),
                to: Destination::Page { role },
                kind: super::page_kind(level.level),
                text: format!(
                    "[{}] {title} — escalation level {} ({}): {why}{late}. {ack}",
                    status.severity,
                    level.level,
                    role.title()
                ),
            },
            Target::Mention => {
                let who = level
                    .roles
                    .iter()
                    .map(|r| match self.policy.contact(*r).and_then(|c| c.slack.clone()) {
                        Some(handle) => handle,
                        None => format!("@{}", r.title()),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                Notification {
                    incident_id: incident.id.clone(),
                    to: Destination::Channel { name: incident.channel.clone() },
                    kind: super::mention_kind(level.level),
                    text: format!(
                        "{who} — escalation level {} of {} [{}] {title}: {roles} {why}{late}. {ack}",
                        level.level,
                        text::neutralise(&incident.id),
                        status.severity,
                    ),
                }
            }
        }
    }
}

fn attempt(incident: &Incident, level: &LevelStatus, target: Target, r: &DeliveryRecord) -> PageAttempt {
    PageAttempt {
        incident_id: incident.id.clone(),
        level: level.level,
        target,
        due_at: level.due_at,
        channel: r.channel.clone(),
        outcome: r.outcome,
        detail: r.detail.clone(),
        error_kind: r.error.as_ref().map(crate::Error::kind),
        event_seq: r.event.seq,
    }
}
