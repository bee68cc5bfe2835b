//! The PostgreSQL started by `scripts/services start` (the same variable incident-datastores' tests read).
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // test helpers; tests may spawn

use incident_datastores::ConnectionString;
use tokio_postgres::{Client, NoTls};

const HOWTO: &str = "start the test services first:\n\n    scripts/services start\n    . \"${INCIDENT_CACHE_DIR:-$HOME/.cache/incident-core}/services/env\"\n\n\
                     (or set INCIDENT_SKIP_SERVICES=1 to skip the tests that need PostgreSQL)";

/// The admin (superuser) URL of the test cluster (`INCIDENT_TEST_PG_URL`), or `None` when skipping
/// (`INCIDENT_SKIP_SERVICES=1`); panics with instructions when it is missing otherwise.
pub fn pg_admin_url() -> Option<ConnectionString> {
    match std::env::var("INCIDENT_TEST_PG_URL") {
        Ok(v) if !v.is_empty() => Some(ConnectionString::parse(&v).expect("INCIDENT_TEST_PG_URL parses")),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1") => {
            eprintln!("skipping: INCIDENT_TEST_PG_URL is not set and INCIDENT_SKIP_SERVICES=1");
            None
        }
        _ => panic!("INCIDENT_TEST_PG_URL is not set: {HOWTO}"),
    }
}

/// A plain client, its connection driven by a spawned task.
pub async fn connect(url: &ConnectionString) -> Client {
    let (client, conn) = url.config().connect(NoTls).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}
