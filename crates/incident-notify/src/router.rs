//! [`Router`]: one [`Notifier`] that hands each destination to its provider, and says so when there is
//! none.

use std::collections::BTreeMap;
use std::sync::Arc;

use incident_core::backend::{Clock, Delivery, Destination, Notification, Notifier};
use incident_core::delivery::destination_label;
use incident_core::{Error, Result};

use crate::{
    IncidentContext, NotifyConfig, PagerDutyNotifier, SlackNotifier, StatuspageNotifier, TrackerNotifier,
    WebhookNotifier,
};

/// Maps `Channel` → Slack, `StatusPage` → Statuspage, `Page` → PagerDuty, `Webhook { name }` → that
/// webhook; the configured issue tracker ([`crate::tracker`]) is the webhook named `tracker`. A destination without a provider goes to the fallback webhook when one is set, else it is
/// [`Delivery::Skipped`] with a reason naming what to configure: never silently dropped.
#[derive(Clone, Default)]
pub struct Router {
    slack: Option<Arc<dyn Notifier>>,
    pagerduty: Option<Arc<dyn Notifier>>,
    statuspage: Option<Arc<dyn Notifier>>,
    webhooks: BTreeMap<String, Arc<dyn Notifier>>,
    fallback: Option<String>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("providers", &self.providers()).field("fallback", &self.fallback).finish()
    }
}

impl Router {
    /// No providers: everything is skipped.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every provider `config` configures, reading incidents and earlier deliveries through `context`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) when the config is invalid
    /// (see [`NotifyConfig::validate`]).
    pub fn from_config(config: &NotifyConfig, clock: Arc<dyn Clock>, context: IncidentContext) -> Result<Self> {
        config.validate()?;
        let retry = &config.retry;
        let mut router = Self::new();
        if let Some(c) = &config.slack {
            let n = SlackNotifier::new(c, retry, clock.clone())?.with_context(context.clone());
            router = router.with_slack(Arc::new(n));
        }
        if let Some(c) = &config.pagerduty {
            let n = PagerDutyNotifier::new(c, retry, clock.clone())?.with_context(context.clone());
            router = router.with_pagerduty(Arc::new(n));
        }
        if let Some(c) = &config.statuspage {
            let n = StatuspageNotifier::new(c, retry, clock.clone())?.with_context(context.clone());
            router = router.with_statuspage(Arc::new(n));
        }
        if let Some(c) = &config.tracker {
            let n = TrackerNotifier::new(c, retry, clock.clone())?.with_context(context.clone());
            router = router.with_webhook(incident_core::postincident::TRACKER, Arc::new(n));
        }
        for (name, c) in &config.webhooks {
            router = router.with_webhook(name, Arc::new(WebhookNotifier::new(name, c, retry, clock.clone())?));
        }
        match &config.fallback_webhook {
            Some(name) => router.with_fallback_webhook(name),
            None => Ok(router),
        }
    }

    /// Deliver channel messages with `n`.
    #[must_use]
    pub fn with_slack(mut self, n: Arc<dyn Notifier>) -> Self {
        self.slack = Some(n);
        self
    }

    /// Deliver pages with `n`.
    #[must_use]
    pub fn with_pagerduty(mut self, n: Arc<dyn Notifier>) -> Self {
        self.pagerduty = Some(n);
        self
    }

    /// Deliver status-page updates with `n`.
    #[must_use]
    pub fn with_statuspage(mut self, n: Arc<dyn Notifier>) -> Self {
        self.statuspage = Some(n);
        self
    }

    /// Deliver `Destination::Webhook { name }` with `n`.
    #[must_use]
    pub fn with_webhook(mut self, name: &str, n: Arc<dyn Notifier>) -> Self {
        self.webhooks.insert(name.to_owned(), n);
        self
    }

    /// Send what has no provider to the webhook `name` instead of skipping it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](incident_core::ErrorKind::InvalidInput) when no webhook has that name.
    pub fn with_fallback_webhook(mut self, name: &str) -> Result<Self> {
        if !self.webhooks.contains_key(name) {
            return Err(Error::invalid_input(format!("fallback webhook {name:?} is not configured")));
        }
        self.fallback = Some(name.to_owned());
        Ok(self)
    }

    /// The configured providers (`slack`, `pagerduty`, `statuspage`, `webhook:<name>`).
    #[must_use]
    pub fn providers(&self) -> Vec<String> {
        let mut out: Vec<String> =
            [("slack", &self.slack), ("pagerduty", &self.pagerduty), ("statuspage", &self.statuspage)]
                .into_iter()
                .filter(|(_, p)| p.is_some())
                .map(|(n, _)| n.to_owned())
                .collect();
        out.extend(self.webhooks.keys().map(|k| format!("webhook:{k}")));
        out
    }

    /// The provider for `to`, or why there is none.
    fn route(&self, to: &Destination) -> std::result::Result<&Arc<dyn Notifier>, String> {
        let (provider, why) = match to {
            Destination::Channel { name } => (
                self.slack.as_ref(),
                format!("no Slack provider configured for channel {name} (set [slack] token or INCIDENT_SLACK_TOKEN)"),
            ),
            Destination::StatusPage => (
                self.statuspage.as_ref(),
                "no status page provider configured (set [statuspage] or INCIDENT_STATUSPAGE_API_KEY)".to_owned(),
            ),
            Destination::Page { role } => (
                self.pagerduty.as_ref(),
                format!(
                    "no PagerDuty provider configured to page {} (set [pagerduty] routing_key or \
                     INCIDENT_PAGERDUTY_ROUTING_KEY)",
                    role.title()
                ),
            ),
            Destination::Webhook { name } => (self.webhooks.get(name), format!("no webhook named {name} configured")),
        };
        provider.or_else(|| self.fallback.as_ref().and_then(|f| self.webhooks.get(f))).ok_or(why)
    }
}

#[async_trait::async_trait]
impl Notifier for Router {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        let to = destination_label(&n.to);
        let result = match self.route(&n.to) {
            Ok(provider) => provider.notify(n).await,
            Err(reason) => Ok(Delivery::Skipped { reason }),
        };
        match &result {
            Ok(Delivery::Delivered { reference }) => {
                tracing::info!(incident = %n.incident_id, kind = %n.kind, to = %to, reference = reference.as_deref().unwrap_or(""), "delivered");
            }
            Ok(Delivery::Skipped { reason }) => {
                tracing::warn!(incident = %n.incident_id, kind = %n.kind, to = %to, reason = %reason, "skipped");
            }
            Err(e) => {
                tracing::error!(incident = %n.incident_id, kind = %n.kind, to = %to, error_kind = %e.kind(), error = %e, "failed");
            }
        }
        result
    }
}
