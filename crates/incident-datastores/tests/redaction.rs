//! A seeded password must appear in no output: errors (wrong password, unreachable host), their source
//! chains, probe reports (as JSON and Debug), and the Debug of every configuration. The PostgreSQL probe
//! and the PostgreSQL team store are checked together, in one table, in incident-store's
//! `tests/postgres.rs` (`postgres_passwords_appear_nowhere`); this file keeps what only this crate has
//! (another session's query text, Redis). The rules are `incident_core::redact`'s.

mod common;

use std::fmt::Write as _;

use incident_core::backend::DatastoreProbe;
use incident_datastores::{PostgresProbe, PostgresProbeConfig, RedisProbe, RedisUrl};

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
