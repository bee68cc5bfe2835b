//! The one declaration path (runbook "Incident Declaration"): every incident, whatever raised it, is
//! declared here.
//!
//! 1. A [`Basis`] says what is known: impact facts, services, title, when it started and was detected,
//!    by what, and the alert group behind it if any. `incident declare` builds it from fired detector
//!    declarations ([`Basis::from_declarations`]) or from a person's report ([`Basis::reported`]); the
//!    receiver and `incident ingest` from an alert group ([`crate::ingest::group::basis`]); a drill from
//!    its scenario's alert group and detector declarations, exactly as the receiver and the detector
//!    would.
//! 2. The severity is **decided once**, into a [`Decided`]: by the policy's classifier
//!    ([`Basis::decide`]), by an assessment that already classified the same facts
//!    ([`Decided::classified`]: the receiver's), or by the reporter ([`Decided::reported`]). Nothing
//!    after this point classifies again; the severity and its reason are carried on the incident.
//! 3. [`Decided::declare`] makes the [`Incident`] and starts its timeline: `detected`, `declared`,
//!    `commander_assigned`, then `alerts_received` with the group's alerts when there is a group. The
//!    impact is the reporter's words when given, else the classification's text (`P1 (Customer-facing
//!    errors)`), which a later [`Incident::change_severity`] restates for the new severity.
//!
//! What the declaration sends (channel intro, ticket, pages) is [`Incident::declaration_notifications`];
//! the first status-page update and every later one are the [cadence driver](crate::cadence)'s.

use chrono::{DateTime, Utc};

use crate::alert::AlertRecord;
use crate::classify::{Classification, Classifier, ImpactFacts};
use crate::detector::Declaration;
use crate::incident::{DeclareRequest, Incident};
use crate::store::{Store, StoreWrite};
use crate::timeline::{EventKind, Timeline};
use crate::{Error, Policy, Result, Severity};

/// Who reported an incident declared by hand (runbook "Manual Reporting"), recorded as its detection
/// source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportSource {
    /// A customer reported it (`customer report`).
    Customer,
    /// Someone inside the company did (`internal report`).
    Internal,
    /// A partner told us (`partner notification`).
    Partner,
}

impl ReportSource {
    /// Every source, in the runbook's order.
    pub const ALL: [Self; 3] = [Self::Customer, Self::Internal, Self::Partner];

    /// The short name (`customer`, `internal`, `partner`), as the CLI and policy files write it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Internal => "internal",
            Self::Partner => "partner",
        }
    }

    /// The runbook's words, recorded as the detection source (`customer report`).
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::Customer => "customer report",
            Self::Internal => "internal report",
            Self::Partner => "partner notification",
        }
    }
}

/// The alert group an incident is declared from, recorded as its first `alerts_received` event.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedAlerts {
    /// The source (`alertmanager`, `pagerduty`, ...), also the event's actor.
    pub source: String,
    /// The group's deduplication key.
    pub group_key: String,
    /// Its alerts as recorded.
    pub alerts: Vec<AlertRecord>,
}

/// What an incident is declared from (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    /// Impact facts, merged (worst wins).
    pub facts: ImpactFacts,
    /// Affected services (sorted and deduplicated on declaration).
    pub components: Vec<String>,
    /// Brief description.
    pub title: String,
    /// User impact in a person's words; `None`: the classification's text.
    pub impact: Option<String>,
    /// When the issue began, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected (the declaration time when unknown).
    pub detected_at: Option<DateTime<Utc>>,
    /// What detected it (`detector`, `alertmanager`, `customer report`, ...).
    pub detection_source: String,
    /// The alert group behind it, if any.
    pub alerts: Option<ReceivedAlerts>,
}

impl Basis {
    /// A basis with a title and a source, and nothing else known yet.
    #[must_use]
    pub fn new(title: impl Into<String>, detection_source: impl Into<String>) -> Self {
        Self {
            facts: ImpactFacts::default(),
            components: Vec::new(),
            title: title.into(),
            impact: None,
            started_at: None,
            detected_at: None,
            detection_source: detection_source.into(),
            alerts: None,
        }
    }

    /// The basis of fired detector declarations, and the declaration time (the latest firing): facts
    /// merged, components = their services, title `"{rule} on {service}"` of the earliest firing, which
    /// also gives the start (its window start) and the detection time (when it fired). `None` for no
    /// declarations.
    #[must_use]
    pub fn from_declarations(declarations: &[Declaration]) -> Option<(Self, DateTime<Utc>)> {
        let first = declarations.iter().min_by_key(|d| d.declared_at)?;
        let declared_at = declarations.iter().map(|d| d.declared_at).max().unwrap_or(first.declared_at);
        let mut basis = Self::new(format!("{} on {}", first.rule.words(), first.service), "detector");
        basis.started_at = Some(first.window_start);
        basis.detected_at = Some(first.declared_at);
        basis.add_declarations(declarations);
        Some((basis, declared_at))
    }

    /// A person's report (runbook "Manual Reporting": a customer report, an internal report, a partner
    /// notification): `source` is recorded as what detected it. The reporter decides the severity with
    /// [`Decided::reported`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank title or source.
    pub fn reported(title: &str, source: &str) -> Result<Self> {
        if title.trim().is_empty() {
            return Err(Error::invalid_input("title must not be empty"));
        }
        if source.trim().is_empty() {
            return Err(Error::invalid_input("reporting source must not be empty"));
        }
        Ok(Self::new(title.trim(), source.trim()))
    }

    /// Add the facts and services of detector declarations (a drill whose detector fired beside its
    /// alerts); the start moves to the earliest window start.
    pub fn add_declarations(&mut self, declarations: &[Declaration]) {
        for d in declarations {
            self.facts.merge(&d.facts);
            self.components.push(d.service.clone());
            self.started_at = Some(self.started_at.map_or(d.window_start, |s| s.min(d.window_start)));
        }
    }

    /// Decide the severity with `policy`'s classifier (see [`Decided::classified`]).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the facts are invalid or
    /// insufficient to classify (no severity, so no incident).
    pub fn decide(self, policy: &Policy) -> Result<Decided> {
        let classification = Classifier::from_policy(policy).try_classify(&self.facts)?;
        Decided::classified(self, classification)
    }
}

/// A [`Basis`] whose severity is decided, ready to [declare](Decided::declare).
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// What is declared.
    pub basis: Basis,
    /// The severity.
    pub severity: Severity,
    /// The classification that decided it; `None` when a person did ([`Decided::reported`]).
    pub classification: Option<Classification>,
}

impl Decided {
    /// The severity of `classification`, which must be of `basis.facts` (the receiver's assessment
    /// classified them already: it is not done twice).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the classification is
    /// insufficient.
    pub fn classified(basis: Basis, classification: Classification) -> Result<Self> {
        let severity = classification.require_severity()?;
        Ok(Self { basis, severity, classification: Some(classification) })
    }

    /// The severity a person reported.
    #[must_use]
    pub fn reported(basis: Basis, severity: Severity) -> Self {
        Self { basis, severity, classification: None }
    }

    /// The impact text the incident starts with: the basis's words, else `P1 (Customer-facing errors)`
    /// (the classification), else `P1 (reported by customer report)`.
    #[must_use]
    pub fn impact(&self) -> String {
        match (&self.basis.impact, &self.classification) {
            (Some(words), _) if !words.trim().is_empty() => words.trim().to_owned(),
            (_, Some(c)) => c.to_string(),
            _ => format!("{} (reported by {})", self.severity, self.basis.detection_source),
        }
    }

    /// Declare at `now` (see the [module docs](self)): [`Incident::declare`] with the decided severity,
    /// customer-facing unless the facts say otherwise, customers affected when they say so; then the
    /// alert group, if any, as the first `alerts_received` event.
    ///
    /// # Errors
    /// As [`Incident::declare`] (blank id, title, on-call or component; times out of order).
    pub fn declare(
        self,
        policy: &Policy,
        id: impl Into<String>,
        on_call: &str,
        now: DateTime<Utc>,
    ) -> Result<Declared> {
        let impact = self.impact();
        let Self { basis, severity, classification } = self;
        let mut components = basis.components;
        components.retain(|c| !c.trim().is_empty());
        components.sort();
        components.dedup();
        let req = DeclareRequest {
            id: id.into(),
            title: basis.title,
            severity,
            components,
            impact,
            customer_facing: basis.facts.customer_facing.unwrap_or(true),
            customers_affected: basis.facts.customers_affected.unwrap_or(false),
            on_call: on_call.to_owned(),
            commander: None,
            started_at: basis.started_at.map(|s| s.min(now)),
            detected_at: basis.detected_at.map(|d| d.min(now)),
            detection_source: Some(basis.detection_source),
        };
        let (incident, mut timeline) = Incident::declare(req, policy, now)?;
        if let Some(g) = basis.alerts {
            timeline.append(
                now,
                g.source.as_str(),
                EventKind::AlertsReceived { source: g.source.clone(), group_key: g.group_key, alerts: g.alerts },
            )?;
        }
        Ok(Declared { incident, timeline, classification })
    }
}

/// A declared incident and its first timeline events (not yet stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The incident.
    pub incident: Incident,
    /// Its timeline so far.
    pub timeline: Timeline,
    /// The classification that decided the severity (`None`: reported by a person).
    pub classification: Option<Classification>,
}

impl Declared {
    /// Store the new incident and its first events as one write.
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the store already has an incident with
    /// this id (nothing is written); store errors.
    pub async fn record(&self, store: &dyn Store) -> Result<()> {
        let id = &self.incident.id;
        if store.incident(id).await?.is_some() {
            return Err(Error::conflict(format!("incident {id} already exists in the store")));
        }
        store
            .write_batch(&[
                StoreWrite::SaveIncident(self.incident.clone()),
                StoreWrite::AppendEvents { incident_id: id.clone(), events: self.timeline.events().to_vec() },
            ])
            .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ErrorKind;

    fn at(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 14, m, 0).single().expect("valid time")
    }

    #[test]
    fn a_report_declares_with_the_reporters_severity_and_source() {
        let basis = Basis::reported("Checkout fails for EU customers", "customer report").expect("basis");
        let d = Decided::reported(basis, Severity::P1).declare(&Policy::default(), "INC-9", "alice", at(5));
        let d = d.expect("declare");
        assert_eq!(d.incident.severity, Severity::P1);
        assert_eq!(d.incident.impact, "P1 (reported by customer report)");
        assert!(d.classification.is_none());
        let first = &d.timeline.events()[0];
        assert_eq!(first.actor, "customer report");
        let kinds: Vec<_> = d.timeline.events().iter().map(|e| e.kind.type_name()).collect();
        assert_eq!(kinds, ["detected", "declared", "commander_assigned"]);
        let err = Basis::reported("x", " ").expect_err("blank source");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn insufficient_facts_declare_nothing_and_written_impact_wins() {
        let err = Basis::new("t", "detector").decide(&Policy::default()).expect_err("no facts");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let mut basis = Basis::new("t", "detector");
        basis.facts.customer_facing_errors = true;
        basis.impact = Some("  30% of predictions fail ".into());
        basis.started_at = Some(at(9)); // later than the declaration: clamped, not refused
        let d = basis.decide(&Policy::default()).expect("decided");
        assert_eq!(d.impact(), "30% of predictions fail");
        let d = d.declare(&Policy::default(), "INC-1", "bob", at(5)).expect("declare");
        assert_eq!(d.incident.started_at, Some(at(5)));
        assert_eq!(d.incident.severity, d.classification.and_then(|c| c.severity()).expect("severity"));
    }
}
