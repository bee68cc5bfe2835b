//! Evidence of a real incident from the command line, against the real test control plane (started by
//! scripts/services; kubectl as admin for setup, the CLI as the RBAC-bound service account): `incident
//! evidence capture` at the declaration, `incident serve --kubeconfig` capturing a status change made from
//! the CLI (startup line `evidence on`), `incident postmortem ID --record`, then `incident evidence
//! collect` + `verify`, which fails after tampering, naming the file.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{env_or_skip, kubectl, stderr, stdout};

/// `incident ARGS` on `store`, as `alice`.
fn incident(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env("INCIDENT_STORE", store)
        .env("USER", "alice")
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_SIGNING_KEY")
        .output()
        .expect("run incident")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stdout: {} stderr: {}", stdout(o), stderr(o));
    stdout(o)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).expect("json")
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The names of the evidence items on the incident's timeline.
fn evidence_names(store: &Path, id: &str) -> Vec<String> {
    let view = json(&incident(store, &["show", id, "-o", "json"]));
    view["timeline"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"]["type"] == "evidence_added")
        .map(|e| e["kind"]["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn evidence_is_captured_from_a_real_cluster_collected_and_verified() {
    let (Some(admin), Some(sa)) = (env_or_skip("INCIDENT_TEST_KUBECONFIG"), env_or_skip("INCIDENT_TEST_KUBECONFIG_SA"))
    else {
        return;
    };
    let ns = format!("evidence-{}", std::process::id());
    kubectl(&admin, &["create", "namespace", &ns], None);
    let deployment = format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"api","namespace":"{ns}"}},
        "spec":{{"replicas":1,"selector":{{"matchLabels":{{"app":"api"}}}},
        "template":{{"metadata":{{"labels":{{"app":"api"}}}},"spec":{{"containers":[{{"name":"api","image":"api:1"}}]}}}}}}}}"#
    );
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&deployment));

    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("incident.sqlite");
    drop(incident_store::SqliteStore::open(&store).expect("create the store"));
    let declared = json(&incident(
        &store,
        &[
            "declare",
            "--title",
            "API errors",
            "--severity",
            "P2",
            "--reporter",
            "internal",
            "--component",
            "api",
            "-o",
            "json",
        ],
    ));
    let id = declared["incident"]["id"].as_str().expect("id").to_owned();

    // By hand, at the declaration.
    let captured = json(&incident(&store, &["evidence", "capture", &id, "--kubeconfig", &sa, "-n", &ns, "-o", "json"]));
    let prefix = captured["prefix"].as_str().expect("prefix").to_owned();
    assert!(prefix.starts_with("declared-"), "{captured:#}");
    let items: Vec<&str> = captured["items"].as_array().expect("items").iter().filter_map(|v| v.as_str()).collect();
    for file in ["capture.json", "events.json", "logs.txt", "triage.json", "triage.txt"] {
        assert!(items.contains(&format!("{prefix}/{file}").as_str()), "{file} in {items:?}");
    }
    assert_eq!(captured["targets"], serde_json::json!([format!("{ns}/api")]));
    // Again: captured already.
    let again = ok(&incident(&store, &["evidence", "capture", &id, "--kubeconfig", &sa, "-n", &ns]));
    assert!(again.contains("captured already"), "{again}");
    // Without a cluster: a typed error.
    let o = incident(&store, &["evidence", "capture", &id]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("which cluster?"), "{}", stderr(&o));

    // `incident serve` with the cluster captures the status change made from the CLI.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cadence", "off", "--no-escalation", "--evidence-every", "1s"])
        .arg("--store")
        .arg(&store)
        .args(["--kubeconfig", &sa, "--evidence-namespace", &ns])
        .env_remove("INCIDENT_POLICY");
    let (child, mut err, line, _addr) = common::serve_announced(cmd);
    let serve = Killed(child);
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    assert!(line.contains("evidence on"), "{line}");
    let moved = json(&incident(&store, &["status", &id, "identified", "--message", "bad deploy api:1", "-o", "json"]));
    let seq = moved["events"][0]["seq"].as_u64().expect("seq");
    let want = format!("status_changed-{seq:04}/triage.json");
    let mut polls = 0;
    while !evidence_names(&store, &id).contains(&want) {
        polls += 1;
        assert!(polls < 200, "serve captured no {want} in 60 s: {:?}", evidence_names(&store, &id));
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(serve);

    ok(&incident(&store, &["resolve", &id, "--root-cause", "bad deploy api:1"]));
    let o = incident(&store, &["postmortem", &id, "--record"]);
    assert!(ok(&o).contains("bad deploy api:1"));
    assert!(stderr(&o).contains("recorded postmortem.md"), "{}", stderr(&o));
    let view = json(&incident(&store, &["show", &id, "-o", "json"]));
    let tasks = view["post_incident"]["tasks"].as_array().expect("tasks");
    let done = |t: &str| tasks.iter().any(|x| x["task"] == t && !x["done_at"].is_null());
    assert!(done("post_mortem"), "{tasks:?}");

    let out = dir.path().join("bundle");
    let out_s = out.to_str().expect("utf8");
    let proof = json(&incident(&store, &["evidence", "collect", &id, "--out", out_s, "-o", "json"]));
    assert_eq!(proof["kind"], "incident");
    let listed = proof["evidence"].as_array().expect("evidence").len();
    assert!(listed >= 11, "two captures and the post-mortem: {proof:#}");
    let text = ok(&incident(&store, &["evidence", "verify", out_s]));
    assert!(text.contains("evidence bundle verified") && text.contains("item(s) under evidence/"), "{text}");
    let triage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("triage.json")).expect("triage")).expect("json");
    assert!(triage["context"].is_string(), "the newest captured triage: {triage:#}");

    // Tampering: an evidence file edited.
    let logs = out.join(format!("evidence/{prefix}/logs.txt"));
    let mut bytes = std::fs::read(&logs).expect("logs");
    bytes.extend_from_slice(b"forged line\n");
    std::fs::write(&logs, bytes).expect("edit");
    let o = incident(&store, &["evidence", "verify", out_s]);
    assert_eq!(o.status.code(), Some(5), "integrity: {}", stderr(&o));
    assert!(stderr(&o).contains(&format!("evidence/{prefix}/logs.txt: SHA-256 mismatch")), "{}", stderr(&o));

    kubectl(&admin, &["delete", "namespace", &ns, "--wait=false"], None);
}
