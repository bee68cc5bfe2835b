//! CloudWatch alarm state changes, as CloudWatch publishes them to an SNS topic: the SNS `Notification`
//! ([`super::sns`]) whose `Message` is the alarm JSON — `AlarmName`, `AlarmDescription`, `AWSAccountId`,
//! `NewStateValue` (`ALARM`/`OK`/`INSUFFICIENT_DATA`), `NewStateReason`, `StateChangeTime`, `Region`,
//! `AlarmArn`, `OldStateValue` and `Trigger` (`MetricName`, `Namespace`, `Dimensions[{name, value}]`,
//! `Threshold`, ...). Composite alarms have no `Trigger`.
//!
//! # Mapping
//!
//! * Status: `ALARM` → firing (at `StateChangeTime`), `OK` → resolved (ended at `StateChangeTime`),
//!   `INSUFFICIENT_DATA` → no alert (missing data says nothing about the service; the batch is empty).
//! * Labels: `alertname` = `AlarmName`; every dimension (`name` → `value`); `namespace`, `metric_name`,
//!   `account`, `region`; then `key=value` tokens of `AlarmDescription` (separated by whitespace, commas
//!   or semicolons; keys `[A-Za-z_][A-Za-z0-9_]*`), which is where an alarm names its `service`,
//!   `severity` or `customer_facing` — alarms carry no tags in the SNS message.
//! * Annotations: `summary` = the description (else the state reason), `description` = the state reason,
//!   `threshold` = `Trigger.Threshold`, and the value annotation
//!   ([`IngestPolicy::value_annotation`](crate::policy::IngestPolicy::value_annotation)) = the first
//!   datapoint of the state reason (`[0.07 (03/05/24 14:00:00)]`) unless the description set it.
//! * Identity and group: the alarm ARN (else `account/region/AlarmName`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sns::{MessageType, SnsMessage};
use super::{AlertBatch, AlertSource, AlertStatus, RawAlert, from_json};
use crate::{Error, Policy, Result};

const WHAT: &str = "cloudwatch alarm";

/// An alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// The alarm fired.
    Alarm,
    /// Back to normal.
    Ok,
    /// Not enough data to decide.
    InsufficientData,
}

/// One metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dimension {
    /// Dimension name (`InstanceId`, `LoadBalancer`, `service`, ...).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// What the alarm watches (metric alarms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Trigger {
    /// Metric name.
    #[serde(default)]
    pub metric_name: Option<String>,
    /// Metric namespace (`AWS/ApplicationELB`, ...).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Statistic (`Average`, `Sum`, ...).
    #[serde(default)]
    pub statistic: Option<String>,
    /// Dimensions of the metric.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Period in seconds.
    #[serde(default)]
    pub period: Option<u64>,
    /// Evaluation periods (the alarm's sustained window).
    #[serde(default)]
    pub evaluation_periods: Option<u64>,
    /// Comparison (`GreaterThanThreshold`, ...).
    #[serde(default)]
    pub comparison_operator: Option<String>,
    /// Threshold.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
}

/// The alarm document of a CloudWatch SNS notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    /// Alarm name.
    pub alarm_name: String,
    /// Free-text description (where `key=value` labels may be written).
    #[serde(default)]
    pub alarm_description: Option<String>,
    /// Account id.
    #[serde(default, rename = "AWSAccountId")]
    pub aws_account_id: Option<String>,
    /// The new state.
    pub new_state_value: AlarmState,
    /// Why (with the datapoints that crossed the threshold).
    #[serde(default)]
    pub new_state_reason: Option<String>,
    /// When the state changed (ISO 8601, e.g. `2024-05-03T14:00:00.000+0000`).
    #[serde(deserialize_with = "super::pagerduty::timestamp")]
    pub state_change_time: Option<DateTime<Utc>>,
    /// Region display name (`US East (N. Virginia)`).
    #[serde(default)]
    pub region: Option<String>,
    /// The alarm ARN.
    #[serde(default)]
    pub alarm_arn: Option<String>,
    /// The previous state.
    #[serde(default)]
    pub old_state_value: Option<AlarmState>,
    /// What the alarm watches (absent for composite alarms).
    #[serde(default)]
    pub trigger: Option<Trigger>,
}

/// Parse an SNS notification body whose `Message` is a CloudWatch alarm, and map it. The SNS signature is
/// **not** checked here (see [`super::sns`]); a confirmation message is an error (the receiver handles
/// those before parsing).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the path: SNS fields as
/// `sns message: ...`, alarm fields as `cloudwatch alarm: ...`.
pub fn parse(body: &[u8], policy: &Policy) -> Result<AlertBatch> {
    let msg = SnsMessage::parse(body, policy)?;
    if msg.kind != MessageType::Notification {
        return Err(Error::invalid_input(format!(
            "sns message: Type: {} carries no alarm (expected Notification)",
            msg.kind.as_str()
        )));
    }
    parse_alarm(msg.message.as_bytes(), policy)
}

/// Parse and map a bare alarm document (an SNS `Message`).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the path (`cloudwatch alarm:
/// NewStateValue: unknown variant ...`).
pub fn parse_alarm(message: &[u8], policy: &Policy) -> Result<AlertBatch> {
    super::check_size(message, policy, WHAT)?;
    let alarm: Alarm = from_json(message, WHAT)?;
    if alarm.alarm_name.trim().is_empty() {
        return Err(Error::invalid_input(format!("{WHAT}: AlarmName: must not be empty")));
    }
    Ok(map_alarm(alarm, policy))
}

/// `key=value` tokens of a description.
fn description_labels(text: &str) -> BTreeMap<String, String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter_map(|tok| tok.split_once('='))
        .filter(|(k, v)| {
            let mut chars = k.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !v.is_empty()
        })
        .map(|(k, v)| (k.to_owned(), v.trim_matches(|c| c == '"' || c == '\'').to_owned()))
        .collect()
}

/// The first datapoint of `... [0.07 (03/05/24 14:00:00), ...] ...`.
fn first_datapoint(reason: &str) -> Option<String> {
    let after = &reason[reason.find('[')? + 1..];
    let num: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
        .collect();
    num.parse::<f64>().ok().filter(|v| v.is_finite()).map(|_| num)
}

/// Map a parsed alarm through `policy.ingest` (see the module docs).
#[must_use]
pub fn map_alarm(alarm: Alarm, policy: &Policy) -> AlertBatch {
    let ingest = &policy.ingest;
    let group_key = alarm.alarm_arn.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| {
        format!(
            "{}/{}/{}",
            alarm.aws_account_id.as_deref().unwrap_or("-"),
            alarm.region.as_deref().unwrap_or("-"),
            alarm.alarm_name
        )
    });
    let status = match alarm.new_state_value {
        AlarmState::Alarm => AlertStatus::Firing,
        AlarmState::Ok => AlertStatus::Resolved,
        AlarmState::InsufficientData => {
            return AlertBatch {
                source: AlertSource::Cloudwatch,
                group_key: Some(group_key),
                receiver: None,
                external_url: None,
                truncated_alerts: 0,
                alerts: Vec::new(),
            };
        }
    };
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_owned(), alarm.alarm_name.clone());
    if let Some(t) = &alarm.trigger {
        for d in &t.dimensions {
            labels.insert(d.name.clone(), d.value.clone());
        }
        if let Some(ns) = &t.namespace {
            labels.insert("namespace".into(), ns.clone());
        }
        if let Some(m) = &t.metric_name {
            labels.insert("metric_name".into(), m.clone());
        }
    }
    if let Some(a) = &alarm.aws_account_id {
        labels.insert("account".into(), a.clone());
    }
    if let Some(r) = &alarm.region {
        labels.insert("region".into(), r.clone());
    }
    let description = alarm.alarm_description.clone().unwrap_or_default();
    let from_description = description_labels(&description);
    labels.extend(from_description.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut annotations = BTreeMap::new();
    let reason = alarm.new_state_reason.clone().unwrap_or_default();
    let summary = if description.trim().is_empty() { reason.clone() } else { description.trim().to_owned() };
    if !summary.is_empty() {
        annotations.insert("summary".to_owned(), summary.clone());
    }
    if !reason.is_empty() {
        annotations.insert("description".to_owned(), reason.clone());
    }
    if let Some(th) = alarm.trigger.as_ref().and_then(|t| t.threshold) {
        annotations.insert("threshold".to_owned(), th.to_string());
    }
    if let Some(v) = from_description.get(&ingest.value_annotation) {
        annotations.insert(ingest.value_annotation.clone(), v.clone());
    } else if let Some(v) = first_datapoint(&reason) {
        annotations.insert(ingest.value_annotation.clone(), v);
    }
    let at = alarm.state_change_time;
    let severity = labels.get(&ingest.severity_label).cloned();
    let raw = RawAlert {
        source: AlertSource::Cloudwatch,
        id: Some(group_key.clone()),
        status,
        starts_at: if status == AlertStatus::Firing { at } else { None },
        ends_at: if status == AlertStatus::Resolved { at } else { None },
        name: Some(alarm.alarm_name),
        summary: Some(summary).filter(|s| !s.is_empty()),
        labels,
        annotations,
        links: Vec::new(),
        severity: severity.as_deref(),
    };
    AlertBatch {
        source: AlertSource::Cloudwatch,
        group_key: Some(group_key),
        receiver: None,
        external_url: None,
        truncated_alerts: 0,
        alerts: vec![raw.map(ingest)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{DeclarationRule, Signal};
    use crate::{ErrorKind, Severity};

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(crate::ingest::fixtures::path("cloudwatch", name)).expect("fixture")
    }

    #[test]
    fn fixtures_match_their_expectations() {
        let checked = crate::ingest::fixtures::check_expectations("cloudwatch", parse);
        assert!(checked >= 2, "expected fixtures with expectations");
    }

    #[test]
    fn alarm_maps_dimensions_description_and_datapoint() {
        let batch = parse(&read("alarm.json"), &Policy::default()).expect("parse");
        assert_eq!(batch.group_key.as_deref(), Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-error-rate"));
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.service.as_deref(), Some("ml-inference-api"));
        assert_eq!(a.labels.get("LoadBalancer").map(String::as_str), Some("app/ml-api/50dc6c495c0c9188"));
        assert!(
            matches!(a.observation.as_ref().map(|o| &o.signal), Some(Signal::ErrorRate(v)) if (*v - 0.083).abs() < 1e-12)
        );
        assert_eq!(a.classification().severity(), Some(Severity::P1));
        assert_eq!(a.starts_at.map(|t| t.to_rfc3339()), Some("2024-05-03T14:05:00.123+00:00".to_owned()));
    }

    #[test]
    fn ok_resolves_and_insufficient_data_is_empty() {
        let batch = parse(&read("ok.json"), &Policy::default()).expect("parse");
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(
            a.observation.as_ref().map(|o| &o.signal),
            Some(&Signal::Resolved { rule: DeclarationRule::ErrorRate })
        );
        let alarm = String::from_utf8(read("alarm.json")).expect("utf8");
        let msg: serde_json::Value = serde_json::from_str(&alarm).expect("json");
        let inner = msg["Message"].as_str().expect("message").replace("\"ALARM\"", "\"INSUFFICIENT_DATA\"");
        let batch = parse_alarm(inner.as_bytes(), &Policy::default()).expect("parse");
        assert!(batch.alerts.is_empty());
    }

    #[test]
    fn malformed_alarms_name_the_path() {
        let e = parse_alarm(br#"{"AlarmName":"x","NewStateValue":"RED","StateChangeTime":null}"#, &Policy::default())
            .expect_err("state");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().starts_with("cloudwatch alarm: NewStateValue: unknown variant `RED`"), "{e}");
        let e = parse_alarm(br#"{"AlarmName":"x","NewStateValue":"OK","StateChangeTime":"soon"}"#, &Policy::default())
            .expect_err("time");
        assert!(e.to_string().starts_with("cloudwatch alarm: StateChangeTime: invalid timestamp \"soon\""), "{e}");
        let e = parse(br#"{"Type":"Notification"}"#, &Policy::default()).expect_err("envelope");
        assert!(e.to_string().starts_with("sns message: missing field"), "{e}");
    }

    #[test]
    fn helpers() {
        assert_eq!(
            first_datapoint("Threshold Crossed: 1 datapoint [0.083 (03/05/24 14:04:00)] was greater"),
            Some("0.083".into())
        );
        assert_eq!(first_datapoint("no datapoints"), None);
        let l = description_labels(
            "Error rate of the API. service=api severity=critical, customer_facing=true; bad-key=x =y",
        );
        assert_eq!(l.get("service").map(String::as_str), Some("api"));
        assert_eq!(l.get("severity").map(String::as_str), Some("critical"));
        assert_eq!(l.get("customer_facing").map(String::as_str), Some("true"));
        assert_eq!(l.len(), 3, "{l:?}");
    }
}
