//! Grafana alerting webhooks (the webhook contact point of Grafana's unified alerting): an
//! Alertmanager-shaped payload with `version: "1"` and extra fields — top level `orgId`, `title`, `state`,
//! `message`; per alert `silenceURL`, `dashboardURL`, `panelURL`, `imageURL`, `values` (expression ref
//! id → number) and `valueString`.
//!
//! Mapping is the Alertmanager one ([`super::alertmanager`]); in addition, when an alert has no
//! [`IngestPolicy::value_annotation`](crate::policy::IngestPolicy::value_annotation) annotation and its
//! `values` hold exactly one number, that number becomes the value (so an error-rate rule sees `0.07`
//! without a template). Dashboard and panel URLs join the links. Unknown keys are ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::alertmanager::{WebhookAlert, WebhookStatus, map_alert};
use super::{AlertBatch, AlertSource, check_count, check_size, from_json};
use crate::{Policy, Result};

const WHAT: &str = "grafana payload";

/// The webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaPayload {
    /// Payload format version; must be `"1"`.
    pub version: String,
    /// Key identifying the group of alerts.
    #[serde(default)]
    pub group_key: String,
    /// Alerts dropped because of the contact point's `maxAlerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// Group status.
    pub status: WebhookStatus,
    /// The contact point's name.
    #[serde(default)]
    pub receiver: String,
    /// Grafana organisation id.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// Labels the group is keyed on.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels common to all alerts.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to all alerts.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Backlink to Grafana.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// Rendered notification title.
    #[serde(default)]
    pub title: String,
    /// Legacy state (`alerting`, `ok`).
    #[serde(default)]
    pub state: String,
    /// Rendered notification message.
    #[serde(default)]
    pub message: String,
    /// The alerts.
    pub alerts: Vec<GrafanaAlert>,
}

/// One alert of a Grafana webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaAlert {
    /// Alert status.
    pub status: WebhookStatus,
    /// Identifying labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Descriptive annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved; `0001-01-01T00:00:00Z` while firing.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the alert rule.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Stable identity of the alert.
    #[serde(default)]
    pub fingerprint: String,
    /// Link to silence the alert.
    #[serde(default, rename = "silenceURL")]
    pub silence_url: String,
    /// Link to the dashboard.
    #[serde(default, rename = "dashboardURL")]
    pub dashboard_url: String,
    /// Link to the panel.
    #[serde(default, rename = "panelURL")]
    pub panel_url: String,
    /// Link to a screenshot.
    #[serde(default, rename = "imageURL")]
    pub image_url: String,
    /// Expression values by ref id (`{"B": 0.07, "C": 1}`); `null` for a no-data alert.
    #[serde(default)]
    pub values: Option<BTreeMap<String, Option<f64>>>,
    /// The values as text.
    #[serde(default)]
    pub value_string: String,
}

/// Parse the raw webhook body without mapping (limits on size and alert count still apply).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the offending path, an unsupported
/// `version` or an exceeded limit.
pub fn parse_payload(body: &[u8], policy: &Policy) -> Result<GrafanaPayload> {
    check_size(body, policy, WHAT)?;
    let payload: GrafanaPayload = from_json(body, WHAT)?;
    super::check_version(&payload.version, "1", WHAT)?;
    check_count(payload.alerts.len(), policy, WHAT)?;
    Ok(payload)
}

/// Parse a webhook body and map every alert through `policy.ingest`.
///
/// # Errors
/// As [`parse_payload`].
pub fn parse(body: &[u8], policy: &Policy) -> Result<AlertBatch> {
    let payload = parse_payload(body, policy)?;
    Ok(map_payload(payload, policy))
}

/// Map an already-parsed payload through `policy.ingest`.
#[must_use]
pub fn map_payload(payload: GrafanaPayload, policy: &Policy) -> AlertBatch {
    let value_annotation = &policy.ingest.value_annotation;
    let alerts = payload
        .alerts
        .into_iter()
        .map(|g| {
            let mut annotations = g.annotations;
            if !annotations.contains_key(value_annotation) && !g.labels.contains_key(value_annotation) {
                let numbers: Vec<f64> = g.values.iter().flatten().filter_map(|(_, v)| *v).collect();
                if let [only] = numbers.as_slice() {
                    annotations.insert(value_annotation.clone(), only.to_string());
                }
            }
            let extra_links: Vec<String> =
                [g.dashboard_url, g.panel_url].into_iter().filter(|u| !u.is_empty()).collect();
            let am = WebhookAlert {
                status: g.status,
                labels: g.labels,
                annotations,
                starts_at: g.starts_at,
                ends_at: g.ends_at,
                generator_url: g.generator_url,
                fingerprint: g.fingerprint,
            };
            let mut alert = map_alert(AlertSource::Grafana, am, policy);
            alert.links.extend(extra_links);
            alert
        })
        .collect();
    AlertBatch {
        source: AlertSource::Grafana,
        group_key: Some(payload.group_key).filter(|s| !s.is_empty()),
        receiver: Some(payload.receiver).filter(|s| !s.is_empty()),
        external_url: Some(payload.external_url).filter(|s| !s.is_empty()),
        truncated_alerts: payload.truncated_alerts,
        alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Signal;
    use crate::ingest::AlertStatus;
    use crate::{ErrorKind, Severity};

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(crate::ingest::fixtures::path("grafana", name)).expect("fixture")
    }

    #[test]
    fn fixtures_match_their_expectations() {
        let checked = crate::ingest::fixtures::check_expectations("grafana", parse);
        assert!(checked >= 1, "expected fixtures with expectations");
    }

    #[test]
    fn firing_fixture_uses_the_single_value_and_links() {
        let batch = parse(&read("firing.json"), &Policy::default()).expect("parse");
        assert_eq!(batch.source, AlertSource::Grafana);
        assert!(batch.group_key.as_deref().is_some_and(|k| k.contains("HighErrorRate")));
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.service.as_deref(), Some("checkout"));
        assert!(
            matches!(a.observation.as_ref().map(|o| &o.signal), Some(Signal::ErrorRate(v)) if (*v - 0.09).abs() < 1e-12)
        );
        assert_eq!(a.classification().severity(), Some(Severity::P1));
        assert!(a.links.iter().any(|l| l.contains("/d/")), "{:?}", a.links);
    }

    #[test]
    fn malformed_payloads_name_the_path() {
        let e = parse(br#"{"version":"4","status":"firing","alerts":[]}"#, &Policy::default()).expect_err("version");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "grafana payload: version: unsupported version \"4\" (expected \"1\")");
        let e = parse(
            br#"{"version":"1","status":"firing","alerts":[{"status":"firing","startsAt":"2024-05-03T14:00:00Z","values":{"B":"x"}}]}"#,
            &Policy::default(),
        )
        .expect_err("values");
        assert!(e.to_string().starts_with("grafana payload: alerts[0].values.B: invalid type"), "{e}");
    }
}
