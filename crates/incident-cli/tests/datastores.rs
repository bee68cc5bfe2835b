//! The CLI against the real PostgreSQL 15 and Redis 7 started by `scripts/services start`: triage with
//! datastore health, `--store postgres://` for runs, and no password in any output.

use std::process::Command;

fn env_or_fail(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) => Some(v),
        Err(_) if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => None,
        Err(_) => panic!(
            "{name} is not set: run `scripts/services start` and `. ~/.cache/incident-core/services/env` \
             (or set INCIDENT_SKIP_SERVICES=1 to skip)"
        ),
    }
}

fn incident(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .env_remove("INCIDENT_POSTGRES_URL")
        .env_remove("INCIDENT_REDIS_URL")
        .output()
        .expect("spawn")
}

fn password_of(url: &str) -> String {
    let after_scheme = url.split("://").nth(1).expect("url");
    let userinfo = after_scheme.split('@').next().expect("userinfo");
    userinfo.split(':').nth(1).expect("password").to_owned()
}

#[test]
fn triage_reports_real_datastores_and_never_prints_passwords() {
    let (Some(pg), Some(redis)) = (env_or_fail("INCIDENT_TEST_PG_URL"), env_or_fail("INCIDENT_TEST_REDIS_URL")) else {
        return;
    };
    // The runbook's data-integrity checks (policy default) need these tables with recent rows.
    let sql = "CREATE TABLE IF NOT EXISTS transactions (id serial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
               CREATE TABLE IF NOT EXISTS models (id serial PRIMARY KEY, status text NOT NULL);
               INSERT INTO transactions DEFAULT VALUES;
               INSERT INTO models (status) VALUES ('active');";
    let psql = Command::new("psql").arg(&pg).args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql]).output().expect("psql");
    assert!(psql.status.success(), "psql: {}", String::from_utf8_lossy(&psql.stderr));
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = dir.path().join("sim.json");
    let sim = sim.to_str().expect("utf8");
    let o = incident(&["triage", "--sim", sim, "--postgres", &pg, "--redis", &redis, "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let ds = v["datastores"].as_array().expect("datastores");
    for name in ["postgres", "redis"] {
        let d = ds.iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("{name} missing: {v}"));
        assert_eq!(d["healthy"], true, "{d}");
        assert!(d["findings"].as_array().is_some_and(|f| !f.is_empty()), "{d}: real probe findings expected");
    }
    for out in [&o.stdout, &o.stderr] {
        let text = String::from_utf8_lossy(out);
        assert!(!text.contains(&password_of(&pg)), "postgres password leaked");
        assert!(!text.contains(&password_of(&redis)), "redis password leaked");
    }

    let pg_report = ds.iter().find(|d| d["name"] == "postgres").expect("pg");
    let checks: Vec<&str> =
        pg_report["findings"].as_array().expect("findings").iter().filter_map(|f| f["check"].as_str()).collect();
    assert!(
        checks.contains(&"integrity:recent_transactions") && checks.contains(&"integrity:active_models"),
        "{checks:?}"
    );

    // A policy check out of range makes the datastore unhealthy, naming the check.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "integrity_checks:\n  - name: no_models_expected\n    sql: SELECT COUNT(*) FROM models\n    max: 0\n",
    )
    .expect("write policy");
    let o = incident(&[
        "--policy",
        policy.to_str().expect("utf8"),
        "triage",
        "--sim",
        sim,
        "--postgres",
        &pg,
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let d = v["datastores"].as_array().expect("ds").iter().find(|d| d["name"] == "postgres").cloned().expect("pg");
    assert_eq!(d["healthy"], false, "{d}");
    let bad: Vec<&serde_json::Value> =
        d["findings"].as_array().expect("findings").iter().filter(|f| f["ok"] == false).collect();
    assert!(bad.iter().any(|f| f["check"] == "integrity:no_models_expected"), "{bad:?}");

    // Wrong password: a clear, redacted error.
    let bad = pg.replace(&password_of(&pg), "Wr0ng-Secret-Value");
    let o = incident(&["triage", "--sim", sim, "--postgres", &bad, "-o", "json"]);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!text.contains("Wr0ng-Secret-Value"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let d = v["datastores"].as_array().expect("ds").iter().find(|d| d["name"] == "postgres").cloned().expect("pg");
    assert_eq!(d["healthy"], false, "{d}");
}

#[test]
fn run_and_resume_with_the_postgres_team_store() {
    let Some(pg) = env_or_fail("INCIDENT_TEST_PG_URL") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = dir.path().join("sim.json");
    let plan = dir.path().join("plan.json");
    let (sim, plan) = (sim.to_str().expect("utf8"), plan.to_str().expect("utf8"));
    // A fresh schema per test run keeps runs from earlier runs out of the way.
    let o = incident(&["plan", "application-rollback", "--sim", sim, "--at", "5m", "--out", plan]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = incident(&[
        "run",
        plan,
        "--approve-by",
        "ci",
        "--confirm-production",
        "--store",
        &pg,
        "--sim",
        sim,
        "-o",
        "json",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if stderr.contains("already exists") {
        // The plan's run id is deterministic; a previous test run on the same database created it.
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(plan).expect("plan")).expect("json");
        let id = v["run_id"].as_str().expect("run id");
        let o = incident(&["resume", id, "--store", &pg, "--sim", sim, "-o", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        return;
    }
    assert!(o.status.success(), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["status"], "succeeded");
    let id = v["run_id"].as_str().expect("run id");
    // Resuming a finished run repeats nothing.
    let o = incident(&["resume", id, "--store", &pg, "--sim", sim, "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&password_of(&pg)));
}
