//! Working a live incident from the command line: `incident serve` declares from an Alertmanager
//! webhook into its SQLite store and keeps receiving that alert group, while `incident ack`, `assign`,
//! `severity`, `status`, `note`, `mitigated`, `resolve` and `postmortem ID` work the same incident;
//! then the store holds each operation once on a verified chain. Bad input gives typed errors.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use incident_core::timeline::EventKind;
use incident_core::{Severity, Status};
use incident_store::SqliteStore;

mod common;
use common::{assert_one_line_error, stderr, stdout};

/// `incident ARGS` on `store` (a SQLite file or a `postgres://` URL), as `alice` unless `--as` is given.
fn incident(store: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(args)
        .env("INCIDENT_STORE", store)
        .env("USER", "alice")
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_SLACK_TOKEN")
        .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
        .env_remove("INCIDENT_STATUSPAGE_API_KEY")
        .env_remove("INCIDENT_WEBHOOK_URL");
    cmd.output().expect("run incident")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stdout: {} stderr: {}", stdout(o), stderr(o));
    stdout(o)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The fixture's group (its P1 alerts) with one more firing alert (a new fingerprint): each post is
/// recorded.
fn alert(n: usize, tag: &str) -> Vec<u8> {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../incident-core/tests/fixtures/alertmanager/firing-mixed.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).expect("fixture")).expect("json");
    // Its first three alerts classify P1 (the others P0 and P2): declared P1, raised by hand later.
    doc["alerts"].as_array_mut().expect("alerts").truncate(3);
    // A group of this run only (a shared PostgreSQL database keeps other runs' incidents).
    doc["groupKey"] = format!("{}/{tag}", doc["groupKey"].as_str().expect("group key")).into();
    if n > 0 {
        let mut extra = doc["alerts"][0].clone();
        extra["fingerprint"] = format!("cli-extra-{n}").into();
        doc["alerts"].as_array_mut().expect("alerts").push(extra);
    }
    serde_json::to_vec(&doc).expect("json")
}

#[test]
fn a_receiver_declared_incident_is_worked_to_its_postmortem_while_alerts_keep_arriving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    work_an_incident(dir.path(), store.as_os_str(), &|_| {
        Box::new(SqliteStore::open(&store).expect("store")) as Box<dyn incident_core::store::Store>
    });
}

/// The same on the PostgreSQL team store (`INCIDENT_TEST_PG_URL`, as the CLI's other PostgreSQL tests).
#[test]
fn the_same_on_the_postgres_team_store() {
    let url = match std::env::var("INCIDENT_TEST_PG_URL") {
        Ok(v) if !v.is_empty() => v,
        _ if std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1") => return,
        _ => panic!("INCIDENT_TEST_PG_URL is not set: scripts/services start, then source its env file"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let parsed = incident_datastores::ConnectionString::parse(&url).expect("url");
    // Connected on the runtime that then reads through it (the pool's connections are its tasks).
    work_an_incident(dir.path(), url.as_ref(), &|rt| {
        Box::new(rt.block_on(incident_store::PgStore::connect(&parsed)).expect("connect"))
            as Box<dyn incident_core::store::Store>
    });
}

/// Serve on `store`, declare, work the incident with the CLI while alerts keep arriving, then check
/// the store through `open`.
#[allow(clippy::too_many_lines)] // one incident, told in order
fn work_an_incident(
    dir: &Path,
    store: &std::ffi::OsStr,
    open: &dyn Fn(&tokio::runtime::Runtime) -> Box<dyn incident_core::store::Store>,
) {
    let (hook, bodies) = common::capture_server();
    let config = dir.join("notify.toml");
    let tag = format!("{}-{}", std::process::id(), dir.file_name().and_then(|n| n.to_str()).unwrap_or("run"));
    std::fs::write(
        &config,
        format!(
            "fallback_webhook = \"bridge\"\n[webhooks.bridge]\nurl = \"http://{hook}/hook\"\nsecret = \"hook-s3cret\"\n"
        ),
    )
    .expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cadence", "off", "--store"])
        .arg(store)
        .arg("--notify-config")
        .arg(&config)
        .env_remove("INCIDENT_POLICY");
    let (child, mut err, _, addr) = common::serve_announced(cmd);
    let serve = Killed(child);
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));

    let (status, text) = common::post(&addr, "/webhook/alertmanager", None, &alert(0, &tag));
    assert!(status == 200 && text.contains(r#""outcome":"declared""#), "{status} {text}");
    let id = text.split(r#""incident":""#).nth(1).and_then(|r| r.split('"').next()).expect("incident id").to_owned();

    // The receiver keeps receiving the group while the incident is worked.
    let stop = Arc::new(AtomicBool::new(false));
    let poster = {
        let (stop, addr, tag) = (Arc::clone(&stop), addr.clone(), tag.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let (status, text) = common::post(&addr, "/webhook/alertmanager", None, &alert(n, &tag));
                assert!(status == 200 || status == 503, "{status} {text}");
                std::thread::sleep(Duration::from_millis(20));
            }
            n
        })
    };

    let list = ok(&incident(store, &["list", "--open", "--since", "1h"]));
    let line = list.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| panic!("{id} not in {list}"));
    assert!(line.contains("[P1]") && line.contains("UNACKNOWLEDGED"), "{line}");
    let out = ok(&incident(store, &["ack", &id]));
    assert!(out.starts_with(&format!("{id}: ack recorded")) && out.contains("alice: Acknowledged"), "{out}");
    let out = ok(&incident(store, &["ack", &id, "--as", "bob"]));
    assert!(out.contains("unchanged: ") && out.contains("already acknowledged by alice"), "{out}");
    ok(&incident(store, &["assign", &id, "--role", "commander", "bob"]));
    ok(&incident(store, &["assign", &id, "--role", "communications", "carol", "--as", "bob"]));
    let out = ok(&incident(store, &["-o", "json", "assign", &id, "--role", "scribe", "dave", "--as", "bob"]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["outcome"], "applied", "{json}");
    assert_eq!(json["events"][0]["kind"]["type"], "role_assigned", "{json}");
    let out = ok(&incident(store, &["severity", &id, "P0", "--reason", "all regions failing", "--as", "bob"]));
    assert!(out.contains("Severity P1 -> P0: all regions failing"), "{out}");
    // The next update says P0.
    let out = ok(&incident(store, &["update", &id, "--as", "carol", "--notify-config", &config.to_string_lossy()]));
    assert!(out.contains("internal update to #incident-") && out.contains(": succeeded"), "{out}");
    let updates: Vec<String> =
        bodies.lock().expect("lock").iter().filter(|b| b.contains("Next Update")).cloned().collect();
    assert!(updates.iter().any(|b| b.contains("Impact: P0 (all regions failing")), "{updates:?}");
    ok(&incident(store, &["status", &id, "identified", "--message", "bad deploy v2.3", "--as", "bob"]));
    ok(&incident(store, &["note", &id, "rolling back to v2.2", "--as", "dave"]));
    ok(&incident(store, &["status", &id, "monitoring", "--message", "rolled back to v2.2", "--as", "bob"]));
    ok(&incident(store, &["mitigated", &id, "--as", "bob"]));

    let show = ok(&incident(store, &["show", &id]));
    for want in [
        &format!("Incident {id}: [P0]") as &str,
        "Status: monitoring",
        "Impact: P0 (all regions failing; declared P1",
        "- Incident commander: bob",
        "- Communications lead: carol",
        "- Scribe: dave",
        "CTO",
        "next internal update: ",
        "Status identified -> monitoring: rolled back to v2.2",
    ] {
        assert!(show.contains(want), "{want:?} not in\n{show}");
    }

    let out = ok(&incident(
        store,
        &[
            "resolve",
            &id,
            "--root-cause",
            "bad config in v2.3",
            "--as",
            "bob",
            "--notify-config",
            &config.to_string_lossy(),
        ],
    ));
    assert!(out.contains("message resolved to #incident-") && out.contains(": succeeded"), "{out}");
    stop.store(true, Ordering::SeqCst);
    let posted = poster.join().expect("poster");
    let resolved: Vec<String> =
        bodies.lock().expect("lock").iter().filter(|b| b.contains("RESOLVED")).cloned().collect();
    assert!(!resolved.is_empty(), "the final message reached the webhook");
    assert!(resolved[0].contains("Root cause: bad config in v2.3"), "{}", resolved[0]);
    assert!(resolved[0].contains("Resolution: rolled back to v2.2"), "{}", resolved[0]);

    let again = incident(store, &["resolve", &id, "--root-cause", "x"]);
    assert_one_line_error(&again, 4, "resolved");

    let pm = ok(&incident(store, &["postmortem", &id]));
    for want in ["bad config in v2.3", "MTTA", "Acknowledged", "Severity P1 -> P0: all regions failing", "Scribe: dave"]
    {
        assert!(pm.contains(want), "{want:?} not in\n{pm}");
    }
    drop(serve);

    // The store: every operation once, on a verified chain, with the alerts that kept arriving.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let reader = open(&rt);
    let tl = rt.block_on(reader.timeline(&id)).expect("timeline");
    tl.verify().expect("chain");
    let inc = rt.block_on(reader.incident(&id)).expect("read").expect("incident");
    assert_eq!((inc.severity, inc.status, inc.commander.as_str()), (Severity::P0, Status::Resolved, "bob"));
    assert_eq!(inc.root_cause.as_deref(), Some("bad config in v2.3"));
    let count = |t: &str| tl.events().iter().filter(|e| e.kind.type_name() == t).count();
    for (kind, n) in [
        ("acknowledged", 1),
        ("role_assigned", 2),
        ("severity_changed", 1),
        ("status_changed", 3),
        ("note", 1),
        ("mitigated", 1),
        ("resolved", 1),
    ] {
        assert_eq!(count(kind), n, "{kind}");
    }
    assert_eq!(count("commander_assigned"), 2, "declared, then bob");
    let alerts = tl.events().iter().filter(|e| matches!(e.kind, EventKind::AlertsReceived { .. })).count();
    assert!(alerts > 1, "the group kept arriving: {alerts} alert events of {posted} posts");
    let pm_md = ok(&incident(store, &["postmortem", &id]));
    assert!(pm_md.contains(&format!("{} events", tl.len())) || pm_md.contains(tl.head_hash()), "{pm_md}");
}

#[test]
fn bad_input_gives_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.sqlite");
    assert_one_line_error(&incident(&missing, &["list"]), 1, "does not exist");
    let store = dir.path().join("incident.sqlite");
    drop(SqliteStore::open(&store).expect("create"));
    assert_eq!(ok(&incident(&store, &["list"])).trim(), "No incidents.");
    assert_one_line_error(&incident(&store, &["ack", "INC-404"]), 1, "incident INC-404 not found");
    assert_one_line_error(&incident(&store, &["show", "INC-404"]), 1, "incident INC-404 not found");
    assert_one_line_error(&incident(&store, &["postmortem", "INC-404"]), 1, "incident INC-404 not found");
    assert_one_line_error(
        &incident(&store, &["assign", "INC-404", "--role", "scribe", " "]),
        2,
        "person must not be empty",
    );
    assert_one_line_error(&incident(&store, &["ack", "INC-404", "--as", " "]), 2, "give --as PERSON");
    assert_one_line_error(&incident(&store, &["note", "INC-404", ""]), 2, "note must not be empty");
    let bad = incident(&store, &["status", "INC-404", "resolved", "--message", "x"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("identified, monitoring"), "{}", stderr(&bad));
}
