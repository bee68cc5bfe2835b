//! `incident declare` by hand (runbook "Manual Reporting"): a customer, internal or partner report is
//! declared into the store on the one declaration path, announced, and worked like any other incident.

use std::path::Path;
use std::process::{Command, Output};

use incident_core::store::Store as _;
use incident_core::timeline::EventKind;
use incident_store::SqliteStore;
use serde_json::Value;

mod common;
use common::{assert_one_line_error, stderr, stdout};

/// `incident ARGS` on `store` as `carol`.
fn incident(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env("INCIDENT_STORE", store)
        .env("USER", "carol")
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_SLACK_TOKEN")
        .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
        .env_remove("INCIDENT_STATUSPAGE_API_KEY")
        .env_remove("INCIDENT_WEBHOOK_URL")
        .output()
        .expect("run incident")
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "stdout: {} stderr: {}", stdout(o), stderr(o));
    serde_json::from_slice(&o.stdout).expect("json output")
}

#[test]
fn a_customer_report_is_declared_stored_announced_and_worked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    drop(SqliteStore::open(&store).expect("create"));
    let report = [
        "declare",
        "--title",
        "Checkout fails for EU customers",
        "--severity",
        "p1",
        "--reporter",
        "customer",
        "--component",
        "checkout",
        "--customers-affected",
        "-o",
        "json",
    ];
    let first = json(&incident(&store, &report));
    assert_eq!(first["operation"], "declare");
    assert_eq!(first["outcome"], "applied");
    let inc = &first["incident"];
    let id = inc["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("INC-"), "{id}");
    assert_eq!(inc["severity"], "P1");
    assert_eq!(inc["commander"], "carol", "the person declaring commands unless --on-call says otherwise");
    assert_eq!(inc["impact"], "P1 (reported by customer report)");
    assert_eq!(inc["components"], serde_json::json!(["checkout"]));
    assert_eq!(inc["customers_affected"], true);
    let kinds: Vec<&str> =
        first["events"].as_array().expect("events").iter().filter_map(|e| e["kind"]["type"].as_str()).collect();
    assert_eq!(kinds, ["detected", "declared", "commander_assigned"], "{}", first["events"]);
    assert_eq!(first["events"][0]["actor"], "customer report");
    // Announced: channel intro, ticket, a page per stakeholder; no provider here, so each is skipped
    // and recorded as such.
    let messages: Vec<&str> =
        first["messages"].as_array().expect("messages").iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(&messages[..2], ["channel_intro", "ticket"]);
    assert!(messages[2..].iter().all(|k| *k == "page") && messages.len() > 2, "{messages:?}");
    assert!(first["messages"].as_array().expect("messages").iter().all(|m| m["outcome"] == "skipped"));

    // A second report in the same minute gets the next free id; an explicit id that is taken is refused.
    let second = json(&incident(&store, &report));
    let second_id = second["incident"]["id"].as_str().expect("id");
    assert!(second_id.starts_with(&id) && second_id != id, "{second_id} after {id}");
    let taken =
        incident(&store, &["declare", "--title", "x", "--severity", "P2", "--reporter", "partner", "--id", &id]);
    assert_one_line_error(&taken, 4, "already exists");

    // Unacknowledged, it is escalating: `show` says until when, and who is paged next.
    let show = incident(&store, &["show", &id]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(text.contains("Escalation: paging (level 1), acknowledge by "), "{text}");
    assert!(text.contains("; next: level 2 (Engineering manager) at "), "{text}");

    // It is worked like any other incident.
    let ack = json(&incident(&store, &["ack", &id, "--as", "dave", "-o", "json"]));
    assert_eq!(ack["outcome"], "applied");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let timeline = rt.block_on(SqliteStore::open(&store).expect("open").timeline(&id)).expect("verified timeline");
    let sent = timeline.events().iter().filter(|e| matches!(e.kind, EventKind::MessageSent { .. })).count();
    assert_eq!(sent, messages.len(), "every announcement recorded once");
    assert!(matches!(timeline.events().last().map(|e| &e.kind), Some(EventKind::Acknowledged)));

    // Resolved, it owes the runbook's post-incident tasks within 24 hours; with no provider configured
    // the ticket and the invite were skipped, so they are still open.
    let resolved =
        json(&incident(&store, &["resolve", &id, "--root-cause", "expired EU payment certificate", "-o", "json"]));
    assert_eq!(resolved["incident"]["status"], "resolved");
    let show = stdout(&incident(&store, &["show", &id]));
    assert!(show.contains("Escalation: resolved"), "{show}");
    assert!(show.contains("Post-incident tasks (due "), "{show}");
    assert!(show.contains("- Create post-incident ticket: open"), "{show}");
    assert!(show.contains("- Schedule post-mortem meeting: open"), "{show}");
}

#[test]
fn a_report_needs_its_title_and_reporter_and_takes_no_observations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    drop(SqliteStore::open(&store).expect("create"));
    let no_reporter = incident(&store, &["declare", "--title", "t", "--severity", "P1"]);
    assert_eq!(no_reporter.status.code(), Some(2), "{}", stderr(&no_reporter));
    assert!(stderr(&no_reporter).contains("--reporter"), "{}", stderr(&no_reporter));
    let bad_reporter = incident(&store, &["declare", "--title", "t", "--severity", "P1", "--reporter", "twitter"]);
    assert_eq!(bad_reporter.status.code(), Some(2));
    assert!(stderr(&bad_reporter).contains("customer, internal, partner"), "{}", stderr(&bad_reporter));
    let blank = incident(&store, &["declare", "--title", " ", "--severity", "P1", "--reporter", "internal"]);
    assert_one_line_error(&blank, 2, "title must not be empty");
    let with_file =
        incident(&store, &["declare", "obs.json", "--title", "t", "--severity", "P1", "--reporter", "internal"]);
    assert_one_line_error(&with_file, 2, "takes no observations file");
    let missing = incident(
        &dir.path().join("nope.sqlite"),
        &["declare", "--title", "t", "--severity", "P3", "--reporter", "internal"],
    );
    assert_one_line_error(&missing, 1, "does not exist");
}
