//! A seeded password must appear in no output: errors (wrong password, unreachable host), their source
//! chains, probe reports (as JSON and Debug), and the Debug of every configuration. (The PostgreSQL team
//! store's errors are checked the same way in incident-store's `tests/postgres.rs`.)

mod common;

use std::fmt::Write as _;

use incident_core::backend::DatastoreProbe;
use incident_datastores::{ConnectionString, PostgresProbe, PostgresProbeConfig, RedisProbe, RedisUrl};

const SEEDED: &str = "Zq8-seeded-Passw0rd";

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} leaks a password:\n{text}");
    }
}

/// A dead loopback port.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn postgres_passwords_appear_nowhere() {
    let Some(admin) = common::pg_admin_url() else {
        return;
    };
    let real =
        String::from_utf8_lossy(admin.config().get_password().expect("the test role has a password")).into_owned();
    let secrets = [SEEDED, real.as_str()];
    let port = admin.config().get_ports().first().copied().expect("port");
    let user = admin.config().get_user().expect("user").to_owned();
    let wrong = ConnectionString::parse(&format!("postgres://{user}:{SEEDED}@127.0.0.1:{port}/postgres")).expect("url");
    let unreachable =
        ConnectionString::parse(&format!("postgres://{user}:{SEEDED}@127.0.0.1:{}/postgres", dead_port()))
            .expect("url");

    let mut seen = String::new();
    for url in [&wrong, &unreachable, &admin] {
        let _ = writeln!(seen, "{url} {url:?} {}", url.redacted());
        let cfg = PostgresProbeConfig::new(url.clone());
        let _ = writeln!(seen, "{cfg:?}");
        let probe = PostgresProbe::new(cfg);
        let _ = writeln!(seen, "{probe:?}");
        let report = probe.probe().await.expect("a report");
        let _ = writeln!(seen, "{report:?}\n{}", serde_json::to_string(&report).expect("json"));
    }
    assert!(seen.contains("password authentication failed for user"), "wrong password reported:\n{seen}");
    assert!(seen.contains("connection refused"), "unreachable reported:\n{seen}");
    assert!(seen.contains(&format!("postgres://{user}:***@127.0.0.1:{port}/postgres")), "{seen}");
    assert_clean("postgres outputs", &seen, &secrets);
}

#[tokio::test]
async fn a_password_in_another_sessions_query_is_blanked() {
    let Some(db) = common::TestDb::create("redact_query").await else {
        return;
    };
    let holder = db.client().await;
    // A session stuck in a transaction whose last statement carried a password.
    holder
        .batch_execute(&format!("BEGIN; CREATE ROLE redact_me_{} PASSWORD '{SEEDED}'", std::process::id()))
        .await
        .expect("role");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut cfg = PostgresProbeConfig::new(db.url.clone());
    cfg.long_query_threshold = std::time::Duration::from_millis(100);
    let report = PostgresProbe::new(cfg).probe().await.expect("report");
    let long = common::finding(&report, "long_queries");
    assert!(!long.ok && long.detail.contains("PASSWORD '***'"), "{long:?}");
    assert_clean("long query report", &format!("{report:?}"), &[SEEDED]);
    holder.batch_execute("ROLLBACK").await.expect("rollback");
    db.drop_now().await;
}

#[tokio::test]
async fn redis_passwords_appear_nowhere() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let real = url.password().expect("the test Redis has a password").expose().clone();
    let wrong = RedisUrl::parse(&format!("redis://:{SEEDED}@{}:{}", url.host(), url.port())).expect("url");
    let unreachable = RedisUrl::parse(&format!("redis://user:{SEEDED}@127.0.0.1:{}", dead_port())).expect("url");
    let mut seen = String::new();
    for u in [&wrong, &unreachable, &url] {
        let probe = RedisProbe::with_defaults(u.clone());
        let _ = writeln!(seen, "{u} {u:?} {probe:?} {:?}", probe.config());
        let report = probe.probe().await.expect("report");
        let _ = writeln!(seen, "{report:?}\n{}", serde_json::to_string(&report).expect("json"));
    }
    assert!(seen.contains("WRONGPASS"), "{seen}");
    assert!(seen.contains("connection refused"), "{seen}");
    assert_clean("redis outputs", &seen, &[SEEDED, real.as_str()]);
}
