//! Shared helpers of the integration tests: the real services started by `scripts/services start`.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // test helpers; tests may spawn

use std::sync::atomic::{AtomicU32, Ordering};

use incident_datastores::{ConnectionString, RedisUrl};
use tokio_postgres::{Client, NoTls};

const HOWTO: &str = "start the test services first:\n\n    scripts/services start\n    . \"${INCIDENT_CACHE_DIR:-$HOME/.cache/incident-core}/services/env\"\n\n\
                     (or set INCIDENT_SKIP_SERVICES=1 to skip the tests that need PostgreSQL and Redis)";

fn skip() -> bool {
    std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1")
}

fn required(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if skip() => {
            eprintln!("skipping: {var} is not set and INCIDENT_SKIP_SERVICES=1");
            None
        }
        _ => panic!("{var} is not set: {HOWTO}"),
    }
}

/// The admin (superuser) URL of the test cluster, or `None` when skipping.
pub fn pg_admin_url() -> Option<ConnectionString> {
    required("INCIDENT_TEST_PG_URL").map(|u| ConnectionString::parse(&u).expect("INCIDENT_TEST_PG_URL parses"))
}

/// The Redis URL, or `None` when skipping.
pub fn redis_url() -> Option<RedisUrl> {
    required("INCIDENT_TEST_REDIS_URL").map(|u| RedisUrl::parse(&u).expect("INCIDENT_TEST_REDIS_URL parses"))
}

/// A plain client, its connection driven by a spawned task.
pub async fn connect(url: &ConnectionString) -> Client {
    let (client, conn) = url.config().connect(NoTls).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// `url` with another database name.
pub fn with_db(url: &ConnectionString, db: &str) -> ConnectionString {
    let mut cfg = url.config().clone();
    cfg.dbname(db);
    let mut s = String::new();
    s.push_str(&format!("host=127.0.0.1 port={} dbname={db}", cfg.get_ports().first().copied().unwrap_or(5432)));
    if let Some(u) = cfg.get_user() {
        s.push_str(&format!(" user={u}"));
    }
    if let Some(p) = cfg.get_password() {
        s.push_str(&format!(" password='{}'", String::from_utf8_lossy(p).replace('\'', "\\'")));
    }
    ConnectionString::parse(&s).expect("derived connection string")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database for one test (dropped by [`TestDb::drop_now`]).
pub struct TestDb {
    pub admin: ConnectionString,
    pub name: String,
    pub url: ConnectionString,
}

impl TestDb {
    pub async fn create(prefix: &str) -> Option<Self> {
        let admin = pg_admin_url()?;
        let name = format!("t_{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let c = connect(&admin).await;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await.expect("drop db");
        c.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create db");
        let url = with_db(&admin, &name);
        Some(Self { admin, name, url })
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    pub async fn drop_now(self) {
        let c = connect(&self.admin).await;
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

/// The finding named `check` of a report.
pub fn finding<'a>(r: &'a incident_core::backend::ProbeReport, check: &str) -> &'a incident_core::backend::Finding {
    r.findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no finding {check} in {r:#?}"))
}
