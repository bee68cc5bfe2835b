//! Slack Web API: incident channels, messages, the pinned ticket.
//!
//! For a `Destination::Channel { name }` notification:
//!
//! 1. a channel named `incident-...` is ensured: `conversations.create` (`name_taken` means it exists:
//!    it is looked up with `conversations.list` and joined if needed), then the configured users are
//!    invited with `conversations.invite` (`already_in_channel` is fine). Other channel names must
//!    exist; messages are posted to them by name;
//! 2. the text is posted with `chat.postMessage`;
//! 3. a `ticket` notification is pinned with `pins.add`; a later `ticket` for the same incident updates
//!    the pinned message with `chat.update` instead of posting a new one (found again after a restart
//!    through the timeline when the notifier has an [`IncidentContext`]).
//!
//! Every call is a `POST` with `Authorization: Bearer xoxb-...` and a JSON body (`conversations.list`:
//! `GET` with query parameters). Slack answers errors with HTTP 200 and `{"ok": false, "error": "..."}`;
//! those map onto [`ErrorKind`]: `invalid_auth`, `missing_scope`, ... → `PermissionDenied`;
//! `channel_not_found` → `NotFound`; `is_archived`, `not_in_channel` → `Conflict`; `ratelimited`,
//! `internal_error`, ... → `Unavailable` (retried); anything else → `InvalidInput`.
//!
//! The delivery reference is `slack:<channel id>/<ts>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use incident_core::backend::{Clock, Delivery, Destination, Notification, Notifier};
use incident_core::{Error, ErrorKind, Result};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::config::{RetryConfig, SlackConfig, check_url};
use crate::http::{Failure, Http, Request, Retry, retry_after};
use crate::{IncidentContext, Secret};

/// Reference prefix of Slack deliveries.
const REF_PREFIX: &str = "slack:";
/// Most `conversations.list` pages read when looking a channel up.
const MAX_LIST_PAGES: usize = 50;

/// A posted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    /// Channel id.
    pub channel: String,
    /// Message timestamp (its id).
    pub ts: String,
}

impl PostedMessage {
    /// `slack:<channel>/<ts>`.
    #[must_use]
    pub fn reference(&self) -> String {
        format!("{REF_PREFIX}{}/{}", self.channel, self.ts)
    }

    /// Parse a [`PostedMessage::reference`].
    #[must_use]
    pub fn from_reference(reference: &str) -> Option<Self> {
        let (channel, ts) = reference.strip_prefix(REF_PREFIX)?.split_once('/')?;
        (!channel.is_empty() && !ts.is_empty()).then(|| Self { channel: channel.into(), ts: ts.into() })
    }
}

/// The Slack notifier (see the [module docs](self)).
#[derive(Debug)]
pub struct SlackNotifier {
    http: Http,
    base: Url,
    token: Secret,
    invite: Vec<String>,
    private: bool,
    context: IncidentContext,
    channels: Mutex<HashMap<String, String>>,
    tickets: Mutex<HashMap<String, PostedMessage>>,
}

fn classify(error: &str, idempotent: bool) -> (ErrorKind, Retry) {
    match error {
        "ratelimited" | "rate_limited" => (ErrorKind::Unavailable, Retry::After(None)),
        "service_unavailable" | "request_timeout" | "internal_error" | "fatal_error" => {
            (ErrorKind::Unavailable, if idempotent { Retry::Backoff } else { Retry::No })
        }
        "invalid_auth"
        | "not_authed"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "missing_scope"
        | "not_allowed_token_type"
        | "ekm_access_denied"
        | "restricted_action"
        | "access_denied"
        | "team_access_not_granted" => (ErrorKind::PermissionDenied, Retry::No),
        "channel_not_found" | "message_not_found" | "user_not_found" | "users_not_found" => {
            (ErrorKind::NotFound, Retry::No)
        }
        "is_archived" | "not_in_channel" | "cant_update_message" | "edit_window_closed" | "name_taken" => {
            (ErrorKind::Conflict, Retry::No)
        }
        _ => (ErrorKind::InvalidInput, Retry::No),
    }
}

impl SlackNotifier {
    /// A notifier from its config.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a bad base URL or a missing token.
    pub fn new(config: &SlackConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let mut base = check_url("slack.base_url", &config.base_url)?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let token = config
            .token
            .clone()
            .filter(|t| !t.is_blank())
            .ok_or_else(|| Error::invalid_input("notify config: `slack.token` is missing"))?;
        Ok(Self {
            http: Http::new(retry.clone(), clock)?,
            base,
            token,
            invite: config.invite.clone(),
            private: config.private_channels,
            context: IncidentContext::none(),
            channels: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
        })
    }

    /// Read incidents and earlier deliveries through `context`.
    #[must_use]
    pub fn with_context(mut self, context: IncidentContext) -> Self {
        self.context = context;
        self
    }

    fn url(&self, method: &str) -> Result<Url> {
        self.base.join(method).map_err(|e| Error::internal(format!("slack {method}: bad URL ({e})")))
    }

    /// Call a Web API method; `benign` errors count as success (the response is returned as is).
    async fn call(&self, method: &str, body: &Value, benign: &[&str], idempotent: bool) -> Result<Value> {
        let req = Request::new("slack", method, Method::POST, self.url(method)?)
            .auth(AUTHORIZATION, "Bearer ", &self.token)?
            .json(body)
            .idempotent(idempotent);
        self.send(&req, benign).await
    }

    async fn send(&self, req: &Request<'_>, benign: &[&str]) -> Result<Value> {
        let now = || self.http.clock.now();
        let reply = self
            .http
            .send(req, |reply| {
                let body = reply.json();
                match body.get("ok").and_then(Value::as_bool) {
                    Some(true) => Ok(()),
                    Some(false) => {
                        let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown_error");
                        if benign.contains(&error) {
                            return Ok(());
                        }
                        let (kind, mut retry) = classify(error, req.idempotent);
                        if retry == Retry::After(None) {
                            retry = Retry::After(retry_after(&reply.headers, now()));
                        }
                        let mut f = Failure::new(kind, error.to_owned(), retry);
                        // Slack: "it's possible some aspect of the operation succeeded".
                        f.maybe_sent = matches!(error, "internal_error" | "fatal_error");
                        Err(f)
                    }
                    None => Err(Failure::new(ErrorKind::Unavailable, "response is not a Slack API answer", Retry::No)),
                }
            })
            .await?;
        Ok(reply.json())
    }

    /// `conversations.create`: the new channel's id, or `None` when the name is taken.
    ///
    /// # Errors
    /// Mapped Slack errors (see the [module docs](self)).
    pub async fn create_channel(&self, name: &str) -> Result<Option<String>> {
        let body = json!({ "name": name, "is_private": self.private });
        let v = self.call("conversations.create", &body, &["name_taken"], true).await?;
        Ok(v.pointer("/channel/id").and_then(Value::as_str).map(str::to_owned))
    }

    /// `conversations.list` (paginated) for a channel named `name`, joined when the bot is not a member
    /// of it (`conversations.join`, public channels only).
    ///
    /// # Errors
    /// Mapped Slack errors.
    pub async fn find_channel(&self, name: &str) -> Result<Option<String>> {
        let mut cursor = String::new();
        for _ in 0..MAX_LIST_PAGES {
            let mut url = self.url("conversations.list")?;
            url.query_pairs_mut()
                .append_pair("types", "public_channel,private_channel")
                .append_pair("exclude_archived", "true")
                .append_pair("limit", "200");
            if !cursor.is_empty() {
                url.query_pairs_mut().append_pair("cursor", &cursor);
            }
            let req = Request::new("slack", "conversations.list", Method::GET, url)
                .auth(AUTHORIZATION, "Bearer ", &self.token)?
                .idempotent(true);
            let v = self.send(&req, &[]).await?;
            let found = v
                .get("channels")
                .and_then(Value::as_array)
                .and_then(|list| list.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name)).cloned());
            if let Some(ch) = found {
                let id = ch.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                if ch.get("is_member").and_then(Value::as_bool) == Some(false) {
                    self.call("conversations.join", &json!({ "channel": id }), &[], true).await?;
                }
                return Ok(Some(id));
            }
            cursor = v.pointer("/response_metadata/next_cursor").and_then(Value::as_str).unwrap_or("").to_owned();
            if cursor.is_empty() {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// `conversations.invite` of `users` (already-present users are fine).
    ///
    /// # Errors
    /// Mapped Slack errors.
    pub async fn invite(&self, channel: &str, users: &[String]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let body = json!({ "channel": channel, "users": users.join(","), "force": true });
        self.call("conversations.invite", &body, &["already_in_channel", "cant_invite_self"], true).await?;
        Ok(())
    }

    /// The id of the incident channel `name` (without `#`): created and populated on first use.
    ///
    /// # Errors
    /// Mapped Slack errors; [`ErrorKind::NotFound`] when the name is taken by a channel the bot cannot
    /// see (e.g. archived).
    pub async fn ensure_channel(&self, name: &str) -> Result<String> {
        if let Some(id) = self.channels.lock().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Ok(id.clone());
        }
        let id = match self.create_channel(name).await? {
            Some(id) => id,
            None => self.find_channel(name).await?.ok_or_else(|| {
                Error::not_found(format!(
                    "slack: channel name {name} is taken but no visible channel has it (archived?)"
                ))
            })?,
        };
        self.invite(&id, &self.invite).await?;
        self.channels.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned(), id.clone());
        Ok(id)
    }

    /// `chat.postMessage`.
    ///
    /// # Errors
    /// Mapped Slack errors.
    pub async fn post_message(&self, channel: &str, text: &str) -> Result<PostedMessage> {
        let body = json!({ "channel": channel, "text": text, "unfurl_links": false, "unfurl_media": false });
        let v = self.call("chat.postMessage", &body, &[], false).await?;
        let ts = v.get("ts").and_then(Value::as_str).unwrap_or_default();
        let channel = v.get("channel").and_then(Value::as_str).unwrap_or(channel);
        Ok(PostedMessage { channel: channel.to_owned(), ts: ts.to_owned() })
    }

    /// `chat.update` of the message `ts` in `channel`.
    ///
    /// # Errors
    /// Mapped Slack errors.
    pub async fn update_message(&self, channel: &str, ts: &str, text: &str) -> Result<()> {
        self.call("chat.update", &json!({ "channel": channel, "ts": ts, "text": text }), &[], true).await?;
        Ok(())
    }

    /// `pins.add` of the message `ts` in `channel` (already pinned is fine).
    ///
    /// # Errors
    /// Mapped Slack errors.
    pub async fn pin(&self, channel: &str, ts: &str) -> Result<()> {
        self.call("pins.add", &json!({ "channel": channel, "timestamp": ts }), &["already_pinned"], true).await?;
        Ok(())
    }

    /// The pinned ticket of an incident: remembered, or read from the timeline.
    async fn ticket(&self, incident_id: &str) -> Result<Option<PostedMessage>> {
        if let Some(t) = self.tickets.lock().unwrap_or_else(PoisonError::into_inner).get(incident_id) {
            return Ok(Some(t.clone()));
        }
        let Some(store_ref) = self.context.last_reference(incident_id, Some("ticket"), REF_PREFIX).await? else {
            return Ok(None);
        };
        Ok(PostedMessage::from_reference(&store_ref))
    }
}

#[async_trait::async_trait]
impl Notifier for SlackNotifier {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        let Destination::Channel { name } = &n.to else {
            return Ok(Delivery::Skipped { reason: "the Slack notifier delivers to channels only".into() });
        };
        if n.kind == "ticket" {
            if let Some(t) = self.ticket(&n.incident_id).await? {
                self.update_message(&t.channel, &t.ts, &n.text).await?;
                return Ok(Delivery::Delivered { reference: Some(t.reference()) });
            }
        }
        let name = name.trim_start_matches('#');
        let channel = if name.starts_with("incident-") { self.ensure_channel(name).await? } else { name.to_owned() };
        let posted = self.post_message(&channel, &n.text).await?;
        if n.kind == "ticket" {
            self.pin(&posted.channel, &posted.ts).await?;
            self.tickets.lock().unwrap_or_else(PoisonError::into_inner).insert(n.incident_id.clone(), posted.clone());
        }
        Ok(Delivery::Delivered { reference: Some(posted.reference()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip() {
        let m = PostedMessage { channel: "C123".into(), ts: "1700000000.000100".into() };
        assert_eq!(m.reference(), "slack:C123/1700000000.000100");
        assert_eq!(PostedMessage::from_reference(&m.reference()), Some(m));
        assert_eq!(PostedMessage::from_reference("slack:C1"), None);
        assert_eq!(PostedMessage::from_reference("statuspage:x/y"), None);
    }

    #[test]
    fn errors_map_to_kinds() {
        assert_eq!(classify("invalid_auth", true).0, ErrorKind::PermissionDenied);
        assert_eq!(classify("channel_not_found", true).0, ErrorKind::NotFound);
        assert_eq!(classify("ratelimited", false), (ErrorKind::Unavailable, Retry::After(None)));
        assert_eq!(classify("internal_error", false), (ErrorKind::Unavailable, Retry::No));
        assert_eq!(classify("internal_error", true), (ErrorKind::Unavailable, Retry::Backoff));
        assert_eq!(classify("msg_too_long", true).0, ErrorKind::InvalidInput);
    }
}
