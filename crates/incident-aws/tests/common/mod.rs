//! Shared fixtures of the moto-backed tests: the server URL (or a clear failure), a per-binary lock so
//! tests sharing the server run one at a time, reset between tests, seeding helpers, and the fake secret
//! the redaction checks search for.
#![allow(dead_code)]

use std::sync::Arc;

use incident_aws::{AwsBackends, AwsConfig, StaticCredentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, MutexGuard};

/// The fake secret access key every test connects with; no output may ever contain it.
pub(crate) const SECRET: &str = "incidentFAKEsecretKEY/do-not-leak+0123456789";
/// The fake access key id (scrubbed from messages too).
pub(crate) const KEY_ID: &str = "AKIAINCIDENTTEST0001";
/// The primary and secondary regions of the runbook.
pub(crate) const PRIMARY: &str = "us-west-2";
/// Secondary region.
pub(crate) const SECONDARY: &str = "us-east-1";
/// moto's account id.
pub(crate) const ACCOUNT: &str = "123456789012";

static LOCK: Mutex<()> = Mutex::const_new(());

/// A reset moto server, held exclusively by one test of this binary.
pub(crate) struct Moto {
    /// Base URL.
    pub url: String,
    /// The adapter under test, connected to moto with the fake credentials.
    pub aws: AwsBackends,
    _guard: MutexGuard<'static, ()>,
}

/// The moto URL from `INCIDENT_TEST_MOTO_URL`; `None` (test skipped) only with `INCIDENT_SKIP_SERVICES=1`.
pub(crate) fn moto_url() -> Option<String> {
    match std::env::var("INCIDENT_TEST_MOTO_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().trim_end_matches('/').to_owned()),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("INCIDENT_SKIP_SERVICES=1: skipping a moto-backed test");
            None
        }
        _ => panic!(
            "INCIDENT_TEST_MOTO_URL is not set. Start moto with `scripts/services start` and load \
             `. \"$(scripts/services env)\"` (scripts/test does both), or set INCIDENT_SKIP_SERVICES=1 to skip \
             the moto-backed tests."
        ),
    }
}

/// `AwsConfig` for moto with the fake credentials.
pub(crate) fn config(url: &str) -> AwsConfig {
    AwsConfig {
        primary_region: Some(PRIMARY.into()),
        secondary_region: Some(SECONDARY.into()),
        endpoint_url: Some(url.into()),
        profile: None,
        credentials: Some(StaticCredentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: None,
        }),
        attempt_timeout: Some(std::time::Duration::from_secs(20)),
    }
}

/// `POST /moto-api/reset`.
pub(crate) async fn reset(url: &str) {
    let host = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap_or_else(|e| panic!("moto at {url}: {e}"));
    let req =
        format!("POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write reset");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read reset");
    let head = String::from_utf8_lossy(&buf);
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "moto reset: {head}");
}

/// Lock, reset and connect; `None` when moto tests are skipped.
pub(crate) async fn moto() -> Option<Moto> {
    let url = moto_url()?;
    let guard = LOCK.lock().await;
    reset(&url).await;
    let aws = AwsBackends::connect(config(&url)).await.expect("connect to moto");
    Some(Moto { url, aws, _guard: guard })
}

/// Create a PostgreSQL instance with 7 days of backups.
pub(crate) async fn create_db(aws: &AwsBackends, region: &str, id: &str) {
    aws.rds_client(region)
        .expect("client")
        .create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .master_username("incident")
        .master_user_password("moto-accepts-anything")
        .allocated_storage(20)
        .backup_retention_period(7)
        .send()
        .await
        .expect("create_db_instance");
}

/// Create a (cross-region when `source_region != region`) read replica of `source`.
pub(crate) async fn create_replica(aws: &AwsBackends, region: &str, id: &str, source_region: &str, source: &str) {
    let src = if source_region == region {
        source.to_owned()
    } else {
        format!("arn:aws:rds:{source_region}:{ACCOUNT}:db:{source}")
    };
    aws.rds_client(region)
        .expect("client")
        .create_db_instance_read_replica()
        .db_instance_identifier(id)
        .source_db_instance_identifier(src)
        .send()
        .await
        .expect("create_db_instance_read_replica");
}

/// Create a manual snapshot.
pub(crate) async fn create_snapshot(aws: &AwsBackends, region: &str, instance: &str, id: &str) {
    aws.rds_client(region)
        .expect("client")
        .create_db_snapshot()
        .db_instance_identifier(instance)
        .db_snapshot_identifier(id)
        .send()
        .await
        .expect("create_db_snapshot");
}

/// Create hosted zone `name`; returns its bare id.
pub(crate) async fn create_zone(aws: &AwsBackends, name: &str) -> String {
    let out = aws
        .route53_client()
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("incident-aws-test-{name}"))
        .send()
        .await
        .expect("create_hosted_zone");
    out.hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_owned()
}

/// Whether moto considers `id` standalone: moto keeps `ReadReplicaSourceDBInstanceIdentifier` after a
/// promotion (its "loose promote"), but refuses StopDBInstance for replicas only.
pub(crate) async fn is_standalone_in_moto(aws: &AwsBackends, region: &str, id: &str) -> bool {
    let rds = aws.rds_client(region).expect("client");
    let stopped = rds.stop_db_instance().db_instance_identifier(id).send().await.is_ok();
    if stopped {
        rds.start_db_instance().db_instance_identifier(id).send().await.expect("start again");
    }
    stopped
}

/// Assert that none of `outputs` contains the fake secret (or the access key id).
pub(crate) fn assert_no_secret<'a>(outputs: impl IntoIterator<Item = (&'a str, String)>) {
    let mut n = 0;
    for (what, text) in outputs {
        n += 1;
        assert!(!text.contains(SECRET), "{what} contains the secret access key:\n{text}");
        assert!(!text.contains(KEY_ID), "{what} contains the access key id:\n{text}");
    }
    assert!(n > 0, "no outputs were searched");
}

/// Keep an `Arc` around for `Backends`.
pub(crate) fn arc<T>(v: T) -> Arc<T> {
    Arc::new(v)
}

/// The simulator's clusters/HTTP/probes/notifier/clock (in `TimeMode::Jump`, so virtual sleeps return
/// at once on a real runtime) with RDS, Route53 and STS/Health from `aws`.
pub(crate) fn backends(
    aws: &AwsBackends,
    scenario: &str,
) -> (incident_core::sim::SimPlatform, incident_core::backend::Backends) {
    use incident_core::sim::{Scenario, SimPlatform, TimeMode};
    let platform = SimPlatform::from_scenario(&Scenario::builtin(scenario).expect("scenario")).expect("platform");
    platform.set_time_mode(TimeMode::Jump);
    let mut b = platform.backends();
    b.databases = aws.databases();
    b.dns = aws.dns();
    b.cloud = aws.cloud();
    (platform, b)
}

/// An AWS Health client answering from `aws-smithy-mocks` rules (moto has no Health API).
/// `mock_client!` needs `with_test_defaults_v2`, absent from the SDK versions compatible with our MSRV, so
/// this builds the same thing: sequential rules, test credentials, the standard retry policy with a 1 ms
/// initial backoff.
pub(crate) fn health_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_health::Client {
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::Sequential);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_health::Config::builder()
        .with_test_defaults()
        .region(aws_sdk_health::config::Region::new("us-east-1"))
        .retry_config(
            aws_sdk_health::config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_health::Client::from_conf(conf)
}
