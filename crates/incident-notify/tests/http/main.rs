//! The notifiers against a real local HTTP server playing each provider (see `server.rs`).

mod pagerduty;
mod router;
mod secrets;
mod server;
mod slack;
mod statuspage;
mod tracker;
mod webhook;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use incident_core::backend::{Destination, Notification};
use incident_core::clock::{Clock, ManualClock};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::store::{MemoryStore, Store};
use incident_core::{Policy, Severity};
use incident_notify::{NotifyConfig, RetryConfig};

use server::*;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).single().expect("time")
}

/// A manual clock at [`t0`]: sleeps advance it instantly, so the time they add up to is exact.
pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(t0()))
}

/// Seconds the clock moved since [`t0`] (the sum of the notifier's sleeps).
pub(crate) fn slept(clock: &ManualClock) -> i64 {
    (clock.now() - t0()).num_seconds()
}

/// Every provider pointed at `p`.
pub(crate) fn config(p: &Providers) -> NotifyConfig {
    let toml = format!(
        r#"
        [slack]
        base_url = "{slack}"
        token = "{SLACK_TOKEN}"
        invite = ["U0ALICE", "U0BOB"]

        [pagerduty]
        base_url = "{base}"
        routing_key = "{PD_KEY}"
        routing_keys = {{ cto = "{PD_CTO_KEY}" }}

        [statuspage]
        base_url = "{base}"
        page_id = "{SP_PAGE}"
        api_key = "{SP_KEY}"

        [webhooks.ops]
        url = "{hook}"
        secret = "{HOOK_SECRET}"

        [retry]
        max_attempts = 4
        initial_backoff = "1s"
        max_backoff = "30s"
        max_elapsed = "2m"
        request_timeout = "10s"
        "#,
        slack = p.url("/api"),
        base = p.url(""),
        hook = p.url("/hooks/ops/T0SECRETPATH"),
    );
    let c = NotifyConfig::from_toml_str(&toml, "test").expect("config");
    c.validate().expect("valid");
    c
}

pub(crate) fn retry(c: &NotifyConfig) -> &RetryConfig {
    &c.retry
}

pub(crate) fn note(to: Destination, kind: &str, text: &str) -> Notification {
    Notification { incident_id: "INC-2026-0042".into(), to, kind: kind.into(), text: text.into() }
}

pub(crate) fn channel() -> Destination {
    Destination::Channel { name: "#incident-2026-11-26-1405".into() }
}

/// A store holding incident `INC-2026-0042` of `severity`, declared at [`t0`].
pub(crate) async fn store_with(severity: Severity) -> (Arc<MemoryStore>, Incident) {
    let req = DeclareRequest {
        id: "INC-2026-0042".into(),
        title: "Inference API errors".into(),
        severity,
        components: vec!["ml-inference-api".into()],
        impact: "30% of prediction requests fail".into(),
        customer_facing: true,
        customers_affected: true,
        on_call: "alice".into(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: None,
    };
    let (inc, tl) = Incident::declare(req, &Policy::default(), t0()).expect("declare");
    let store = Arc::new(MemoryStore::new());
    store.save_incident(&inc).await.expect("save");
    store.append_events(&inc.id, tl.events()).await.expect("events");
    (store, inc)
}
