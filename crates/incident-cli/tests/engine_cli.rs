//! `incident procedure|plan|run|triage|drill|evidence` on the simulator, as a user runs them.

use std::process::{Command, Output};

fn incident(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .env_remove("INCIDENT_FAILPOINT")
        .output()
        .expect("spawn")
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

const CUSTOM: &str = r"
name: scale-and-break
description: our own composition of two runbook steps
steps:
  - id: scale
    stage: mitigation
    kind: {type: action, action: scale_deployment, context: ml-platform-primary, namespace: ml-platform, name: ml-inference-api, replicas: 6}
  - id: breaker
    stage: mitigation
    depends_on: [scale]
    kind: {type: action, action: annotate_service, context: ml-platform-primary, namespace: ml-platform, name: ml-inference-api, key: circuit-breaker, value: enabled}
";

#[test]
fn a_user_composed_procedure_validates_plans_and_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("custom.yaml");
    std::fs::write(&file, CUSTOM).expect("write");
    let f = file.to_str().expect("utf8");
    let v = json(&incident(&["procedure", "validate", f, "-o", "json"]));
    assert_eq!(v["steps"], 2);

    let sim = dir.path().join("sim.json");
    let plan = dir.path().join("plan.json");
    let (sim, plan) = (sim.to_str().expect("utf8"), plan.to_str().expect("utf8"));
    let v = json(&incident(&["plan", f, "--sim", sim, "--at", "1m", "--out", plan, "-o", "json"]));
    assert_eq!(v["steps"][0]["before"]["replicas"], 3, "{v}");
    assert_eq!(v["steps"][0]["after"]["replicas"], 6);
    assert!(v["steps"][0]["inverse"].is_object(), "the inverse is captured at plan time");

    // Execution needs an explicit approval, and production needs its confirmation.
    let o = incident(&["run", plan, "--sim", sim, "--store", &format!("{}/j.sqlite", dir.path().display())]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--approve-by"));

    let store = format!("{}/j.sqlite", dir.path().display());
    let v = json(&incident(&["run", plan, "--approve-by", "alice", "--sim", sim, "--store", &store, "-o", "json"]));
    assert_eq!(v["status"], "succeeded", "{v}");
}

#[test]
fn a_cyclic_procedure_is_refused_naming_the_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cycle.yaml");
    let cyclic = CUSTOM.replace(
        "  - id: scale\n    stage: mitigation\n",
        "  - id: scale\n    stage: mitigation\n    depends_on: [breaker]\n",
    );
    std::fs::write(&file, cyclic).expect("write");
    let o = incident(&["procedure", "validate", file.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cycle") && (err.contains("scale") || err.contains("breaker")), "{err}");
}

#[test]
fn guard_rails_refuse_before_anything_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[guard_rails]\nmax_replicas = 5\n").expect("write");
    let sim = dir.path().join("sim.json");
    let sim = sim.to_str().expect("utf8");
    let p = policy.to_str().expect("utf8");
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().expect("utf8");
    let v = json(&incident(&[
        "--policy",
        p,
        "plan",
        "traffic-management",
        "-p",
        "replicas=10",
        "--sim",
        sim,
        "--at",
        "1m",
        "--out",
        plan,
        "-o",
        "json",
    ]));
    assert!(v["findings"].as_array().is_some_and(|f| f.iter().any(|f| f["level"] == "refused")), "{v}");
    let store = format!("{}/j.sqlite", dir.path().display());
    let o = incident(&[
        "--policy",
        p,
        "run",
        plan,
        "--approve-by",
        "alice",
        "--confirm-production",
        "--sim",
        sim,
        "--store",
        &store,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("max_replicas"), "{}", String::from_utf8_lossy(&o.stderr));
    // Nothing was mutated.
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sim).expect("state")).expect("json");
    let ops = state.to_string();
    assert!(!ops.contains("3->10"), "a refused plan scaled the deployment");
}

#[test]
fn triage_on_the_simulator_finds_the_crash_loop_and_its_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = dir.path().join("sim.json");
    let v = json(&incident(&["triage", "--sim", sim.to_str().expect("utf8"), "--at", "5m", "-o", "json"]));
    let pods = v["unhealthy_pods"].as_array().expect("pods");
    assert!(pods.iter().any(|p| p["reason"] == "CrashLoopBackOff"), "{pods:?}");
    let dep = &v["degraded_deployments"][0];
    assert_eq!(dep["deployment"]["name"], "ml-inference-api");
    let images: Vec<String> =
        dep["history"].as_array().expect("history").iter().map(|r| r["images"].to_string()).collect();
    assert!(images.iter().any(|i| i.contains("v2.1.0")) && images.iter().any(|i| i.contains("v2.0.3")), "{images:?}");
    assert!(v["logs"].as_array().expect("logs").iter().any(|l| l["error_lines"].as_u64() > Some(0)));
    let text = incident(&["triage", "--sim", sim.to_str().expect("utf8")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("CrashLoopBackOff"));
}

#[test]
fn drill_output_is_evidence_and_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("drill");
    let out_s = out.to_str().expect("utf8");
    let o = incident(&["drill", "bad-deploy", "--yes", "--quiet", "--out", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["postmortem.md", "timeline.json", "journal.sqlite", "manifest.sha256", "run.json"] {
        assert!(out.join(f).metadata().is_ok_and(|m| m.len() > 0), "{f} missing");
    }
    assert!(incident(&["evidence", "verify", out_s]).status.success());
    let pm = incident(&["postmortem", out_s]);
    assert!(String::from_utf8_lossy(&pm.stdout).starts_with("# Post-Mortem"));

    // Edit one byte of the post-mortem: the manifest catches it.
    let md = out.join("postmortem.md");
    let text = std::fs::read_to_string(&md).expect("md").replacen("P1", "P2", 1);
    std::fs::write(&md, text).expect("write");
    let o = incident(&["evidence", "verify", out_s]);
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stderr).contains("postmortem.md: SHA-256 mismatch"));
}

#[test]
fn deprecated_scenario_and_procedure_names_still_work() {
    let shown = |name: &str| incident(&["procedure", "show", name]);
    let (old, new) = (shown("regional-failover"), shown("region-failure"));
    assert!(old.status.success(), "{}", String::from_utf8_lossy(&old.stderr));
    assert_eq!(String::from_utf8_lossy(&old.stdout), String::from_utf8_lossy(&new.stdout));
    assert!(String::from_utf8_lossy(&new.stdout).starts_with("procedure region-failure"));

    let dir = tempfile::tempdir().expect("tempdir");
    let triage = |scenario: &str| {
        let sim = dir.path().join(format!("{scenario}.json"));
        json(&incident(&[
            "triage",
            "--sim",
            sim.to_str().expect("utf8"),
            "--scenario",
            scenario,
            "--at",
            "5m",
            "-o",
            "json",
        ]))
    };
    assert_eq!(triage("db-corruption"), triage("database-corruption"));
}

#[test]
fn drill_without_approval_on_a_pipe_declines_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("d");
    let o = incident(&["drill", "bad-deploy", "--quiet", "--out", out.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("plan declined"));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_not_with_a_panic() {
    use std::io::Read;
    // ~100 KB of output: more than a pipe holds, so the writer is still writing when the reader goes away.
    let mut child = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["drills", "next", "-n", "1000", "--from", "2027-01-01T00:00:00Z", "-o", "json"])
        .env_remove("INCIDENT_POLICY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("first byte");
    drop(stdout); // like `| head -c1`
    let out = child.wait_with_output().expect("wait");
    assert_eq!(&first, b"[");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
