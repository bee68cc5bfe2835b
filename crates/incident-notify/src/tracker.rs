//! Issue trackers for the post-incident ticket (runbook "Post-Incident Activities": *create
//! post-incident ticket*): **GitHub Issues** and **Jira Cloud**.
//!
//! The ticket is a notification to `Destination::Webhook { name: "tracker" }`
//! ([`incident_core::postincident::TRACKER`]); the [`Router`](crate::Router) hands that destination to
//! the configured tracker, and to a webhook named `tracker` (or the fallback webhook) when no tracker is
//! configured, so any other tracker can be fed by a webhook. The first non-empty line of the text is the
//! title (summary), the rest the body (description).
//!
//! * GitHub: `POST <base>/repos/{owner}/{repo}/issues` with `{"title", "body", "labels"}`,
//!   `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
//!   `X-GitHub-Api-Version: 2022-11-28`; reference `github:{owner}/{repo}#{number}`.
//! * Jira Cloud: `POST <base>/rest/api/3/issue` with `{"fields": {"project": {"key"}, "summary",
//!   "issuetype": {"name"}, "description": <Atlassian Document Format>, "labels"}}`, basic auth
//!   `email:api token`; reference `jira:{key}`. Fenced blocks of the text (```` ``` ````) become ADF
//!   code blocks, other lines paragraphs.
//!
//! Creating an issue is not idempotent: a request that timed out after being sent is not repeated
//! (5xx, 429 and connection failures are). With an [`IncidentContext`], a ticket of the same kind already
//! on the incident's timeline is answered with its reference instead of a second issue.

use std::sync::Arc;

use base64::Engine as _;
use incident_core::backend::{Clock, Delivery, Destination, Notification, Notifier};
use incident_core::postincident::TRACKER;
use incident_core::{Error, Result};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::config::{RetryConfig, TrackerConfig, TrackerProvider, check_url};
use crate::http::{Http, Request};
use crate::{IncidentContext, Secret};

/// The `X-GitHub-Api-Version` sent.
pub const GITHUB_API_VERSION: &str = "2022-11-28";
/// Longest title sent (GitHub and Jira both cap near 255).
const MAX_TITLE: usize = 255;

/// The tracker notifier (see the [module docs](self)).
#[derive(Debug)]
pub struct TrackerNotifier {
    http: Http,
    provider: TrackerProvider,
    url: Url,
    /// `owner/repo` (GitHub) or the project key (Jira).
    target: String,
    issue_type: String,
    labels: Vec<String>,
    token: Secret,
    /// Jira's `Basic base64(email:token)` credential.
    basic: Option<Secret>,
    context: IncidentContext,
}

impl TrackerNotifier {
    /// A notifier from its config.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field: a bad base
    /// URL, repository or project, a missing token or (Jira) email.
    pub fn new(config: &TrackerConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        config.validate()?;
        let base = check_url("tracker.base_url", &config.base_url())?;
        let token =
            config.token.clone().ok_or_else(|| Error::invalid_input("notify config: `tracker.token` is missing"))?;
        let base_path = base.path().trim_end_matches('/').to_owned();
        let (url, target, basic) = match config.provider {
            TrackerProvider::Github => {
                let repo = config.repo.clone().unwrap_or_default();
                (base.join(&format!("{base_path}/repos/{repo}/issues")).map_err(bad_url)?, repo, None)
            }
            TrackerProvider::Jira => {
                let email = config.email.clone().unwrap_or_default();
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{}", token.expose()));
                let project = config.project.clone().unwrap_or_default();
                (
                    base.join(&format!("{base_path}/rest/api/3/issue")).map_err(bad_url)?,
                    project,
                    Some(Secret::new(encoded)),
                )
            }
        };
        Ok(Self {
            http: Http::new(retry.clone(), clock)?,
            provider: config.provider,
            url,
            target,
            issue_type: config.issue_type.clone(),
            labels: config.labels.clone(),
            token,
            basic,
            context: IncidentContext::none(),
        })
    }

    /// Read earlier deliveries through `context` (no second ticket after a restart).
    #[must_use]
    pub fn with_context(mut self, context: IncidentContext) -> Self {
        self.context = context;
        self
    }

    /// The prefix of this tracker's delivery references.
    #[must_use]
    pub fn reference_prefix(&self) -> String {
        match self.provider {
            TrackerProvider::Github => format!("github:{}#", self.target),
            TrackerProvider::Jira => "jira:".to_owned(),
        }
    }

    /// Create an issue; returns its delivery reference.
    ///
    /// # Errors
    /// Mapped HTTP errors (401/403 `PermissionDenied`, 5xx `Unavailable` after the retries);
    /// [`ErrorKind::Unavailable`](incident_core::ErrorKind::Unavailable) when the answer names no issue.
    pub async fn create(&self, title: &str, body: &str) -> Result<String> {
        let title: String = title.chars().take(MAX_TITLE).collect();
        match self.provider {
            TrackerProvider::Github => {
                let payload = json!({ "title": title, "body": body, "labels": self.labels });
                let req = Request::new("github", "create issue", Method::POST, self.url.clone())
                    .auth(AUTHORIZATION, "Bearer ", &self.token)?
                    .header(ACCEPT, HeaderValue::from_static("application/vnd.github+json"))
                    .header(
                        HeaderName::from_static("x-github-api-version"),
                        HeaderValue::from_static(GITHUB_API_VERSION),
                    )
                    .json(&payload);
                let reply = self.http.send(&req, |_| Ok(())).await?;
                let number = reply.json().get("number").and_then(Value::as_u64).ok_or_else(|| {
                    Error::unavailable("github create issue: the response has no issue number").request_maybe_sent()
                })?;
                Ok(format!("{}{number}", self.reference_prefix()))
            }
            TrackerProvider::Jira => {
                let basic = self.basic.as_ref().ok_or_else(|| Error::internal("jira: no credential"))?;
                let mut fields = json!({
                    "project": { "key": self.target },
                    "summary": title,
                    "issuetype": { "name": self.issue_type },
                    "description": adf(body),
                });
                if !self.labels.is_empty() {
                    fields["labels"] = json!(self.labels);
                }
                let req = Request::new("jira", "create issue", Method::POST, self.url.clone())
                    .auth(AUTHORIZATION, "Basic ", basic)?
                    .secret(&self.token)
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .json(&json!({ "fields": fields }));
                let reply = self.http.send(&req, |_| Ok(())).await?;
                let key = reply.json().get("key").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
                    Error::unavailable("jira create issue: the response has no issue key").request_maybe_sent()
                })?;
                Ok(format!("jira:{key}"))
            }
        }
    }
}

fn bad_url(e: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("notify config: `tracker.base_url`: {e}"))
}

/// Split a notification text into title (first non-empty line) and body (the rest, trimmed).
#[must_use]
pub fn title_and_body(text: &str) -> (String, String) {
    let text = text.trim_start();
    let (title, body) = text.split_once('\n').unwrap_or((text, ""));
    (title.trim().to_owned(), body.trim().to_owned())
}

/// `text` as an Atlassian Document Format document: fenced blocks become `codeBlock`s, runs of
/// non-empty lines paragraphs (lines joined by `hardBreak`s). ADF forbids empty text nodes.
#[must_use]
pub fn adf(text: &str) -> Value {
    let mut content: Vec<Value> = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut code: Option<(String, Vec<&str>)> = None;
    let flush = |para: &mut Vec<&str>, content: &mut Vec<Value>| {
        if para.is_empty() {
            return;
        }
        let mut nodes = Vec::new();
        for (i, line) in para.drain(..).enumerate() {
            if i > 0 {
                nodes.push(json!({ "type": "hardBreak" }));
            }
            nodes.push(json!({ "type": "text", "text": line }));
        }
        content.push(json!({ "type": "paragraph", "content": nodes }));
    };
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut code, fence) {
            (Some((lang, lines)), Some(_)) => {
                let body = lines.join("\n");
                let mut block = json!({ "type": "codeBlock", "content": [] });
                if !body.is_empty() {
                    block["content"] = json!([{ "type": "text", "text": body }]);
                }
                if !lang.is_empty() {
                    block["attrs"] = json!({ "language": lang });
                }
                content.push(block);
                code = None;
            }
            (Some((_, lines)), None) => lines.push(line.trim_end_matches('\r')),
            (None, Some(lang)) => {
                flush(&mut para, &mut content);
                code = Some((lang.trim().to_owned(), Vec::new()));
            }
            (None, None) if line.trim().is_empty() => flush(&mut para, &mut content),
            (None, None) => para.push(line.trim_end_matches('\r')),
        }
    }
    if let Some((_, lines)) = code {
        // An unclosed fence: keep its lines as text.
        para.extend(lines);
    }
    flush(&mut para, &mut content);
    json!({ "type": "doc", "version": 1, "content": content })
}

#[async_trait::async_trait]
impl Notifier for TrackerNotifier {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        if !matches!(&n.to, Destination::Webhook { name } if name == TRACKER) {
            return Ok(Delivery::Skipped {
                reason: format!("the tracker notifier delivers to webhook:{TRACKER} only"),
            });
        }
        let prefix = self.reference_prefix();
        if let Some(existing) = self.context.last_reference(&n.incident_id, Some(&n.kind), &prefix).await? {
            tracing::info!(incident = %n.incident_id, reference = %existing, "ticket already created");
            return Ok(Delivery::Delivered { reference: Some(existing) });
        }
        let (title, body) = title_and_body(&n.text);
        if title.is_empty() {
            return Err(Error::invalid_input("tracker: the ticket text is empty"));
        }
        let reference = self.create(&title, &body).await?;
        tracing::info!(incident = %n.incident_id, reference = %reference, "ticket created");
        Ok(Delivery::Delivered { reference: Some(reference) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_body_split() {
        assert_eq!(title_and_body("\n  T \nline1\n\nline2\n"), ("T".into(), "line1\n\nline2".into()));
        assert_eq!(title_and_body("only"), ("only".into(), String::new()));
    }

    #[test]
    fn adf_paragraphs_and_code() {
        let doc = adf("a\nb\n\n```ics\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\n```\n\nc");
        assert_eq!(
            doc,
            json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "a"}, {"type": "hardBreak"}, {"type": "text", "text": "b"}]},
                {"type": "codeBlock", "attrs": {"language": "ics"}, "content": [{"type": "text", "text": "BEGIN:VCALENDAR\nEND:VCALENDAR"}]},
                {"type": "paragraph", "content": [{"type": "text", "text": "c"}]},
            ]})
        );
        assert_eq!(adf(""), json!({"type": "doc", "version": 1, "content": []}));
    }
}
