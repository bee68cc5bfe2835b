//! No credential appears in any error, `Debug` output, timeline event or log line.

use std::io::Write;
use std::sync::Mutex;

use incident_core::backend::Notifier;
use incident_core::delivery::deliver_and_record;
use incident_core::policy::Role;
use incident_notify::{IncidentContext, NotifyConfig, Router, WebhookNotifier};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use super::*;

const ALL: [&str; 6] = [SLACK_TOKEN, PD_KEY, PD_CTO_KEY, SP_KEY, HOOK_SECRET, "T0SECRETPATH"];

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    for secret in ALL {
        assert!(!text.contains(secret), "{what} leaks {secret}:\n{text}");
    }
}

#[tokio::test]
async fn no_secret_in_errors_debug_output_timeline_or_logs() {
    let logs = Capture::default();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(logs.clone()).finish();
    // Global, not scoped: a scoped subscriber can miss events whose callsite interest another test
    // thread cached first. Other tests' log lines land here too, and must be just as clean.
    tracing::subscriber::set_global_default(subscriber).expect("the only test that installs a subscriber");

    let p = Providers::start().await;
    // Providers that echo what they received into their error bodies.
    p.script(
        "conversations.create",
        Answer::status(200, json!({"ok": false, "error": format!("invalid_auth for {SLACK_TOKEN}")})),
    );
    p.script(
        "enqueue",
        Answer::status(400, json!({"message": "bad", "errors": [format!("routing_key {PD_CTO_KEY}")]})),
    );
    p.script("create", Answer::status(401, json!({"error": format!("OAuth {SP_KEY} rejected")})));
    for _ in 0..4 {
        p.script("webhook", Answer::status(500, json!({"error": format!("secret {HOOK_SECRET}")})));
    }
    let (store, _) = store_with(Severity::P0).await;
    let config = config(&p);
    let clock = clock();
    let router = Router::from_config(&config, clock.clone(), IncidentContext::new(store.clone())).expect("router");
    let mut texts = vec![format!("{config:?}"), format!("{router:?}"), format!("{:?}", config.slack)];
    let hook = WebhookNotifier::new("ops", &config.webhooks["ops"], &config.retry, clock.clone()).expect("hook");
    texts.push(format!("{hook:?}"));

    let sends = [
        note(channel(), "channel_intro", "hello"),
        note(Destination::Page { role: Role::Cto }, "page", "[P0] x"),
        note(Destination::StatusPage, "status_page_initial", "We are investigating."),
        note(Destination::Webhook { name: "ops".into() }, "declared", "x"),
        note(Destination::Page { role: Role::OnCallEngineer }, "page", "[P0] x"),
    ];
    let mut failures = 0;
    for n in sends {
        let direct = router.notify(&n).await;
        if let Err(e) = &direct {
            failures += 1;
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                texts.push(format!("{s} {s:?}"));
                src = s.source();
            }
        }
        texts.push(format!("{direct:?}"));
    }
    assert_eq!(failures, 4, "slack, pagerduty, statuspage and the webhook failed; the last page went out");

    // The same failures recorded on the timeline.
    p.script("create", Answer::status(401, json!({"error": format!("OAuth {SP_KEY} rejected")})));
    let rec = deliver_and_record(&*store, &router, &*clock, "bot", note(Destination::StatusPage, "x", "y"))
        .await
        .expect("recorded");
    texts.push(format!("{rec:?}"));
    texts.push(serde_json::to_string(&store.timeline("INC-2026-0042").await.expect("timeline")).expect("json"));

    // A connection failure (the reqwest error chain is reachable through `source()`).
    let mut c = config.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    c.webhooks.get_mut("ops").expect("ops").url = format!("http://{closed}/hooks/T0SECRETPATH");
    let refused = WebhookNotifier::new("ops", &c.webhooks["ops"], &c.retry, clock.clone()).expect("hook");
    let e = refused.notify(&note(Destination::StatusPage, "x", "y")).await.expect_err("refused");
    texts.push(format!("{e} {e:?}"));

    for t in &texts {
        assert_clean("output", t);
    }
    let logged = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logged.contains("retrying") && logged.contains("failed") && logged.contains("delivered"), "{logged}");
    assert_clean("the log", &logged);
}

#[test]
fn config_errors_never_echo_values() {
    let toml = "[slack]\ntoken = 12345678901234\n";
    let err = NotifyConfig::from_toml_str(toml, "secrets.toml").expect_err("number");
    assert!(!err.to_string().contains("12345678901234"), "{err}");
    assert!(err.to_string().contains("`slack.token`"), "{err}");

    let json_text = format!(r#"{{"slack": {{"token": "{SLACK_TOKEN}", "base_url": 5}}}}"#);
    let err = NotifyConfig::from_json_str(&json_text, "secrets.json").expect_err("bad url type");
    assert_clean("a JSON config error", &err.to_string());
    assert!(err.to_string().contains("`slack.base_url`"), "{err}");

    let toml = format!("[slack]\ntoken = \"{SLACK_TOKEN}\nbase_url = \"x\"\n");
    let err = NotifyConfig::from_toml_str(&toml, "secrets.toml").expect_err("unterminated string");
    assert_clean("a TOML syntax error", &err.to_string());
    assert!(err.to_string().contains("line 2"), "{err}");

    let toml = format!("[slack]\ntokn = \"{SLACK_TOKEN}\"\n");
    let err = NotifyConfig::from_toml_str(&toml, "secrets.toml").expect_err("unknown field");
    assert_clean("an unknown-field error", &err.to_string());
    assert!(err.to_string().contains("tokn"), "{err}");
}

#[test]
fn env_and_file_are_merged_and_validated() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notify.toml");
    std::fs::write(
        &path,
        "[statuspage]\npage_id = \"abc123\"\n\n[webhooks.ops-bridge]\nurl = \"https://h.example.com/x\"\n",
    )
    .expect("write");
    let env = |k: &str| match k {
        "INCIDENT_STATUSPAGE_API_KEY" => Some(SP_KEY.to_owned()),
        "INCIDENT_WEBHOOK_OPS_BRIDGE_SECRET" => Some(HOOK_SECRET.to_owned()),
        "INCIDENT_SLACK_TOKEN" => Some(SLACK_TOKEN.to_owned()),
        _ => None,
    };
    let c = NotifyConfig::load(Some(&path), env).expect("valid");
    assert_eq!(c.statuspage.as_ref().map(|s| s.page_id.as_str()), Some("abc123"));
    assert_eq!(c.slack.as_ref().map(|s| s.base_url.as_str()), Some("https://slack.com/api"));
    assert_eq!(c.slack.as_ref().and_then(|s| s.token.as_ref()).map(incident_notify::Secret::expose), Some(SLACK_TOKEN));
    assert_clean("config Debug", &format!("{c:?}"));

    let err = NotifyConfig::load(Some(&path), |_| None).expect_err("no api key");
    assert_eq!(
        err.to_string(),
        "notify config: `statuspage.api_key` is missing (set it in the secrets file or INCIDENT_STATUSPAGE_API_KEY)"
    );
    let json_path = dir.path().join("notify.json");
    std::fs::write(&json_path, r#"{"pagerduty": {"routing_key": "k", "base_url": "http://events.example.com"}}"#)
        .expect("write");
    let err = NotifyConfig::load(Some(&json_path), |_| None).expect_err("plain http");
    assert!(err.to_string().contains("plain http is allowed only to a loopback address"), "{err}");
}
