//! [`ReceiverConfig`]: the store, the policy, authentication and the SNS trust rules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use incident_core::backend::Notifier;
use incident_core::cadence::CadenceOptions;
use incident_core::clock::{Clock, SystemClock};
use incident_core::escalation::EscalationOptions;
use incident_core::evidence::EvidenceOptions;
use incident_core::postincident::PostIncidentOptions;
use incident_core::store::Store;
use incident_core::{Error, Policy, Result};

/// A secret (token, HMAC key): never printed, compared in constant time.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a secret; surrounding whitespace (a token file's newline) is dropped.
    ///
    /// # Errors
    /// `InvalidInput` when it is empty after trimming.
    pub fn new(value: impl AsRef<str>) -> Result<Self> {
        let v = value.as_ref().trim();
        if v.is_empty() {
            return Err(Error::invalid_input("secret is empty"));
        }
        Ok(Self(v.into()))
    }

    /// Read a secret from the first line of `path` (mode and owner are the operator's business).
    ///
    /// # Errors
    /// `InvalidInput` when the file cannot be read or its first line is empty (the message names the
    /// file, never the content).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid_input(format!("cannot read secret file {}: {e}", path.display())))?;
        Self::new(text.lines().next().unwrap_or_default())
            .map_err(|_| Error::invalid_input(format!("secret file {} is empty", path.display())))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How webhook requests authenticate. A request passes when **any** configured method accepts it; with
/// nothing configured every request passes (loopback development only: `incident serve` refuses a
/// non-loopback address without authentication).
///
/// `POST /webhook/cloudwatch` is authenticated by the SNS message signature instead (SNS cannot send
/// headers), see [`SnsConfig`].
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// Accepted `Authorization: Bearer <token>` tokens (what Alertmanager's `http_config.authorization`,
    /// Grafana's and Datadog's custom headers send).
    pub bearer_tokens: Vec<Secret>,
    /// HMAC-SHA256 of the raw body with this key, hex, in [`Auth::hmac_header`] (`sha256=<hex>` or
    /// `<hex>`), for senders that sign (the generic signed webhook of `incident-notify`, Grafana's HMAC
    /// option with the header set to `X-Grafana-Alerting-Signature`).
    pub hmac_key: Option<Secret>,
    /// The signature header (default `X-Incident-Signature`).
    pub hmac_header: String,
}

impl Auth {
    /// The default signature header.
    pub const DEFAULT_HMAC_HEADER: &'static str = "X-Incident-Signature";

    /// No authentication.
    #[must_use]
    pub fn none() -> Self {
        Self { bearer_tokens: Vec::new(), hmac_key: None, hmac_header: Self::DEFAULT_HMAC_HEADER.to_owned() }
    }

    /// Bearer `token`.
    #[must_use]
    pub fn bearer(token: Secret) -> Self {
        Self { bearer_tokens: vec![token], ..Self::none() }
    }

    /// Whether any method is configured.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.bearer_tokens.is_empty() || self.hmac_key.is_some()
    }
}

/// Trust rules for Amazon SNS deliveries (`POST /webhook/cloudwatch`).
#[derive(Debug, Clone)]
pub struct SnsConfig {
    /// Topic ARNs accepted on top of the policy's `receiver.sns.topics` (what `--sns-topic` adds). A
    /// topic on neither list is refused, its subscription never confirmed: with both empty, every SNS
    /// delivery is refused (closed by default).
    pub topic_arns: Vec<String>,
    /// Fetch `SubscribeURL` to confirm a subscription (default `true`); otherwise the confirmation is
    /// verified, logged and answered `202` for an operator to confirm by hand.
    pub confirm_subscriptions: bool,
    /// Extra `host:port` origins from which signing certificates and subscribe URLs may be fetched,
    /// over plain HTTP too — **tests only** (a local stand-in for SNS). Real deliveries must come from
    /// `https://sns.<region>.amazonaws.com`.
    pub test_hosts: Vec<String>,
}

impl Default for SnsConfig {
    fn default() -> Self {
        Self { topic_arns: Vec::new(), confirm_subscriptions: true, test_hosts: Vec::new() }
    }
}

/// Everything the receiver needs.
#[derive(Clone)]
pub struct ReceiverConfig {
    /// Where incidents, timelines and so the deduplication state live.
    pub store: Arc<dyn Store>,
    /// Mapping, declaration rules and limits (`limits.max_payload_bytes` bounds request bodies).
    pub policy: Policy,
    /// "Now" for declarations and timeline events.
    pub clock: Arc<dyn Clock>,
    /// Webhook authentication.
    pub auth: Auth,
    /// SNS trust rules.
    pub sns: SnsConfig,
    /// Incident commander of declared incidents until someone takes over (default `on-call`).
    pub on_call: String,
    /// Requests waiting for the store beyond this are refused with `503` and `Retry-After` (default 8192).
    pub queue_capacity: usize,
    /// Most requests committed in one store transaction (default 2048).
    pub max_batch: usize,
    /// Sends the declaration notifications of every incident the receiver declares (the channel's
    /// first message, the ticket, a page per stakeholder: [`Incident::declaration_notifications`]), each
    /// recorded on the timeline with its outcome. `None`: nothing is sent (the CLI always gives one: a
    /// provider that is not configured records a `skipped` notification naming what to set).
    ///
    /// [`Incident::declaration_notifications`]: incident_core::incident::Incident::declaration_notifications
    pub notifier: Option<Arc<dyn Notifier>>,
    /// Run the cadence driver ([`incident_core::cadence`]) with these options over the store while the
    /// receiver runs (needs `notifier`): due updates and the first status-page update are sent or
    /// reminded, and overdue ones logged.
    pub cadence: Option<CadenceOptions>,
    /// How often the cadence driver looks at the open incidents (default 30 s).
    pub cadence_poll: Duration,
    /// Run the escalation driver ([`incident_core::escalation`]) with these options over the store while
    /// the receiver runs (needs `notifier`): business-hours first pages and the escalation chain's pages
    /// when the response time passes unacknowledged, each recorded on the timeline.
    pub escalation: Option<EscalationOptions>,
    /// How often the escalation driver looks at the open incidents (default 30 s).
    pub escalation_poll: Duration,
    /// Run the post-incident driver ([`incident_core::postincident`]) with these options over the store
    /// while the receiver runs (needs `notifier`): each post-incident task still open past the policy's
    /// `post_incident.within` (24 h) of resolution is reminded in the incident channel once, recorded on
    /// the timeline (a restarted receiver does not repeat it).
    pub post_incident: Option<PostIncidentOptions>,
    /// How often the post-incident driver looks at the resolved incidents (default 60 s).
    pub post_incident_poll: Duration,
    /// The evidence driver: the cluster it reads and its options (`None`: not started).
    pub evidence: Option<(Arc<dyn incident_core::backend::Cluster>, EvidenceOptions)>,
    /// How often the evidence driver looks for declarations and status changes without evidence.
    pub evidence_poll: Duration,
    /// The drivers' lease (see the crate README, "Replicas"); `None`: a 15 s lease held by this process.
    /// Only a store shared by several processes (PostgreSQL) can refuse it.
    pub lease: Option<crate::lease::LeaseConfig>,
    /// On shutdown, requests in progress get this long to finish (default 20 s); then their connections
    /// are closed.
    pub drain_timeout: Duration,
    /// Extra checks of `GET /readyz` (a cache that must be synced before serving, ...); the store's
    /// reachability is always checked.
    pub ready_checks: Vec<Arc<dyn crate::ReadyCheck>>,
    /// The first response to each declaration (triage, match, dry-run plan, channel message; see
    /// [`FirstResponse`](crate::FirstResponse)); `None`: off.
    pub first_response: Option<crate::FirstResponse>,
    /// Parts whose figures `GET /metrics` and whose state `GET /healthz` add to the receiver's own (a
    /// cluster's watch cache, ...).
    pub components: Vec<Arc<dyn crate::Component>>,
}

impl fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverConfig")
            .field("auth", &self.auth)
            .field("sns", &self.sns)
            .field("on_call", &self.on_call)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_batch", &self.max_batch)
            .field("notifier", &self.notifier.is_some())
            .field("cadence", &self.cadence)
            .field("escalation", &self.escalation)
            .field("post_incident", &self.post_incident)
            .field("evidence", &self.evidence.as_ref().map(|(c, o)| (c.context().to_owned(), o)))
            .field("lease", &self.lease)
            .field("drain_timeout", &self.drain_timeout)
            .field("first_response", &self.first_response)
            .finish_non_exhaustive()
    }
}

impl ReceiverConfig {
    /// A configuration with the runbook's policy, the system clock, no authentication and the defaults.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            auth: Auth::none(),
            sns: SnsConfig::default(),
            on_call: "on-call".to_owned(),
            queue_capacity: 8192,
            max_batch: 2048,
            notifier: None,
            cadence: None,
            cadence_poll: Duration::from_secs(30),
            escalation: None,
            escalation_poll: Duration::from_secs(30),
            post_incident: None,
            post_incident_poll: Duration::from_secs(60),
            evidence: None,
            evidence_poll: Duration::from_secs(15),
            lease: None,
            drain_timeout: Duration::from_secs(20),
            ready_checks: Vec::new(),
            first_response: None,
            components: Vec::new(),
        }
    }

    /// Triage, match and plan (dry run) every incident this receiver declares, and post the proposal to
    /// its channel (see [`FirstResponse`](crate::FirstResponse)).
    #[must_use]
    pub fn first_response(mut self, first_response: crate::FirstResponse) -> Self {
        self.first_response = Some(first_response);
        self
    }

    /// Run the drivers under `lease` (its holder, ttl and margin).
    #[must_use]
    pub fn lease(mut self, lease: crate::lease::LeaseConfig) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Send declaration notifications through `notifier`.
    #[must_use]
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Run the cadence driver with `options`, looking every `poll`.
    #[must_use]
    pub fn cadence(mut self, options: CadenceOptions, poll: Duration) -> Self {
        self.cadence = Some(options);
        self.cadence_poll = poll;
        self
    }

    /// Run the escalation driver with `options`, looking every `poll`.
    #[must_use]
    pub fn escalation(mut self, options: EscalationOptions, poll: Duration) -> Self {
        self.escalation = Some(options);
        self.escalation_poll = poll;
        self
    }

    /// Run the post-incident driver with `options`, looking every `poll`.
    #[must_use]
    pub fn post_incident(mut self, options: PostIncidentOptions, poll: Duration) -> Self {
        self.post_incident = Some(options);
        self.post_incident_poll = poll;
        self
    }

    /// Start the evidence driver ([`incident_core::evidence::EvidenceDriver`]): every `poll`, each
    /// declaration and status change without evidence gets a capture from `cluster`.
    #[must_use]
    pub fn evidence(
        mut self,
        cluster: Arc<dyn incident_core::backend::Cluster>,
        options: EvidenceOptions,
        poll: Duration,
    ) -> Self {
        self.evidence = Some((cluster, options));
        self.evidence_poll = poll;
        self
    }

    /// Use `policy`.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Use `auth`.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Use `clock`.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Use `sns`.
    #[must_use]
    pub fn sns(mut self, sns: SnsConfig) -> Self {
        self.sns = sns;
        self
    }

    /// Check the configuration.
    ///
    /// # Errors
    /// `Policy` for an invalid policy; `InvalidInput` for a blank `on_call`, zero capacities, a blank
    /// HMAC header or an SNS topic that is not an ARN.
    pub fn validate(&self) -> Result<()> {
        self.policy.validate()?;
        if let Some(f) = &self.first_response {
            f.validate()?;
        }
        if self.on_call.trim().is_empty() {
            return Err(Error::invalid_input("receiver: on_call must not be empty"));
        }
        for (name, on, poll) in [
            ("cadence", self.cadence.is_some(), self.cadence_poll),
            ("escalation", self.escalation.is_some(), self.escalation_poll),
            ("post-incident", self.post_incident.is_some(), self.post_incident_poll),
        ] {
            if on && self.notifier.is_none() {
                return Err(Error::invalid_input(format!("receiver: the {name} driver needs a notifier")));
            }
            if on && poll < Duration::from_secs(1) {
                return Err(Error::invalid_input(format!(
                    "receiver: {}_poll must be at least 1s",
                    name.replace('-', "_")
                )));
            }
        }
        if let Some(lease) = &self.lease {
            lease.validate()?;
        }
        if self.evidence.is_some() && self.evidence_poll < Duration::from_secs(1) {
            return Err(Error::invalid_input("receiver: evidence_poll must be at least 1s"));
        }
        if let Some(t) =
            self.sns.topic_arns.iter().find(|t| !t.starts_with("arn:") || t.chars().any(char::is_whitespace))
        {
            return Err(Error::invalid_input(format!(
                "receiver: SNS topic {t:?} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            )));
        }
        if self.queue_capacity == 0 || self.max_batch == 0 {
            return Err(Error::invalid_input("receiver: queue_capacity and max_batch must be at least 1"));
        }
        if self.auth.hmac_key.is_some() && axum::http::HeaderName::try_from(self.auth.hmac_header.as_str()).is_err() {
            return Err(Error::invalid_input(format!(
                "receiver: hmac header {:?} is not a valid header name",
                self.auth.hmac_header
            )));
        }
        Ok(())
    }
}
