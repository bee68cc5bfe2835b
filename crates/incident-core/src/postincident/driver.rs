//! [`PostIncidentDriver`]: gathers the timeline and metrics of a resolved incident as the evidence item
//! [`TIMELINE_EVIDENCE`](super::TIMELINE_EVIDENCE) (`timeline-metrics.json`: the timeline and the MTTD,
//! MTTA, MTTM, MTTR metrics, which marks [`Task::TimelineAndMetrics`] done), and reports post-incident
//! tasks that are past their deadline, once each, as a reminder in the incident channel recorded on the
//! timeline. Stateless like the escalation driver: what
//! was reported is read back from the timeline, so a restarted driver neither repeats nor forgets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{PostIncident, Task};
use crate::backend::{Clock, Destination, Notification, Notifier};
use crate::cadence::IncidentFailure;
use crate::clock::format_utc;
use crate::delivery;
use crate::incident::Incident;
use crate::store::Store;
use crate::timeline::{EventKind, Outcome, Timeline};
use crate::{HumanDuration, Policy, Result, Status};

/// `message_sent` kind prefix of an overdue reminder: `postincident_overdue:<task>` (`:ticket`, ...).
pub const REMINDER_KIND: &str = "postincident_overdue";

/// Settings of a [`PostIncidentDriver`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PostIncidentOptions {
    /// Actor of the recorded reminders.
    pub actor: String,
    /// Only incidents resolved at most this long ago are looked at (default 30 days).
    pub lookback: HumanDuration,
    /// Wait this long after a failed reminder before trying again (default 15 min).
    pub retry_failed_after: HumanDuration,
}

impl Default for PostIncidentOptions {
    fn default() -> Self {
        Self {
            actor: "incident-postincident".into(),
            lookback: HumanDuration::from_hours(30 * 24),
            retry_failed_after: HumanDuration::from_mins(15),
        }
    }
}

/// One reminder the driver tried to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverdueReminder {
    /// Incident id.
    pub incident_id: String,
    /// The overdue task.
    pub task: Task,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// How the reminder went.
    pub outcome: Outcome,
    /// Provider reference, skip reason or error.
    pub detail: String,
}

/// What one [`PostIncidentDriver::tick`] found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostIncidentReport {
    /// When.
    pub at: DateTime<Utc>,
    /// Resolved incidents looked at.
    pub resolved_incidents: usize,
    /// Every overdue task: `(incident id, task, due)`, reminded now or before.
    pub overdue: Vec<(String, Task, DateTime<Utc>)>,
    /// The reminders sent by this tick.
    pub reminded: Vec<OverdueReminder>,
    /// Incidents whose `timeline-metrics.json` this tick gathered.
    #[serde(default)]
    pub gathered: Vec<String>,
    /// Incidents that could not be handled.
    pub errors: Vec<IncidentFailure>,
    /// The next deadline of a task still open (the next tick worth running).
    pub next_due: Option<DateTime<Utc>>,
}

/// Reports overdue post-incident tasks (see the [module docs](self)).
pub struct PostIncidentDriver<S: ?Sized, C: ?Sized, N: ?Sized> {
    store: Arc<S>,
    clock: Arc<C>,
    notifier: Arc<N>,
    policy: Policy,
    options: PostIncidentOptions,
}

impl<S: ?Sized, C: ?Sized + std::fmt::Debug, N: ?Sized> std::fmt::Debug for PostIncidentDriver<S, C, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostIncidentDriver")
            .field("clock", &self.clock)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn reminder_kind(task: Task) -> String {
    format!("{REMINDER_KIND}:{}", task.as_str())
}

/// The newest recorded reminder of `task`: `(at, outcome)`.
fn last_reminder(timeline: &Timeline, task: Task) -> Option<(DateTime<Utc>, Outcome)> {
    let want = reminder_kind(task);
    timeline.events().iter().rev().find_map(|e| match &e.kind {
        EventKind::MessageSent { kind, outcome, .. } if *kind == want => Some((e.at, *outcome)),
        _ => None,
    })
}

impl<S, C, N> PostIncidentDriver<S, C, N>
where
    S: Store + ?Sized,
    C: Clock + ?Sized,
    N: Notifier + ?Sized,
{
    /// A driver over `store`, reminding through `notifier`, with the default options.
    pub fn new(store: Arc<S>, clock: Arc<C>, notifier: Arc<N>, policy: Policy) -> Self {
        Self { store, clock, notifier, policy, options: PostIncidentOptions::default() }
    }

    /// Replace the options.
    #[must_use]
    pub fn with_options(mut self, options: PostIncidentOptions) -> Self {
        self.options = options;
        self
    }

    /// Look at every incident resolved within the lookback at `now`: remind of each task newly overdue.
    ///
    /// # Errors
    /// The store's error when the incidents cannot be listed; a problem with one incident is in
    /// [`PostIncidentReport::errors`] and the others are still handled.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<PostIncidentReport> {
        let since = now - self.options.lookback.as_delta();
        let mut report = PostIncidentReport {
            at: now,
            resolved_incidents: 0,
            overdue: Vec::new(),
            reminded: Vec::new(),
            gathered: Vec::new(),
            errors: Vec::new(),
            next_due: None,
        };
        let incidents = self.store.incidents().await?;
        for incident in
            incidents.iter().filter(|i| i.status == Status::Resolved && i.resolved_at.is_some_and(|r| r >= since))
        {
            report.resolved_incidents += 1;
            if let Err(e) = self.tick_incident(incident, now, &mut report).await {
                report.errors.push(IncidentFailure {
                    incident_id: incident.id.clone(),
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
        Ok(report)
    }

    async fn tick_incident(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
        report: &mut PostIncidentReport,
    ) -> Result<()> {
        let mut timeline = self.store.timeline(&incident.id).await?;
        let Some(mut post) = PostIncident::of(incident, &timeline, &self.policy.post_incident) else { return Ok(()) };
        if post.tasks.iter().any(|t| t.task == Task::TimelineAndMetrics && t.done_at.is_none()) {
            let gathered = serde_json::json!({
                "incident_id": incident.id,
                "gathered_at": now,
                "metrics": incident.metrics(),
                "timeline": timeline,
            });
            let done = match crate::preserve::EvidenceDraft::json(super::TIMELINE_EVIDENCE, &gathered) {
                Ok(draft) => {
                    crate::preserve::preserve(
                        &*self.store,
                        &*self.clock,
                        &self.policy,
                        &incident.id,
                        vec![draft],
                        &self.options.actor,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            // A gathering that fails (a store that keeps no evidence, a timeline larger than
            // `evidence.max_item_bytes`) is reported; the reminders still go out.
            match done {
                Ok(done) if !done.added.is_empty() => {
                    report.gathered.push(incident.id.clone());
                    timeline = self.store.timeline(&incident.id).await?;
                    post = PostIncident::of(incident, &timeline, &self.policy.post_incident).unwrap_or(post);
                }
                Ok(_) => {}
                Err(e) => report.errors.push(IncidentFailure {
                    incident_id: incident.id.clone(),
                    kind: e.kind(),
                    message: format!("gathering {}: {e}", super::TIMELINE_EVIDENCE),
                }),
            }
        }
        for t in post.tasks.iter().filter(|t| t.done_at.is_none()) {
            if !t.is_overdue(now) {
                let at = t.due + chrono::TimeDelta::seconds(1);
                report.next_due = Some(report.next_due.map_or(at, |n| n.min(at)));
                continue;
            }
            report.overdue.push((incident.id.clone(), t.task, t.due));
            match last_reminder(&timeline, t.task) {
                Some((_, Outcome::Succeeded | Outcome::Skipped | Outcome::Unknown)) => continue,
                Some((at, Outcome::Failed)) if now < at + self.options.retry_failed_after.as_delta() => continue,
                _ => {}
            }
            let text = format!(
                "Post-incident task overdue for {} ({}): {} — due {} ({} after the resolution). See the \
                 post-incident ticket; record it as done on the timeline.",
                incident.id,
                incident.title,
                t.task.title(),
                format_utc(t.due),
                self.policy.post_incident.within
            );
            let n = Notification {
                incident_id: incident.id.clone(),
                to: Destination::Channel { name: incident.channel.clone() },
                kind: reminder_kind(t.task),
                text,
            };
            let record =
                delivery::deliver_and_record(&*self.store, &*self.notifier, &*self.clock, &self.options.actor, n)
                    .await?;
            report.reminded.push(OverdueReminder {
                incident_id: incident.id.clone(),
                task: t.task,
                due: t.due,
                outcome: record.outcome,
                detail: record.detail,
            });
        }
        Ok(())
    }
}
