use chrono::TimeDelta;
use incident_core::backend::{Delivery, Notifier};
use incident_core::cadence::CadenceDriver;
use incident_core::delivery::deliver_and_record;
use incident_core::policy::Role;
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{ErrorKind, Policy};
use incident_notify::{IncidentContext, Router};
use serde_json::json;

use super::*;

async fn messages(store: &MemoryStore) -> Vec<(String, String, Outcome, String)> {
    let tl = store.timeline("INC-2026-0042").await.expect("timeline");
    tl.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageSent { channel, kind, outcome, detail } => {
                Some((channel.clone(), kind.clone(), *outcome, detail.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_destination_goes_to_its_provider_and_onto_the_timeline() {
    let p = Providers::start().await;
    let (store, _) = store_with(Severity::P0).await;
    let clock = clock();
    let router = Router::from_config(&config(&p), clock.clone(), IncidentContext::new(store.clone())).expect("router");
    assert_eq!(router.providers(), ["slack", "pagerduty", "statuspage", "webhook:ops"]);
    let sends = [
        note(channel(), "channel_intro", "Incident INC-2026-0042"),
        note(Destination::StatusPage, "status_page_initial", "We are investigating."),
        note(Destination::Page { role: Role::Cto }, "page", "[P0] Inference API errors"),
        note(Destination::Webhook { name: "ops".into() }, "declared", "declared"),
        note(Destination::Webhook { name: "partners".into() }, "declared", "declared"),
    ];
    for n in sends {
        let _ = deliver_and_record(&*store, &router, &*clock, "incident-core", n).await.expect("recorded");
    }
    p.assert_well_formed();
    assert_eq!(
        p.ops(),
        ["conversations.create", "conversations.invite", "chat.postMessage", "create", "enqueue", "webhook"]
    );
    let got = messages(&store).await;
    let outcomes: Vec<_> = got.iter().map(|m| (m.0.as_str(), m.2)).collect();
    assert_eq!(
        outcomes,
        [
            ("#incident-2026-11-26-1405", Outcome::Succeeded),
            ("status-page", Outcome::Succeeded),
            ("page:CTO", Outcome::Succeeded),
            ("webhook:ops", Outcome::Succeeded),
            ("webhook:partners", Outcome::Skipped),
        ]
    );
    assert_eq!(got[1].3, "statuspage:kctbh9vrtdwd/incidents/p31zjtct2jer");
    assert_eq!(got[2].3, "pagerduty:INC-2026-0042/cto/P0");
    assert_eq!(got[4].3, "no webhook named partners configured");
}

#[tokio::test]
async fn nothing_configured_means_explicit_skips() {
    let (store, _) = store_with(Severity::P1).await;
    let router = Router::new();
    for to in [channel(), Destination::StatusPage, Destination::Page { role: Role::OnCallEngineer }] {
        let rec = deliver_and_record(&*store, &router, &*clock(), "bot", note(to, "x", "y")).await.expect("recorded");
        assert_eq!(rec.outcome, Outcome::Skipped);
    }
    let reasons: Vec<_> = messages(&store).await.into_iter().map(|m| m.3).collect();
    assert_eq!(
        reasons,
        [
            "no Slack provider configured for channel #incident-2026-11-26-1405 (set [slack] token or INCIDENT_SLACK_TOKEN)",
            "no status page provider configured (set [statuspage] or INCIDENT_STATUSPAGE_API_KEY)",
            "no PagerDuty provider configured to page Engineering on-call (set [pagerduty] routing_key or \
             INCIDENT_PAGERDUTY_ROUTING_KEY)",
        ]
    );
}

#[tokio::test]
async fn the_fallback_webhook_takes_what_has_no_provider() {
    let p = Providers::start().await;
    let mut c = config(&p);
    c.slack = None;
    c.fallback_webhook = Some("ops".into());
    let router = Router::from_config(&c, clock(), IncidentContext::none()).expect("router");
    let d = router.notify(&note(channel(), "status_update", "Status: identified")).await.expect("delivered");
    assert_eq!(d, Delivery::Delivered { reference: Some("webhook:ops HTTP 200".into()) });
    assert_eq!(p.seen()[0].json()["destination"], json!({"type": "channel", "name": "#incident-2026-11-26-1405"}));
    c.fallback_webhook = Some("nope".into());
    assert!(Router::from_config(&c, clock(), IncidentContext::none()).is_err());
}

#[tokio::test]
async fn a_failure_is_recorded_and_returned_never_swallowed() {
    let p = Providers::start().await;
    p.script("create", Answer::status(401, json!({"error": "Could not authenticate"})));
    let (store, _) = store_with(Severity::P1).await;
    let router = Router::from_config(&config(&p), clock(), IncidentContext::new(store.clone())).expect("router");
    let rec = deliver_and_record(&*store, &router, &*clock(), "bot", note(Destination::StatusPage, "x", "y"))
        .await
        .expect("recorded");
    assert_eq!(rec.outcome, Outcome::Failed);
    assert_eq!(
        rec.detail,
        "permission_denied: statuspage create incident: HTTP 401 Unauthorized: Could not authenticate"
    );
    assert_eq!(rec.clone().into_result().expect_err("failure").kind(), ErrorKind::PermissionDenied);
    assert_eq!(messages(&store).await[0].2, Outcome::Failed);
}

#[tokio::test]
async fn the_cadence_driver_sends_through_real_providers() {
    let p = Providers::start().await;
    let (store, inc) = store_with(Severity::P0).await;
    let clock = clock();
    let router =
        Arc::new(Router::from_config(&config(&p), clock.clone(), IncidentContext::new(store.clone())).expect("router"));
    let driver = CadenceDriver::new(store.clone(), clock.clone(), router.clone(), Policy::default());
    clock.advance(TimeDelta::minutes(14));
    let r = driver.tick(clock.now()).await.expect("tick");
    assert_eq!((r.sent.len(), r.failed.len()), (2, 0), "{r:?}");
    assert_eq!(p.ops(), ["conversations.create", "conversations.invite", "chat.postMessage", "create"]);
    assert!(driver.tick(clock.now()).await.expect("tick").sent.is_empty(), "recorded: not resent");

    // A restarted process (new router and driver) keeps the cadence and updates the same public incident.
    clock.advance(TimeDelta::minutes(14));
    let router =
        Arc::new(Router::from_config(&config(&p), clock.clone(), IncidentContext::new(store.clone())).expect("router"));
    let driver = CadenceDriver::new(store.clone(), clock.clone(), router, Policy::default());
    let r = driver.tick(clock.now()).await.expect("tick");
    assert_eq!(r.sent.len(), 2);
    let ops = p.ops();
    assert_eq!(&ops[4..], ["conversations.create", "conversations.invite", "chat.postMessage", "update"]);
    let update = p.seen().last().expect("update").json();
    assert_eq!(update["incident"]["status"], "investigating");
    assert!(
        update["incident"]["body"]
            .as_str()
            .expect("body")
            .starts_with("Time: 2026-11-26 14:33 UTC\nStatus: investigating")
    );
    assert_eq!(inc.channel, "#incident-2026-11-26-1405");
    p.assert_well_formed();
}
