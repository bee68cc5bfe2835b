//! `parseAlerts(source, ...)` (and one function per source: `parseAlertmanager`, `parsePagerduty`,
//! `parseGrafana`, `parseCloudwatch` (SNS) / `parseCloudwatchAlarm`, `parseDatadog`): webhook payloads → alerts
//! with observations and facts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use incident_core::Policy as CorePolicy;
use incident_core::ingest::{self as core, AlertBatch as CoreBatch};
use napi::Env;
use napi::bindgen_prelude::{Buffer, Either3, Object};
use napi_derive::napi;
use serde_json::Value;

use crate::classify::{Classification, ImpactFacts};
use crate::detector::Observation;
use crate::error::{OrThrow, enum_str};
use crate::policy::Policy;

/// One alert after mapping.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct IngestedAlert {
    /// Where it came from.
    #[napi(ts_type = "'alertmanager' | 'pagerduty' | 'grafana' | 'cloudwatch' | 'datadog'")]
    pub source: String,
    /// Fingerprint / dedup key.
    pub id: Option<String>,
    /// Alert name.
    pub name: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// The service it is about.
    pub service: Option<String>,
    /// Component.
    pub component: Option<String>,
    /// Whether the service is customer-facing.
    pub customer_facing: Option<bool>,
    /// Normalised status.
    #[napi(ts_type = "'firing' | 'acknowledged' | 'resolved'")]
    pub status: String,
    /// Start.
    pub starts_at: Option<DateTime<Utc>>,
    /// End.
    pub ends_at: Option<DateTime<Utc>>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Annotations.
    pub annotations: HashMap<String, String>,
    /// Links.
    pub links: Vec<String>,
    /// The ingest rule that mapped it.
    pub rule: Option<String>,
    /// The observation for the detector.
    pub observation: Option<Observation>,
    /// Impact facts for the classifier.
    pub facts: Option<ImpactFacts>,
    /// The classification of `facts` (insufficient without facts).
    pub classification: Classification,
    /// Mapping warnings.
    pub warnings: Vec<String>,
}

/// A parsed payload.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct AlertBatch {
    /// Where the payload came from.
    #[napi(ts_type = "'alertmanager' | 'pagerduty' | 'grafana' | 'cloudwatch' | 'datadog'")]
    pub source: String,
    /// Alertmanager group key.
    pub group_key: Option<String>,
    /// Alertmanager receiver.
    pub receiver: Option<String>,
    /// Alertmanager external URL.
    pub external_url: Option<String>,
    /// Alerts Alertmanager dropped from the payload.
    pub truncated_alerts: i64,
    /// The alerts.
    pub alerts: Vec<IngestedAlert>,
}

fn alert(a: &core::IngestedAlert) -> IngestedAlert {
    IngestedAlert {
        source: enum_str(&a.source),
        id: a.id.clone(),
        name: a.name.clone(),
        summary: a.summary.clone(),
        service: a.service.clone(),
        component: a.component.clone(),
        customer_facing: a.customer_facing,
        status: enum_str(&a.status),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        labels: a.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        annotations: a.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        links: a.links.clone(),
        rule: a.rule.clone(),
        observation: a.observation.as_ref().map(Observation::from_core),
        facts: a.facts.as_ref().map(ImpactFacts::from_core),
        classification: Classification::from_core(&a.classification()),
        warnings: a.warnings.clone(),
    }
}

fn batch(b: &CoreBatch) -> AlertBatch {
    AlertBatch {
        source: enum_str(&b.source),
        group_key: b.group_key.clone(),
        receiver: b.receiver.clone(),
        external_url: b.external_url.clone(),
        truncated_alerts: i64::try_from(b.truncated_alerts).unwrap_or(i64::MAX),
        alerts: b.alerts.iter().map(alert).collect(),
    }
}

/// The request body as bytes: a string or Buffer as-is, an object as its JSON.
fn body(env: &Env, v: Either3<String, Buffer, Object<'_>>) -> napi::Result<Vec<u8>> {
    Ok(match v {
        Either3::A(s) => s.into_bytes(),
        Either3::B(b) => b.to_vec(),
        Either3::C(o) => env.from_js_value::<Value, _>(o)?.to_string().into_bytes(),
    })
}

fn parse(
    env: &Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
    f: impl Fn(&[u8], &CorePolicy) -> incident_core::Result<CoreBatch>,
) -> napi::Result<AlertBatch> {
    let bytes = body(env, payload)?;
    let b = match policy {
        Some(p) => f(&bytes, &p.inner),
        None => f(&bytes, &CorePolicy::default()),
    };
    Ok(batch(&b.or_throw(env)?))
}

/// Parse a webhook body of `source` (`'alertmanager'`, `'pagerduty'`, `'grafana'`, `'cloudwatch'` (the SNS
/// notification) or `'datadog'`) as a JSON string, Buffer, or the parsed value. Throws `invalid_input` for
/// an unknown source, or naming the field for a malformed payload, or when it exceeds the policy's limits.
/// `incident_core::ingest::parse` decides the dispatch.
#[napi(
    strict,
    catch_unwind,
    ts_args_type = "source: 'alertmanager' | 'pagerduty' | 'grafana' | 'cloudwatch' | 'datadog', payload: string | Buffer | Record<string, unknown> | Array<Record<string, unknown>>, policy?: Policy"
)]
pub fn parse_alerts(
    env: Env,
    source: String,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, |body, policy| core::parse(&source, body, policy))
}

/// `parseAlerts('alertmanager', ...)`: parse an Alertmanager v4 webhook body (JSON string, Buffer, or the parsed object). Throws
/// `invalid_input` naming the field for a malformed payload, or when it exceeds the policy's limits.
#[napi(strict, catch_unwind, ts_args_type = "payload: string | Buffer | Record<string, unknown>, policy?: Policy")]
pub fn parse_alertmanager(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, |body, policy| core::AlertSource::Alertmanager.parse(body, policy))
}

/// `parseAlerts('pagerduty', ...)`: parse a PagerDuty Events API v2 body (one event or an array; JSON string, Buffer, or parsed).
#[napi(
    catch_unwind,
    ts_args_type = "payload: string | Buffer | Record<string, unknown> | Array<Record<string, unknown>>, policy?: Policy"
)]
pub fn parse_pagerduty(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, |body, policy| core::AlertSource::Pagerduty.parse(body, policy))
}

/// `parseAlerts('grafana', ...)`: parse a Grafana alerting webhook body (JSON string, Buffer, or the parsed
/// object; `incident_core::ingest::grafana::parse`). Throws `invalid_input` naming the field.
#[napi(strict, catch_unwind, ts_args_type = "payload: string | Buffer | Record<string, unknown>, policy?: Policy")]
pub fn parse_grafana(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, core::grafana::parse)
}

/// `parseAlerts('cloudwatch', ...)`: parse an Amazon SNS notification whose `Message` is a CloudWatch alarm
/// (`incident_core::ingest::cloudwatch::parse`; the SNS signature is not checked here, as in core). Throws
/// `invalid_input` naming the field: `sns message: ...` for the envelope, `cloudwatch alarm: ...` for the
/// alarm, and for a message that carries no alarm (a subscription confirmation).
#[napi(strict, catch_unwind, ts_args_type = "payload: string | Buffer | Record<string, unknown>, policy?: Policy")]
pub fn parse_cloudwatch(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, core::cloudwatch::parse)
}

/// Parse a bare CloudWatch alarm document (the SNS `Message`, without the envelope;
/// `incident_core::ingest::cloudwatch::parse_alarm`). Throws `invalid_input` naming the field.
#[napi(strict, catch_unwind, ts_args_type = "payload: string | Buffer | Record<string, unknown>, policy?: Policy")]
pub fn parse_cloudwatch_alarm(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, core::cloudwatch::parse_alarm)
}

/// `parseAlerts('datadog', ...)`: parse a Datadog webhook body (JSON string, Buffer, or the parsed object;
/// `incident_core::ingest::datadog::parse`). Throws `invalid_input` naming the field.
#[napi(strict, catch_unwind, ts_args_type = "payload: string | Buffer | Record<string, unknown>, policy?: Policy")]
pub fn parse_datadog(
    env: Env,
    payload: Either3<String, Buffer, Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<AlertBatch> {
    parse(&env, payload, policy, core::datadog::parse)
}
