//! `incident serve --sim STATE`: the bad-deploy scenario's Alertmanager webhook declares an incident, the
//! receiver's first response triages the simulated platform, matches `application-rollback`, plans it (a
//! dry run: the simulator is not changed), stores the plan with its digest on the incident, and posts it
//! with the approve command to the channel (a Slack fake); `GET /api/incidents[/{id}]` shows it, with the
//! webhooks' authentication. Without a rollout to blame, "no rule matched" is recorded and posted.

use std::io::Read as _;
use std::process::Command;
use std::time::Duration;

use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::Store as _;
use serde_json::{Value, json};

mod common;
use common::get;

const TOKEN: &str = "fr-t0ken";
const SLACK_TOKEN: &str = "xoxb-fr-secret";

/// Kills `incident serve` if the test fails before stopping it.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    state: std::path::PathBuf,
    store: std::path::PathBuf,
    addr: String,
    slack: std::sync::Arc<std::sync::Mutex<Vec<common::Captured>>>,
    serve: Serve,
    log: std::thread::JoinHandle<String>,
}

impl Setup {
    /// Stop `incident serve` (SIGTERM) and return its log, checked for secrets, and the directory.
    fn stop(self) -> (String, tempfile::TempDir) {
        drop(self.serve);
        let log = self.log.join().expect("log");
        assert!(!log.contains(SLACK_TOKEN) && !log.contains(TOKEN), "a secret in the log:\n{log}");
        assert!(log.contains("incident serve: stopped"), "{log}");
        (log, self._dir)
    }
}

/// A bad-deploy simulator state `at` into the scenario, a Slack fake, and `incident serve --sim` on it
/// with a bearer token.
fn setup(at: Duration) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let platform = SimPlatform::create(&state, &Scenario::builtin("bad-deploy").expect("scenario")).expect("state");
    platform.advance(at).expect("advance");
    drop(platform);
    let (slack_addr, slack) = common::fake_server(|_| {
        (200, json!({"ok": true, "channel": {"id": "C1", "name": "incident"}, "ts": "1765000000.000100", "channels": [], "response_metadata": {"next_cursor": ""}}).to_string())
    });
    let notify = dir.path().join("notify.toml");
    std::fs::write(&notify, format!("[slack]\nbase_url = \"http://{slack_addr}/api\"\ntoken = \"{SLACK_TOKEN}\"\n"))
        .expect("notify config");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    let store = dir.path().join("incident.sqlite");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cadence", "off", "--no-escalation", "--no-post-incident"])
        .env_remove("INCIDENT_SLACK_TOKEN")
        .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
        .env_remove("INCIDENT_STATUSPAGE_API_KEY")
        .env_remove("INCIDENT_WEBHOOK_URL")
        .env_remove("KUBECONFIG")
        .arg("--store")
        .arg(&store)
        .arg("--sim")
        .arg(&state)
        .arg("--token-file")
        .arg(&token)
        .arg("--notify-config")
        .arg(&notify);
    let (child, stderr, line, addr) = common::serve_announced(cmd);
    assert!(line.contains("first response on (sim)"), "{line}");
    // Keep draining the log so the pipe never fills.
    let log = std::thread::spawn(move || {
        let mut log = String::new();
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut log);
        log
    });
    Setup { _dir: dir, state, store, addr, slack, serve: Serve(child), log }
}

/// Post the bad-deploy scenario's own Alertmanager webhook; the declared incident's id.
fn declare(s: &Setup) -> String {
    let scenario = Scenario::builtin("bad-deploy").expect("scenario");
    let body = scenario.signals.alertmanager_json().expect("json").expect("an alertmanager signal");
    let (status, text) = common::post(&s.addr, "/webhook/alertmanager", Some(TOKEN), body.as_bytes());
    assert!(status == 200 && text.contains(r#""outcome":"declared""#), "{status} {text}");
    text.split(r#""incident":""#).nth(1).and_then(|r| r.split('"').next()).expect("incident id").to_owned()
}

/// `GET /api/incidents/{id}` until the first response has posted (its last step), at most 30 s.
fn responded(s: &Setup, id: &str) -> Value {
    for _ in 0..300 {
        let (status, body) = get(&s.addr, &format!("/api/incidents/{id}"), Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        if notes(&v).iter().any(|n| n.starts_with("First response: posted to")) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no first response within 30 s");
}

fn notes(v: &Value) -> Vec<String> {
    v["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"]["type"] == "note")
        .map(|e| e["kind"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `chat.postMessage` texts the Slack fake received.
fn posted(s: &Setup) -> Vec<String> {
    s.slack
        .lock()
        .expect("lock")
        .iter()
        .filter(|c| c.path.ends_with("chat.postMessage"))
        .map(|c| c.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_bad_deploy_alert_gets_a_proposed_rollback_that_is_stored_posted_and_not_executed() {
    let s = setup(Duration::from_secs(5 * 60));
    let bytes = std::fs::read(&s.state).expect("state");
    let api = SimPlatform::open(&s.state).expect("state").backends();
    let id = declare(&s);
    let v = responded(&s, &id);

    // The proposed plan, with its digest, each step's before → after and inverse.
    let plans = v["proposed_plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 1, "{v:#}");
    let plan = &plans[0];
    assert_eq!(plan["procedure"], "application-rollback");
    assert_eq!(plan["status"], "proposed");
    assert_eq!(plan["evidence"], "first-response/plan.json");
    let digest = plan["digest"].as_str().expect("digest").to_owned();
    assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");
    assert_eq!(plan["plan"]["digest"], digest.as_str());
    let rollback = &plan["steps"][0];
    assert_eq!(rollback["id"], "rollback");
    assert_eq!(rollback["before"]["images"][0], "api=ml-inference-api:v2.1.0");
    assert_eq!(rollback["after"]["images"][0], "api=ml-inference-api:v2.0.3");
    assert!(rollback["inverse"].as_str().is_some_and(|i| i.contains("--to-revision=3")), "{rollback}");
    // The match explains itself; the triage report is there.
    assert_eq!(v["match"]["matched"]["rule"], "rollback-recent-rollout");
    assert_eq!(v["triage"]["context"], "ml-platform-primary");
    assert_eq!(v["incident"]["id"], id.as_str());

    // Each step on the timeline with its duration; one action_planned per step; the reports hashed in.
    let notes = notes(&v);
    let step =
        |prefix: &str| notes.iter().find(|n| n.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {notes:#?}"));
    assert!(step("First response: triage of ml-platform-primary in ").contains(" ms: "));
    assert!(step("First response: matched application-rollback (rule rollback-recent-rollout) in ").contains(" ms: "));
    let planned = step("First response: planned application-rollback as run ");
    assert!(planned.contains("dry run: not executed, not approved") && planned.ends_with(&digest), "{planned}");
    assert!(step("First response: posted to #incident-").ends_with("ms (succeeded)"));
    let events = v["timeline"].as_array().expect("timeline");
    let kinds = |t: &str| events.iter().filter(|e| e["kind"]["type"] == t).count();
    assert_eq!(kinds("action_planned"), plan["steps"].as_array().expect("steps").len());
    assert_eq!(kinds("approval_granted") + kinds("action_executed"), 0, "nothing approved or executed");
    let items: Vec<&str> =
        v["evidence"].as_array().expect("evidence").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(items, ["first-response/match.json", "first-response/plan.json", "first-response/triage.json"]);
    assert!(events.iter().any(|e| e["kind"]["type"] == "message_sent" && e["kind"]["kind"] == "first_response"));

    // The channel got the plan with the approve command (after the declaration's own messages).
    let texts = posted(&s);
    let message = texts.iter().find(|t| t.starts_with(&format!("First response for {id}"))).expect("first response");
    assert_eq!(texts.last(), Some(message), "posted after the declaration's own messages: {texts:#?}");
    eprintln!("MESSAGE<<{message}>>");
    assert!(message.contains("proposed application-rollback (dry run: nothing was changed)"), "{message}");
    assert!(message.contains("Suspected change: ml-platform/ml-inference-api revision 3 (previous 2)"), "{message}");
    assert!(message.contains("deploy ml-inference-api v2.1.0 (feature store v3)"), "{message}");
    assert!(
        message.contains(
            "{\"images\":[\"api=ml-inference-api:v2.1.0\"]} -> {\"images\":[\"api=ml-inference-api:v2.0.3\"]}"
        ),
        "{message}"
    );
    assert!(message.contains("undo: kubectl --context ml-platform-primary rollout undo"), "{message}");
    assert!(message.contains(&format!("digest: {digest}")), "{message}");
    let store = s.store.display();
    assert!(
        message.contains(&format!("incident evidence collect {id} --out first-response-{id} --store {store}")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "incident run first-response-{id}/evidence/first-response/plan.json --expect-digest {digest} \
             --approve-by YOUR_NAME --incident {id} --store {store} --sim {}",
            s.state.display()
        )),
        "{message}"
    );

    // Not executed: the state file is byte for byte the same (each response reads a copy of it), and the
    // bad revision still runs.
    assert!(std::fs::read(&s.state).expect("state") == bytes, "the simulator's state file changed");
    let rt = incident_core::sim::runtime().expect("rt");
    let d = rt
        .block_on(async {
            let c = api.clusters.cluster("ml-platform-primary").await?;
            c.deployment("ml-platform", "ml-inference-api").await
        })
        .expect("deployment")
        .expect("exists");
    assert_eq!(d.revision, 3, "still the bad revision");

    // The list, and the webhooks' authentication on both routes.
    let (status, body) = get(&s.addr, "/api/incidents", Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).expect("json");
    let first = &list["incidents"][0];
    assert_eq!((first["id"].as_str(), first["severity"].as_str()), (Some(id.as_str()), Some("P1")));
    assert_eq!((first["status"].as_str(), first["commander"].as_str()), (Some("investigating"), Some("on-call")));
    assert!(first["declared_at"].is_string() && first["title"].is_string(), "{first}");
    for path in ["/api/incidents".to_owned(), format!("/api/incidents/{id}")] {
        for token in [None, Some("wrong")] {
            let (status, body) = get(&s.addr, &path, token);
            assert_eq!(status, 401, "{path} {token:?}: {body}");
            let e: Value = serde_json::from_str(&body).expect("json error");
            assert_eq!(e["error"]["kind"], "permission_denied", "{body}");
        }
    }
    let (status, body) = get(&s.addr, "/api/incidents/INC-nope", Some(TOKEN));
    assert_eq!(status, 404, "{body}");
    let e: Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(e["error"], json!({"kind": "not_found", "message": "no incident INC-nope in the store"}));
    let (status, metrics) = get(&s.addr, "/metrics", None);
    assert_eq!(status, 200);
    assert!(metrics.contains("incident_receiver_first_responses_total{outcome=\"proposed\"} 1\n"), "{metrics}");
    assert!(metrics.contains("incident_receiver_first_response_duration_seconds_count 1\n"), "{metrics}");
    let (store, state) = (s.store.clone(), s.state.clone());
    let (log, dir) = s.stop();
    assert!(log.contains("receiver: first response") && log.contains("procedure=\"application-rollback\""), "{log}");

    // The approve commands of the message run as posted (a person's name for YOUR_NAME): the plan the
    // receiver stored is the one executed, and the incident's timeline records the approval of that digest.
    let commands: Vec<&str> = message.lines().filter_map(|l| l.trim().strip_prefix("incident ")).collect();
    assert_eq!(commands.len(), 2, "{message}");
    for c in commands {
        let args: Vec<&str> = c.split_whitespace().map(|w| if w == "YOUR_NAME" { "alice" } else { w }).collect();
        let out =
            Command::new(env!("CARGO_BIN_EXE_incident")).args(&args).current_dir(dir.path()).output().expect("run");
        assert!(out.status.success(), "incident {c}: {}{}", common::stdout(&out), common::stderr(&out));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let timeline =
        rt.block_on(incident_store::SqliteStore::open(&store).expect("store").timeline(&id)).expect("timeline");
    let approved = timeline.events().iter().find_map(|e| match &e.kind {
        incident_core::timeline::EventKind::ApprovalGranted { by, plan_digest, .. } => {
            Some((by.clone(), plan_digest.clone()))
        }
        _ => None,
    });
    assert_eq!(approved, Some(("alice".to_owned(), Some(digest.clone()))));
    let d = rt
        .block_on(async {
            let p = SimPlatform::open(&state)?;
            let c = p.backends().clusters.cluster("ml-platform-primary").await?;
            c.deployment("ml-platform", "ml-inference-api").await
        })
        .expect("deployment")
        .expect("exists");
    assert_eq!(d.revision, 4, "rolled back by the approved plan (revision 2 becomes 4)");
}

/// At the scenario's start nothing has rolled out yet: no rule matches, and that is recorded and posted.
#[test]
fn without_a_rollout_to_blame_no_rule_matches_and_that_is_recorded_and_posted() {
    let s = setup(Duration::ZERO);
    let id = declare(&s);
    let v = responded(&s, &id);
    assert_eq!(v["proposed_plans"], json!([]));
    assert!(v["match"]["matched"].is_null(), "{:#}", v["match"]);
    assert!(v["triage"].is_object());
    let notes = notes(&v);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("First response: no rule matched in ") && n.ends_with("no procedure proposed")),
        "{notes:#?}"
    );
    let events = v["timeline"].as_array().expect("timeline");
    assert!(!events.iter().any(|e| e["kind"]["type"] == "action_planned"));
    let texts = posted(&s);
    let message = texts.iter().find(|t| t.starts_with(&format!("First response for {id}"))).expect("posted");
    assert!(message.contains("no runbook procedure matched; no plan proposed"), "{message}");
    assert!(!message.contains("incident run"), "{message}");
    let (_, metrics) = get(&s.addr, "/metrics", None);
    assert!(metrics.contains("incident_receiver_first_responses_total{outcome=\"no_match\"} 1\n"), "{metrics}");
    let _ = s.stop();
}
