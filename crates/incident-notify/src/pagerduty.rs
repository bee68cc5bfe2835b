//! PagerDuty Events API v2: page a role, acknowledge and resolve, deduplicated per incident.
//!
//! A `Destination::Page { role }` notification becomes `POST <base>/v2/enqueue` with
//!
//! ```json
//! {"routing_key": "...", "event_action": "trigger", "dedup_key": "INC-2026-0042/cto/P0",
//!  "client": "incident-core",
//!  "payload": {"summary": "...", "source": "incident-core", "severity": "critical",
//!              "timestamp": "2026-11-26T14:05:00Z", "component": "ml-inference-api",
//!              "class": "page", "custom_details": {"incident_id": "...", "role": "cto", ...}}}
//! ```
//!
//! * `event_action`: `resolve` for kinds `resolved`/`resolve`, `acknowledge` for
//!   `acknowledged`/`acknowledge`, `trigger` otherwise (only `trigger` carries a payload);
//! * `dedup_key` is `{incident id}/{role}/{severity}` (`INC-2026-0042/cto/P0`): re-sending a page is
//!   idempotent, while each role paged is its own alert (one routing key for every role must not fold
//!   the engineering manager's escalation page into the on-call's open alert) and a severity raise
//!   pages again. An escalation page of level 2 or more (kind `escalation_page:N`) adds
//!   `/escalation-N`: a role the declaration already paged (the engineering manager of a P1) is paged
//!   again when the on-call did not answer, instead of PagerDuty folding it into the open alert;
//! * acknowledge/resolve go to every alert the incident opened for the role: the `pagerduty:` references
//!   of its succeeded pages on the timeline (through the [`IncidentContext`]), else the role's key at the
//!   incident's current severity; the reference is the keys, comma-separated;
//! * `routing_key`: the role's key from `routing_keys`, else `routing_key`; none → skipped;
//! * `severity`: P0/P1 → `critical`, P2 → `error`, P3 → `warning`, from the incident in the store, else
//!   from a `[P2]` prefix of the text, else `critical` (a page of unknown severity is urgent);
//! * `summary`: the text's first line (at most 1024 characters).
//!
//! `202 Accepted` is success; the reference is `pagerduty:<dedup_key>`. `400` is `InvalidInput` (not
//! retried), `429` and `5xx` are retried.

use std::collections::BTreeMap;
use std::sync::Arc;

use incident_core::backend::{Clock, Delivery, Destination, Notification, Notifier};
use incident_core::delivery::destination_label;
use incident_core::escalation;
use incident_core::policy::Role;
use incident_core::{Error, Result, Severity};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::config::{PagerDutyConfig, RetryConfig, check_url};
use crate::http::{Http, Request};
use crate::{IncidentContext, Secret};

/// The Events API's limit on `payload.summary`.
const MAX_SUMMARY: usize = 1024;
/// The Events API's limit on `dedup_key`.
const MAX_DEDUP_KEY: usize = 255;
/// The longest `/{role}/{severity}/escalation-{level}` a dedup key adds to the incident id.
const DEDUP_SUFFIX_MAX: usize = "/pagerduty_support/P0/escalation-4294967295".len();
/// The reference prefix of a delivered page.
const REFERENCE: &str = "pagerduty:";

/// `{incident}/{role}/{severity}`, plus `/escalation-{level}` for an escalation page of level 2 or
/// more (see the [module docs](self)); without a known severity, `{incident}/{role}`.
fn dedup_key(incident_id: &str, role: Role, severity: Option<Severity>, kind: &str) -> String {
    let base = match severity {
        Some(s) => format!("{incident_id}/{}/{s}", role.as_str()),
        None => format!("{incident_id}/{}", role.as_str()),
    };
    match escalation::parse_kind(kind) {
        Some((true, level)) if level >= 2 => format!("{base}/escalation-{level}"),
        _ => base,
    }
}

/// The PagerDuty notifier (see the [module docs](self)).
#[derive(Debug)]
pub struct PagerDutyNotifier {
    http: Http,
    enqueue: Url,
    routing_key: Option<Secret>,
    routing_keys: BTreeMap<Role, Secret>,
    source: String,
    context: IncidentContext,
}

/// PagerDuty `payload.severity` for an incident severity.
#[must_use]
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 | Severity::P1 => "critical",
        Severity::P2 => "error",
        Severity::P3 => "warning",
    }
}

/// The Events API `event_action` for a notification kind.
#[must_use]
pub fn event_action(kind: &str) -> &'static str {
    match kind {
        "resolved" | "resolve" => "resolve",
        "acknowledged" | "acknowledge" => "acknowledge",
        _ => "trigger",
    }
}

fn severity_from_text(text: &str) -> Option<Severity> {
    let tag = text.trim_start().strip_prefix('[')?.split_once(']')?.0;
    Severity::ALL.into_iter().find(|s| s.to_string() == tag)
}

impl PagerDutyNotifier {
    /// A notifier from its config.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) for a bad base URL.
    pub fn new(config: &PagerDutyConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let base = check_url("pagerduty.base_url", &config.base_url)?;
        let enqueue = base
            .join("/v2/enqueue")
            .map_err(|e| Error::invalid_input(format!("notify config: `pagerduty.base_url`: {e}")))?;
        Ok(Self {
            http: Http::new(retry.clone(), clock)?,
            enqueue,
            routing_key: config.routing_key.clone().filter(|k| !k.is_blank()),
            routing_keys: config.routing_keys.clone(),
            source: config.source.clone(),
            context: IncidentContext::none(),
        })
    }

    /// Read incidents through `context` (severity, component, commander, channel).
    #[must_use]
    pub fn with_context(mut self, context: IncidentContext) -> Self {
        self.context = context;
        self
    }

    /// Send one event; returns the `dedup_key` PagerDuty acknowledged.
    ///
    /// # Errors
    /// Mapped HTTP errors (see the [module docs](self)).
    pub async fn enqueue(&self, routing_key: &Secret, event: &Value) -> Result<String> {
        let action = event.get("event_action").and_then(Value::as_str).unwrap_or("trigger");
        // Every key is scrubbed from messages, not only the one sent: a provider may echo any of them.
        let req = self
            .routing_keys
            .values()
            .chain(self.routing_key.as_ref())
            .fold(Request::new("pagerduty", format!("enqueue {action}"), Method::POST, self.enqueue.clone()), |r, k| {
                r.secret(k)
            })
            .secret(routing_key)
            .json(event)
            .idempotent(true);
        let reply = self.http.send(&req, |_| Ok(())).await?;
        let sent_key = event.get("dedup_key").and_then(Value::as_str).unwrap_or_default();
        Ok(reply.json().get("dedup_key").and_then(Value::as_str).unwrap_or(sent_key).to_owned())
    }

    fn event(
        &self,
        n: &Notification,
        role: Role,
        routing_key: &Secret,
        incident: Option<&incident_core::incident::Incident>,
    ) -> Value {
        let action = event_action(&n.kind);
        let severity = incident.map(|i| i.severity).or_else(|| severity_from_text(&n.text));
        let mut event = json!({
            "routing_key": routing_key.expose(),
            "event_action": action,
            "dedup_key": dedup_key(&n.incident_id, role, severity, &n.kind),
            "client": "incident-core",
        });
        if action == "trigger" {
            let first_line = n.text.lines().find(|l| !l.trim().is_empty()).unwrap_or(&n.incident_id);
            let summary: String = first_line.chars().take(MAX_SUMMARY).collect();
            let role_name = serde_json::to_value(role).unwrap_or(Value::Null);
            let mut details =
                json!({ "incident_id": n.incident_id, "role": role_name, "kind": n.kind, "text": n.text });
            let mut payload = json!({
                "summary": summary,
                "source": self.source,
                "severity": severity.map_or("critical", pagerduty_severity),
                "timestamp": self.http.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "class": n.kind,
            });
            if let Some(i) = incident {
                if let Some(c) = i.components.first() {
                    payload["component"] = json!(c);
                }
                details["title"] = json!(i.title);
                details["severity"] = json!(i.severity);
                details["status"] = json!(i.status);
                details["commander"] = json!(i.commander);
                details["channel"] = json!(i.channel);
            }
            payload["custom_details"] = details;
            event["payload"] = payload;
        }
        event
    }
}

#[async_trait::async_trait]
impl Notifier for PagerDutyNotifier {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        let Destination::Page { role } = &n.to else {
            return Ok(Delivery::Skipped { reason: "the PagerDuty notifier delivers pages only".into() });
        };
        let Some(key) = self.routing_keys.get(role).or(self.routing_key.as_ref()) else {
            return Ok(Delivery::Skipped { reason: format!("no PagerDuty routing key for role {}", role.title()) });
        };
        if n.incident_id.trim().is_empty() || n.incident_id.len() + DEDUP_SUFFIX_MAX > MAX_DEDUP_KEY {
            return Err(Error::invalid_input(format!(
                "pagerduty: the incident id must be 1..={} bytes to serve in a dedup_key",
                MAX_DEDUP_KEY - DEDUP_SUFFIX_MAX
            )));
        }
        let incident = self.context.incident(&n.incident_id).await;
        let event = self.event(n, *role, key, incident.as_ref());
        let action = event_action(&n.kind);
        if action == "trigger" {
            let dedup_key = self.enqueue(key, &event).await?;
            tracing::info!(incident = %n.incident_id, action, role = role.title(), "paged");
            return Ok(Delivery::Delivered { reference: Some(format!("{REFERENCE}{dedup_key}")) });
        }
        // Acknowledge or resolve every alert the incident opened for the role.
        let channel = destination_label(&n.to);
        let opened = self.context.references(&n.incident_id, &channel, REFERENCE, escalation::is_page_kind).await?;
        let mut keys: Vec<String> =
            opened.iter().filter_map(|r| r.strip_prefix(REFERENCE)).map(str::to_owned).collect();
        if keys.is_empty() {
            keys.extend(event.get("dedup_key").and_then(Value::as_str).map(str::to_owned));
        }
        let mut done = Vec::with_capacity(keys.len());
        for k in keys {
            let mut event = event.clone();
            event["dedup_key"] = json!(k);
            done.push(self.enqueue(key, &event).await?);
        }
        tracing::info!(incident = %n.incident_id, action, role = role.title(), alerts = done.len(), "page closed");
        Ok(Delivery::Delivered { reference: Some(format!("{REFERENCE}{}", done.join(","))) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(pagerduty_severity(Severity::P0), "critical");
        assert_eq!(pagerduty_severity(Severity::P1), "critical");
        assert_eq!(pagerduty_severity(Severity::P2), "error");
        assert_eq!(pagerduty_severity(Severity::P3), "warning");
        assert_eq!(event_action("page"), "trigger");
        assert_eq!(event_action("resolved"), "resolve");
        assert_eq!(event_action("acknowledged"), "acknowledge");
        assert_eq!(severity_from_text("[P2] API errors — reason"), Some(Severity::P2));
        assert_eq!(severity_from_text("API errors"), None);
    }
}
