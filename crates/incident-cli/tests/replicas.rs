//! Issue 22's acceptance test: three `incident serve` replicas on loopback share one PostgreSQL
//! database (fresh per run) and the Slack and PagerDuty fakes. A bounded load of Alertmanager webhooks
//! is spread across the live replicas; the replica holding the drivers' lease is killed with SIGKILL,
//! later the next holder too. Then: every acknowledged (2xx) alert is in the store, no alert group has
//! two incidents, every page and update the drivers sent reached the fakes once (no PagerDuty event
//! twice, no Slack message beyond the recorded ones), and the lease moved within its bound (the
//! takeover times are printed). The policy makes P0/P1 escalate after 8 s and ask for updates every 5 s;
//! the lease lasts 3 s.
//!
//! Skipped only when `INCIDENT_SKIP_SERVICES=1` (needs PostgreSQL from `scripts/services`).
#![allow(clippy::disallowed_methods)] // real processes on the wall clock: the takeover is timed in real time

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use incident_core::ingest::group::GroupState;
use incident_core::store::Store as _;
use incident_core::timeline::{EventKind, Outcome};
use serde_json::{Value, json};

mod common;

const SLACK_TOKEN: &str = "xoxb-replicas-SLACKTOKEN";
const PD_KEY: &str = "R0UT1NGKEYREPLICAS00000000000001";
const GROUPS: usize = 15;
const LEASE_TTL: Duration = Duration::from_secs(3);

fn alert(g: usize, fp: &str) -> Vec<u8> {
    json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"Replica{g}\"}}"), "status": "firing",
        "receiver": "incident",
        "alerts": [{
            "status": "firing", "fingerprint": fp,
            "startsAt": "2026-12-07T06:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": format!("Replica{g}"), "service": format!("svc{g}"), "severity": "critical"},
            "annotations": {"value": "0.12", "summary": "errors"}
        }]
    })
    .to_string()
    .into_bytes()
}

/// One HTTP/1.1 request on a fresh connection: status and body, `None` when the replica is gone.
fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer replicas-t0ken\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()))
}

/// The replicas; SIGKILLed when the test ends early.
struct Replicas(Vec<(Child, String)>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for (c, _) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Replicas {
    fn alive(&self) -> Vec<usize> {
        (0..self.0.len()).filter(|i| !self.0[*i].1.is_empty()).collect()
    }

    /// The live replica whose `/readyz` says it holds the lease, waiting up to `within`.
    fn holder(&self, within: Duration) -> Option<usize> {
        let start = Instant::now();
        while start.elapsed() < within {
            for i in self.alive() {
                if let Some((200, body)) = request(&self.0[i].1, "GET", "/readyz", b"") {
                    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    if v["lease"]["held"] == true {
                        return Some(i);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn kill(&mut self, i: usize) {
        let (c, addr) = &mut self.0[i];
        c.kill().expect("SIGKILL");
        let _ = c.wait();
        addr.clear();
    }
}

/// `rounds` webhooks spread round-robin over the live replicas; the acknowledged `(group, fingerprint)`s.
fn load(r: &Replicas, tag: &str, rounds: usize, acked: &mut BTreeSet<(usize, String)>) {
    let alive = r.alive();
    for n in 0..rounds {
        let g = n % GROUPS;
        let fp = format!("{tag}-{n}");
        let addr = &r.0[alive[n % alive.len()]].1;
        if let Some((200, _)) = request(addr, "POST", "/webhook/alertmanager", &alert(g, &fp)) {
            acked.insert((g, fp));
        }
    }
}

#[test]
fn three_replicas_survive_losing_two_lease_holders() {
    if std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1") {
        return;
    }
    let admin = std::env::var("INCIDENT_TEST_PG_URL").expect("INCIDENT_TEST_PG_URL (scripts/services start)");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let name = format!("t_replicas_{}", std::process::id());
    let db = rt.block_on(fresh_database(&admin, &name));
    let _drop = DropDatabase { admin: admin.clone(), name };
    let dir = tempfile::tempdir().expect("tempdir");
    let (slack_addr, slack) = common::fake_server(|_| {
        (200, json!({"ok": true, "channel": {"id": "C1", "name": "incident"}, "ts": "1765000000.000100", "channels": [], "response_metadata": {"next_cursor": ""}}).to_string())
    });
    let (pd_addr, pagerduty) =
        common::fake_server(|c| (202, json!({"status": "success", "dedup_key": c.json()["dedup_key"]}).to_string()));
    let notify = dir.path().join("notify.toml");
    std::fs::write(
        &notify,
        format!(
            "[slack]\nbase_url = \"http://{slack_addr}/api\"\ntoken = \"{SLACK_TOKEN}\"\n\n[pagerduty]\nbase_url = \
             \"http://{pd_addr}\"\nrouting_key = \"{PD_KEY}\"\n"
        ),
    )
    .expect("notify config");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[severities.P0]\nresponse_time = \"8s\"\n[severities.P1]\nresponse_time = \"8s\"\n[cadence]\n\
         status_page_for = []\n[cadence.internal_update]\nP0 = \"5s\"\nP1 = \"5s\"\n",
    )
    .expect("policy");
    let token = dir.path().join("token");
    std::fs::write(&token, "replicas-t0ken\n").expect("token");

    let mut replicas = Replicas(Vec::new());
    for i in 0..3 {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
        cmd.env("INCIDENT_POLICY", &policy)
            .env_remove("INCIDENT_SLACK_TOKEN")
            .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
            .env_remove("KUBECONFIG")
            .args(["serve", "--listen", "127.0.0.1:0", "--store", &db, "--cadence", "send", "--no-post-incident"])
            .args(["--cadence-every", "1s", "--escalation-every", "1s", "--lease-ttl", "3s"])
            .args(["--replica-id", &format!("replica-{i}")])
            .arg("--token-file")
            .arg(&token)
            .arg("--notify-config")
            .arg(&notify)
            .stdout(Stdio::null());
        let (child, stderr, _line, addr) = common::serve_announced(cmd);
        // Keep draining its log so the pipe never fills.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let mut stderr = stderr;
            let _ = stderr.read_to_string(&mut sink);
        });
        replicas.0.push((child, addr));
    }

    let mut acked = BTreeSet::new();
    let first = replicas.holder(Duration::from_secs(10)).expect("a replica takes the lease");
    eprintln!("replicas: replica-{first} holds the drivers' lease");
    load(&replicas, "a", 90, &mut acked);
    std::thread::sleep(Duration::from_secs(3)); // drivers at work on the first holder
    let mut takeovers = Vec::new();
    for (round, tag) in [(1, "b"), (2, "c")] {
        let holder = replicas.holder(Duration::from_secs(10)).expect("a holder");
        let killed_at = Instant::now();
        replicas.kill(holder);
        load(&replicas, tag, 60, &mut acked);
        let next = replicas.holder(Duration::from_secs(15)).expect("another replica takes the lease over");
        let took = killed_at.elapsed();
        eprintln!(
            "replicas: round {round}: killed replica-{holder} (lease holder); replica-{next} took the lease after {took:?}"
        );
        takeovers.push(took);
        assert_ne!(next, holder);
        std::thread::sleep(Duration::from_secs(4));
    }
    // Every escalation and update due by now is sent by the last replica.
    std::thread::sleep(Duration::from_secs(10));
    let last = replicas.alive()[0];
    let term = Command::new("kill").args(["-TERM", &replicas.0[last].0.id().to_string()]).status().expect("kill");
    assert!(term.success());
    let exit = replicas.0[last].0.wait().expect("wait");
    replicas.0[last].1.clear();
    assert!(exit.success(), "SIGTERM: {exit}");

    // The lease moved within its bound: the grant's expiry plus one renewal period (and scheduling slack).
    let bound = LEASE_TTL + LEASE_TTL / 3 + Duration::from_secs(2);
    assert!(takeovers.iter().all(|t| *t <= bound), "takeovers {takeovers:?} over {bound:?}");

    // Every acknowledged alert is stored, in the one incident of its group.
    let parsed = incident_datastores::ConnectionString::parse(&db).expect("url");
    let store = rt.block_on(incident_store::PgStore::connect(&parsed)).expect("store");
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stored: BTreeSet<String> = BTreeSet::new();
    let mut sent = Vec::new();
    for incident in rt.block_on(store.incidents()).expect("incidents") {
        let tl = rt.block_on(store.timeline(&incident.id)).expect("timeline");
        if let Some(state) = GroupState::replay(&tl) {
            by_group.entry(state.key).or_default().push(incident.id.clone());
        }
        for e in tl.events() {
            match &e.kind {
                EventKind::AlertsReceived { alerts, .. } => stored.extend(alerts.iter().map(|a| a.id.clone())),
                EventKind::MessageSent { channel, kind, outcome, detail } => {
                    sent.push((incident.id.clone(), channel.clone(), kind.clone(), *outcome, detail.clone()));
                }
                _ => {}
            }
        }
    }
    let missing: Vec<_> = acked.iter().filter(|(_, fp)| !stored.iter().any(|id| id.contains(fp.as_str()))).collect();
    assert!(missing.is_empty(), "acknowledged alerts not stored: {missing:?}");
    assert_eq!(by_group.len(), GROUPS, "{by_group:?}");
    assert!(by_group.values().all(|ids| ids.len() == 1), "a group with two incidents: {by_group:?}");

    // Exactly once: every PagerDuty event (dedup key, action) reached the fake once; the escalation
    // pages were sent.
    let pd = pagerduty.lock().expect("lock").clone();
    let mut events: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &pd {
        let v = c.json();
        *events
            .entry((
                v["dedup_key"].as_str().unwrap_or_default().to_owned(),
                v["event_action"].as_str().unwrap_or_default().to_owned(),
            ))
            .or_default() += 1;
    }
    let twice: Vec<_> = events.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "PagerDuty events sent more than once: {twice:?}");
    let escalations = events.keys().filter(|(k, _)| k.contains("escalation")).count();
    let page_events = sent
        .iter()
        .filter(|(_, c, k, o, _)| {
            c.starts_with("page:") && k.starts_with("escalation_page") && *o == Outcome::Succeeded
        })
        .count();
    assert!(
        escalations > 0 && escalations == page_events,
        "{escalations} escalation pages at PagerDuty, {page_events} recorded"
    );
    // Slack: the messages recorded as sent reached it, none beyond them (a message recorded "not sent
    // again" was sent by a killed replica, or lost with it after its key was recorded).
    let posts = slack.lock().expect("lock").iter().filter(|c| c.path.contains("chat.postMessage")).count();
    let to_slack: Vec<_> =
        sent.iter().filter(|(_, c, _, o, _)| c.starts_with('#') && *o == Outcome::Succeeded).collect();
    let again = to_slack.iter().filter(|(.., d)| d.starts_with("not sent again")).count();
    let updates = to_slack.iter().filter(|(_, _, k, ..)| k == "internal_update").count();
    eprintln!(
        "replicas: {} alerts acknowledged, {} incidents; PagerDuty {} events ({escalations} escalation pages); Slack {posts} \
         messages, {} recorded ({updates} cadence updates, {again} not sent again after a takeover)",
        acked.len(),
        by_group.len(),
        pd.len(),
        to_slack.len()
    );
    assert!(updates > 0, "no cadence update was due?");
    assert!(
        posts + again >= to_slack.len() && posts <= to_slack.len(),
        "Slack got {posts}, recorded {}",
        to_slack.len()
    );
}

async fn fresh_database(admin: &str, name: &str) -> String {
    admin_sql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    admin_sql(admin, &format!("CREATE DATABASE {name}")).await;
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a postgres:// URL with a database");
    query.map_or_else(|| format!("{server}/{name}"), |q| format!("{server}/{name}?{q}"))
}

struct DropDatabase {
    admin: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(admin_sql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)));
    }
}

async fn admin_sql(admin: &str, sql: &str) {
    let parsed = incident_datastores::ConnectionString::parse(admin).expect("INCIDENT_TEST_PG_URL");
    let (client, conn) = parsed.config().connect(tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
    let mut driver = tokio::task::JoinSet::new();
    driver.spawn(conn);
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = driver.join_next().await;
}
