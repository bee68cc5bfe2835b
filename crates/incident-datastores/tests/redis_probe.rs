//! The Redis probe against a real Redis 7 (`scripts/services start`), and against a port with nothing
//! listening ("Redis down").

mod common;

use std::time::Duration;

use common::finding;
use incident_core::backend::DatastoreProbe;
use incident_datastores::{RedisProbe, RedisProbeConfig, RedisUrl};

/// A loopback port with nothing listening (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn healthy_redis() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let p = RedisProbe::with_defaults(url);
    assert_eq!(p.name(), "redis");
    let r = p.probe().await.expect("probe");
    assert!(r.healthy, "{r:#?}");
    assert!(r.latency_ms.is_some_and(|l| l < 1000.0));
    let checks: Vec<&str> = r.findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(checks, ["ping", "memory", "clients", "replication"]);
    assert!(finding(&r, "ping").detail.starts_with("PONG in "), "{r:#?}");
    assert!(finding(&r, "memory").detail.contains("/ maxmemory 64.0MiB"), "{r:#?}");
    assert!(finding(&r, "clients").detail.contains("/10000 clients"), "{r:#?}");
    assert!(finding(&r, "replication").detail.starts_with("role master, 0 replica(s)"), "{r:#?}");
}

#[tokio::test]
async fn redis_down_is_an_unhealthy_report_with_the_reason() {
    let url = RedisUrl::parse(&format!("redis://127.0.0.1:{}", dead_port())).expect("url");
    let r = RedisProbe::with_defaults(url.clone()).probe().await.expect("a report, not an error");
    assert!(!r.healthy);
    assert_eq!(r.latency_ms, None);
    assert_eq!(r.findings.len(), 1);
    let f = finding(&r, "connect");
    assert_eq!(f.detail, format!("redis {url}: connect: connection refused"));
}

#[tokio::test]
async fn wrong_password_and_missing_password() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let wrong = RedisUrl::parse(&format!("redis://:not-the-password@{}:{}", url.host(), url.port())).expect("url");
    let r = RedisProbe::with_defaults(wrong).probe().await.expect("report");
    assert!(!r.healthy);
    let f = finding(&r, "connect");
    assert!(f.detail.contains("authentication failed: WRONGPASS"), "{f:?}");
    assert!(!f.detail.contains("not-the-password"), "{f:?}");

    let none = RedisUrl::parse(&format!("redis://{}:{}", url.host(), url.port())).expect("url");
    let r = RedisProbe::with_defaults(none).probe().await.expect("report");
    assert!(finding(&r, "connect").detail.contains("NOAUTH"), "{r:#?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts the connection but never replies.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accept = async {
        let conn = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(conn);
    };
    let mut cfg = RedisProbeConfig::new(RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).expect("url"));
    cfg.timeout = Duration::from_millis(300);
    let probe = RedisProbe::new(cfg);
    let (r, ()) = tokio::join!(probe.probe(), accept);
    let r = r.expect("report");
    assert!(!r.healthy);
    assert!(finding(&r, "connect").detail.ends_with("no answer within 300 ms"), "{r:#?}");
}
