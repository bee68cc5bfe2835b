//! `incident plan|run --aws` against a real moto server (started by `scripts/services start`): the
//! database-recovery procedure promotes a read replica in RDS while the cluster side stays simulated.

use std::io::{Read, Write};
use std::process::{Command, Output};

use incident_aws::{AwsBackends, AwsConfig, StaticCredentials};

const KEY_ID: &str = "AKIACLITEST000000001";

/// moto is shared by every test of this binary: one at a time.
static MOTO: std::sync::Mutex<()> = std::sync::Mutex::new(());
const SECRET: &str = "cliFAKEsecret/never-printed+42";

fn moto_url() -> Option<String> {
    match std::env::var("INCIDENT_TEST_MOTO_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().trim_end_matches('/').to_owned()),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => None,
        _ => panic!("INCIDENT_TEST_MOTO_URL is not set: run `scripts/services start` and load its env file"),
    }
}

fn reset(url: &str) {
    let host = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("moto");
    write!(s, "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{out}");
}

fn incident(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .args(["--aws", "--aws-region", "us-west-2", "--aws-secondary-region", "us-east-1", "--aws-endpoint-url", url])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .output()
        .expect("spawn")
}

#[test]
fn plan_and_run_a_replica_promotion_on_aws() {
    let Some(url) = moto_url() else { return };
    let _guard = MOTO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    reset(&url);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let aws = rt
        .block_on(AwsBackends::connect(AwsConfig {
            primary_region: Some("us-west-2".into()),
            secondary_region: Some("us-east-1".into()),
            endpoint_url: Some(url.clone()),
            credentials: Some(StaticCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET.into(),
                session_token: None,
            }),
            ..AwsConfig::default()
        }))
        .expect("connect");
    rt.block_on(async {
        let rds = aws.rds_client("us-east-1").expect("client");
        rds.create_db_instance()
            .db_instance_identifier("ml-platform-prod")
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .master_username("incident")
            .master_user_password("moto-accepts-anything")
            .allocated_storage(20)
            .backup_retention_period(7)
            .send()
            .await
            .expect("create primary");
        rds.create_db_instance_read_replica()
            .db_instance_identifier("ml-platform-secondary")
            .source_db_instance_identifier("ml-platform-prod")
            .send()
            .await
            .expect("create replica");
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let sim = dir.path().join("sim.json");
    let plan = dir.path().join("plan.json");
    let store = dir.path().join("j.sqlite");
    let (sim, plan, store) = (sim.to_str().expect("utf8"), plan.to_str().expect("utf8"), store.to_str().expect("utf8"));
    let params =
        ["-p", "mode=promote-read-replica", "-p", "region=us-east-1", "-p", "replica_instance=ml-platform-secondary"];
    let mut args =
        vec!["plan", "database-recovery", "--sim", sim, "--scenario", "database-failover", "--out", plan, "-o", "json"];
    args.extend(params);
    let o = incident(&url, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let promote = v["steps"].as_array().expect("steps").iter().find(|s| s["mutating"] == true).expect("mutating step");
    assert!(promote["summary"].as_str().is_some_and(|s| s.contains("promote-read-replica")), "{promote}");
    assert!(promote["before"].to_string().contains("ml-platform-prod"), "plan read live RDS state: {promote}");

    let o = incident(
        &url,
        &["run", plan, "--approve-by", "ci", "--confirm-production", "--sim", sim, "--store", store, "-o", "json"],
    );
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!out.contains(SECRET), "secret leaked");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{out}"));
    let promoted = v["steps"].as_array().expect("steps").iter().find(|s| s["changed"] == true).expect("a changed step");
    assert_eq!(promoted["status"], "succeeded", "{v}");
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(o.status.success());
}

#[test]
fn triage_of_an_eks_context_built_from_describe_cluster() {
    let Some(url) = moto_url() else { return };
    let _guard = MOTO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    reset(&url);
    // moto's EKS API in us-east-1 (routed by the credential scope; the signature is not checked).
    let host = url.trim_start_matches("http://");
    let body = r#"{"name":"ml-secondary","roleArn":"arn:aws:iam::123456789012:role/eks","resourcesVpcConfig":{}}"#;
    let mut s = std::net::TcpStream::connect(host).expect("moto");
    write!(
        s,
        "POST /clusters HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={KEY_ID}/20260101/us-east-1/eks/aws4_request, \
         SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{out}");

    // The context is served from DescribeCluster; moto's made-up endpoint is unreachable from here, so
    // triage is a partial report that names the EKS context and endpoint for every missing section.
    let out = incident(&url, &["triage", "--eks", "ml-platform-secondary=us-east-1/ml-secondary", "-o", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    let text = report.to_string();
    assert!(
        text.contains("EKS context ml-platform-secondary (cluster ml-secondary in us-east-1) at https://"),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !stderr.contains(SECRET));

    let out = incident(&url, &["triage", "--eks", "ml-platform-secondary=us-east-1/no-such-cluster"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("EKS context ml-platform-secondary (cluster no-such-cluster in us-east-1): "), "{stderr}");

    // --eks without --aws is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["triage", "--eks", "us-east-1/ml-secondary"])
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--aws"));
}
