//! Atlassian Statuspage: one public incident per incident, created on the first update and updated after.
//!
//! * create: `POST <base>/v1/pages/{page_id}/incidents` with
//!   `{"incident": {"name", "status", "body", "deliver_notifications", "component_ids"?, "impact_override"?}}`;
//! * update: `PATCH <base>/v1/pages/{page_id}/incidents/{id}` with
//!   `{"incident": {"status", "body", "deliver_notifications"}}`;
//! * both with `Authorization: OAuth <api key>`.
//!
//! `status` is `resolved` for a notification of kind `resolved`, else the incident's status from the
//! store (`investigating`, `identified`, `monitoring`, `resolved`), else a `Status: ...` line of the text,
//! else `investigating`. `name` is the incident title (from the store) or `Incident <id>`; the impact
//! override follows the severity (P0 critical, P1 major, P2 minor, P3 none) when known.
//!
//! The delivery reference is `statuspage:<page_id>/incidents/<statuspage id>`. The notifier remembers
//! it, and with an [`IncidentContext`] finds it again on the incident's timeline after a restart, so
//! later updates patch the same Statuspage incident. [`StatuspageNotifier::remember`] seeds it by hand.
//! Statuspage's `420`/`429` rate limits are retried like any `429`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use incident_core::backend::{Clock, Delivery, Destination, Notification, Notifier};
use incident_core::incident::Incident;
use incident_core::{Error, Result, Severity, Status};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::config::{RetryConfig, StatuspageConfig, check_url};
use crate::http::{Http, Request};
use crate::{IncidentContext, Secret};

/// The Statuspage notifier (see the [module docs](self)).
#[derive(Debug)]
pub struct StatuspageNotifier {
    http: Http,
    incidents_url: Url,
    page_id: String,
    api_key: Secret,
    component_ids: Vec<String>,
    deliver_notifications: bool,
    context: IncidentContext,
    known: Mutex<HashMap<String, String>>,
}

/// Statuspage's incident status for a notification (see the [module docs](self)).
#[must_use]
pub fn statuspage_status(n: &Notification, incident: Option<&Incident>) -> Status {
    if n.kind == "resolved" {
        return Status::Resolved;
    }
    if let Some(i) = incident {
        return i.status;
    }
    n.text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Status:"))
        .and_then(|s| s.trim().to_ascii_lowercase().parse().ok())
        .unwrap_or(Status::Investigating)
}

fn impact(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "critical",
        Severity::P1 => "major",
        Severity::P2 => "minor",
        Severity::P3 => "none",
    }
}

impl StatuspageNotifier {
    /// A notifier from its config.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) for a bad base URL or page
    /// id, or a missing API key.
    pub fn new(config: &StatuspageConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let base = check_url("statuspage.base_url", &config.base_url)?;
        if config.page_id.is_empty() || !config.page_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid_input("notify config: `statuspage.page_id` must be alphanumeric"));
        }
        let incidents_url = base
            .join(&format!("/v1/pages/{}/incidents", config.page_id))
            .map_err(|e| Error::invalid_input(format!("notify config: `statuspage.base_url`: {e}")))?;
        let api_key = config
            .api_key
            .clone()
            .filter(|k| !k.is_blank())
            .ok_or_else(|| Error::invalid_input("notify config: `statuspage.api_key` is missing"))?;
        Ok(Self {
            http: Http::new(retry.clone(), clock)?,
            incidents_url,
            page_id: config.page_id.clone(),
            api_key,
            component_ids: config.component_ids.clone(),
            deliver_notifications: config.deliver_notifications,
            context: IncidentContext::none(),
            known: Mutex::new(HashMap::new()),
        })
    }

    /// Read incidents and earlier deliveries through `context`.
    #[must_use]
    pub fn with_context(mut self, context: IncidentContext) -> Self {
        self.context = context;
        self
    }

    fn prefix(&self) -> String {
        format!("statuspage:{}/incidents/", self.page_id)
    }

    /// The delivery reference of Statuspage incident `id`.
    #[must_use]
    pub fn reference(&self, id: &str) -> String {
        format!("{}{id}", self.prefix())
    }

    /// Use Statuspage incident `statuspage_id` for `incident_id` from now on.
    pub fn remember(&self, incident_id: &str, statuspage_id: &str) {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).insert(incident_id.into(), statuspage_id.into());
    }

    /// The Statuspage incident of `incident_id`, if one was created.
    ///
    /// # Errors
    /// The store's errors (an unknown mapping would create a duplicate public incident, so a store
    /// failure fails the delivery).
    pub async fn statuspage_id(&self, incident_id: &str) -> Result<Option<String>> {
        if let Some(id) = self.known.lock().unwrap_or_else(PoisonError::into_inner).get(incident_id) {
            return Ok(Some(id.clone()));
        }
        let prefix = self.prefix();
        let found = self.context.last_reference(incident_id, None, &prefix).await?;
        Ok(found.and_then(|r| r.strip_prefix(&prefix).map(str::to_owned)).filter(|id| !id.is_empty()))
    }

    fn request(&self, op: &str, method: Method, url: Url, body: &Value) -> Result<Request<'_>> {
        Ok(Request::new("statuspage", op, method, url).auth(AUTHORIZATION, "OAuth ", &self.api_key)?.json(body))
    }

    /// Create a Statuspage incident; returns its id.
    ///
    /// # Errors
    /// Mapped HTTP errors; [`ErrorKind::Unavailable`](incident_core::ErrorKind::Unavailable) when the
    /// response has no id.
    pub async fn create(&self, name: &str, status: Status, body: &str, severity: Option<Severity>) -> Result<String> {
        let mut incident = json!({
            "name": name,
            "status": status.to_string(),
            "body": body,
            "deliver_notifications": self.deliver_notifications,
        });
        if !self.component_ids.is_empty() {
            incident["component_ids"] = json!(self.component_ids);
        }
        if let Some(s) = severity {
            incident["impact_override"] = json!(impact(s));
        }
        let req = self.request(
            "create incident",
            Method::POST,
            self.incidents_url.clone(),
            &json!({ "incident": incident }),
        )?;
        let reply = self.http.send(&req, |_| Ok(())).await?;
        reply.json().get("id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            Error::unavailable("statuspage create incident: the response has no incident id").request_maybe_sent()
        })
    }

    /// Post an update (new status and message) to Statuspage incident `id`.
    ///
    /// # Errors
    /// Mapped HTTP errors (`NotFound` when the Statuspage incident was deleted).
    pub async fn update(&self, id: &str, status: Status, body: &str) -> Result<()> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid_input("statuspage: incident ids are alphanumeric"));
        }
        let url = Url::parse(&format!("{}/{id}", self.incidents_url))
            .map_err(|e| Error::internal(format!("statuspage update: bad URL ({e})")))?;
        let incident =
            json!({ "status": status.to_string(), "body": body, "deliver_notifications": self.deliver_notifications });
        let req =
            self.request("update incident", Method::PATCH, url, &json!({ "incident": incident }))?.idempotent(true);
        self.http.send(&req, |_| Ok(())).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Notifier for StatuspageNotifier {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        if n.to != Destination::StatusPage {
            return Ok(Delivery::Skipped { reason: "the Statuspage notifier delivers to the status page only".into() });
        }
        let incident = self.context.incident(&n.incident_id).await;
        let status = statuspage_status(n, incident.as_ref());
        let id = match self.statuspage_id(&n.incident_id).await? {
            Some(id) => {
                self.update(&id, status, &n.text).await?;
                id
            }
            None => {
                let name = incident.as_ref().map_or_else(|| format!("Incident {}", n.incident_id), |i| i.title.clone());
                self.create(&name, status, &n.text, incident.as_ref().map(|i| i.severity)).await?
            }
        };
        self.remember(&n.incident_id, &id);
        tracing::info!(incident = %n.incident_id, status = %status, "status page updated");
        Ok(Delivery::Delivered { reference: Some(self.reference(&id)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: &str, text: &str) -> Notification {
        Notification { incident_id: "INC-1".into(), to: Destination::StatusPage, kind: kind.into(), text: text.into() }
    }

    #[test]
    fn status_from_kind_or_text() {
        assert_eq!(statuspage_status(&note("resolved", "Status: RESOLVED"), None), Status::Resolved);
        assert_eq!(
            statuspage_status(&note("status_update", "Time: x\nStatus: identified\n"), None),
            Status::Identified
        );
        assert_eq!(
            statuspage_status(&note("status_page_update", "We are investigating."), None),
            Status::Investigating
        );
    }
}
