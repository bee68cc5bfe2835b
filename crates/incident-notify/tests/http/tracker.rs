//! GitHub Issues and Jira Cloud: the post-incident ticket.

use base64::Engine as _;
use incident_core::ErrorKind;
use incident_core::backend::{Delivery, Notifier};
use incident_core::delivery::deliver_and_record;
use incident_core::postincident::{TICKET_KIND, TRACKER};
use incident_core::timeline::Outcome;
use incident_notify::{IncidentContext, Router, TrackerNotifier};
use serde_json::json;

use super::*;

fn github_config(p: &Providers) -> NotifyConfig {
    let toml = format!(
        r#"
        [tracker]
        provider = "github"
        base_url = "{base}"
        repo = "{GH_REPO}"
        token = "{GH_TOKEN}"
        labels = ["post-incident", "P1"]

        [retry]
        max_attempts = 3
        initial_backoff = "1s"
        "#,
        base = p.url(""),
    );
    NotifyConfig::load(None, |_| None).and_then(|_| NotifyConfig::from_toml_str(&toml, "test")).expect("config")
}

fn jira_config(p: &Providers) -> NotifyConfig {
    let toml = format!(
        r#"
        [tracker]
        provider = "jira"
        base_url = "{base}"
        project = "OPS"
        email = "{JIRA_EMAIL}"
        token = "{JIRA_TOKEN}"
        "#,
        base = p.url(""),
    );
    NotifyConfig::from_toml_str(&toml, "test").expect("config")
}

fn tracker(c: &NotifyConfig, clock: Arc<ManualClock>) -> TrackerNotifier {
    TrackerNotifier::new(c.tracker.as_ref().expect("tracker"), &c.retry, clock).expect("notifier")
}

fn ticket() -> Notification {
    note(
        Destination::Webhook { name: TRACKER.into() },
        TICKET_KIND,
        "Post-incident: [P1] Inference API errors (INC-2026-0042)\n\nRoot cause: bad deploy, v2.3\n\n```ics\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\n```\n",
    )
}

#[tokio::test]
async fn github_issue_has_the_documented_shape() {
    let p = Providers::start().await;
    let c = github_config(&p);
    c.validate().expect("valid");
    let d = tracker(&c, clock()).notify(&ticket()).await.expect("created");
    assert_eq!(d, Delivery::Delivered { reference: Some("github:acme/platform#1347".into()) });
    p.assert_well_formed();
    let seen = p.seen();
    assert_eq!(p.ops(), ["github.issue"]);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/repos/acme/platform/issues"));
    assert_eq!(seen[0].header("authorization"), format!("Bearer {GH_TOKEN}"));
    let body = seen[0].json();
    assert_eq!(body["title"], "Post-incident: [P1] Inference API errors (INC-2026-0042)");
    assert_eq!(body["labels"], json!(["post-incident", "P1"]));
    let text = body["body"].as_str().expect("body");
    assert!(text.starts_with("Root cause: bad deploy, v2.3") && text.contains("```ics\nBEGIN:VCALENDAR"), "{text}");
}

#[tokio::test]
async fn jira_issue_has_the_documented_shape() {
    let p = Providers::start().await;
    let c = jira_config(&p);
    c.validate().expect("valid");
    let d = tracker(&c, clock()).notify(&ticket()).await.expect("created");
    assert_eq!(d, Delivery::Delivered { reference: Some("jira:OPS-24".into()) });
    p.assert_well_formed();
    let seen = p.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/rest/api/3/issue"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
    assert_eq!(seen[0].header("authorization"), format!("Basic {basic}"));
    let f = &seen[0].json()["fields"];
    assert_eq!(f["project"], json!({"key": "OPS"}));
    assert_eq!(f["issuetype"], json!({"name": "Task"}));
    assert_eq!(f["summary"], "Post-incident: [P1] Inference API errors (INC-2026-0042)");
    assert_eq!(f["labels"], json!(["post-incident"]));
    assert_eq!(f["description"]["type"], "doc");
    let blocks = f["description"]["content"].as_array().expect("blocks");
    assert_eq!(blocks[0]["content"][0]["text"], "Root cause: bad deploy, v2.3");
    assert_eq!(blocks[1]["type"], "codeBlock");
    assert_eq!(blocks[1]["content"][0]["text"], "BEGIN:VCALENDAR\nEND:VCALENDAR");
}

#[tokio::test]
async fn unauthorized_is_permission_denied_and_names_no_token() {
    for (c, op, secret) in [
        (github_config as fn(&Providers) -> NotifyConfig, "github.issue", GH_TOKEN),
        (jira_config, "jira.issue", JIRA_TOKEN),
    ] {
        let p = Providers::start().await;
        let c = c(&p);
        // The provider echoes the credential back: it must not reach the error.
        p.script(op, Answer::status(401, json!({"message": format!("Bad credentials {secret}")})));
        let clock = clock();
        let err = tracker(&c, clock.clone()).notify(&ticket()).await.expect_err("401");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(secret), "{op} leaks the token: {text}");
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
        assert!(!text.contains(&basic), "{op} leaks the basic credential: {text}");
        assert_eq!((p.seen().len(), slept(&clock)), (1, 0), "{op}: 401 is not retried");
    }
}

#[tokio::test]
async fn server_errors_are_retried() {
    let p = Providers::start().await;
    let c = github_config(&p);
    p.script("github.issue", Answer::status(502, json!({"message": "Server Error"})));
    p.script("github.issue", Answer::status(503, json!({})));
    let clock = clock();
    let d = tracker(&c, clock.clone()).notify(&ticket()).await.expect("third attempt");
    assert!(matches!(d, Delivery::Delivered { .. }));
    assert_eq!((p.seen().len(), slept(&clock)), (3, 1 + 2), "backed off 1s then 2s");

    // Out of attempts: Unavailable.
    let p = Providers::start().await;
    let c = jira_config(&p);
    for _ in 0..4 {
        p.script("jira.issue", Answer::status(500, json!({"errorMessages": ["boom"]})));
    }
    let err = tracker(&c, super::clock()).notify(&ticket()).await.expect_err("5xx");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(p.seen().len(), 4);
}

#[tokio::test]
async fn routed_as_the_tracker_webhook_and_never_created_twice() {
    let p = Providers::start().await;
    let (store, _) = store_with(Severity::P1).await;
    let c = github_config(&p);
    let router = Router::from_config(&c, clock(), IncidentContext::new(store.clone())).expect("router");
    assert_eq!(router.providers(), ["webhook:tracker"]);
    let rec = deliver_and_record(&*store, &router, &*clock(), "alice", ticket()).await.expect("recorded");
    assert_eq!((rec.outcome, rec.detail.as_str()), (Outcome::Succeeded, "github:acme/platform#1347"));
    // After a restart, the ticket is found on the timeline: no second issue.
    let restarted = Router::from_config(&c, clock(), IncidentContext::new(store.clone())).expect("router");
    let again = restarted.notify(&ticket()).await.expect("answered");
    assert_eq!(again, Delivery::Delivered { reference: Some("github:acme/platform#1347".into()) });
    assert_eq!(p.ops(), ["github.issue"]);
    // Other destinations are not the tracker's.
    let other = tracker(&c, clock()).notify(&note(channel(), "x", "y")).await.expect("skip");
    assert!(matches!(other, Delivery::Skipped { .. }));
}

#[test]
fn config_is_validated_and_read_from_the_environment() {
    let base = "[tracker]\nprovider = \"github\"\nrepo = \"acme/platform\"\n";
    let c = NotifyConfig::load(None, |_| None).expect("empty");
    assert!(c.tracker.is_none());
    let mut c = NotifyConfig::from_toml_str(base, "t").expect("parse");
    let err = c.validate().expect_err("no token");
    assert!(err.to_string().contains("INCIDENT_TRACKER_TOKEN"), "{err}");
    c.apply_env(|k| (k == "INCIDENT_TRACKER_TOKEN").then(|| "ghp_FROMENV".to_owned()));
    c.validate().expect("token from the environment");
    assert_eq!(c.tracker.as_ref().expect("t").base_url(), "https://api.github.com");
    assert!(!format!("{c:?}").contains("ghp_FROMENV"));

    let bad = [
        ("[tracker]\nprovider = \"github\"\nrepo = \"nope\"\ntoken = \"x\"\n", "tracker.repo"),
        ("[tracker]\nprovider = \"jira\"\nproject = \"OPS\"\nemail = \"a@b\"\ntoken = \"x\"\n", "tracker.base_url"),
        (
            "[tracker]\nprovider = \"jira\"\nbase_url = \"https://acme.atlassian.net\"\nproject = \"OPS\"\ntoken = \"x\"\n",
            "tracker.email",
        ),
        (
            "[tracker]\nprovider = \"github\"\nrepo = \"a/b\"\ntoken = \"x\"\nbase_url = \"http://example.com\"\n",
            "tracker.base_url",
        ),
        (
            "[tracker]\nprovider = \"github\"\nrepo = \"a/b\"\ntoken = \"x\"\n[webhooks.tracker]\nurl = \"https://h.example\"\nsecret = \"s\"\n",
            "[webhooks.tracker]",
        ),
    ];
    for (toml, field) in bad {
        let err = NotifyConfig::from_toml_str(toml, "t").and_then(|c| c.validate()).expect_err(field);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    let err = NotifyConfig::from_toml_str("[tracker]\nprovider = \"gitlab\"\n", "t").expect_err("provider");
    assert!(err.to_string().contains("tracker.provider"), "{err}");
}
