//! How alert payloads map onto observations and impact facts (the `[ingest]` section of a policy file).
//!
//! Mapping an alert, in order:
//!
//! 1. **Context** — the service is the value of [`IngestPolicy::service_label`], else of the first
//!    present label in [`IngestPolicy::service_fallback_labels`]; the component and customer-facing flag
//!    come from [`IngestPolicy::component_label`] and [`IngestPolicy::customer_facing_label`]
//!    (`true`/`yes`/`1` or `false`/`no`/`0`, any case).
//! 2. **Rules** — the *first* [`AlertRule`] whose `match` labels all equal the alert's labels applies. Its
//!    `signal` turns the alert into a detector [`Observation`](crate::detector::Observation) (values read
//!    from [`IngestPolicy::value_annotation`] / [`IngestPolicy::baseline_annotation`]) and into the facts
//!    that signal implies; its `facts` are merged on top (worst wins).
//! 3. **Severity fallback** — when no rule gave any impact fact, the alert's severity
//!    ([`IngestPolicy::severity_label`], or the PagerDuty `payload.severity`) selects facts from
//!    [`IngestPolicy::severity_facts`].
//! 4. Otherwise the alert carries no impact facts and classifies as *insufficient*.
//!
//! An alert *group* (see [`crate::ingest::group`]) declares an incident when one of its firing alerts
//! breaches a declaration rule (its source applied the sustained window), or when its firing alerts
//! classify at [`IngestPolicy::declare_min_severity`] or worse.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeclarationRule;
use crate::impact::{ImpactFacts, OutageScope};
use crate::{Error, Result, Severity};

/// Label mapping for alert ingestion (Alertmanager v4 webhooks and PagerDuty Events v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IngestPolicy {
    /// Label naming the affected service (default `service`).
    pub service_label: String,
    /// Labels tried, in order, when `service_label` is absent (default `app`, `job`, `group`).
    pub service_fallback_labels: Vec<String>,
    /// Label naming the affected component (default `component`).
    pub component_label: String,
    /// Label saying whether the service is customer-facing (default `customer_facing`).
    pub customer_facing_label: String,
    /// Label carrying the alert's own severity (`critical`, `error`, `warning`, `info`; default
    /// `severity`). PagerDuty events use `payload.severity` instead.
    pub severity_label: String,
    /// Annotation holding the alert's value: an error-rate fraction (`0.07`, or `7%`) or the observed
    /// latency (`850`, `850ms`, `0.85s`) (default `value`).
    pub value_annotation: String,
    /// Annotation holding the latency baseline, same units as the value (default `baseline`).
    pub baseline_annotation: String,
    /// Ordered rules; the first whose matchers all hold applies.
    pub rules: Vec<AlertRule>,
    /// Facts implied by the alert's severity when no rule gave any impact fact.
    pub severity_facts: SeverityFacts,
    /// An alert group whose firing alerts classify at this severity or worse declares an incident even
    /// when none of them breaches a declaration rule (default `P1`: a critical PagerDuty event declares,
    /// a warning does not).
    pub declare_min_severity: Severity,
}

/// "Alerts whose labels match `match` carry `signal` and `facts`."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// A name for messages and the ingested alert's `rule` field.
    #[serde(default)]
    pub name: String,
    /// Label → exact value; all must hold (at least one matcher).
    #[serde(rename = "match")]
    pub matchers: BTreeMap<String, String>,
    /// The declaration signal the alert reports, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<DeclarationRule>,
    /// Impact facts added when the rule applies (merged with the signal's facts, worst wins).
    #[serde(default)]
    pub facts: ImpactFacts,
}

impl AlertRule {
    /// Whether every matcher equals the label of the same name.
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// Facts per alert severity (Alertmanager `severity` label / PagerDuty `payload.severity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityFacts {
    /// `critical` (default: customer-facing errors → P1; a P0 needs a rule stating the P0 fact).
    pub critical: ImpactFacts,
    /// `error` (default: non-customer-facing errors → P2).
    pub error: ImpactFacts,
    /// `warning` (default: minor feature issue → P2).
    pub warning: ImpactFacts,
    /// `info` (default: nothing → insufficient; informational events are not incidents).
    pub info: ImpactFacts,
}

impl Default for SeverityFacts {
    fn default() -> Self {
        Self {
            critical: ImpactFacts { customer_facing_errors: true, ..ImpactFacts::default() },
            error: ImpactFacts { non_customer_facing_errors: true, ..ImpactFacts::default() },
            warning: ImpactFacts { minor_feature_issue: true, ..ImpactFacts::default() },
            info: ImpactFacts::default(),
        }
    }
}

impl SeverityFacts {
    /// Facts for a severity word (`critical`, `error`, `warning`, `info`, any case); `None` for others.
    #[must_use]
    pub fn for_severity(&self, severity: &str) -> Option<&ImpactFacts> {
        let s = severity.trim();
        if s.eq_ignore_ascii_case("critical") {
            Some(&self.critical)
        } else if s.eq_ignore_ascii_case("error") {
            Some(&self.error)
        } else if s.eq_ignore_ascii_case("warning") {
            Some(&self.warning)
        } else if s.eq_ignore_ascii_case("info") {
            Some(&self.info)
        } else {
            None
        }
    }
}

fn rule(name: &str, matchers: &[(&str, &str)], signal: DeclarationRule, facts: ImpactFacts) -> AlertRule {
    AlertRule {
        name: name.into(),
        matchers: matchers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        signal: Some(signal),
        facts,
    }
}

impl Default for IngestPolicy {
    fn default() -> Self {
        let none = ImpactFacts::default();
        Self {
            service_label: "service".into(),
            service_fallback_labels: vec!["app".into(), "job".into(), "group".into()],
            component_label: "component".into(),
            customer_facing_label: "customer_facing".into(),
            severity_label: "severity".into(),
            value_annotation: "value".into(),
            baseline_annotation: "baseline".into(),
            rules: vec![
                rule(
                    "service-down-complete",
                    &[("alertname", "ServiceDown"), ("scope", "complete")],
                    DeclarationRule::ServiceUnavailable,
                    ImpactFacts { outage: OutageScope::Complete, ..ImpactFacts::default() },
                ),
                rule(
                    "service-down",
                    &[("alertname", "ServiceDown")],
                    DeclarationRule::ServiceUnavailable,
                    none.clone(),
                ),
                rule("high-error-rate", &[("alertname", "HighErrorRate")], DeclarationRule::ErrorRate, none.clone()),
                rule(
                    "high-latency",
                    &[("alertname", "HighLatency")],
                    DeclarationRule::PerformanceDegradation,
                    none.clone(),
                ),
                rule(
                    "data-integrity",
                    &[("alertname", "DataIntegrityCheckFailed")],
                    DeclarationRule::DataIntegrity,
                    none.clone(),
                ),
                rule("security", &[("alertname", "SecurityIncident")], DeclarationRule::Security, none),
            ],
            severity_facts: SeverityFacts::default(),
            declare_min_severity: Severity::P1,
        }
    }
}

impl IngestPolicy {
    /// Check the mapping; errors name the field (`ingest.rules[2].match: ...`).
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        let field = |path: &str, why: &str| Error::policy(format!("policy field `ingest.{path}`: {why}"));
        for (name, value) in [
            ("service_label", &self.service_label),
            ("component_label", &self.component_label),
            ("customer_facing_label", &self.customer_facing_label),
            ("severity_label", &self.severity_label),
            ("value_annotation", &self.value_annotation),
            ("baseline_annotation", &self.baseline_annotation),
        ] {
            if value.trim().is_empty() {
                return Err(field(name, "must not be empty"));
            }
        }
        for (i, label) in self.service_fallback_labels.iter().enumerate() {
            if label.trim().is_empty() {
                return Err(field(&format!("service_fallback_labels[{i}]"), "must not be empty"));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.matchers.is_empty() {
                return Err(field(
                    &format!("rules[{i}].match"),
                    "empty (a rule must match at least one label; use `severity_facts` for a catch-all)",
                ));
            }
            if let Some(k) = r.matchers.keys().find(|k| k.trim().is_empty()) {
                return Err(field(&format!("rules[{i}].match"), &format!("empty label name {k:?}")));
            }
            r.facts.validate().map_err(|e| field(&format!("rules[{i}].facts"), e.message()))?;
            if r.signal.is_none() && !r.facts.has_impact() {
                return Err(field(
                    &format!("rules[{i}]"),
                    "has neither a `signal` nor any impact `facts` (it would do nothing)",
                ));
            }
            if let Some(j) = self.rules[..i].iter().position(|p| p.matchers == r.matchers) {
                return Err(field(
                    &format!("rules[{i}].match"),
                    &format!("same matchers as rules[{j}], so this rule can never apply"),
                ));
            }
        }
        for (name, facts) in [
            ("critical", &self.severity_facts.critical),
            ("error", &self.severity_facts.error),
            ("warning", &self.severity_facts.warning),
            ("info", &self.severity_facts.info),
        ] {
            facts.validate().map_err(|e| field(&format!("severity_facts.{name}"), e.message()))?;
        }
        Ok(())
    }
}
