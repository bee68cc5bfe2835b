//! `incident escalation ID`: where the paging of a stored incident stands, text and JSON.

use chrono::{TimeZone, Utc};
use incident_core::Severity;
use incident_core::backend::Destination;
use incident_core::delivery::destination_label;
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::policy::{BusinessHours, Role};
use incident_core::store::Store;
use incident_core::timeline::{EventKind, Outcome};
use incident_store::SqliteStore;

mod common;
use common::{assert_one_line_error, incident, stderr, stdout};

/// A store with a P1 declared Thursday 2026-11-26 14:00 UTC whose declaration paged the on-call engineer,
/// and a P2 declared Friday 2026-12-04 18:00 UTC.
fn store(dir: &std::path::Path) -> String {
    let path = dir.join("incidents.sqlite");
    let store = SqliteStore::open(&path).expect("store");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    for (id, severity, at) in [
        ("INC-P1", Severity::P1, Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).single().expect("time")),
        ("INC-P2", Severity::P2, Utc.with_ymd_and_hms(2026, 12, 4, 18, 0, 0).single().expect("time")),
    ] {
        let req = DeclareRequest {
            id: id.into(),
            title: "Inference API errors".into(),
            severity,
            components: vec!["ml-inference-api".into()],
            impact: String::new(),
            customer_facing: false,
            customers_affected: false,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        let (inc, mut tl) = Incident::declare(req, &incident_core::Policy::default(), at).expect("declare");
        if severity == Severity::P1 {
            let channel = destination_label(&Destination::Page { role: Role::OnCallEngineer });
            let kind = EventKind::MessageSent {
                channel,
                kind: "page".into(),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            };
            tl.append(at, "receiver", kind).expect("append");
        }
        rt.block_on(async {
            store.save_incident(&inc).await.expect("save");
            store.append_events(&inc.id, tl.events()).await.expect("events");
        });
    }
    path.to_str().expect("utf8").to_owned()
}

#[test]
fn escalation_shows_deadline_level_and_next_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = store(dir.path());

    let o = incident(&["escalation", "INC-P1", "--store", &db, "--at", "2026-11-26T14:10:00Z"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("INC-P1: [P1] escalation paging — response time 30m, first pages at any time"), "{text}");
    assert!(text.contains("Acknowledge by: 2026-11-26 14:30 UTC (in 20m)"), "{text}");
    assert!(text.contains("Next page: level 2 (Engineering manager) at 2026-11-26 14:30 UTC (in 20m)"), "{text}");
    assert!(text.contains("- 1. Engineering on-call — due 2026-11-26 14:00 UTC, acknowledge by 2026-11-26 14:30 UTC: Engineering on-call sent 2026-11-26 14:00 UTC"), "{text}");

    let o = incident(&["-o", "json", "escalation", "INC-P1", "--store", &db, "--at", "2026-11-26T14:31:00Z"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["state"], "paging");
    assert_eq!(v["level"], 2);
    assert_eq!(v["deadline"], "2026-11-26T15:00:00Z");
    assert_eq!(v["next"]["level"], 3);
    assert_eq!(v["next"]["roles"], serde_json::json!(["cto"]));
    assert_eq!(v["levels"][1]["targets"][0]["sent_at"], serde_json::Value::Null, "the driver has not paged yet");

    // A P2 declared Friday 18:00 waits for Monday 09:00, in the policy's calendar.
    let o = incident(&["-o", "json", "escalation", "INC-P2", "--store", &db, "--at", "2026-12-04T18:00:00Z"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!((v["state"].as_str(), v["next"]["at"].as_str()), (Some("waiting"), Some("2026-12-07T09:00:00Z")));
    assert_eq!(v["deadline"], "2026-12-07T11:00:00Z");
    let policy = dir.path().join("policy.toml");
    let berlin = BusinessHours { timezone: "Europe/Berlin".into(), ..BusinessHours::default() };
    std::fs::write(&policy, format!("[business_hours]\ntimezone = {:?}\n", berlin.timezone)).expect("write");
    let p = policy.to_str().expect("utf8");
    let o = incident(&["--policy", p, "escalation", "INC-P2", "--store", &db, "--at", "2026-12-04T18:00:00Z"], None);
    let text = stdout(&o);
    assert!(text.contains("Business hours: 09:00–18:00 Europe/Berlin"), "{text}");
    assert!(text.contains("Next page: level 1 (Engineering on-call) at 2026-12-07 08:00 UTC"), "{text}");
}

#[test]
fn unknown_incident_and_bad_calendar_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = store(dir.path());
    let o = incident(&["escalation", "INC-404", "--store", &db], None);
    assert_one_line_error(&o, 1, "INC-404");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[business_hours]\ntimezone = \"Mars/Olympus\"\n").expect("write");
    let o = incident(&["--policy", policy.to_str().expect("utf8"), "escalation", "INC-P1", "--store", &db], None);
    assert_one_line_error(&o, 2, "business_hours.timezone");
}
