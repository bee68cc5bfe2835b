use incident_core::ErrorKind;
use incident_core::backend::{Delivery, Notifier};
use incident_core::policy::Role;
use incident_notify::{IncidentContext, PagerDutyNotifier};
use serde_json::json;

use super::*;

fn pagerduty(p: &Providers, clock: Arc<ManualClock>) -> PagerDutyNotifier {
    let c = config(p);
    PagerDutyNotifier::new(c.pagerduty.as_ref().expect("pagerduty"), retry(&c), clock).expect("notifier")
}

fn page(role: Role) -> Destination {
    Destination::Page { role }
}

#[tokio::test]
async fn trigger_acknowledge_resolve_with_one_alert_per_incident_role_and_severity() {
    let p = Providers::start().await;
    let (store, _) = store_with(Severity::P0).await;
    let n = pagerduty(&p, clock()).with_context(IncidentContext::new(store));
    let d = n
        .notify(&note(page(Role::Cto), "page", "[P0] Inference API errors — CTO notified for P0\nmore text"))
        .await
        .expect("paged");
    assert_eq!(d, Delivery::Delivered { reference: Some("pagerduty:INC-2026-0042/cto/P0".into()) });
    n.notify(&note(page(Role::OnCallEngineer), "page", "[P0] Inference API errors")).await.expect("paged");
    n.notify(&note(page(Role::OnCallEngineer), "acknowledged", "ack")).await.expect("ack");
    n.notify(&note(page(Role::OnCallEngineer), "resolved", "Status: RESOLVED")).await.expect("resolved");
    p.assert_well_formed();
    let seen = p.seen();
    assert_eq!(seen.len(), 4);
    let cto = seen[0].json();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v2/enqueue");
    assert_eq!(cto["routing_key"], PD_CTO_KEY, "the role's own routing key");
    assert_eq!(seen[1].json()["routing_key"], PD_KEY, "the default routing key");
    assert_eq!(cto["event_action"], "trigger");
    assert_eq!(cto["dedup_key"], "INC-2026-0042/cto/P0");
    // Each role paged is its own alert, even on one routing key (an escalation is never folded into
    // the on-call's open alert).
    assert_eq!(seen[1].json()["dedup_key"], "INC-2026-0042/on_call_engineer/P0");
    let payload = &cto["payload"];
    assert_eq!(payload["summary"], "[P0] Inference API errors — CTO notified for P0");
    assert_eq!(payload["source"], "incident-core");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["timestamp"], "2026-11-26T14:05:00Z");
    assert_eq!(payload["component"], "ml-inference-api");
    assert_eq!(payload["custom_details"]["role"], "cto");
    assert_eq!(payload["custom_details"]["channel"], "#incident-2026-11-26-1405");
    assert_eq!(
        seen[2].json(),
        json!({"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": "INC-2026-0042/on_call_engineer/P0", "client": "incident-core"})
    );
    assert_eq!(seen[3].json()["event_action"], "resolve");
    assert!(seen[3].json().get("payload").is_none());
}

#[tokio::test]
async fn an_escalation_page_is_its_own_alert_and_acknowledge_closes_every_alert_of_the_role() {
    use incident_core::delivery::deliver_and_record;
    let p = Providers::start().await;
    let (store, _) = store_with(Severity::P1).await;
    let clock = clock();
    let n = pagerduty(&p, clock.clone()).with_context(IncidentContext::new(store.clone()));
    let (em, on_call) = (page(Role::EngineeringManager), page(Role::OnCallEngineer));
    // The declaration pages the P1's stakeholders; 30 minutes later the manager is escalated to.
    for (to, kind) in [(&on_call, "page"), (&em, "page"), (&em, "escalation_page:2")] {
        let r = deliver_and_record(&*store, &n, &*clock, "t", note(to.clone(), kind, "[P1] errors")).await;
        assert_eq!(r.expect("recorded").outcome, incident_core::timeline::Outcome::Succeeded);
    }
    let ack = deliver_and_record(&*store, &n, &*clock, "alice", note(em.clone(), "acknowledged", "ack")).await;
    let ack = ack.expect("recorded");
    assert_eq!(
        ack.detail,
        "pagerduty:INC-2026-0042/engineering_manager/P1,INC-2026-0042/engineering_manager/P1/escalation-2"
    );
    let seen: Vec<(String, String)> = p
        .seen()
        .iter()
        .map(|s| {
            let v = s.json();
            (
                v["event_action"].as_str().unwrap_or_default().to_owned(),
                v["dedup_key"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let k = |s: &str| format!("INC-2026-0042/{s}");
    assert_eq!(
        seen,
        [
            ("trigger".to_owned(), k("on_call_engineer/P1")),
            ("trigger".to_owned(), k("engineering_manager/P1")),
            // Not folded into the manager's open alert: PagerDuty notifies again.
            ("trigger".to_owned(), k("engineering_manager/P1/escalation-2")),
            ("acknowledge".to_owned(), k("engineering_manager/P1")),
            ("acknowledge".to_owned(), k("engineering_manager/P1/escalation-2")),
        ]
    );
    p.assert_well_formed();
    // A role never paged (no reference on the timeline): its key at the current severity.
    n.notify(&note(page(Role::Cto), "resolved", "done")).await.expect("resolved");
    assert_eq!(p.seen().last().expect("sent").json()["dedup_key"], k("cto/P1"));
}

#[tokio::test]
async fn severity_maps_from_the_store_or_the_text() {
    for (sev, want) in [(Severity::P1, "critical"), (Severity::P2, "error"), (Severity::P3, "warning")] {
        let p = Providers::start().await;
        let (store, _) = store_with(sev).await;
        let n = pagerduty(&p, clock()).with_context(IncidentContext::new(store));
        n.notify(&note(page(Role::OnCallEngineer), "page", "summary")).await.expect("paged");
        assert_eq!(p.seen()[0].json()["payload"]["severity"], want, "{sev}");
    }
    // Without a store: the text's [P2] prefix.
    let p = Providers::start().await;
    let n = pagerduty(&p, clock());
    n.notify(&note(page(Role::OnCallEngineer), "page", "[P2] slow")).await.expect("paged");
    n.notify(&note(page(Role::OnCallEngineer), "page", "[P2] slow")).await.expect("re-sent");
    n.notify(&note(page(Role::OnCallEngineer), "page", "[P0] now down")).await.expect("raised");
    assert_eq!(p.seen()[0].json()["payload"]["severity"], "error");
    let keys: Vec<String> =
        p.seen().iter().map(|s| s.json()["dedup_key"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(
        keys,
        ["INC-2026-0042/on_call_engineer/P2", "INC-2026-0042/on_call_engineer/P2", "INC-2026-0042/on_call_engineer/P0"],
        "re-sending is idempotent; a raise pages again"
    );
    p.assert_well_formed();
}

#[tokio::test]
async fn bad_request_is_not_retried_and_hides_the_key() {
    let p = Providers::start().await;
    let body = json!({"status": "invalid event", "message": "Event object is invalid", "errors": [format!("routing_key {PD_KEY} is unknown")]});
    p.script("enqueue", Answer::status(400, body));
    let clock = clock();
    let err = pagerduty(&p, clock.clone()).notify(&note(page(Role::Cto), "page", "x")).await.expect_err("400");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "pagerduty enqueue trigger: HTTP 400 Bad Request: Event object is invalid; routing_key *** is unknown"
    );
    assert_eq!((p.seen().len(), slept(&clock)), (1, 0));
}

#[tokio::test]
async fn throttling_and_outages_are_retried() {
    let p = Providers::start().await;
    p.script(
        "enqueue",
        Answer::status(
            429,
            json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly"}),
        ),
    );
    p.script("enqueue", Answer::status(500, json!({})));
    let clock = clock();
    let d = pagerduty(&p, clock.clone()).notify(&note(page(Role::Cto), "page", "x")).await.expect("third try");
    assert!(matches!(d, Delivery::Delivered { .. }));
    assert_eq!((p.seen().len(), slept(&clock)), (3, 1 + 2), "429 without Retry-After backs off");
}

#[tokio::test]
async fn a_role_without_a_routing_key_is_skipped() {
    let p = Providers::start().await;
    let mut c = config(&p);
    let pd = c.pagerduty.as_mut().expect("pd");
    pd.routing_key = None;
    let n = PagerDutyNotifier::new(pd, &c.retry, clock()).expect("notifier");
    let d = n.notify(&note(page(Role::EngineeringManager), "page", "x")).await.expect("skip");
    assert_eq!(d, Delivery::Skipped { reason: "no PagerDuty routing key for role Engineering manager".into() });
    assert!(p.seen().is_empty());
}
