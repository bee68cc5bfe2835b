//! `incident drills checklist --run` on real systems (started by `scripts/services start`): the test
//! control plane as the RBAC-bound service account, moto's RDS and STS, PostgreSQL 15 and Redis 7, and
//! loopback HTTP endpoints standing in for the service, its workflow and the monitoring stack. Every
//! item passes with evidence; then a missing backup and a stopped monitoring endpoint fail the checklist
//! naming those two items (exit 4), and the rest still pass.

use std::process::{Command, Output};

use incident_aws::{AwsBackends, AwsConfig, StaticCredentials};

mod common;
use common::{capture_server, env_or_skip, kubectl};

const KEY_ID: &str = "AKIACHECKLIST0000001";
const SECRET: &str = "checklistFAKEsecret/never-printed+7";

/// A loopback URL nothing listens on (a stopped Alertmanager).
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/-/ready")
}

fn checklist(policy: &std::path::Path, sa: &str, moto: &str, pg: &str, redis: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["drills", "checklist", "--run", "--kubeconfig", sa, "--postgres", pg, "--redis", redis])
        .args(["--aws", "--aws-region", "us-west-2", "--aws-endpoint-url", moto, "-o", "json", "--policy"])
        .arg(policy)
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
        .env_remove("INCIDENT_POLICY")
        .output()
        .expect("run incident")
}

fn policy(ns: &str, web: &str, monitoring: &str, instance: &str) -> String {
    format!(
        r#"
# The test database has none of the runbook's tables (transactions, models).
integrity_checks = []

[checklist_targets]
context = ""
datastores = ["postgres", "redis"]
monitoring = ["{web}/-/ready", "{monitoring}"]

[checklist_targets.authentication]
aws_region = "us-west-2"
kubernetes = true

[[checklist_targets.services]]
namespace = "{ns}"
name = "api"
health_url = "{web}/health"

[[checklist_targets.workflows]]
url = "{web}/models"
max_ms = 2000

[[checklist_targets.backups]]
region = "us-west-2"
instance = "{instance}"
max_snapshot_age = "1h"
max_restore_lag = "15m"
"#
    )
}

fn item<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["items"].as_array().expect("items").iter().find(|i| i["id"] == id).expect("item")
}

#[test]
fn the_validation_checklist_on_real_systems() {
    let (Some(admin), Some(sa), Some(moto), Some(pg), Some(redis)) = (
        env_or_skip("INCIDENT_TEST_KUBECONFIG"),
        env_or_skip("INCIDENT_TEST_KUBECONFIG_SA"),
        env_or_skip("INCIDENT_TEST_MOTO_URL"),
        env_or_skip("INCIDENT_TEST_PG_URL"),
        env_or_skip("INCIDENT_TEST_REDIS_URL"),
    ) else {
        return;
    };
    let moto = moto.trim().trim_end_matches('/').to_owned();
    let id = std::process::id();
    let (ns, instance) = (format!("checklist-{id}"), format!("checklist-db-{id}"));

    // The cluster: a node, a deployment behind a service, its pods running (kwok serves their logs).
    kubectl(
        &admin,
        &["apply", "--server-side", "-f", "-"],
        Some(
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-checklist-0","annotations":{"kwok.x-k8s.io/node":"fake"}},
            "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}"#,
        ),
    );
    kubectl(&admin, &["create", "namespace", &ns], None);
    let manifests = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[
        {{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"api","namespace":"{ns}"}},
          "spec":{{"replicas":2,"selector":{{"matchLabels":{{"app":"api"}}}},
          "template":{{"metadata":{{"labels":{{"app":"api"}}}},"spec":{{"containers":[{{"name":"api","image":"api:1"}}]}}}}}}}},
        {{"apiVersion":"v1","kind":"Service","metadata":{{"name":"api","namespace":"{ns}"}},
          "spec":{{"selector":{{"app":"api"}},"ports":[{{"port":80}}]}}}}]}}"#
    );
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&manifests));
    kubectl(&admin, &["rollout", "status", "-n", &ns, "deployment/api", "--timeout=90s"], None);

    // RDS on moto: the instance with automated backups, and a snapshot of it.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let aws = AwsBackends::connect(AwsConfig {
            primary_region: Some("us-west-2".into()),
            endpoint_url: Some(moto.clone()),
            credentials: Some(StaticCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET.into(),
                session_token: None,
            }),
            ..AwsConfig::default()
        })
        .await
        .expect("connect");
        let rds = aws.rds_client("us-west-2").expect("client");
        rds.create_db_instance()
            .db_instance_identifier(&instance)
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .master_username("incident")
            .master_user_password("moto-accepts-anything")
            .allocated_storage(20)
            .backup_retention_period(7)
            .send()
            .await
            .expect("create instance");
        rds.create_db_snapshot()
            .db_instance_identifier(&instance)
            .db_snapshot_identifier(format!("{instance}-nightly"))
            .send()
            .await
            .expect("create snapshot");
    });

    // Answers 200 to every request: the service, its workflow and the monitoring stack.
    let web = format!("http://{}", capture_server().0);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.toml");

    // Every item passes, each with its evidence.
    std::fs::write(&file, policy(&ns, &web, &format!("{web}/alertmanager/-/ready"), &instance)).expect("write");
    let mut attempts = 0;
    let report: serde_json::Value = loop {
        // The endpoints and the first log lines can trail the rollout by a moment.
        let out = checklist(&file, &sa, &moto, &pg, &redis);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(SECRET) && !text.contains("moto-accepts-anything"), "a secret was printed: {text}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
        if out.status.success() {
            assert_eq!(v["all_passed"], true, "{v:#}");
            break v;
        }
        attempts += 1;
        assert!(attempts < 30, "the checklist did not pass in 30 s: {v:#}");
        std::thread::sleep(std::time::Duration::from_secs(1));
    };
    let evidence = |id: &str| item(&report, id)["evidence"].to_string();
    assert!(evidence("critical_services_responding").contains("api: 2 ready"), "{report:#}");
    assert!(evidence("database_connections_healthy").contains("probe postgres"), "{report:#}");
    assert!(evidence("database_connections_healthy").contains("probe redis"), "{report:#}");
    let auth = evidence("authentication_working");
    assert!(auth.contains("account 123456789012 in us-west-2"), "{auth}");
    assert!(auth.contains("authenticated as system:serviceaccount:"), "{auth}");
    assert!(evidence("logs_being_collected").contains("recent line(s) from 2 pod(s)"), "{report:#}");
    let backups = evidence("backups_running_successfully");
    assert!(backups.contains(&format!("newest snapshot of {instance}")), "{backups}");
    assert!(backups.contains("latest restorable time"), "{backups}");

    // No snapshot and a stopped Alertmanager: exactly those two items fail, named on stderr.
    std::fs::write(&file, policy(&ns, &web, &closed_url(), &format!("{instance}-gone"))).expect("write");
    let out = checklist(&file, &sa, &moto, &pg, &redis);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "validation checklist did not pass (failed: monitoring_and_alerting_operational, backups_running_successfully)"
        ),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["failed"], serde_json::json!(["monitoring_and_alerting_operational", "backups_running_successfully"]));
    let monitoring = item(&v, "monitoring_and_alerting_operational");
    assert!(monitoring["evidence"][0].as_str().is_some_and(|e| e.starts_with("ok: ")), "{monitoring}");
    assert!(monitoring["outcome"]["reason"].as_str().is_some_and(|r| r.contains("/-/ready")), "{monitoring}");

    kubectl(&admin, &["delete", "namespace", &ns, "--wait=false"], None);
}

#[test]
fn run_needs_a_platform_and_backend_flags_need_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["drills", "checklist", "--run"])
        .env_remove("INCIDENT_POLICY")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("which platform? give --sim FILE, --kube"));
    let out = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["drills", "checklist", "--kube"])
        .env_remove("INCIDENT_POLICY")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only with --run"));
}
