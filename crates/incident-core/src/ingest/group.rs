//! Alert groups → incidents: the one rule for whether a group of alerts declares an incident, and what a
//! repeated, updated or resolved group adds to the incident it already has.
//!
//! `incident ingest` shows the decision; the receiver (`incident serve`, crate `incident-receiver`) keeps
//! a [`GroupState`] per open incident and applies the decisions, so both decide identically.
//!
//! # Groups
//!
//! A group is the unit of deduplication ([`AlertBatch::groups`]): an Alertmanager or Grafana payload is
//! one group (`groupKey`), a CloudWatch alarm one (its ARN), a Datadog monitor group one (`$AGGREG_KEY`);
//! every PagerDuty event is its own group (its `dedup_key`). Keys are namespaced by source
//! (`alertmanager:{}:{alertname="HighErrorRate"}`, `pagerduty:db-integrity-7f3a`). Without a key the
//! alert identity is used, and without one a digest of the labels.
//!
//! # Decisions ([`decide`])
//!
//! * **No open incident for the group**: it declares one when ([`assess`])
//!   1. a firing alert breaches a declaration rule under `policy.declaration` —
//!      [`detector::sustained`](crate::detector::sustained): the threshold is ours, the sustained window
//!      the source's (Prometheus `for:`, CloudWatch evaluation periods, a Datadog monitor's window); or
//!   2. its firing alerts classify at `policy.ingest.declare_min_severity` (P1) or worse.
//!
//!   Otherwise it is ignored, with the reason.
//! * **An open incident has the group**: new alerts and changed statuses are recorded
//!   ([`EventKind::AlertsReceived`]); a worse classification raises the severity (never lowers it); a
//!   PagerDuty `acknowledge` acknowledges the incident; when every alert of the group has resolved, a
//!   passed check *alert group clear* is recorded as resolution evidence — resolving stays a human
//!   decision (the runbook's verification steps come first). A repeat with nothing new is a
//!   [`Decision::Duplicate`].
//! * A resolved incident no longer owns its group: the next firing declares a new incident.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AlertBatch, AlertSource, AlertStatus, IngestedAlert, firing_facts};
pub use crate::alert::{AlertRecord, describe_alerts};
use crate::classify::{Classification, Classifier, ImpactFacts};
use crate::declare::{Basis, Decided, ReceivedAlerts};
use crate::detector::{Declaration, sustained};
use crate::incident::{Incident, incident_id};
use crate::timeline::{EventKind, Timeline};
use crate::{Policy, Result, Severity, Status};

/// Name of the check recorded when every alert of a group has resolved.
pub const CLEAR_CHECK: &str = "alert group clear";

/// The alerts of one group, in payload order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertGroup {
    /// Where it came from.
    pub source: AlertSource,
    /// The deduplication key, namespaced by source (see the module docs).
    pub key: String,
    /// The alerts.
    pub alerts: Vec<IngestedAlert>,
}

/// What an open incident already knows about its group (rebuilt from its timeline by [`GroupState::replay`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupState {
    /// The group key.
    pub key: String,
    /// Last recorded status of every alert id.
    pub alerts: BTreeMap<String, AlertStatus>,
    /// Whether *alert group clear* is the latest clear/firing fact recorded.
    pub clear_recorded: bool,
}

impl GroupState {
    /// Whether every known alert has resolved (and there is at least one).
    #[must_use]
    pub fn all_resolved(&self) -> bool {
        !self.alerts.is_empty() && self.alerts.values().all(|s| *s == AlertStatus::Resolved)
    }

    /// Rebuild the state of the group a receiver-declared incident owns from its timeline: the group of
    /// the first [`EventKind::AlertsReceived`] event, every such event of that group applied in order.
    /// `None` when the timeline has no alerts (the incident was not declared from alerts).
    #[must_use]
    pub fn replay(timeline: &Timeline) -> Option<Self> {
        let mut state: Option<Self> = None;
        for ev in timeline.events() {
            match &ev.kind {
                EventKind::AlertsReceived { group_key, alerts, .. } => {
                    let st = state.get_or_insert_with(|| Self { key: group_key.clone(), ..Self::default() });
                    if st.key == *group_key {
                        st.record(alerts);
                    }
                }
                EventKind::CheckResult { name, passed, .. } if name == CLEAR_CHECK => {
                    if let Some(st) = &mut state {
                        st.clear_recorded = *passed;
                    }
                }
                _ => {}
            }
        }
        state
    }

    fn record(&mut self, alerts: &[AlertRecord]) {
        for a in alerts {
            self.alerts.insert(a.id.clone(), a.status);
            if a.status == AlertStatus::Firing {
                self.clear_recorded = false;
            }
        }
    }
}

/// Whether and why a group declares an incident ([`assess`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The firing alerts' facts, merged (worst wins), with the breaches' facts.
    pub facts: ImpactFacts,
    /// Their classification under the policy's classifier.
    pub classification: Classification,
    /// The declaration rules the firing alerts breach (window applied by the source).
    pub declarations: Vec<Declaration>,
    /// Whether the group warrants an incident.
    pub declare: bool,
    /// Why (one line).
    pub reason: String,
}

/// What to do with a group ([`decide`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Declare a new incident for the group.
    Declare {
        /// Why.
        assessment: Assessment,
    },
    /// Record news on the group's open incident.
    Update(Update),
    /// Nothing new (a repeated notification).
    Duplicate,
    /// No incident, and none warranted.
    Ignore {
        /// Why.
        reason: String,
    },
}

/// News for an open incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Update {
    /// New alerts and changed statuses.
    pub changes: Vec<AlertRecord>,
    /// Raise the severity to this (the group now classifies worse than the incident).
    pub raise_to: Option<Severity>,
    /// The classification behind `raise_to`.
    pub classification: Classification,
    /// Every alert of the group has now resolved: record *alert group clear*.
    pub clear: bool,
    /// An alert was acknowledged at the source (PagerDuty `acknowledge`).
    pub acknowledged: bool,
}

/// What a receiver did with a group, for responses and `incident ingest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new incident was declared.
    Declared,
    /// The group's open incident was updated.
    Updated,
    /// A repeat: nothing recorded.
    Duplicate,
    /// No incident warranted.
    Ignored,
}

impl Outcome {
    /// The snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::Updated => "updated",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

impl Decision {
    /// The outcome applying this decision has.
    #[must_use]
    pub const fn outcome(&self) -> Outcome {
        match self {
            Self::Declare { .. } => Outcome::Declared,
            Self::Update(_) => Outcome::Updated,
            Self::Duplicate => Outcome::Duplicate,
            Self::Ignore { .. } => Outcome::Ignored,
        }
    }
}

fn short_digest(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let mut out = hex::encode(h.finalize());
    out.truncate(len);
    out
}

/// The identity of an alert within its group: the source's (fingerprint, dedup key, ...), else a digest
/// of its name and labels.
#[must_use]
pub fn alert_id(alert: &IngestedAlert) -> String {
    if let Some(id) = alert.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        return id.to_owned();
    }
    let mut parts: Vec<&str> = vec![alert.name.as_deref().unwrap_or("")];
    for (k, v) in &alert.labels {
        parts.push(k);
        parts.push(v);
    }
    format!("labels:{}", short_digest(&parts, 16))
}

impl AlertBatch {
    /// Split into groups (see the module docs).
    #[must_use]
    pub fn groups(&self) -> Vec<AlertGroup> {
        let source = self.source;
        let ns = |key: &str| format!("{}:{key}", source.as_str());
        if let Some(key) = self.group_key.as_deref().filter(|k| !k.is_empty()) {
            return vec![AlertGroup { source, key: ns(key), alerts: self.alerts.clone() }];
        }
        let mut out: Vec<AlertGroup> = Vec::new();
        for a in &self.alerts {
            let key = ns(&alert_id(a));
            match out.iter_mut().find(|g| g.key == key) {
                Some(g) => g.alerts.push(a.clone()),
                None => out.push(AlertGroup { source, key, alerts: vec![a.clone()] }),
            }
        }
        out
    }
}

/// Assess the firing alerts of `group` (see the module docs).
#[must_use]
pub fn assess(group: &AlertGroup, policy: &Policy) -> Assessment {
    let mut facts = firing_facts(&group.alerts);
    let mut declarations = Vec::new();
    for a in group.alerts.iter().filter(|a| a.status == AlertStatus::Firing) {
        if let Some(obs) = &a.observation {
            if let Some(d) = sustained(&policy.declaration, obs, a.starts_at.unwrap_or(obs.at)) {
                facts.merge(&d.facts);
                declarations.push(d);
            }
        }
    }
    let classification = Classifier::from_policy(policy).classify(&facts);
    let min = policy.ingest.declare_min_severity;
    let (declare, reason) = if let Some(d) = declarations.first() {
        let more =
            if declarations.len() > 1 { format!(" (and {} more)", declarations.len() - 1) } else { String::new() };
        (true, format!("declaration rule {} holds for {}{more}, sustained per {}", d.rule, d.service, group.source))
    } else {
        match classification.severity() {
            Some(sev) if sev >= min => {
                (true, format!("classified {classification}, at or above ingest.declare_min_severity ({min})"))
            }
            Some(_) => (
                false,
                format!(
                    "classified {classification}, below ingest.declare_min_severity ({min}), and no firing alert breaches \
                     a declaration rule"
                ),
            ),
            None if group.alerts.iter().any(|a| a.status == AlertStatus::Firing) => {
                (false, "insufficient facts: no firing alert maps to an impact (see policy ingest.rules)".to_owned())
            }
            None => (false, "no firing alerts".to_owned()),
        }
    };
    Assessment { facts, classification, declarations, declare, reason }
}

fn record(alert: &IngestedAlert, classifier: &Classifier) -> AlertRecord {
    AlertRecord {
        id: alert_id(alert),
        name: alert.name.clone(),
        service: alert.service.clone(),
        status: alert.status,
        severity: alert.classify_with(classifier).severity(),
        at: match alert.status {
            AlertStatus::Resolved => alert.ends_at.or(alert.starts_at),
            _ => alert.starts_at,
        },
    }
}

/// Decide what `group` does, given the state of its open incident (`None`: no open incident) and that
/// incident's current severity.
#[must_use]
pub fn decide(group: &AlertGroup, open: Option<(&GroupState, Severity)>, policy: &Policy) -> Decision {
    let Some((state, severity)) = open else {
        let assessment = assess(group, policy);
        return if assessment.declare {
            Decision::Declare { assessment }
        } else {
            Decision::Ignore { reason: assessment.reason }
        };
    };
    let classifier = Classifier::from_policy(policy);
    // Latest status per alert id within this payload (a payload may repeat an id).
    let mut latest: BTreeMap<String, usize> = BTreeMap::new();
    let mut changes: Vec<AlertRecord> = Vec::new();
    for a in &group.alerts {
        let rec = record(a, &classifier);
        let known = match latest.get(&rec.id) {
            Some(&i) => Some(changes[i].status),
            None => state.alerts.get(&rec.id).copied(),
        };
        if known != Some(rec.status) {
            latest.insert(rec.id.clone(), changes.len());
            changes.push(rec);
        }
    }
    if changes.is_empty() {
        return Decision::Duplicate;
    }
    let classification = assess(group, policy).classification;
    let raise_to = classification.severity().filter(|s| *s > severity);
    let acknowledged = changes.iter().any(|c| c.status == AlertStatus::Acknowledged);
    // Only a resolution can make the group clear; then every alert's latest status must be resolved.
    let latest_status = |id: &str, known: AlertStatus| latest.get(id).map_or(known, |&i| changes[i].status);
    let clear = changes.iter().any(|c| c.status == AlertStatus::Resolved)
        && state.alerts.iter().all(|(id, st)| latest_status(id, *st) == AlertStatus::Resolved)
        && latest
            .iter()
            .all(|(_, &i)| changes[i].status == AlertStatus::Resolved || state.alerts.contains_key(&changes[i].id));
    Decision::Update(Update { changes, raise_to, classification, clear, acknowledged })
}

/// The title of an incident declared from `group`: `"{alertname} on {service}"` of the alert behind the
/// first breach (else the first firing alert), `" (+N more alerts)"` when there are more.
fn title(group: &AlertGroup, assessment: &Assessment) -> String {
    let firing: Vec<&IngestedAlert> = group.alerts.iter().filter(|a| a.status == AlertStatus::Firing).collect();
    let lead = assessment
        .declarations
        .first()
        .and_then(|d| firing.iter().find(|a| a.service.as_deref() == Some(d.service.as_str())))
        .or_else(|| firing.first())
        .copied();
    let mut t = match lead {
        Some(a) => {
            let name = a.name.as_deref().or(a.summary.as_deref()).unwrap_or("alert");
            match &a.service {
                Some(s) => format!("{name} on {s}"),
                None => name.to_owned(),
            }
        }
        None => format!("{} alert group", group.source),
    };
    if firing.len() > 1 {
        let _ = write!(t, " (+{} more alerts)", firing.len() - 1);
    }
    t
}

/// The [`Basis`] of an incident declared from `group` at `now`: the assessment's facts, the firing
/// alerts' services, the title (see [`declare`]), started and detected at the earliest firing `startsAt`,
/// detected by `group.source`, and the group's alerts as recorded.
#[must_use]
pub fn basis(group: &AlertGroup, assessment: &Assessment, policy: &Policy, now: DateTime<Utc>) -> Basis {
    let firing: Vec<&IngestedAlert> = group.alerts.iter().filter(|a| a.status == AlertStatus::Firing).collect();
    let started_at = firing.iter().filter_map(|a| a.starts_at).min().map(|t| t.min(now));
    let classifier = Classifier::from_policy(policy);
    let mut basis = Basis::new(title(group, assessment), group.source.as_str());
    basis.facts = assessment.facts.clone();
    basis.components = firing.iter().filter_map(|a| a.service.clone()).collect();
    basis.started_at = started_at;
    basis.detected_at = started_at;
    basis.alerts = Some(ReceivedAlerts {
        source: group.source.as_str().to_owned(),
        group_key: group.key.clone(),
        alerts: group.alerts.iter().map(|a| record(a, &classifier)).collect(),
    });
    basis
}

/// The id of an incident the receiver declares from `group` at `now`: `INC-YYYYMMDD-HHMM-xxxxxxxx`, the
/// suffix a digest of the group key and `now`, so concurrent declarations never collide.
#[must_use]
pub fn group_incident_id(group: &AlertGroup, now: DateTime<Utc>) -> String {
    incident_id(now, Some(&short_digest(&[&group.key, &now.to_rfc3339()], 8)))
}

/// Declare the incident of a [`Decision::Declare`] at `now` on the one declaration path
/// ([`crate::declare`]): [`basis`], the severity the assessment decided (not classified again), the id
/// [`group_incident_id`]. The timeline ends with the group's alerts ([`EventKind::AlertsReceived`]).
///
/// # Errors
/// As [`Decided::classified`] and [`Decided::declare`].
pub fn declare(
    group: &AlertGroup,
    assessment: &Assessment,
    policy: &Policy,
    on_call: &str,
    now: DateTime<Utc>,
) -> Result<(Incident, Timeline)> {
    let decided = Decided::classified(basis(group, assessment, policy, now), assessment.classification)?;
    let declared = decided.declare(policy, group_incident_id(group, now), on_call, now)?;
    Ok((declared.incident, declared.timeline))
}

/// Apply a [`Decision::Update`] at `at`: the changes as [`EventKind::AlertsReceived`], then a severity
/// raise, an acknowledgement and the *alert group clear* check as the update says. `state` is advanced.
///
/// # Errors
/// As the [`Incident`] lifecycle methods (a resolved incident refuses changes: the caller declares anew).
pub fn apply_update(
    group: &AlertGroup,
    update: &Update,
    incident: &mut Incident,
    timeline: &mut Timeline,
    state: &mut GroupState,
    at: DateTime<Utc>,
) -> Result<()> {
    let actor = group.source.as_str();
    let at = timeline.last().map_or(at, |last| at.max(last.at));
    timeline.append(
        at,
        actor,
        EventKind::AlertsReceived {
            source: group.source.as_str().to_owned(),
            group_key: group.key.clone(),
            alerts: update.changes.clone(),
        },
    )?;
    state.record(&update.changes);
    if incident.status == Status::Resolved {
        return Ok(());
    }
    if let Some(to) = update.raise_to {
        let reason = format!("alert group {} now classifies as {}", group.key, update.classification);
        incident.change_severity(to, &reason, at, actor, timeline)?;
    }
    if update.acknowledged && incident.acknowledged_at.is_none() {
        incident.acknowledge(at, actor, timeline)?;
    }
    if update.clear && !state.clear_recorded {
        let detail = format!(
            "all {} alerts of {} group {} resolved; verify recovery (runbook: Verification Steps) before resolving",
            state.alerts.len(),
            group.source,
            group.key
        );
        timeline.append(at, actor, EventKind::CheckResult { name: CLEAR_CHECK.to_owned(), passed: true, detail })?;
        state.clear_recorded = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ingest::{parse_alertmanager, parse_pagerduty};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 3, 14, 10, 0).single().expect("time")
    }

    fn am(status: &str, alerts: &[(&str, &str, &str, &str)]) -> Vec<u8> {
        let alerts: Vec<String> = alerts
            .iter()
            .map(|(fp, name, svc, st)| {
                let ends = if *st == "resolved" { "2024-05-03T14:09:00Z" } else { "0001-01-01T00:00:00Z" };
                format!(
                    r#"{{"status":"{st}","fingerprint":"{fp}","startsAt":"2024-05-03T14:00:00Z","endsAt":"{ends}","labels":{{"alertname":"{name}","service":"{svc}","severity":"critical"}},"annotations":{{"value":"0.12"}}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"X\"}}","status":"{status}","alerts":[{}]}}"#,
            alerts.join(",")
        )
        .into_bytes()
    }

    fn group(body: &[u8]) -> AlertGroup {
        let mut g = parse_alertmanager(body, &Policy::default()).expect("parse").groups();
        assert_eq!(g.len(), 1);
        g.remove(0)
    }

    #[test]
    fn firing_breach_declares_then_repeats_are_duplicates_and_resolution_is_evidence() {
        let policy = Policy::default();
        let g = group(&am("firing", &[("a1", "HighErrorRate", "api", "firing")]));
        assert_eq!(g.key, "alertmanager:{}:{alertname=\"X\"}");
        let Decision::Declare { assessment } = decide(&g, None, &policy) else { panic!("declare") };
        assert!(assessment.reason.starts_with("declaration rule error_rate holds for api"), "{}", assessment.reason);
        let (mut inc, mut tl) = declare(&g, &assessment, &policy, "alice", now()).expect("declare");
        assert_eq!(inc.severity, Severity::P1);
        assert_eq!(inc.title, "HighErrorRate on api");
        assert!(inc.id.starts_with("INC-20240503-1410-"), "{}", inc.id);
        assert_eq!(inc.detected_at.to_rfc3339(), "2024-05-03T14:00:00+00:00");
        let mut state = GroupState::replay(&tl).expect("state");
        assert_eq!(state.alerts.len(), 1);

        assert_eq!(decide(&g, Some((&state, inc.severity)), &policy), Decision::Duplicate);

        let g2 =
            group(&am("firing", &[("a1", "HighErrorRate", "api", "firing"), ("a2", "HighErrorRate", "web", "firing")]));
        let Decision::Update(u) = decide(&g2, Some((&state, inc.severity)), &policy) else { panic!("update") };
        assert_eq!(u.changes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["a2"]);
        assert!(!u.clear && u.raise_to.is_none());
        apply_update(&g2, &u, &mut inc, &mut tl, &mut state, now()).expect("apply");

        let g3 = group(&am(
            "resolved",
            &[("a1", "HighErrorRate", "api", "resolved"), ("a2", "HighErrorRate", "web", "resolved")],
        ));
        let Decision::Update(u) = decide(&g3, Some((&state, inc.severity)), &policy) else { panic!("update") };
        assert!(u.clear);
        apply_update(&g3, &u, &mut inc, &mut tl, &mut state, now()).expect("apply");
        let last = tl.last().expect("event");
        assert!(matches!(&last.kind, EventKind::CheckResult { name, passed: true, .. } if name == CLEAR_CHECK));
        assert_eq!(inc.status, Status::Investigating, "resolution stays a human decision");
        assert_eq!(GroupState::replay(&tl), Some(state.clone()));
        assert!(state.clear_recorded);
        // Resolved again: nothing new.
        assert_eq!(decide(&g3, Some((&state, inc.severity)), &policy), Decision::Duplicate);
        let text = tl.events()[tl.len() - 2].kind.describe();
        assert_eq!(text, "Alerts from alertmanager: resolved HighErrorRate on api; resolved HighErrorRate on web");
    }

    #[test]
    fn below_threshold_is_ignored_and_worse_alerts_raise_severity() {
        let policy = Policy::default();
        let warning = br#"{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","fingerprint":"d","startsAt":"2024-05-03T14:00:00Z","labels":{"alertname":"DiskSpaceLow","service":"db","severity":"warning"}}]}"#;
        let g = group(warning);
        let Decision::Ignore { reason } = decide(&g, None, &policy) else { panic!("ignore") };
        assert!(reason.contains("below ingest.declare_min_severity (P1)"), "{reason}");
        // With P2 allowed it declares at P2, and a data-integrity alert then raises it to P0.
        let mut p2 = Policy::default();
        p2.ingest.declare_min_severity = Severity::P2;
        let Decision::Declare { assessment } = decide(&g, None, &p2) else { panic!("declare") };
        let (mut inc, mut tl) = declare(&g, &assessment, &p2, "bob", now()).expect("declare");
        assert_eq!(inc.severity, Severity::P2);
        let mut state = GroupState::replay(&tl).expect("state");
        let worse = br#"{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","fingerprint":"i","startsAt":"2024-05-03T14:05:00Z","labels":{"alertname":"DataIntegrityCheckFailed","service":"db"}}]}"#;
        let g2 = group(worse);
        let Decision::Update(u) = decide(&g2, Some((&state, inc.severity)), &p2) else { panic!("update") };
        assert_eq!(u.raise_to, Some(Severity::P0));
        apply_update(&g2, &u, &mut inc, &mut tl, &mut state, now()).expect("apply");
        assert_eq!(inc.severity, Severity::P0);
    }

    #[test]
    fn pagerduty_events_group_by_dedup_key_and_acknowledge() {
        let policy = Policy::default();
        let body = std::fs::read(crate::ingest::fixtures::path("pagerduty", "batch-lifecycle.json")).expect("fixture");
        let batch = parse_pagerduty(&body, &policy).expect("parse");
        let groups = batch.groups();
        assert!(groups.iter().all(|g| g.key.starts_with("pagerduty:")));
        let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
        let mut dedup = keys.clone();
        dedup.dedup();
        assert_eq!(keys, dedup);
        let trigger = br#"{"routing_key":"k","event_action":"trigger","dedup_key":"d1","payload":{"summary":"s","source":"h","severity":"critical","custom_details":{"service":"api"}}}"#;
        let g = parse_pagerduty(trigger, &policy).expect("parse").groups().remove(0);
        let Decision::Declare { assessment } = decide(&g, None, &policy) else { panic!("declare") };
        let (mut inc, mut tl) = declare(&g, &assessment, &policy, "carol", now()).expect("declare");
        let mut state = GroupState::replay(&tl).expect("state");
        let ack = br#"{"routing_key":"k","event_action":"acknowledge","dedup_key":"d1"}"#;
        let g2 = parse_pagerduty(ack, &policy).expect("parse").groups().remove(0);
        assert_eq!(g2.key, g.key);
        let Decision::Update(u) = decide(&g2, Some((&state, inc.severity)), &policy) else { panic!("update") };
        assert!(u.acknowledged);
        apply_update(&g2, &u, &mut inc, &mut tl, &mut state, now()).expect("apply");
        assert_eq!(inc.acknowledged_at, Some(now()));
    }

    #[test]
    fn groups_without_keys_use_alert_identity() {
        let body = br#"{"version":"4","status":"firing","alerts":[
            {"status":"firing","startsAt":"2024-05-03T14:00:00Z","labels":{"alertname":"A","service":"x"}},
            {"status":"firing","startsAt":"2024-05-03T14:00:00Z","labels":{"alertname":"A","service":"x"}},
            {"status":"firing","startsAt":"2024-05-03T14:00:00Z","labels":{"alertname":"B","service":"x"}}]}"#;
        let groups = parse_alertmanager(body, &Policy::default()).expect("parse").groups();
        assert_eq!(groups.len(), 2);
        assert!(groups[0].key.starts_with("alertmanager:labels:"));
        assert_eq!(groups[0].alerts.len(), 2);
    }
}
