//! PagerDuty Events API v2 events (`POST /v2/enqueue` bodies): `routing_key`, `event_action`
//! (`trigger`/`acknowledge`/`resolve`), `dedup_key`, `payload { summary, source, severity, timestamp,
//! component, group, class, custom_details }`, `client`, `client_url`, `links`, `images`.
//!
//! A body is one event object or a JSON array of events. `trigger` requires `payload` (with `summary`,
//! `source` and `severity`); `acknowledge` and `resolve` require `dedup_key`. Unknown keys are ignored.
//!
//! Mapping: labels are the scalar `custom_details` entries overlaid with `source`, `severity`,
//! `component`, `group` and `class`; `alertname` is `custom_details.alertname`, else `class`. The
//! service therefore comes from `custom_details.service` (the default `service_label`) or, through the
//! fallbacks, `group`. `payload.severity` drives [`SeverityFacts`](crate::policy::ingest::SeverityFacts)
//! when no rule applies: by default `critical` → customer-facing errors (P1), `error` →
//! non-customer-facing errors (P2), `warning` → minor feature issue (P2), `info` → insufficient.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{AlertBatch, AlertSource, AlertStatus, RawAlert, check_count, check_size, from_json};
use crate::{Error, Policy, Result};

/// `trigger`, `acknowledge` or `resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// Open (or re-open) an alert.
    Trigger,
    /// Acknowledge it.
    Acknowledge,
    /// Resolve it.
    Resolve,
}

/// `payload.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventSeverity {
    /// `critical`.
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
}

impl EventSeverity {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// One Events API v2 event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// The integration key.
    pub routing_key: String,
    /// What to do.
    pub event_action: EventAction,
    /// Deduplication key (required for acknowledge/resolve).
    #[serde(default)]
    pub dedup_key: Option<String>,
    /// Event details (required for trigger).
    #[serde(default)]
    pub payload: Option<EventPayload>,
    /// Name of the monitoring client.
    #[serde(default)]
    pub client: Option<String>,
    /// URL of the monitoring client.
    #[serde(default)]
    pub client_url: Option<String>,
    /// Links to attach.
    #[serde(default)]
    pub links: Vec<EventLink>,
    /// Images to attach.
    #[serde(default)]
    pub images: Vec<EventImage>,
}

/// `payload` of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventPayload {
    /// One-line summary.
    pub summary: String,
    /// The affected system (host name, FQDN, ...).
    pub source: String,
    /// Severity of the event.
    pub severity: EventSeverity,
    /// When the event was detected (ISO 8601; `+0000` offsets are accepted).
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Component of the source responsible.
    #[serde(default)]
    pub component: Option<String>,
    /// Logical grouping of components.
    #[serde(default)]
    pub group: Option<String>,
    /// Class/type of the event.
    #[serde(default)]
    pub class: Option<String>,
    /// Free-form details.
    #[serde(default)]
    pub custom_details: Option<serde_json::Value>,
}

/// A link attached to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventLink {
    /// URL.
    pub href: String,
    /// Link text.
    #[serde(default)]
    pub text: Option<String>,
}

/// An image attached to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventImage {
    /// Image URL.
    pub src: String,
    /// Where clicking leads.
    #[serde(default)]
    pub href: Option<String>,
    /// Alt text.
    #[serde(default)]
    pub alt: Option<String>,
}

/// An ISO 8601 timestamp (RFC 3339, or `+0000` offsets as PagerDuty and CloudWatch write them, or no offset
/// for UTC, or the signed years beyond 0000-9999 that `DateTime<Utc>` serializes); `null`/absent is `None`.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<DateTime<Utc>>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, fmt) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(Some(t.and_utc()));
    }
    // What `DateTime<Utc>` serializes to: an offset can move a time out of years 0000-9999, which then
    // serializes with a signed year (`+10000-01-01T01:00:00Z`) that RFC 3339 cannot express.
    if let Ok(t) = s.parse::<DateTime<Utc>>() {
        return Ok(Some(t));
    }
    Err(serde::de::Error::custom(format!(
        "invalid timestamp {s:?} (expected ISO 8601, e.g. \"2024-05-03T14:00:00.000+0000\")"
    )))
}

/// Parse and check the events of a body without mapping.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the offending path (prefixed with
/// `[i]` for arrays), a missing `payload`/`dedup_key`, or an exceeded limit.
pub fn parse_events(body: &[u8], policy: &Policy) -> Result<Vec<Event>> {
    check_size(body, policy, "pagerduty event")?;
    let is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let events: Vec<Event> = if is_array {
        // Count first, so a huge array is rejected before every element is typed.
        let raw: Vec<serde::de::IgnoredAny> = from_json(body, "pagerduty events")?;
        check_count(raw.len(), policy, "pagerduty events")?;
        from_json(body, "pagerduty events")?
    } else {
        vec![from_json(body, "pagerduty event")?]
    };
    for (i, e) in events.iter().enumerate() {
        let at = |field: &str| {
            if is_array { format!("pagerduty events: [{i}].{field}") } else { format!("pagerduty event: {field}") }
        };
        if e.routing_key.trim().is_empty() {
            return Err(Error::invalid_input(format!("{}: must not be empty", at("routing_key"))));
        }
        match e.event_action {
            EventAction::Trigger if e.payload.is_none() => {
                return Err(Error::invalid_input(format!("{}: required for event_action \"trigger\"", at("payload"))));
            }
            EventAction::Acknowledge | EventAction::Resolve
                if e.dedup_key.as_deref().is_none_or(|k| k.trim().is_empty()) =>
            {
                return Err(Error::invalid_input(format!(
                    "{}: required for event_action {:?}",
                    at("dedup_key"),
                    match e.event_action {
                        EventAction::Acknowledge => "acknowledge",
                        _ => "resolve",
                    }
                )));
            }
            _ => {}
        }
    }
    Ok(events)
}

/// Parse a body (one event or an array) and map every event through `policy.ingest`.
///
/// # Errors
/// As [`parse_events`].
pub fn parse(body: &[u8], policy: &Policy) -> Result<AlertBatch> {
    let events = parse_events(body, policy)?;
    Ok(map_events(events, policy))
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Map already-parsed events through `policy.ingest`.
#[must_use]
pub fn map_events(events: Vec<Event>, policy: &Policy) -> AlertBatch {
    let alerts = events
        .into_iter()
        .map(|e| {
            let mut labels = BTreeMap::new();
            let mut annotations = BTreeMap::new();
            let mut severity = None;
            let mut summary = None;
            let mut starts_at = None;
            if let Some(p) = &e.payload {
                if let Some(serde_json::Value::Object(details)) = &p.custom_details {
                    for (k, v) in details {
                        if let Some(s) = scalar(v) {
                            labels.insert(k.clone(), s.clone());
                            annotations.insert(k.clone(), s);
                        }
                    }
                }
                if !labels.contains_key("alertname") {
                    if let Some(c) = &p.class {
                        labels.insert("alertname".into(), c.clone());
                    }
                }
                labels.insert("source".into(), p.source.clone());
                labels.insert("severity".into(), p.severity.as_str().into());
                for (k, v) in [("component", &p.component), ("group", &p.group), ("class", &p.class)] {
                    if let Some(v) = v {
                        labels.insert(k.into(), v.clone());
                    }
                }
                annotations.insert("summary".into(), p.summary.clone());
                severity = Some(p.severity.as_str());
                summary = Some(p.summary.clone());
                starts_at = p.timestamp;
            }
            let status = match e.event_action {
                EventAction::Trigger => AlertStatus::Firing,
                EventAction::Acknowledge => AlertStatus::Acknowledged,
                EventAction::Resolve => AlertStatus::Resolved,
            };
            let raw = RawAlert {
                source: AlertSource::Pagerduty,
                id: e.dedup_key.clone(),
                status,
                starts_at,
                ends_at: if status == AlertStatus::Resolved { starts_at } else { None },
                name: labels.get("alertname").cloned(),
                summary,
                labels,
                annotations,
                links: e.links.iter().map(|l| l.href.clone()).chain(e.client_url.clone()).collect(),
                severity,
            };
            raw.map(&policy.ingest)
        })
        .collect();
    AlertBatch {
        source: AlertSource::Pagerduty,
        group_key: None,
        receiver: None,
        external_url: None,
        truncated_alerts: 0,
        alerts,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ErrorKind;
    use crate::Severity;
    use crate::classify::RuleId;
    use crate::detector::{DeclarationRule, Signal};

    fn fixture(name: &str) -> PathBuf {
        crate::ingest::fixtures::path("pagerduty", name)
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(fixture(name)).expect("fixture")
    }

    fn err(body: &[u8]) -> String {
        let e = parse(body, &Policy::default()).expect_err("should fail");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        e.to_string()
    }

    #[test]
    fn fixtures_match_their_expectations() {
        let checked = crate::ingest::fixtures::check_expectations("pagerduty", parse);
        assert!(checked >= 2, "expected fixtures with expectations");
    }

    #[test]
    fn trigger_maps_custom_details_and_timestamp() {
        let batch = parse(&read("trigger-critical.json"), &Policy::default()).expect("parse");
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.service.as_deref(), Some("ml-inference-api"));
        assert_eq!(a.component.as_deref(), Some("inference"));
        assert_eq!(a.classification().severity(), Some(Severity::P1));
        let obs = a.observation.as_ref().expect("observation");
        assert!(matches!(obs.signal, Signal::ErrorRate(v) if (v - 0.12).abs() < 1e-12));
        assert_eq!(obs.at.to_rfc3339(), "2024-05-03T14:02:11.315+00:00");
        assert!(a.links.iter().any(|l| l.starts_with("https://grafana")));
    }

    #[test]
    fn severity_fallback_without_rule() {
        let body = br#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"host-1","severity":"critical"}}"#;
        let a = &parse(body, &Policy::default()).expect("parse").alerts[0];
        assert_eq!(a.rule, None);
        assert_eq!(a.classification().rules().iter().collect::<Vec<_>>(), vec![RuleId::CustomerFacingErrors]);
        let body =
            br#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}"#;
        let a = &parse(body, &Policy::default()).expect("parse").alerts[0];
        assert!(a.classification().is_insufficient());
        assert_eq!(a.facts, None);
    }

    #[test]
    fn resolve_and_acknowledge() {
        let batch = parse(&read("batch-lifecycle.json"), &Policy::default()).expect("parse");
        let statuses: Vec<AlertStatus> = batch.alerts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, vec![AlertStatus::Firing, AlertStatus::Acknowledged, AlertStatus::Resolved]);
        assert!(batch.alerts[1].observation.is_none());
        // A resolve without payload carries only the dedup key.
        assert_eq!(batch.alerts[2].id.as_deref(), Some("db-integrity-7f3a"));
        assert!(batch.alerts[2].observation.is_none());
        let with_payload = br#"{"routing_key":"k","event_action":"resolve","dedup_key":"d","payload":{"summary":"ok","source":"h","severity":"info","timestamp":"2024-05-03T15:00:00Z","custom_details":{"service":"api","alertname":"ServiceDown"}}}"#;
        let a = &parse(with_payload, &Policy::default()).expect("parse").alerts[0];
        assert_eq!(
            a.observation.as_ref().map(|o| &o.signal),
            Some(&Signal::Resolved { rule: DeclarationRule::ServiceUnavailable })
        );
    }

    #[test]
    fn malformed_events_name_the_path() {
        let msg = err(br#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"fatal"}}"#);
        assert!(msg.starts_with("pagerduty event: payload.severity: unknown variant `fatal`"), "{msg}");
        let msg = err(br#"{"routing_key":"k","event_action":"trigger"}"#);
        assert_eq!(msg, "pagerduty event: payload: required for event_action \"trigger\"");
        let msg = err(br#"{"routing_key":"k","event_action":"resolve"}"#);
        assert_eq!(msg, "pagerduty event: dedup_key: required for event_action \"resolve\"");
        let msg = err(br#"{"routing_key":"k","event_action":"explode"}"#);
        assert!(msg.starts_with("pagerduty event: event_action: unknown variant `explode`"), "{msg}");
        let msg = err(&read("invalid-timestamp.json"));
        assert!(msg.starts_with("pagerduty events: [1].payload.timestamp: invalid timestamp \"yesterday\""), "{msg}");
        let msg = err(br#"[{"routing_key":"k","event_action":"trigger","payload":{"source":"h","severity":"info"}}]"#);
        assert!(msg.starts_with("pagerduty events: [0].payload: missing field `summary`"), "{msg}");
        let msg = err(br#"[{"routing_key":"","event_action":"acknowledge","dedup_key":"x"}]"#);
        assert_eq!(msg, "pagerduty events: [0].routing_key: must not be empty");
        let msg = err(b"42");
        assert!(msg.starts_with("pagerduty event: invalid type: integer `42`"), "{msg}");
    }

    #[test]
    fn limits_are_enforced() {
        let mut policy = Policy::default();
        policy.limits.max_alerts_per_payload = 1;
        let e = parse(&read("batch-lifecycle.json"), &policy).expect_err("too many");
        assert_eq!(e.to_string(), "pagerduty events: 3 alerts exceeds limits.max_alerts_per_payload (1)");
        policy.limits.max_payload_bytes = 10;
        let e = parse(&read("batch-lifecycle.json"), &policy).expect_err("too big");
        assert!(e.to_string().contains("exceeds limits.max_payload_bytes (10)"), "{e}");
    }
}
