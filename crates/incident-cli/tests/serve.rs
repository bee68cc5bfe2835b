//! `incident serve`: a real process on loopback declares from a webhook into its SQLite store, stops
//! gracefully on SIGTERM, and refuses an unauthenticated non-loopback address.

use std::io::{BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

fn incident() -> Command {
    Command::new(env!("CARGO_BIN_EXE_incident"))
}

/// `incident serve --listen 127.0.0.1:0 ARGS` (no notification provider from the environment): the
/// process, its stderr after the first line, that line, and the address it listens on.
fn serve(args: &[&std::ffi::OsStr]) -> (std::process::Child, BufReader<std::process::ChildStderr>, String, String) {
    serve_with(incident(), args)
}

/// As [`serve`], through `cmd` (the `incident` binary, or a shell that execs it).
fn serve_with(
    mut cmd: Command,
    args: &[&std::ffi::OsStr],
) -> (std::process::Child, BufReader<std::process::ChildStderr>, String, String) {
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("INCIDENT_SLACK_TOKEN")
        .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
        .env_remove("INCIDENT_STATUSPAGE_API_KEY")
        .env_remove("INCIDENT_WEBHOOK_URL");
    common::serve_announced(cmd)
}

#[test]
fn serve_declares_from_a_webhook_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "cli-t0ken\n").expect("token");
    let store = dir.path().join("incident.sqlite");
    let (mut child, mut stderr, line, addr) =
        serve(&["--store".as_ref(), store.as_os_str(), "--token-file".as_ref(), token.as_os_str()]);
    assert!(line.contains("auth on"), "{line}");
    assert!(line.contains("escalation on; post-incident on;"), "{line}");

    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../incident-core/tests/fixtures/alertmanager/firing-mixed.json");
    let body = std::fs::read(fixture).expect("fixture");
    let (status, text) = common::post(&addr, "/webhook/alertmanager", Some("cli-t0ken"), &body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""outcome":"declared""#), "{text}");
    let (status, text) = common::post(&addr, "/webhook/alertmanager", Some("cli-t0ken"), &body);
    assert!(status == 200 && text.contains(r#""outcome":"duplicate""#), "{status} {text}");
    let (status, _) = common::post(&addr, "/webhook/alertmanager", Some("wrong"), &body);
    assert_eq!(status, 401);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rest");
    assert!(rest.contains("incident serve: stopped"), "{rest}");

    // `incident ingest` shows the decision the receiver made, from the same core rule.
    let out = incident()
        .args(["ingest", "alertmanager"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../incident-core/tests/fixtures/alertmanager/firing-mixed.json"),
        )
        .output()
        .expect("ingest");
    assert!(String::from_utf8_lossy(&out.stdout).contains("declare an incident"), "{out:?}");
    assert!(store.exists());
}

/// `incident serve` runs the post-incident driver: an incident resolved 25 hours ago (wall clock) with
/// its tasks open gets one reminder per open task through the notifiers, on its timeline; a second
/// `serve` on the same store repeats none.
#[test]
fn serve_reminds_overdue_post_incident_tasks_once() {
    use incident_core::clock::{Clock as _, ManualClock, SystemClock};
    use incident_core::incident::{DeclareRequest, Incident};
    use incident_core::lifecycle::{Incidents, ResolveRequest};
    use incident_core::postincident::{PostIncident, REMINDER_KIND};
    use incident_core::store::Store as _;
    use incident_core::timeline::{EventKind, Outcome};
    use incident_store::SqliteStore;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let resolved_at = SystemClock.now() - chrono::TimeDelta::hours(25);
    let id = rt.block_on(async {
        let db = std::sync::Arc::new(SqliteStore::open(&store).expect("store"));
        let req = DeclareRequest {
            id: "INC-PI".into(),
            title: "Inference API errors".into(),
            severity: incident_core::Severity::P1,
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
        let at = resolved_at - chrono::TimeDelta::hours(1);
        let (inc, tl) = Incident::declare(req, &incident_core::Policy::default(), at).expect("declare");
        db.save_incident(&inc).await.expect("save");
        db.append_events(&inc.id, tl.events()).await.expect("events");
        // Resolved without notifiers: no ticket, no invite; every post-incident task open.
        let clock = std::sync::Arc::new(ManualClock::new(resolved_at));
        let incidents = Incidents::new(db, clock, incident_core::Policy::default());
        incidents.resolve(&inc.id, &ResolveRequest::new("bad config"), "alice").await.expect("resolve");
        inc.id
    });
    let (hook, bodies) = common::capture_server();
    let config = dir.path().join("notify.toml");
    std::fs::write(
        &config,
        format!(
            "fallback_webhook = \"bridge\"\n[webhooks.bridge]\nurl = \"http://{hook}/hook\"\nsecret = \"hook-s3cret\"\n"
        ),
    )
    .expect("config");
    let reminders = |tl: &incident_core::timeline::Timeline| -> Vec<(String, Outcome)> {
        tl.events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageSent { kind, outcome, .. } if kind.starts_with(REMINDER_KIND) => {
                    Some((kind.clone(), *outcome))
                }
                _ => None,
            })
            .collect()
    };
    let reader = SqliteStore::open(&store).expect("store");
    // The post-incident tasks still open.
    let open = |reader: &SqliteStore| {
        let inc = rt.block_on(reader.incident(&id)).expect("load").expect("stored");
        let tl = rt.block_on(reader.timeline(&id)).expect("timeline");
        let post = PostIncident::of(&inc, &tl, &incident_core::Policy::default().post_incident).expect("resolved");
        post.open().len()
    };
    let mut first = Vec::new();
    for round in 0..2 {
        let (mut child, mut log, line, _) = serve(&[
            "--store".as_ref(),
            store.as_os_str(),
            "--notify-config".as_ref(),
            config.as_os_str(),
            "--cadence".as_ref(),
            "off".as_ref(),
            "--post-incident-every".as_ref(),
            "1s".as_ref(),
        ]);
        assert!(line.contains("post-incident on"), "{line}");
        let mut polls = 0;
        let sent = loop {
            let sent = reminders(&rt.block_on(reader.timeline(&id)).expect("timeline"));
            polls += 1;
            // First: until every open task is reminded (at most 30 s); then three seconds (three ticks).
            if (round == 0 && (sent.len() >= open(&reader) || polls > 300)) || (round == 1 && polls > 30) {
                break sent;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        let mut rest = String::new();
        log.read_to_string(&mut rest).expect("log");
        if round == 0 {
            // (A driver that does a task itself, e.g. gathers timeline and metrics, leaves it unreminded.)
            assert!(sent.len() >= 2, "ticket and meeting at least: {sent:?}\n{rest}");
            assert_eq!(sent.len(), open(&reader), "a reminder per open task: {sent:?}\n{rest}");
            assert!(sent.iter().all(|(_, o)| *o == Outcome::Succeeded), "{sent:?}");
            first = sent;
        } else {
            assert_eq!(sent, first, "the restarted serve repeats none");
        }
    }
    let bodies = bodies.lock().expect("lock").clone();
    let delivered = bodies.iter().filter(|b| b.contains(REMINDER_KIND)).count();
    assert_eq!(delivered, first.len(), "{bodies:#?}");
    assert!(bodies.iter().any(|b| b.contains("Post-incident task overdue for INC-PI")), "{bodies:#?}");
}

#[test]
fn the_drivers_can_be_turned_off_and_their_polls_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    let (mut child, _, line, _) = serve(&[
        "--store".as_ref(),
        store.as_os_str(),
        "--no-escalation".as_ref(),
        "--no-post-incident".as_ref(),
        "--post-incident-every".as_ref(),
        "5m".as_ref(),
    ]);
    assert!(line.contains("escalation off; post-incident off;"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
    // A poll under a second is refused before anything listens.
    let out = incident()
        .args(["serve", "--listen", "127.0.0.1:0", "--post-incident-every", "0s", "--store"])
        .arg(&store)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("post_incident_poll must be at least 1s"), "{err}");
}

#[test]
fn serve_refuses_a_public_address_without_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = incident()
        .args(["serve", "--listen", "0.0.0.0:0", "--store"])
        .arg(dir.path().join("s.sqlite"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve 0.0.0.0:0 without authentication"), "{err}");
}

#[test]
fn a_declared_incident_announces_itself_through_the_notifiers_and_records_each_outcome() {
    use incident_core::store::Store as _;
    use incident_core::timeline::{EventKind, Outcome};
    use incident_store::SqliteStore;
    let dir = tempfile::tempdir().expect("tempdir");
    let (hook, bodies) = common::capture_server();
    // Only a webhook, as the fallback of every destination (no Slack or PagerDuty here).
    let config = dir.path().join("notify.toml");
    std::fs::write(
        &config,
        format!(
            "fallback_webhook = \"bridge\"\n[webhooks.bridge]\nurl = \"http://{hook}/hook\"\nsecret = \"hook-s3cret\"\n"
        ),
    )
    .expect("config");
    let store = dir.path().join("incident.sqlite");
    let (mut child, mut stderr, line, addr) = serve(&[
        "--cadence".as_ref(),
        "remind".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--notify-config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(line.contains("notify webhook:bridge") && line.contains("cadence remind"), "{line}");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../incident-core/tests/fixtures/alertmanager/firing-mixed.json");
    let (status, text) =
        common::post(&addr, "/webhook/alertmanager", Some(""), &std::fs::read(fixture).expect("fixture"));
    assert!(status == 200 && text.contains(r#""outcome":"declared""#), "{status} {text}");
    let id = text.split(r#""incident":""#).nth(1).and_then(|r| r.split('"').next()).expect("incident id").to_owned();

    // The channel message, the ticket and the pages go out in the background, each recorded.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let reader = SqliteStore::open(&store).expect("store");
    let mut polls = 0;
    let sent = loop {
        let timeline = rt.block_on(reader.timeline(&id)).expect("timeline");
        let sent: Vec<(String, String, Outcome)> = timeline
            .events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageSent { channel, kind, outcome, .. } => {
                    Some((channel.clone(), kind.clone(), *outcome))
                }
                _ => None,
            })
            .collect();
        polls += 1;
        if sent.iter().any(|(_, k, _)| k == "page") || polls > 300 {
            break sent;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let kinds: Vec<&str> = sent.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(&kinds[..2], ["channel_intro", "ticket"], "{sent:?}");
    assert!(kinds[2..].iter().all(|k| *k == "page") && kinds.len() > 2, "{sent:?}");
    assert!(sent.iter().all(|(_, _, o)| *o == Outcome::Succeeded), "{sent:?}");
    assert!(sent[0].0.starts_with("#incident-") && sent[2].0.starts_with("page:"), "{sent:?}");
    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(bodies.len(), sent.len(), "{bodies:?}");
    assert!(bodies[0].contains("channel_intro") && bodies[0].contains(&id), "{}", bodies[0]);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    assert!(child.wait().expect("wait").success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rest");
    assert!(!rest.contains("hook-s3cret"), "{rest}");
    // The outcomes are logged on stderr too (tracing), one line each.
    assert_eq!(rest.matches("receiver: declaration notification").count(), sent.len(), "{rest}");
}

/// `GET path` on a new connection: the status, or 0 when nothing answered within `wait`.
fn get(addr: &str, path: &str, wait: Duration) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else { return 0 };
    s.set_read_timeout(Some(wait)).expect("timeout");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Kills the `incident serve` process with this id if the test fails before stopping it.
struct KillOnPanic(u32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
        }
    }
}

fn stop(mut child: std::process::Child, mut stderr: BufReader<std::process::ChildStderr>) -> String {
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rest");
    rest
}

/// With the file-descriptor limit at 128, 150 idle sockets used to starve `/healthz` (accept failing
/// with EMFILE); the cap now stays below the limit and sheds the longest-idle connection.
#[cfg(unix)]
#[test]
fn with_128_file_descriptors_150_idle_sockets_do_not_starve_healthz() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    let mut sh = Command::new("sh");
    sh.args(["-c", r#"ulimit -n 128 && exec "$0" "$@""#]).arg(env!("CARGO_BIN_EXE_incident"));
    let (child, stderr, line, addr) = serve_with(sh, &["--store".as_ref(), store.as_os_str()]);
    let _guard = KillOnPanic(child.id());
    assert!(line.contains("sns closed"), "{line}");
    let idle: Vec<TcpStream> = (0..150).map(|_| TcpStream::connect(&addr).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(500));
    #[allow(clippy::disallowed_methods)] // wall time of a real process's answer
    let started = std::time::Instant::now();
    assert_eq!(get(&addr, "/healthz", Duration::from_secs(5)), 200, "healthz behind 150 idle sockets");
    assert!(started.elapsed() < Duration::from_secs(3), "answered in {:?}", started.elapsed());
    assert_eq!(get(&addr, "/healthz", Duration::from_secs(5)), 200, "and again");
    drop(idle);
    let rest = stop(child, stderr);
    assert!(rest.contains("max_connections=64") && rest.contains("nofile=128"), "{rest}");
}

/// The flags override the policy's `receiver` section: a 1 s idle timeout closes a keep-alive
/// connection; `--sns-topic` opens SNS to one topic.
#[test]
fn serve_flags_set_the_connection_timeouts_and_the_sns_allow_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    let (child, stderr, line, addr) = serve(&[
        "--store".as_ref(),
        store.as_os_str(),
        "--idle-timeout".as_ref(),
        "1s".as_ref(),
        "--header-timeout".as_ref(),
        "30s".as_ref(),
        "--max-connections".as_ref(),
        "100".as_ref(),
        "--sns-topic".as_ref(),
        "arn:aws:sns:us-east-1:123456789012:incident-alarms".as_ref(),
    ]);
    let _guard = KillOnPanic(child.id());
    assert!(line.contains("sns 1 topic(s)"), "{line}");
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    #[allow(clippy::disallowed_methods)] // wall time of a real process's answer
    let started = std::time::Instant::now();
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed");
    assert!(started.elapsed() < Duration::from_secs(4), "idle connection closed after {:?}", started.elapsed());
    let rest = stop(child, stderr);
    assert!(rest.contains("max_connections=100") && rest.contains("idle_timeout=1s"), "{rest}");
}
