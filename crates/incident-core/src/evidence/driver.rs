//! [`EvidenceDriver`]: captures the evidence of every declaration and status change that has none yet,
//! whoever made it (the receiver, the CLI, Python, Node). Stateless like the escalation driver: what was
//! captured is read back from the timeline (`evidence_added` names under the trigger's prefix), so a
//! restarted driver neither repeats nor forgets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::capture::{CaptureFailure, CaptureOptions, capture, pending, trigger_prefix};
use crate::backend::Cluster;
use crate::cadence::IncidentFailure;
use crate::clock::Clock;
use crate::lifecycle::Incidents;
use crate::store::Store;
use crate::{HumanDuration, Policy, Result, Status};

/// Settings of an [`EvidenceDriver`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceOptions {
    /// Actor of the recorded evidence.
    pub actor: String,
    /// What a capture reads.
    pub capture: CaptureOptions,
    /// Resolved incidents are still looked at this long after their resolution (default 24 h, the
    /// post-incident deadline), so the resolution's status change gets its evidence.
    pub lookback: HumanDuration,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        Self {
            actor: "incident-evidence".into(),
            capture: CaptureOptions::default(),
            lookback: HumanDuration::from_hours(24),
        }
    }
}

impl EvidenceOptions {
    /// The defaults with the capture bounds of `policy`.
    #[must_use]
    pub fn from_policy(policy: &Policy) -> Self {
        Self { capture: CaptureOptions::from_policy(policy), ..Self::default() }
    }
}

/// One capture a tick recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Captured {
    /// The incident.
    pub incident_id: String,
    /// The trigger's prefix (`declared-0001`).
    pub prefix: String,
    /// The deployments targeted, `namespace/name`.
    pub targets: Vec<String>,
    /// Items stored.
    pub items: Vec<String>,
    /// What could not be read (also in the capture's `capture.json`).
    pub failed: Vec<CaptureFailure>,
}

/// What one [`EvidenceDriver::tick`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceReport {
    /// When.
    pub at: DateTime<Utc>,
    /// Incidents looked at.
    pub incidents: usize,
    /// Captures recorded.
    pub captured: Vec<Captured>,
    /// Incidents that could not be handled.
    pub errors: Vec<IncidentFailure>,
}

/// Captures evidence at declarations and status changes (see the [module docs](super)).
pub struct EvidenceDriver {
    incidents: Incidents,
    cluster: Arc<dyn Cluster>,
    clock: Arc<dyn Clock>,
    options: EvidenceOptions,
}

impl std::fmt::Debug for EvidenceDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceDriver")
            .field("context", &self.cluster.context())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl EvidenceDriver {
    /// A driver over `store`, reading `cluster`, with the options of `policy`.
    pub fn new(store: Arc<dyn Store>, cluster: Arc<dyn Cluster>, clock: Arc<dyn Clock>, policy: Policy) -> Self {
        let options = EvidenceOptions::from_policy(&policy);
        Self { incidents: Incidents::new(store, Arc::clone(&clock), policy), cluster, clock, options }
    }

    /// Replace the options.
    #[must_use]
    pub fn with_options(mut self, options: EvidenceOptions) -> Self {
        self.options = options;
        self
    }

    /// Capture and record the evidence of one trigger event of incident `id` (by seq), unless it is
    /// captured already (then `None`).
    ///
    /// # Errors
    /// `NotFound` for an unknown incident or an event that is not a declaration or status change; the
    /// store's.
    pub async fn capture_event(&self, id: &str, seq: u64, actor: &str) -> Result<Option<Captured>> {
        let (incident, timeline) = self.incidents.load(id).await?;
        let Some(event) = timeline.events().iter().find(|e| e.seq == seq) else {
            return Err(crate::Error::not_found(format!("incident {id} has no event #{seq}")));
        };
        if !super::capture::is_trigger(event) {
            return Err(crate::Error::invalid_input(format!(
                "event #{seq} of {id} is {}: evidence is captured at declared and status_changed events",
                event.kind.type_name()
            )));
        }
        if !pending(&timeline).iter().any(|e| e.seq == seq) {
            return Ok(None);
        }
        let event = event.clone();
        self.capture_and_record(&incident, &event, actor).await.map(Some)
    }

    async fn capture_and_record(
        &self,
        incident: &crate::incident::Incident,
        event: &crate::timeline::Event,
        actor: &str,
    ) -> Result<Captured> {
        let got = capture(&*self.cluster, incident, event, &self.options.capture, self.clock.now()).await;
        let preserved = self.incidents.preserve(&incident.id, got.items, actor).await?;
        Ok(Captured {
            incident_id: incident.id.clone(),
            prefix: trigger_prefix(event),
            targets: got.targets,
            items: preserved.added.into_iter().map(|i| i.name).collect(),
            failed: got.failed,
        })
    }

    /// Capture every trigger event without evidence of the incidents open, or resolved within the
    /// lookback, at `now`.
    ///
    /// # Errors
    /// The store's when the incidents cannot be listed; a problem with one incident is in
    /// [`EvidenceReport::errors`] and the others are still handled.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<EvidenceReport> {
        let since = now - self.options.lookback.as_delta();
        let mut report = EvidenceReport { at: now, incidents: 0, captured: Vec::new(), errors: Vec::new() };
        let all = self.incidents.store().incidents().await?;
        for incident in all.iter().filter(|i| i.status != Status::Resolved || i.resolved_at.is_some_and(|r| r >= since))
        {
            report.incidents += 1;
            let result = async {
                let (incident, timeline) = self.incidents.load(&incident.id).await?;
                for event in pending(&timeline) {
                    let c = self.capture_and_record(&incident, event, &self.options.actor).await?;
                    report.captured.push(c);
                }
                Ok::<(), crate::Error>(())
            }
            .await;
            if let Err(e) = result {
                report.errors.push(IncidentFailure {
                    incident_id: incident.id.clone(),
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
        Ok(report)
    }
}
