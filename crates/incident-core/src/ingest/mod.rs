//! Alert payloads → typed alerts with detector [`Observation`]s and [`ImpactFacts`].
//!
//! * [`parse_alertmanager`]: a Prometheus Alertmanager webhook (payload `version: "4"`).
//! * [`parse_pagerduty`]: a PagerDuty Events API v2 event (or a JSON array of events).
//! * [`parse_grafana`]: a Grafana alerting webhook (Alertmanager-shaped, `version: "1"`).
//! * [`parse_cloudwatch`]: a CloudWatch alarm delivered by Amazon SNS ([`sns`] envelope; the signature is
//!   checked by the receiver, which has the network) or [`cloudwatch::parse_alarm`] for the bare alarm.
//! * [`parse_datadog`]: a Datadog webhook (the template in [`datadog`]).
//!
//! [`group`] holds what happens next: the alert groups of a batch (the unit of deduplication), whether a
//! group declares an incident, and what a repeated, updated or resolved group adds to its incident.
//!
//! All parsers enforce `policy.limits.max_payload_bytes` and `policy.limits.max_alerts_per_payload` and map
//! each alert through [`IngestPolicy`] (see [`crate::policy::ingest`] for the mapping order and the
//! defaults). Malformed payloads are [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) errors
//! whose one-line message names the offending path, e.g.
//! `alertmanager payload: alerts[3].startsAt: premature end of input`; nothing here panics on input.
//!
//! ## Statuses and observations
//!
//! | Source status | [`AlertStatus`] | Observation (when a rule gives a signal and the alert names a service) |
//! |---|---|---|
//! | Alertmanager `firing`, PagerDuty `trigger` | `Firing` | the breaching signal at `startsAt` / `payload.timestamp` |
//! | Alertmanager `resolved`, PagerDuty `resolve` | `Resolved` | [`Signal::Resolved`] at `endsAt` (else `startsAt`) / `payload.timestamp` |
//! | PagerDuty `acknowledge` | `Acknowledged` | none (an acknowledgement says nothing about the service) |
//!
//! An alert is a single sample: Alertmanager's own `for:` clause (or the sender) is expected to have
//! applied the sustained window already, so alert facts can be classified directly; the observations are
//! offered for feeding a [`Detector`](crate::detector::Detector) alongside metric samples.
//! Problems that do not make the payload malformed (an unparsable `value` annotation, a missing service
//! label) are reported per alert in [`IngestedAlert::warnings`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::{Classification, Classifier, ImpactFacts, OutageScope};
use crate::detector::{DeclarationRule, Observation, Signal};
use crate::policy::IngestPolicy;
use crate::{Error, Policy, Result};

pub mod alertmanager;
pub mod cloudwatch;
pub mod datadog;
pub mod grafana;
pub mod group;
pub mod pagerduty;
pub mod sns;

pub use crate::alert::AlertStatus;
pub use alertmanager::parse as parse_alertmanager;
pub use cloudwatch::parse as parse_cloudwatch;
pub use datadog::parse as parse_datadog;
pub use grafana::parse as parse_grafana;
pub use pagerduty::parse as parse_pagerduty;

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertSource {
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Grafana alerting webhook.
    Grafana,
    /// CloudWatch alarm (through Amazon SNS).
    Cloudwatch,
    /// Datadog webhook.
    Datadog,
}

impl AlertSource {
    /// Every source.
    pub const ALL: [Self; 5] = [Self::Alertmanager, Self::Pagerduty, Self::Grafana, Self::Cloudwatch, Self::Datadog];

    /// Every source's name, in [`AlertSource::ALL`] order: the values the bindings' `parse_alerts` / `parseAlerts`
    /// and the CLI's `incident ingest SOURCE` accept.
    pub const NAMES: [&'static str; 5] = {
        let mut names = [""; 5];
        let mut i = 0;
        while i < Self::ALL.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The snake_case name, as serialized (`alertmanager`, `pagerduty`, `grafana`, `cloudwatch`, `datadog`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Pagerduty => "pagerduty",
            Self::Grafana => "grafana",
            Self::Cloudwatch => "cloudwatch",
            Self::Datadog => "datadog",
        }
    }

    /// Parse a payload of this source (see the module docs for each format).
    ///
    /// # Errors
    /// As the source's parser: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the path.
    pub fn parse(self, body: &[u8], policy: &Policy) -> Result<AlertBatch> {
        match self {
            Self::Alertmanager => parse_alertmanager(body, policy),
            Self::Pagerduty => parse_pagerduty(body, policy),
            Self::Grafana => parse_grafana(body, policy),
            Self::Cloudwatch => parse_cloudwatch(body, policy),
            Self::Datadog => parse_datadog(body, policy),
        }
    }
}

impl std::str::FromStr for AlertSource {
    type Err = Error;

    /// One of [`AlertSource::NAMES`] (exact, lowercase); anything else is
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) listing the names.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|src| src.as_str() == s).ok_or_else(|| {
            Error::invalid_input(format!("unknown alert source {s:?} (expected one of {})", Self::NAMES.join(", ")))
        })
    }
}

/// Parse a payload of the source named `source` (one of [`AlertSource::NAMES`]): the one dispatcher behind
/// the bindings' `parse_alerts` / `parseAlerts`; typed callers (the CLI, the receiver) use
/// [`AlertSource::parse`], which this calls.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an unknown source name, else as
/// [`AlertSource::parse`].
pub fn parse(source: &str, body: &[u8], policy: &Policy) -> Result<AlertBatch> {
    source.parse::<AlertSource>()?.parse(body, policy)
}

impl std::fmt::Display for AlertSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert after mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestedAlert {
    /// Where it came from.
    pub source: AlertSource,
    /// Stable identity: the Alertmanager fingerprint or the PagerDuty dedup key.
    pub id: Option<String>,
    /// The alert name (`alertname` label; PagerDuty: `custom_details.alertname`, else `payload.class`).
    pub name: Option<String>,
    /// One-line summary (`summary` annotation / `payload.summary`).
    pub summary: Option<String>,
    /// The affected service, per [`IngestPolicy::service_label`] and its fallbacks.
    pub service: Option<String>,
    /// The affected component, per [`IngestPolicy::component_label`].
    pub component: Option<String>,
    /// Whether the service is customer-facing, per [`IngestPolicy::customer_facing_label`].
    pub customer_facing: Option<bool>,
    /// Status.
    pub status: AlertStatus,
    /// When the alert started (`startsAt` / `payload.timestamp`).
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ended (Alertmanager `endsAt`; absent for the zero time `0001-01-01T00:00:00Z`).
    pub ends_at: Option<DateTime<Utc>>,
    /// Labels (PagerDuty: scalar `custom_details` plus `source`, `severity`, `component`, `group`,
    /// `class`).
    pub labels: BTreeMap<String, String>,
    /// Annotations (PagerDuty: scalar `custom_details` plus `summary`).
    pub annotations: BTreeMap<String, String>,
    /// Links (`generatorURL` / PagerDuty `links[].href`).
    pub links: Vec<String>,
    /// Name (or `rules[i]` index) of the [`AlertRule`](crate::policy::ingest::AlertRule) that applied.
    pub rule: Option<String>,
    /// The detector sample this alert amounts to, if any.
    pub observation: Option<Observation>,
    /// The impact facts this alert implies, if any (none → classifies as insufficient).
    pub facts: Option<ImpactFacts>,
    /// Non-fatal mapping problems.
    pub warnings: Vec<String>,
}

impl IngestedAlert {
    /// Classify [`IngestedAlert::facts`] with the runbook's rules (insufficient when there are none).
    #[must_use]
    pub fn classification(&self) -> Classification {
        self.classify_with(&Classifier::RUNBOOK)
    }

    /// Classify with `classifier` (e.g. [`Classifier::from_policy`]).
    #[must_use]
    pub fn classify_with(&self, classifier: &Classifier) -> Classification {
        self.facts.as_ref().map_or(Classification::INSUFFICIENT, |f| classifier.classify(f))
    }
}

/// Every alert of one payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertBatch {
    /// Where the payload came from.
    pub source: AlertSource,
    /// The source's group key: Alertmanager and Grafana `groupKey`, the CloudWatch alarm ARN, the Datadog
    /// aggregation key. `None` for PagerDuty, whose events each form their own group (by `dedup_key`);
    /// see [`group::AlertGroup`].
    pub group_key: Option<String>,
    /// Alertmanager `receiver`.
    pub receiver: Option<String>,
    /// Alertmanager `externalURL`.
    pub external_url: Option<String>,
    /// Alerts Alertmanager dropped because of its `max_alerts` setting (`truncatedAlerts`).
    pub truncated_alerts: u64,
    /// The alerts, in payload order.
    pub alerts: Vec<IngestedAlert>,
}

impl AlertBatch {
    /// The observations of all alerts, in payload order.
    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.alerts.iter().filter_map(|a| a.observation.as_ref())
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &IngestedAlert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Firing)
    }

    /// The impact facts of every firing alert, merged (worst wins).
    #[must_use]
    pub fn firing_facts(&self) -> ImpactFacts {
        firing_facts(&self.alerts)
    }
}

/// The impact facts of the firing alerts among `alerts`, merged (worst wins): what a batch or a group
/// classifies as.
#[must_use]
pub fn firing_facts(alerts: &[IngestedAlert]) -> ImpactFacts {
    let mut facts = ImpactFacts::default();
    for f in alerts.iter().filter(|a| a.status == AlertStatus::Firing).filter_map(|a| a.facts.as_ref()) {
        facts.merge(f);
    }
    facts
}

/// Source-independent input of the mapping.
pub(crate) struct RawAlert<'a> {
    pub(crate) source: AlertSource,
    pub(crate) id: Option<String>,
    pub(crate) status: AlertStatus,
    pub(crate) starts_at: Option<DateTime<Utc>>,
    pub(crate) ends_at: Option<DateTime<Utc>>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) links: Vec<String>,
    /// The alert's own severity word (label or PagerDuty field).
    pub(crate) severity: Option<&'a str>,
    pub(crate) name: Option<String>,
    pub(crate) summary: Option<String>,
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// `0.07` or `7%` → 0.07.
fn parse_fraction(s: &str) -> Option<f64> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => t.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

/// `850`, `850ms`, `0.85s`, `850us` → milliseconds.
fn parse_latency_ms(s: &str) -> Option<f64> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    let v = num.trim().parse::<f64>().ok()? * scale;
    v.is_finite().then_some(v)
}

impl RawAlert<'_> {
    /// Apply the mapping of [`crate::policy::ingest`].
    pub(crate) fn map(self, policy: &IngestPolicy) -> IngestedAlert {
        let mut warnings = Vec::new();
        let labels = &self.labels;
        let service = non_empty(labels.get(&policy.service_label))
            .or_else(|| policy.service_fallback_labels.iter().find_map(|l| non_empty(labels.get(l))));
        let component = non_empty(labels.get(&policy.component_label));
        let customer_facing = labels.get(&policy.customer_facing_label).and_then(|v| {
            let b = parse_bool(v);
            if b.is_none() {
                warnings.push(format!(
                    "label {}={v:?} is not a boolean (true/false/yes/no/1/0); ignored",
                    policy.customer_facing_label
                ));
            }
            b
        });
        let mut facts = ImpactFacts::default();
        let mut observation = None;
        let mut rule_name = None;
        if let Some((i, rule)) = policy.rules.iter().enumerate().find(|(_, r)| r.matches(labels)) {
            rule_name = Some(if rule.name.is_empty() { format!("rules[{i}]") } else { rule.name.clone() });
            if let Some(kind) = rule.signal {
                let breach = self.breach_signal(kind, rule.facts.outage, policy, &mut warnings);
                match &breach {
                    Some(sig) => facts.merge(&sig.implied_facts(customer_facing)),
                    // The alert still says "the error rate is high" even without a number.
                    None if kind == DeclarationRule::ErrorRate => {
                        facts.merge(&Signal::ErrorRate(1.0).implied_facts(customer_facing));
                    }
                    None => {}
                }
                let sample = match self.status {
                    AlertStatus::Firing => breach.map(|s| (self.starts_at, s)),
                    AlertStatus::Resolved => Some((self.ends_at.or(self.starts_at), Signal::Resolved { rule: kind })),
                    AlertStatus::Acknowledged => None,
                };
                if let Some((at, signal)) = sample {
                    match (&service, at) {
                        (Some(svc), Some(at)) => {
                            observation = Some(Observation { service: svc.clone(), at, signal, customer_facing });
                        }
                        (None, _) => warnings.push("no service label: no observation".into()),
                        (_, None) => warnings.push("no timestamp: no observation".into()),
                    }
                }
            }
            facts.merge(&rule.facts);
        }
        if !facts.has_impact() {
            if let Some(sev_facts) = self.severity.and_then(|s| policy.severity_facts.for_severity(s)) {
                facts.merge(sev_facts);
            }
        }
        let facts = facts.has_impact().then(|| {
            facts.service.clone_from(&service);
            facts.customer_facing = customer_facing;
            facts
        });
        IngestedAlert {
            source: self.source,
            id: self.id,
            name: self.name,
            summary: self.summary,
            service,
            component,
            customer_facing,
            status: self.status,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            labels: self.labels,
            annotations: self.annotations,
            links: self.links,
            rule: rule_name,
            observation,
            facts,
            warnings,
        }
    }

    fn breach_signal(
        &self,
        kind: DeclarationRule,
        outage: OutageScope,
        policy: &IngestPolicy,
        warnings: &mut Vec<String>,
    ) -> Option<Signal> {
        let ann = |name: &String| self.annotations.get(name).or_else(|| self.labels.get(name));
        let detail = || {
            self.annotations
                .get("summary")
                .or_else(|| self.annotations.get("description"))
                .cloned()
                .or_else(|| self.summary.clone())
                .unwrap_or_default()
        };
        let signal = match kind {
            DeclarationRule::ServiceUnavailable => {
                Signal::Availability { up: false, whole_service: outage == OutageScope::Complete }
            }
            DeclarationRule::ErrorRate => {
                let raw = ann(&policy.value_annotation)?;
                let Some(v) = parse_fraction(raw) else {
                    warnings.push(format!(
                        "annotation {}={raw:?} is not an error rate (0.07 or 7%)",
                        policy.value_annotation
                    ));
                    return None;
                };
                Signal::ErrorRate(v)
            }
            DeclarationRule::PerformanceDegradation => {
                let (Some(obs), Some(base)) = (ann(&policy.value_annotation), ann(&policy.baseline_annotation)) else {
                    warnings.push(format!(
                        "latency alert without both {} and {} annotations: degradation unknown",
                        policy.value_annotation, policy.baseline_annotation
                    ));
                    return None;
                };
                let (Some(observed_ms), Some(baseline_ms)) = (parse_latency_ms(obs), parse_latency_ms(base)) else {
                    warnings.push(format!("latency annotations {obs:?} / {base:?} are not durations (850ms, 0.85s)"));
                    return None;
                };
                Signal::Latency { observed_ms, baseline_ms }
            }
            DeclarationRule::DataIntegrity => Signal::DataIntegrity { detail: detail() },
            DeclarationRule::Security => Signal::Security { detail: detail() },
        };
        if let Err(e) = signal.validate() {
            warnings.push(format!("{}: {}", kind.as_str(), e.message()));
            return None;
        }
        Some(signal)
    }
}

/// Strip serde_json's " at line L column C" suffix.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg,
    }
}

/// One line, at most ~240 characters (messages may echo attacker-controlled strings).
pub(crate) fn tidy(msg: &str) -> String {
    const MAX: usize = 240;
    let mut out = String::with_capacity(msg.len().min(MAX + 3));
    // Counted in output characters, so escapes cannot take a line past MAX.
    let mut len = 0;
    for c in msg.chars() {
        let (text, n) = match c {
            '\n' => ("\\n", 2),
            '\r' => ("\\r", 2),
            c if c.is_control() => (" ", 1),
            _ => ("", 1),
        };
        if len + n > MAX {
            out.push('…');
            break;
        }
        if text.is_empty() {
            out.push(c)
        } else {
            out.push_str(text)
        }
        len += n;
    }
    out
}

/// Deserialize `body` as JSON, mapping errors to `"{what}: {path}: {reason}"`.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = tidy(&e.path().to_string());
        let inner = e.into_inner();
        let reason = tidy(strip_position(&inner.to_string()));
        let msg = if path == "." { format!("{what}: {reason}") } else { format!("{what}: {path}: {reason}") };
        Error::invalid_input(msg)
    })?;
    de.end().map_err(|e| Error::invalid_input(format!("{what}: {}", tidy(strip_position(&e.to_string())))))?;
    Ok(value)
}

/// Enforce `limits.max_payload_bytes`.
pub(crate) fn check_size(body: &[u8], policy: &Policy, what: &str) -> Result<()> {
    let max = policy.limits.max_payload_bytes;
    if u64::try_from(body.len()).unwrap_or(u64::MAX) > max {
        return Err(Error::invalid_input(format!(
            "{what}: {} bytes exceeds limits.max_payload_bytes ({max})",
            body.len()
        )));
    }
    Ok(())
}

/// Enforce `limits.max_alerts_per_payload`.
/// Refuse a payload whose `version` field is not `expected` (the error names the field and both values).
pub(crate) fn check_version(version: &str, expected: &str, what: &str) -> Result<()> {
    if version == expected {
        return Ok(());
    }
    let shown = tidy(&format!("{version:?}"));
    Err(crate::Error::invalid_input(format!("{what}: version: unsupported version {shown} (expected {expected:?})")))
}

pub(crate) fn check_count(count: usize, policy: &Policy, what: &str) -> Result<()> {
    let max = policy.limits.max_alerts_per_payload;
    if u64::try_from(count).unwrap_or(u64::MAX) > u64::from(max) {
        return Err(Error::invalid_input(format!(
            "{what}: {count} alerts exceeds limits.max_alerts_per_payload ({max})"
        )));
    }
    Ok(())
}

/// Test support shared by the Alertmanager and PagerDuty tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::{Path, PathBuf};

    use crate::{Policy, Result};

    use super::AlertBatch;

    /// `tests/fixtures/<source>/<name>`.
    pub(crate) fn path(source: &str, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(source).join(name)
    }

    /// Check every `<stem>.json` against `<stem>.expected.json` (per alert: the fields every language's
    /// tests compare, and `truncated_alerts`). Returns how many fixtures were checked.
    pub(crate) fn check_expectations(source: &str, parse: impl Fn(&[u8], &Policy) -> Result<AlertBatch>) -> usize {
        let policy = Policy::default();
        let mut checked = 0;
        for entry in std::fs::read_dir(path(source, "")).expect("dir") {
            let file = entry.expect("entry").path();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let Some(stem) = name.strip_suffix(".expected.json") else { continue };
            let expected: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("expected json");
            let body = std::fs::read(path(source, &format!("{stem}.json"))).expect("fixture");
            let batch = parse(&body, &policy).expect(stem);
            let got: Vec<serde_json::Value> = batch
                .alerts
                .iter()
                .map(|a| {
                    let c = a.classification();
                    serde_json::json!({
                        "id": a.id,
                        "name": a.name,
                        "service": a.service,
                        "status": a.status,
                        "severity": c.severity(),
                        "rules": c.rules(),
                        "observation": a.observation,
                    })
                })
                .collect();
            assert_eq!(serde_json::Value::Array(got), expected["alerts"], "{stem}");
            assert_eq!(batch.truncated_alerts, expected["truncated_alerts"].as_u64().unwrap_or(0), "{stem}");
            checked += 1;
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one name dispatcher: every source's fixtures through `parse(name, ..)`, names round-trip, and an
    /// unknown name is `InvalidInput` listing the names.
    #[test]
    fn parse_dispatches_every_source_by_name() {
        for source in AlertSource::ALL {
            assert_eq!(source.as_str().parse::<AlertSource>().ok(), Some(source));
            let name = source.as_str();
            let checked = fixtures::check_expectations(name, |body, policy| parse(name, body, policy));
            assert!(checked > 0, "{name}: no fixtures");
        }
        assert_eq!(AlertSource::NAMES, AlertSource::ALL.map(AlertSource::as_str));
        let e = parse("nagios", b"{}", &Policy::default()).expect_err("unknown source");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "unknown alert source \"nagios\" (expected one of alertmanager, pagerduty, grafana, cloudwatch, datadog)"
        );
    }

    #[test]
    fn tidy_keeps_one_line_within_its_length_escapes_included() {
        let a = "a".repeat(240);
        assert_eq!(tidy(&a), a, "exactly the maximum is kept whole");
        let t = tidy(&"x\n".repeat(300));
        assert!(!t.contains('\n'));
        assert!(t.ends_with('…') && t.chars().count() <= 241, "{} chars", t.chars().count());
        assert_eq!(tidy("a\u{7}b\rc"), "a b\\rc");
    }

    #[test]
    fn error_messages_are_one_bounded_line() {
        let long = "x".repeat(1000);
        let body = format!(r#"{{"version":"4","status":"on\nfire {long}","alerts":[]}}"#);
        let e = parse_alertmanager(body.as_bytes(), &Policy::default()).expect_err("bad status");
        let msg = e.to_string();
        assert!(msg.starts_with("alertmanager payload: status: unknown variant `on\\nfire x"), "{msg}");
        assert!(!msg.contains('\n') && msg.chars().count() < 320, "{msg}");
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_fraction("0.07"), Some(0.07));
        assert_eq!(parse_fraction(" 7% "), Some(0.07));
        assert_eq!(parse_fraction("NaN"), None);
        assert_eq!(parse_fraction("high"), None);
        assert_eq!(parse_latency_ms("850"), Some(850.0));
        assert_eq!(parse_latency_ms("850ms"), Some(850.0));
        assert_eq!(parse_latency_ms("0.85s"), Some(850.0));
        assert_eq!(parse_latency_ms("500us"), Some(0.5));
        assert_eq!(parse_latency_ms("fast"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
