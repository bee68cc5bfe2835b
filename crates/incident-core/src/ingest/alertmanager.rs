//! Prometheus Alertmanager webhook payloads (`version: "4"`), as documented for the webhook receiver
//! (`webhook_config`): `version`, `groupKey`, `truncatedAlerts`, `status`, `receiver`, `groupLabels`,
//! `commonLabels`, `commonAnnotations`, `externalURL` and `alerts[]` with `status`, `labels`,
//! `annotations`, `startsAt`, `endsAt`, `generatorURL`, `fingerprint`.
//!
//! Unknown top-level or alert keys are ignored (forward compatibility); known keys are typed strictly.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertBatch, AlertSource, AlertStatus, RawAlert, check_count, check_size, from_json};
use crate::{Policy, Result};

const WHAT: &str = "alertmanager payload";

/// Alert or group status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// At least one alert is firing (group) / the alert is firing.
    Firing,
    /// Everything resolved (group) / the alert resolved.
    Resolved,
}

/// The webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Payload format version; must be `"4"`.
    pub version: String,
    /// Key identifying the group of alerts (e.g. to deduplicate).
    #[serde(default)]
    pub group_key: String,
    /// How many alerts were dropped because of the receiver's `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// Group status.
    pub status: WebhookStatus,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// Labels the group is keyed on.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels common to all alerts.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to all alerts.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Backlink to the Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// One alert of a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// Alert status.
    pub status: WebhookStatus,
    /// Identifying labels (`alertname`, `service`, `severity`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Descriptive annotations (`summary`, `description`, `value`, ...).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// When it resolved; `0001-01-01T00:00:00Z` while firing.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the rule's expression in Prometheus.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Stable identity of the alert.
    #[serde(default)]
    pub fingerprint: String,
}

/// Parse the raw webhook body without mapping (limits on size and alert count still apply).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the offending path, an unsupported
/// `version` or an exceeded limit.
pub fn parse_payload(body: &[u8], policy: &Policy) -> Result<WebhookPayload> {
    check_size(body, policy, WHAT)?;
    let payload: WebhookPayload = from_json(body, WHAT)?;
    super::check_version(&payload.version, "4", WHAT)?;
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
pub fn map_payload(payload: WebhookPayload, policy: &Policy) -> AlertBatch {
    let alerts = payload.alerts.into_iter().map(|a| map_alert(AlertSource::Alertmanager, a, policy)).collect();
    AlertBatch {
        source: AlertSource::Alertmanager,
        group_key: Some(payload.group_key).filter(|s| !s.is_empty()),
        receiver: Some(payload.receiver).filter(|s| !s.is_empty()),
        external_url: Some(payload.external_url).filter(|s| !s.is_empty()),
        truncated_alerts: payload.truncated_alerts,
        alerts,
    }
}

/// Map one Alertmanager-shaped alert (also Grafana's) through `policy.ingest`.
pub(crate) fn map_alert(source: AlertSource, a: WebhookAlert, policy: &Policy) -> super::IngestedAlert {
    let ingest = &policy.ingest;
    let severity = a.labels.get(&ingest.severity_label).cloned();
    let raw = RawAlert {
        source,
        id: Some(a.fingerprint).filter(|f| !f.is_empty()),
        status: match a.status {
            WebhookStatus::Firing => AlertStatus::Firing,
            WebhookStatus::Resolved => AlertStatus::Resolved,
        },
        starts_at: Some(a.starts_at),
        // Alertmanager's zero time means "not ended".
        ends_at: a.ends_at.filter(|t| t.year() > 1),
        name: a.labels.get("alertname").cloned(),
        summary: a.annotations.get("summary").cloned(),
        labels: a.labels,
        annotations: a.annotations,
        links: Some(a.generator_url).into_iter().filter(|u| !u.is_empty()).collect(),
        severity: severity.as_deref(),
    };
    raw.map(ingest)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ErrorKind;
    use crate::classify::OutageScope;
    use crate::detector::{DeclarationRule, Signal};
    use crate::ingest::AlertStatus;
    use crate::{Severity, classify::RuleId};

    fn fixture(name: &str) -> PathBuf {
        crate::ingest::fixtures::path("alertmanager", name)
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(fixture(name)).expect("fixture")
    }

    fn err(body: &[u8]) -> String {
        let e = parse(body, &Policy::default()).expect_err("should fail");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        e.to_string()
    }

    /// `<name>.expected.json` holds, per alert, the fields every language's tests compare.
    #[test]
    fn fixtures_match_their_expectations() {
        let checked = crate::ingest::fixtures::check_expectations("alertmanager", parse);
        assert!(checked >= 2, "expected fixtures with expectations");
    }

    #[test]
    fn firing_fixture_maps_every_rule() {
        let batch = parse(&read("firing-mixed.json"), &Policy::default()).expect("parse");
        assert_eq!(batch.receiver.as_deref(), Some("incident-core"));
        let by_name = |n: &str| batch.alerts.iter().find(|a| a.name.as_deref() == Some(n)).expect(n);
        let down = by_name("ServiceDown");
        assert_eq!(down.facts.as_ref().map(|f| f.outage), Some(OutageScope::Partial));
        assert_eq!(down.classification().severity(), Some(Severity::P1));
        let err_rate = by_name("HighErrorRate");
        assert!(matches!(
            err_rate.observation.as_ref().map(|o| &o.signal),
            Some(Signal::ErrorRate(v)) if (*v - 0.0712).abs() < 1e-12
        ));
        let latency = by_name("HighLatency");
        assert!(latency.classification().rules().contains(RuleId::PerformanceDegradationOver50));
        assert_eq!(by_name("DataIntegrityCheckFailed").classification().severity(), Some(Severity::P0));
        assert!(by_name("SecurityIncident").classification().rules().contains(RuleId::SecurityBreach));
        let disk = by_name("DiskSpaceLow");
        assert_eq!(disk.rule, None);
        assert_eq!(disk.classification().severity(), Some(Severity::P2), "warning → minor feature issue");
        assert!(disk.observation.is_none());
    }

    #[test]
    fn resolved_alerts_recover_their_series() {
        let batch = parse(&read("resolved.json"), &Policy::default()).expect("parse");
        let a = &batch.alerts[0];
        assert_eq!(a.status, AlertStatus::Resolved);
        let obs = a.observation.as_ref().expect("observation");
        assert_eq!(obs.signal, Signal::Resolved { rule: DeclarationRule::ServiceUnavailable });
        assert_eq!(Some(obs.at), a.ends_at);
    }

    #[test]
    fn malformed_payloads_name_the_path() {
        let msg = err(&read("invalid-starts-at.json"));
        assert_eq!(msg, "alertmanager payload: alerts[3].startsAt: premature end of input");
        let msg = err(
            br#"{"version":"4","status":"firing","alerts":[{"status":"burning","startsAt":"2024-05-03T14:00:00Z"}]}"#,
        );
        assert!(msg.starts_with("alertmanager payload: alerts[0].status: unknown variant `burning`"), "{msg}");
        let msg = err(br#"{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"2024-05-03T14:00:00Z","labels":{"a":1}}]}"#);
        assert!(msg.starts_with("alertmanager payload: alerts[0].labels.a: invalid type: integer `1`"), "{msg}");
        let msg = err(br#"{"version":"4","status":"firing"}"#);
        assert_eq!(msg, "alertmanager payload: missing field `alerts`");
        let msg = err(br#"{"version":"3","status":"firing","alerts":[]}"#);
        assert_eq!(msg, "alertmanager payload: version: unsupported version \"3\" (expected \"4\")");
        let msg = err(br#"{"version":"4","status":"firing","alerts":[]} trailing"#);
        assert!(msg.starts_with("alertmanager payload: trailing characters"), "{msg}");
        let msg = err(b"");
        assert!(msg.starts_with("alertmanager payload: EOF while parsing"), "{msg}");
        let msg = err(br#"{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"#);
        assert!(msg.starts_with("alertmanager payload: alerts[0].startsAt: EOF"), "{msg}");
    }

    #[test]
    fn limits_are_enforced() {
        let mut policy = Policy::default();
        policy.limits.max_payload_bytes = 100;
        let body = read("firing-mixed.json");
        let e = parse(&body, &policy).expect_err("too big");
        assert_eq!(
            e.to_string(),
            format!("alertmanager payload: {} bytes exceeds limits.max_payload_bytes (100)", body.len())
        );
        let mut policy = Policy::default();
        policy.limits.max_alerts_per_payload = 2;
        let e = parse(&body, &policy).expect_err("too many");
        assert!(
            e.to_string().starts_with("alertmanager payload: 6 alerts exceeds limits.max_alerts_per_payload (2)"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_become_warnings_not_errors() {
        let body = br#"{"version":"4","status":"firing","alerts":[
            {"status":"firing","startsAt":"2024-05-03T14:00:00Z",
             "labels":{"alertname":"HighErrorRate","service":"api","customer_facing":"perhaps"},
             "annotations":{"value":"lots"}},
            {"status":"firing","startsAt":"2024-05-03T14:00:00Z","labels":{"alertname":"ServiceDown"}}]}"#;
        let batch = parse(body, &Policy::default()).expect("parse");
        let a = &batch.alerts[0];
        assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
        assert!(a.observation.is_none());
        assert_eq!(a.classification().severity(), Some(Severity::P1), "a high error rate still means errors");
        let b = &batch.alerts[1];
        assert_eq!(b.warnings, vec!["no service label: no observation".to_owned()]);
        assert_eq!(b.classification().severity(), Some(Severity::P1));
    }

    proptest::proptest! {
        /// Corrupted or truncated payloads are errors (or parse), never panics.
        #[test]
        fn corrupted_payloads_never_panic(
            cut in 0usize..4000,
            flips in proptest::collection::vec((0usize..4000, proptest::num::u8::ANY), 0..8),
        ) {
            let mut body = read("firing-mixed.json");
            for (at, byte) in flips {
                let n = body.len();
                body[at % n] = byte;
            }
            body.truncate(cut.min(body.len()));
            if let Err(e) = parse(&body, &Policy::default()) {
                proptest::prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
                proptest::prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
