//! Datadog webhooks. Datadog lets each webhook define its own JSON payload from `$VARIABLES`; the
//! receiver expects this one (every field but `alert_transition` optional; variables arrive as strings):
//!
//! ```json
//! {
//!   "id": "$ID",
//!   "alert_id": "$ALERT_ID",
//!   "aggregate": "$AGGREG_KEY",
//!   "alert_cycle_key": "$ALERT_CYCLE_KEY",
//!   "alert_transition": "$ALERT_TRANSITION",
//!   "alert_type": "$ALERT_TYPE",
//!   "alert_priority": "$ALERT_PRIORITY",
//!   "alert_title": "$ALERT_TITLE",
//!   "title": "$EVENT_TITLE",
//!   "body": "$EVENT_MSG",
//!   "date": "$DATE",
//!   "tags": "$TAGS",
//!   "alert_scope": "$ALERT_SCOPE",
//!   "alert_metric": "$ALERT_METRIC",
//!   "link": "$LINK"
//! }
//! ```
//!
//! plus, optionally, `"value"` and `"baseline"` (e.g. from `{{value}}` in the monitor message) for rules
//! that need numbers. Unknown keys are ignored.
//!
//! # Mapping
//!
//! * Status from `alert_transition`: `Triggered`, `Re-Triggered`, `Warn`, `Re-Warn`, `Renotify` → firing;
//!   `Recovered` → resolved; `No Data`, `Re-No Data` → no alert (the batch is empty); anything else is
//!   an error naming the allowed values.
//! * Labels: `tags` and `alert_scope` (`key:value` items, comma-separated or a JSON array; a bare tag
//!   becomes a label with an empty value), `alertname` (a tag, else `alert_title`, else `title`),
//!   `monitor_id` = `alert_id`, `priority`.
//! * Severity word (for [`SeverityFacts`](crate::policy::ingest::SeverityFacts)): the `severity` tag, else
//!   the monitor priority (`P1` → critical, `P2` → error, `P3` → warning, `P4`/`P5` → info), else
//!   `Warn`/`Re-Warn` → warning and other firing transitions → error.
//! * Time: `date` (epoch milliseconds or seconds, or RFC 3339).
//! * Identity: `alert_id` + scope; group: `aggregate`, else the identity.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertBatch, AlertSource, AlertStatus, RawAlert, check_size, from_json};
use crate::{Error, Policy, Result};

const WHAT: &str = "datadog payload";

/// A string or a number (Datadog substitutes variables as text; hand-written payloads use numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Text(String),
    /// A number.
    Number(serde_json::Number),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.trim().to_owned(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// `tags`: `"a:b,c:d"` or `["a:b", "c:d"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Tags {
    /// Comma-separated.
    Joined(String),
    /// A list.
    List(Vec<String>),
}

/// The webhook body (see the module docs for the template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatadogPayload {
    /// Event id (`$ID`).
    #[serde(default)]
    pub id: Option<Scalar>,
    /// Monitor id (`$ALERT_ID`).
    #[serde(default)]
    pub alert_id: Option<Scalar>,
    /// Aggregation key (`$AGGREG_KEY`): the monitor and its group.
    #[serde(default)]
    pub aggregate: Option<String>,
    /// One trigger → recovery cycle (`$ALERT_CYCLE_KEY`).
    #[serde(default)]
    pub alert_cycle_key: Option<Scalar>,
    /// `Triggered`, `Recovered`, `Warn`, ... (`$ALERT_TRANSITION`).
    pub alert_transition: String,
    /// `error`, `warning`, `success`, `info` (`$ALERT_TYPE`).
    #[serde(default)]
    pub alert_type: Option<String>,
    /// Monitor priority `P1`..`P5` (`$ALERT_PRIORITY`).
    #[serde(default, alias = "priority")]
    pub alert_priority: Option<String>,
    /// Monitor name (`$ALERT_TITLE`).
    #[serde(default)]
    pub alert_title: Option<String>,
    /// Event title (`$EVENT_TITLE`).
    #[serde(default)]
    pub title: Option<String>,
    /// Event message (`$EVENT_MSG`).
    #[serde(default)]
    pub body: Option<String>,
    /// When (`$DATE`: epoch milliseconds).
    #[serde(default)]
    pub date: Option<Scalar>,
    /// Tags (`$TAGS`).
    #[serde(default)]
    pub tags: Option<Tags>,
    /// The group that triggered (`$ALERT_SCOPE`, e.g. `service:api,env:prod`).
    #[serde(default)]
    pub alert_scope: Option<String>,
    /// Metric (`$ALERT_METRIC`).
    #[serde(default)]
    pub alert_metric: Option<String>,
    /// Link to the event (`$LINK`).
    #[serde(default)]
    pub link: Option<String>,
    /// The monitored value, if the payload carries it.
    #[serde(default)]
    pub value: Option<Scalar>,
    /// Its baseline (latency rules).
    #[serde(default)]
    pub baseline: Option<Scalar>,
}

/// Parse the raw body without mapping.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the path, an unknown
/// `alert_transition` or an exceeded size limit.
pub fn parse_payload(body: &[u8], policy: &Policy) -> Result<DatadogPayload> {
    check_size(body, policy, WHAT)?;
    let payload: DatadogPayload = from_json(body, WHAT)?;
    transition(&payload.alert_transition)?;
    Ok(payload)
}

/// Parse a body and map it through `policy.ingest`.
///
/// # Errors
/// As [`parse_payload`], and an unreadable `date`.
pub fn parse(body: &[u8], policy: &Policy) -> Result<AlertBatch> {
    let payload = parse_payload(body, policy)?;
    map_payload(payload, policy)
}

/// `Some(status)` for an alert, `None` for no-data transitions.
fn transition(t: &str) -> Result<Option<AlertStatus>> {
    let norm = t.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    match norm.as_str() {
        "triggered" | "re-triggered" | "warn" | "re-warn" | "renotify" => Ok(Some(AlertStatus::Firing)),
        "recovered" => Ok(Some(AlertStatus::Resolved)),
        "no-data" | "re-no-data" => Ok(None),
        _ => Err(Error::invalid_input(format!(
            "{WHAT}: alert_transition: unknown value {:?} (expected Triggered, Re-Triggered, Warn, Re-Warn, Renotify, \
             Recovered, No Data or Re-No Data)",
            super::tidy(t)
        ))),
    }
}

fn parse_date(s: &Scalar) -> Result<DateTime<Utc>> {
    let text = s.text();
    if let Ok(n) = text.parse::<i64>() {
        // Datadog's $DATE is epoch milliseconds; accept seconds too (anything before 1973 in ms).
        let t = if n.unsigned_abs() >= 100_000_000_000 { Utc.timestamp_millis_opt(n) } else { Utc.timestamp_opt(n, 0) };
        if let Some(t) = t.single() {
            return Ok(t);
        }
    } else if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Ok(t.with_timezone(&Utc));
    }
    Err(Error::invalid_input(format!(
        "{WHAT}: date: invalid time {:?} (expected epoch milliseconds or RFC 3339)",
        super::tidy(&text)
    )))
}

fn items(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| match t.split_once(':') {
        Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
        None => (t.to_owned(), String::new()),
    })
}

/// Map a parsed payload (see the module docs).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an unknown transition or an unreadable
/// `date`.
pub fn map_payload(p: DatadogPayload, policy: &Policy) -> Result<AlertBatch> {
    let ingest = &policy.ingest;
    let status = transition(&p.alert_transition)?;
    let starts = p.date.as_ref().map(parse_date).transpose()?;
    let mut labels = BTreeMap::new();
    match &p.tags {
        Some(Tags::Joined(s)) => labels.extend(items(s)),
        Some(Tags::List(list)) => {
            for t in list {
                labels.extend(items(t));
            }
        }
        None => {}
    }
    if let Some(scope) = &p.alert_scope {
        labels.extend(items(scope));
    }
    let alert_id = p.alert_id.as_ref().map(Scalar::text).filter(|s| !s.is_empty());
    if let Some(id) = &alert_id {
        labels.insert("monitor_id".into(), id.clone());
    }
    let priority = p.alert_priority.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(pr) = priority {
        labels.insert("priority".into(), pr.to_owned());
    }
    let name = labels
        .get("alertname")
        .cloned()
        .or_else(|| p.alert_title.clone())
        .or_else(|| p.title.clone())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(n) = &name {
        labels.entry("alertname".into()).or_insert_with(|| n.clone());
    }
    let severity = labels.get(&ingest.severity_label).cloned().or_else(|| {
        let from_priority = priority.and_then(|pr| match pr.to_ascii_uppercase().as_str() {
            "P1" => Some("critical"),
            "P2" => Some("error"),
            "P3" => Some("warning"),
            "P4" | "P5" => Some("info"),
            _ => None,
        });
        let from_transition = || {
            let t = p.alert_transition.to_ascii_lowercase();
            if t.contains("warn") { "warning" } else { "error" }
        };
        Some(from_priority.unwrap_or_else(from_transition).to_owned())
    });
    let mut annotations = BTreeMap::new();
    let summary = p.title.clone().or_else(|| p.alert_title.clone()).filter(|s| !s.trim().is_empty());
    if let Some(s) = &summary {
        annotations.insert("summary".into(), s.clone());
    }
    if let Some(b) = p.body.as_ref().filter(|b| !b.trim().is_empty()) {
        annotations.insert("description".into(), b.clone());
    }
    if let Some(v) = &p.value {
        annotations.insert(ingest.value_annotation.clone(), v.text());
    }
    if let Some(v) = &p.baseline {
        annotations.insert(ingest.baseline_annotation.clone(), v.text());
    }
    if let Some(m) = &p.alert_metric {
        annotations.insert("metric".into(), m.clone());
    }
    let scope = p.alert_scope.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let id = match (&alert_id, scope) {
        (Some(a), Some(s)) => Some(format!("{a}/{s}")),
        (Some(a), None) => Some(a.clone()),
        (None, _) => p.aggregate.clone().filter(|s| !s.is_empty()),
    };
    let group_key = p.aggregate.clone().filter(|s| !s.is_empty()).or_else(|| id.clone());
    let alerts = match status {
        None => Vec::new(),
        Some(status) => {
            let raw = RawAlert {
                source: AlertSource::Datadog,
                id,
                status,
                starts_at: if status == AlertStatus::Firing { starts } else { None },
                ends_at: if status == AlertStatus::Resolved { starts } else { None },
                name,
                summary,
                labels,
                annotations,
                links: p.link.clone().into_iter().filter(|l| !l.is_empty()).collect(),
                severity: severity.as_deref(),
            };
            vec![raw.map(ingest)]
        }
    };
    Ok(AlertBatch {
        source: AlertSource::Datadog,
        group_key,
        receiver: None,
        external_url: None,
        truncated_alerts: 0,
        alerts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Signal;
    use crate::{ErrorKind, Severity};

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(crate::ingest::fixtures::path("datadog", name)).expect("fixture")
    }

    #[test]
    fn fixtures_match_their_expectations() {
        let checked = crate::ingest::fixtures::check_expectations("datadog", parse);
        assert!(checked >= 2, "expected fixtures with expectations");
    }

    #[test]
    fn triggered_maps_tags_scope_and_value() {
        let batch = parse(&read("triggered.json"), &Policy::default()).expect("parse");
        assert_eq!(batch.group_key.as_deref(), Some("1234567-service:ml-inference-api"));
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.service.as_deref(), Some("ml-inference-api"));
        assert_eq!(a.labels.get("env").map(String::as_str), Some("prod"));
        assert!(
            matches!(a.observation.as_ref().map(|o| &o.signal), Some(Signal::ErrorRate(v)) if (*v - 0.11).abs() < 1e-12)
        );
        assert_eq!(a.classification().severity(), Some(Severity::P1));
        assert_eq!(a.starts_at.map(|t| t.timestamp()), Some(1_714_744_800));
    }

    #[test]
    fn priority_and_no_data() {
        let body = br#"{"alert_transition":"Triggered","alert_priority":"P3","alert_title":"Disk","alert_id":7,"tags":["service:db"]}"#;
        let a = &parse(body, &Policy::default()).expect("parse").alerts[0];
        assert_eq!(a.classification().severity(), Some(Severity::P2), "P3 priority → warning → minor issue");
        assert_eq!(a.id.as_deref(), Some("7"));
        let body = br#"{"alert_transition":"No Data","alert_id":"7","aggregate":"k"}"#;
        let batch = parse(body, &Policy::default()).expect("parse");
        assert!(batch.alerts.is_empty());
        assert_eq!(batch.group_key.as_deref(), Some("k"));
    }

    #[test]
    fn malformed_payloads_name_the_path() {
        let e = parse(br#"{"alert_transition":"Exploded"}"#, &Policy::default()).expect_err("transition");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().starts_with("datadog payload: alert_transition: unknown value \"Exploded\""), "{e}");
        let e = parse(br#"{"alert_transition":"Triggered","date":"yesterday"}"#, &Policy::default()).expect_err("date");
        assert!(e.to_string().starts_with("datadog payload: date: invalid time \"yesterday\""), "{e}");
        let e = parse(br#"{"title":"x"}"#, &Policy::default()).expect_err("missing");
        assert_eq!(e.to_string(), "datadog payload: missing field `alert_transition`");
        let e = parse(br#"{"alert_transition":"Triggered","tags":5}"#, &Policy::default()).expect_err("tags");
        assert!(e.to_string().starts_with("datadog payload: tags: data did not match"), "{e}");
    }
}
