//! Notifiers for `incident-core`: the [`Notifier`](incident_core::backend::Notifier) port implemented for
//! the **Slack Web API** (incident channel, invites, messages, the pinned ticket), **PagerDuty Events API
//! v2** (trigger / acknowledge / resolve, deduplicated per incident), **Atlassian Statuspage** (one
//! public incident per incident, created then updated), **GitHub Issues** and **Jira Cloud** (the
//! post-incident ticket, [`tracker`]) and a **signed webhook** (HMAC-SHA256) for
//! anything else, plus a [`Router`] that sends each destination to its provider and reports a
//! destination without one as skipped, never silently.
//!
//! * **Configuration** ([`NotifyConfig`]): a TOML/JSON secrets file (or the same shape as a value, from
//!   Python or Node) and/or environment variables, assembled into a [`Router`] for a store by
//!   [`Router::for_store`] wherever notifiers are needed (CLI and bindings alike); base URLs are configurable (EU and other regions, local test servers); credentials are [`Secret`]s that
//!   print as `***` and are scrubbed from every error and log line.
//! * **Retries** ([`RetryConfig`]): `429` waits for `Retry-After`, `5xx`/timeouts/connection failures
//!   back off exponentially within a budget of attempts and time; other `4xx` fail at once. Sleeps go
//!   through the [`Clock`](incident_core::clock::Clock) port, so tests run on virtual time.
//! * **Errors** map onto [`ErrorKind`](incident_core::ErrorKind): `Unavailable`/`Timeout` (retryable),
//!   `PermissionDenied` (401/403, Slack `invalid_auth`), `InvalidInput` (400, unknown Slack errors),
//!   `NotFound`, `Conflict`. A request that may have reached the provider before failing says so
//!   ([`request_may_have_been_sent`](incident_core::Error::request_may_have_been_sent)).
//! * **Recording**: deliver through
//!   [`deliver_and_record`] so every notification, with its
//!   outcome, lands on the incident's timeline; the
//!   [cadence driver](incident_core::cadence::CadenceDriver) does that for due updates. With an
//!   [`IncidentContext`], providers find earlier deliveries on the timeline again (the Statuspage
//!   incident to update, the pinned Slack ticket), so a restart does not duplicate them.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::TimeZone;
//! use incident_core::backend::{Delivery, Destination, Notification, Notifier};
//! use incident_core::clock::ManualClock;
//! use incident_notify::{IncidentContext, NotifyConfig, Router};
//!
//! // Only a webhook is configured (a secrets file would say the same in TOML or JSON).
//! let env = |k: &str| match k {
//!     "INCIDENT_WEBHOOK_URL" => Some("https://hooks.example.com/incident".to_owned()),
//!     "INCIDENT_WEBHOOK_SECRET" => Some("s3cr3t".to_owned()),
//!     _ => None,
//! };
//! let config = NotifyConfig::load(None, env).unwrap();
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//!
//! let clock = Arc::new(ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).unwrap()));
//! let router = Router::from_config(&config, clock, IncidentContext::none()).unwrap();
//! assert_eq!(router.providers(), ["webhook:default"]);
//!
//! // No Slack configured: the channel message is skipped, and the reason says what to set.
//! let n = Notification { incident_id: "INC-1".into(), to: Destination::Channel { name: "#incident-x".into() },
//!                        kind: "status_update".into(), text: "Status: identified".into() };
//! let delivery = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
//!     .block_on(router.notify(&n)).unwrap();
//! let Delivery::Skipped { reason } = delivery else { panic!("expected a skip") };
//! assert!(reason.contains("INCIDENT_SLACK_TOKEN"));
//!
//! // Receivers check the webhook signature (header values and the raw body).
//! let secret = incident_notify::Secret::new("s3cr3t");
//! let sig = incident_notify::webhook::sign(&secret, 1_795_000_000, b"{}").unwrap();
//! let now = chrono::DateTime::from_timestamp(1_795_000_010, 0).unwrap();
//! incident_notify::webhook::verify_signature(&secret, "1795000000", &sig, b"{}", now,
//!                                            std::time::Duration::from_secs(300)).unwrap();
//! ```

pub mod config;
mod context;
mod http;
pub mod pagerduty;
mod router;
mod secret;
pub mod slack;
mod source;
pub mod statuspage;
pub mod tracker;
pub mod webhook;

pub use config::{
    NotifyConfig, PagerDutyConfig, RetryConfig, SlackConfig, StatuspageConfig, TrackerConfig, TrackerProvider,
    WebhookConfig,
};
pub use context::IncidentContext;
pub use incident_core::delivery::{DeliveryRecord, deliver_and_record};
pub use pagerduty::PagerDutyNotifier;
pub use router::Router;
pub use secret::Secret;
pub use slack::SlackNotifier;
pub use source::ConfigSource;
pub use statuspage::StatuspageNotifier;
pub use tracker::TrackerNotifier;
pub use webhook::WebhookNotifier;
