//! Configuration: which providers exist, where they live, their credentials, and the retry policy.
//!
//! A config is read from a TOML or JSON file (the *secrets file*: keep it `0600`), from environment
//! variables, or both ([`NotifyConfig::load`]: the file first, then the variables override it).
//!
//! ```toml
//! fallback_webhook = "ops-bridge"     # destinations without a provider go here (else: skipped)
//!
//! [slack]
//! token = "xoxb-..."                  # or INCIDENT_SLACK_TOKEN
//! invite = ["U012AB3CD", "U045EF6GH"] # invited to every incident channel the notifier creates
//!
//! [pagerduty]
//! routing_key = "..."                 # or INCIDENT_PAGERDUTY_ROUTING_KEY
//! routing_keys = { cto = "..." }      # per role, overrides routing_key
//! base_url = "https://events.eu.pagerduty.com"
//!
//! [statuspage]
//! page_id = "kctbh9vrtdwd"            # or INCIDENT_STATUSPAGE_PAGE_ID
//! api_key = "..."                     # or INCIDENT_STATUSPAGE_API_KEY
//!
//! [tracker]                         # the post-incident ticket (GitHub Issues or Jira Cloud)
//! provider = "github"
//! repo = "acme/platform"
//! token = "..."                       # or INCIDENT_TRACKER_TOKEN
//! labels = ["post-incident"]
//!
//! [webhooks.ops-bridge]
//! url = "https://hooks.example.com/incident"
//! secret = "..."                      # or INCIDENT_WEBHOOK_OPS_BRIDGE_SECRET
//!
//! [retry]
//! max_attempts = 4
//! max_elapsed = "2m"
//! ```
//!
//! | variable | sets |
//! |---|---|
//! | `INCIDENT_SLACK_TOKEN`, `INCIDENT_SLACK_BASE_URL` | `slack.token`, `slack.base_url` |
//! | `INCIDENT_PAGERDUTY_ROUTING_KEY`, `INCIDENT_PAGERDUTY_BASE_URL` | `pagerduty.routing_key`, `pagerduty.base_url` |
//! | `INCIDENT_STATUSPAGE_API_KEY`, `INCIDENT_STATUSPAGE_PAGE_ID`, `INCIDENT_STATUSPAGE_BASE_URL` | `statuspage.*` |
//! | `INCIDENT_TRACKER_TOKEN`, `INCIDENT_TRACKER_BASE_URL` | `tracker.token`, `tracker.base_url` (the `[tracker]` section must exist) |
//! | `INCIDENT_WEBHOOK_URL`, `INCIDENT_WEBHOOK_SECRET` | the webhook named `default` |
//! | `INCIDENT_WEBHOOK_<NAME>_SECRET` | `webhooks.<name>.secret` (name upper-cased, `-` → `_`) |
//!
//! Setting a provider's credential in the environment enables that provider. Parse errors name the
//! field and never echo a value.

use std::collections::BTreeMap;
use std::path::Path;

use incident_core::policy::Role;
use incident_core::{Error, HumanDuration, Result};
use serde::Deserialize;

use crate::Secret;

/// Default Slack Web API base URL.
pub const SLACK_BASE_URL: &str = "https://slack.com/api";
/// Default PagerDuty Events API base URL (EU accounts: `https://events.eu.pagerduty.com`).
pub const PAGERDUTY_BASE_URL: &str = "https://events.pagerduty.com";
/// Default GitHub REST API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
pub const GITHUB_BASE_URL: &str = "https://api.github.com";
/// Default Statuspage API base URL.
pub const STATUSPAGE_BASE_URL: &str = "https://api.statuspage.io";

fn slack_base_url() -> String {
    SLACK_BASE_URL.into()
}
fn pagerduty_base_url() -> String {
    PAGERDUTY_BASE_URL.into()
}
fn statuspage_base_url() -> String {
    STATUSPAGE_BASE_URL.into()
}
fn default_source() -> String {
    "incident-core".into()
}
fn yes() -> bool {
    true
}

/// Everything the notifiers need.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Slack Web API (incident channels).
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// PagerDuty Events API v2 (pages).
    #[serde(default)]
    pub pagerduty: Option<PagerDutyConfig>,
    /// Atlassian Statuspage (the public status page).
    #[serde(default)]
    pub statuspage: Option<StatuspageConfig>,
    /// The issue tracker of the post-incident ticket (`Destination::Webhook { name: "tracker" }`).
    #[serde(default)]
    pub tracker: Option<TrackerConfig>,
    /// Signed webhooks by name (`Destination::Webhook { name }`).
    #[serde(default)]
    pub webhooks: BTreeMap<String, WebhookConfig>,
    /// A webhook that receives what no provider is configured for (instead of a skip).
    #[serde(default)]
    pub fallback_webhook: Option<String>,
    /// Retries, backoff and timeouts of every provider.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// Slack Web API settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Base URL of the Web API (default `https://slack.com/api`).
    #[serde(default = "slack_base_url")]
    pub base_url: String,
    /// Bot token (`xoxb-...`) with `channels:manage`, `channels:read`, `chat:write`, `pins:write`
    /// (and `groups:*` for private channels).
    #[serde(default)]
    pub token: Option<Secret>,
    /// User ids invited to every incident channel.
    #[serde(default)]
    pub invite: Vec<String>,
    /// Create incident channels as private channels.
    #[serde(default)]
    pub private_channels: bool,
}

/// PagerDuty Events API v2 settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Base URL (default `https://events.pagerduty.com`).
    #[serde(default = "pagerduty_base_url")]
    pub base_url: String,
    /// Integration (routing) key used for every role without its own.
    #[serde(default)]
    pub routing_key: Option<Secret>,
    /// Routing keys per role (`on_call_engineer`, `cto`, ...).
    #[serde(default)]
    pub routing_keys: BTreeMap<Role, Secret>,
    /// `payload.source` of every event (default `incident-core`).
    #[serde(default = "default_source")]
    pub source: String,
}

/// Atlassian Statuspage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatuspageConfig {
    /// Base URL (default `https://api.statuspage.io`).
    #[serde(default = "statuspage_base_url")]
    pub base_url: String,
    /// The page id.
    #[serde(default)]
    pub page_id: String,
    /// API key (sent as `Authorization: OAuth <key>`).
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Components attached to every incident created.
    #[serde(default)]
    pub component_ids: Vec<String>,
    /// Whether Statuspage notifies subscribers of each update (default true).
    #[serde(default = "yes")]
    pub deliver_notifications: bool,
}

/// Which issue tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerProvider {
    /// GitHub Issues (REST API).
    Github,
    /// Jira Cloud (REST API v3).
    Jira,
}

fn default_issue_type() -> String {
    "Task".into()
}
fn default_labels() -> Vec<String> {
    vec!["post-incident".into()]
}

/// Issue tracker settings (see [`crate::tracker`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// `github` or `jira`.
    pub provider: TrackerProvider,
    /// Base URL: default `https://api.github.com` for GitHub; required for Jira
    /// (`https://SITE.atlassian.net`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// GitHub: the repository, `owner/repo`.
    #[serde(default)]
    pub repo: Option<String>,
    /// Jira: the project key (`OPS`).
    #[serde(default)]
    pub project: Option<String>,
    /// Jira: the issue type name (default `Task`).
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// Jira: the account email of the API token.
    #[serde(default)]
    pub email: Option<String>,
    /// GitHub token (fine-grained: Issues read/write) or Jira API token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Labels of every ticket (default `["post-incident"]`).
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
}

impl TrackerConfig {
    /// The base URL, with the provider's default.
    #[must_use]
    pub fn base_url(&self) -> String {
        match (&self.base_url, self.provider) {
            (Some(u), _) => u.clone(),
            (None, TrackerProvider::Github) => GITHUB_BASE_URL.into(),
            (None, TrackerProvider::Jira) => String::new(),
        }
    }

    /// Check the fields the provider needs.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Error::invalid_input(format!("notify config: `tracker.{field}` {why}"));
        if self.provider == TrackerProvider::Jira && self.base_url.is_none() {
            return Err(bad("base_url", "is missing (Jira Cloud: https://SITE.atlassian.net)"));
        }
        check_url("tracker.base_url", &self.base_url())?;
        let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        match self.provider {
            TrackerProvider::Github => {
                let repo = self.repo.as_deref().unwrap_or("");
                let valid = repo.split_once('/').is_some_and(|(o, r)| name_ok(o) && name_ok(r));
                if !valid {
                    return Err(bad("repo", "must be `owner/repo`"));
                }
            }
            TrackerProvider::Jira => {
                let project = self.project.as_deref().unwrap_or("");
                if !name_ok(project) {
                    return Err(bad("project", "must be a project key (`OPS`)"));
                }
                if self.email.as_deref().is_none_or(|e| !e.contains('@')) {
                    return Err(bad("email", "must be the account email of the API token"));
                }
                if self.issue_type.trim().is_empty() {
                    return Err(bad("issue_type", "must not be empty"));
                }
            }
        }
        if require(self.token.as_ref()).is_none() {
            return Err(Error::invalid_input(
                "notify config: `tracker.token` is missing (set it in the secrets file or INCIDENT_TRACKER_TOKEN)",
            ));
        }
        Ok(())
    }
}

/// A generic signed webhook. `Debug` shows only the URL's origin: webhook URLs often embed a credential.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// HMAC-SHA256 signing secret.
    #[serde(default)]
    pub secret: Option<Secret>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = reqwest::Url::parse(&self.url)
            .map_or_else(|_| "(invalid)".to_owned(), |u| u.origin().ascii_serialization());
        f.debug_struct("WebhookConfig").field("url", &format!("{origin}/...")).field("secret", &self.secret).finish()
    }
}

/// Retry policy of every provider call.
///
/// `429` (and Statuspage's `420`) wait for `Retry-After` when given, else back off; `5xx`, `408` and
/// connection failures back off exponentially from `initial_backoff`, doubling up to `max_backoff` (each
/// wait shortened by up to `jitter` of itself); other `4xx` are not retried. A call gives up after
/// `max_attempts` attempts or when the next wait would end after `max_elapsed` since the first attempt,
/// whichever comes first. A request that timed out after being sent is retried only when it is
/// idempotent (PagerDuty events, Statuspage updates, Slack channel creation, pins, updates).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per call, the first included (default 4).
    pub max_attempts: u32,
    /// First backoff (default 1s).
    pub initial_backoff: HumanDuration,
    /// Longest backoff (default 30s).
    pub max_backoff: HumanDuration,
    /// Retry budget: no wait may end later than this after the first attempt (default 2m).
    pub max_elapsed: HumanDuration,
    /// Timeout of one request, connection included (default 10s).
    pub request_timeout: HumanDuration,
    /// Timeout of establishing a connection (default 5s).
    pub connect_timeout: HumanDuration,
    /// Fraction of each backoff that may be cut at random, `0.0..=1.0` (default 0.2).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: HumanDuration::from_secs(1),
            max_backoff: HumanDuration::from_secs(30),
            max_elapsed: HumanDuration::from_mins(2),
            request_timeout: HumanDuration::from_secs(10),
            connect_timeout: HumanDuration::from_secs(5),
            jitter: 0.2,
        }
    }
}

/// A config error naming the field, with quoted values scrubbed (they may be secrets).
pub(crate) fn field_error(source: &str, path: &str, message: &str) -> Error {
    let out = incident_core::redact::blank_quoted(message);
    let at = if path.is_empty() || path == "." { String::new() } else { format!(" field `{path}`") };
    Error::invalid_input(format!("notify config {source}:{at}: {out}"))
}

impl NotifyConfig {
    /// Parse TOML (`source` names the input in errors).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field, or the line
    /// of a syntax error; values are never echoed.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self> {
        let de = toml::Deserializer::parse(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let at = line.map_or_else(String::new, |l| format!(" line {l}:"));
            field_error(source, "", format!("{at} {}", e.message().trim()).trim_start())
        })?;
        serde_path_to_error::deserialize(de)
            .map_err(|e| field_error(source, &e.path().to_string(), e.inner().message().trim()))
    }

    /// Parse JSON (`source` names the input in errors).
    ///
    /// # Errors
    /// As [`NotifyConfig::from_toml_str`].
    pub fn from_json_str(text: &str, source: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            field_error(source, &e.path().to_string(), &format!("{inner} (line {})", inner.line()))
        })
    }

    /// Read a secrets file: JSON when it ends in `.json`, TOML otherwise.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) when it cannot be read or
    /// parsed (see [`NotifyConfig::from_toml_str`]).
    pub fn from_path(path: &Path) -> Result<Self> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid_input(format!("notify config {source}: cannot read: {e}")))?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Self::from_json_str(&text, &source)
        } else {
            Self::from_toml_str(&text, &source)
        }
    }

    /// The file (if any), then the environment (see the [module docs](self)), validated.
    ///
    /// `env` looks a variable up (`|k| std::env::var(k).ok()` for the process environment).
    ///
    /// # Errors
    /// As [`NotifyConfig::from_path`] and [`NotifyConfig::validate`].
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = match path {
            Some(p) => Self::from_path(p)?,
            None => Self::default(),
        };
        config.apply_env(env);
        config.validate()?;
        Ok(config)
    }

    /// Override (or enable) providers from environment variables (see the [module docs](self)).
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(token) = var("INCIDENT_SLACK_TOKEN") {
            self.slack.get_or_insert_with(SlackConfig::empty).token = Some(Secret::new(token));
        }
        if let (Some(url), Some(s)) = (var("INCIDENT_SLACK_BASE_URL"), self.slack.as_mut()) {
            s.base_url = url;
        }
        if let Some(key) = var("INCIDENT_PAGERDUTY_ROUTING_KEY") {
            self.pagerduty.get_or_insert_with(PagerDutyConfig::empty).routing_key = Some(Secret::new(key));
        }
        if let (Some(url), Some(p)) = (var("INCIDENT_PAGERDUTY_BASE_URL"), self.pagerduty.as_mut()) {
            p.base_url = url;
        }
        if let Some(key) = var("INCIDENT_STATUSPAGE_API_KEY") {
            self.statuspage.get_or_insert_with(StatuspageConfig::empty).api_key = Some(Secret::new(key));
        }
        if let Some(s) = self.statuspage.as_mut() {
            if let Some(page) = var("INCIDENT_STATUSPAGE_PAGE_ID") {
                s.page_id = page;
            }
            if let Some(url) = var("INCIDENT_STATUSPAGE_BASE_URL") {
                s.base_url = url;
            }
        }
        if let Some(t) = self.tracker.as_mut() {
            if let Some(token) = var("INCIDENT_TRACKER_TOKEN") {
                t.token = Some(Secret::new(token));
            }
            if let Some(url) = var("INCIDENT_TRACKER_BASE_URL") {
                t.base_url = Some(url);
            }
        }
        if let (Some(url), Some(secret)) = (var("INCIDENT_WEBHOOK_URL"), var("INCIDENT_WEBHOOK_SECRET")) {
            self.webhooks.insert("default".into(), WebhookConfig { url, secret: Some(Secret::new(secret)) });
        }
        for (name, hook) in &mut self.webhooks {
            let key = format!("INCIDENT_WEBHOOK_{}_SECRET", name.to_ascii_uppercase().replace('-', "_"));
            if let Some(secret) = var(&key) {
                hook.secret = Some(Secret::new(secret));
            }
        }
    }

    /// Check that every configured provider has its credential and a usable base URL (`https`, or
    /// `http` to a loopback address only), and that the fallback webhook exists.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) naming the field.
    pub fn validate(&self) -> Result<()> {
        let missing = |field: &str, var: &str| {
            Error::invalid_input(format!("notify config: `{field}` is missing (set it in the secrets file or {var})"))
        };
        if let Some(s) = &self.slack {
            check_url("slack.base_url", &s.base_url)?;
            require(s.token.as_ref()).ok_or_else(|| missing("slack.token", "INCIDENT_SLACK_TOKEN"))?;
        }
        if let Some(p) = &self.pagerduty {
            check_url("pagerduty.base_url", &p.base_url)?;
            if require(p.routing_key.as_ref()).is_none() && p.routing_keys.is_empty() {
                return Err(missing("pagerduty.routing_key", "INCIDENT_PAGERDUTY_ROUTING_KEY"));
            }
            if let Some((role, _)) = p.routing_keys.iter().find(|(_, k)| k.is_blank()) {
                return Err(Error::invalid_input(format!(
                    "notify config: `pagerduty.routing_keys.{}` is empty",
                    role.as_str()
                )));
            }
        }
        if let Some(s) = &self.statuspage {
            check_url("statuspage.base_url", &s.base_url)?;
            if s.page_id.trim().is_empty() {
                return Err(missing("statuspage.page_id", "INCIDENT_STATUSPAGE_PAGE_ID"));
            }
            if !s.page_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Error::invalid_input("notify config: `statuspage.page_id` must be alphanumeric"));
            }
            require(s.api_key.as_ref()).ok_or_else(|| missing("statuspage.api_key", "INCIDENT_STATUSPAGE_API_KEY"))?;
        }
        if let Some(t) = &self.tracker {
            t.validate()?;
            if self.webhooks.contains_key(incident_core::postincident::TRACKER) {
                return Err(Error::invalid_input(
                    "notify config: both `[tracker]` and `[webhooks.tracker]` are set; keep one (the webhook feeds \
                     trackers other than GitHub and Jira)",
                ));
            }
        }
        for (name, hook) in &self.webhooks {
            check_url(&format!("webhooks.{name}.url"), &hook.url)?;
            let var = format!("INCIDENT_WEBHOOK_{}_SECRET", name.to_ascii_uppercase().replace('-', "_"));
            require(hook.secret.as_ref()).ok_or_else(|| missing(&format!("webhooks.{name}.secret"), &var))?;
        }
        if let Some(name) = &self.fallback_webhook {
            if !self.webhooks.contains_key(name) {
                return Err(Error::invalid_input(format!(
                    "notify config: `fallback_webhook` names {name:?}, which is not in `webhooks`"
                )));
            }
        }
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(Error::invalid_input("notify config: `retry.max_attempts` must be at least 1"));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(Error::invalid_input("notify config: `retry.jitter` must be within 0.0..=1.0"));
        }
        if r.request_timeout == HumanDuration::ZERO || r.connect_timeout == HumanDuration::ZERO {
            return Err(Error::invalid_input("notify config: `retry.*_timeout` must be > 0"));
        }
        Ok(())
    }
}

fn require(s: Option<&Secret>) -> Option<&Secret> {
    s.filter(|s| !s.is_blank())
}

/// Parse a base URL: `https`, or `http` to a loopback host (tests, local relays). Credentials never
/// travel in clear text to another machine.
pub(crate) fn check_url(field: &str, url: &str) -> Result<reqwest::Url> {
    let bad = |why: &str| Error::invalid_input(format!("notify config: `{field}`: {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(bad("plain http is allowed only to a loopback address; use https")),
        other => Err(bad(&format!("unsupported scheme {other:?}"))),
    }
}

impl SlackConfig {
    fn empty() -> Self {
        Self { base_url: slack_base_url(), token: None, invite: Vec::new(), private_channels: false }
    }
}

impl PagerDutyConfig {
    fn empty() -> Self {
        Self {
            base_url: pagerduty_base_url(),
            routing_key: None,
            routing_keys: BTreeMap::new(),
            source: default_source(),
        }
    }
}

impl StatuspageConfig {
    fn empty() -> Self {
        Self {
            base_url: statuspage_base_url(),
            page_id: String::new(),
            api_key: None,
            component_ids: Vec::new(),
            deliver_notifications: true,
        }
    }
}
