//! Crash-point test: for every library procedure, a real `incident run` process is killed with SIGKILL at
//! every step boundary and mid-step (after the backend mutated, before the outcome was journaled); a new
//! `incident resume` process finishes the run. The simulator's operation log (persisted to its state file
//! after every mutation) must then hold exactly the mutations of an uninterrupted run: none repeated,
//! none skipped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use incident_core::sim::SimPlatform;

const POINTS: [&str; 4] = ["before-intent", "after-intent", "after-execute", "after-outcome"];

struct Case {
    scenario: &'static str,
    at: &'static str,
    procedure: &'static str,
    params: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { scenario: "bad-deploy", at: "5m", procedure: "application-rollback", params: &[] },
    Case { scenario: "bad-deploy", at: "1m", procedure: "traffic-management", params: &["replicas=10"] },
    Case {
        scenario: "database-failover",
        at: "5m",
        procedure: "database-recovery",
        params: &["mode=promote-read-replica", "region=us-east-1", "replica_instance=ml-platform-secondary"],
    },
    Case { scenario: "region-failure", at: "5m", procedure: "region-failure", params: &[] },
    Case {
        scenario: "database-corruption",
        at: "5m",
        procedure: "database-corruption",
        params: &["restore_time=2026-11-06T14:58:00Z"],
    },
];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_incident"));
    c.env_remove("INCIDENT_POLICY").env_remove("INCIDENT_FAILPOINT");
    c
}

fn ok(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Mutations through the backends, as a multiset of `target op`.
fn mutations(state: &Path) -> BTreeMap<String, usize> {
    let p = SimPlatform::open(state).expect("open sim state");
    let mut m = BTreeMap::new();
    for op in p.api_operations() {
        if op.scope == "notifier" {
            continue;
        }
        *m.entry(format!("{} {}", op.target, op.op)).or_insert(0) += 1;
    }
    m
}

fn run_args(plan: &Path, store: &Path, state: &Path) -> Vec<String> {
    [
        "run",
        plan.to_str().expect("utf8"),
        "--approve-by",
        "crash-test",
        "--confirm-production",
        "--store",
        store.to_str().expect("utf8"),
        "--sim",
        state.to_str().expect("utf8"),
        "-o",
        "json",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn sigkill_at_every_step_boundary_and_mid_step_then_resume() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut crash_points = 0;
    for case in CASES {
        let dir = tmp.path().join(case.procedure);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let pristine = dir.join("pristine.json");
        let plan = dir.join("plan.json");
        let mut cmd = bin();
        cmd.args(["plan", case.procedure, "--scenario", case.scenario, "--at", case.at, "--sim"])
            .arg(&pristine)
            .arg("--out")
            .arg(&plan);
        for p in case.params {
            cmd.args(["--param", p]);
        }
        ok(&mut cmd);
        let plan_json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&plan).expect("plan")).expect("plan json");
        let run_id = plan_json["run_id"].as_str().expect("run_id").to_owned();
        let mutating: Vec<String> = plan_json["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["mutating"] == true)
            .map(|s| s["id"].as_str().expect("id").to_owned())
            .collect();
        assert!(!mutating.is_empty(), "{}: no mutating step", case.procedure);

        // The reference: one uninterrupted run.
        let reference_state = dir.join("reference.json");
        std::fs::copy(&pristine, &reference_state).expect("copy");
        let out = ok(bin().args(run_args(&plan, &dir.join("reference.sqlite"), &reference_state)));
        let report: serde_json::Value = serde_json::from_str(&out).expect("report");
        assert_eq!(report["status"], "succeeded", "{}: {out}", case.procedure);
        let expected = mutations(&reference_state);
        assert!(!expected.is_empty(), "{}: reference run mutated nothing", case.procedure);

        for step in &mutating {
            for point in POINTS {
                let state = dir.join(format!("{step}-{point}.json"));
                let store = dir.join(format!("{step}-{point}.sqlite"));
                std::fs::copy(&pristine, &state).expect("copy");
                let mut child = bin()
                    .args(run_args(&plan, &store, &state))
                    .env("INCIDENT_FAILPOINT", format!("{step}:{point}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn run");
                let stderr = child.stderr.take().expect("stderr");
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        if line.starts_with("FAILPOINT ") {
                            let _ = tx.send(line);
                            return;
                        }
                    }
                });
                let reached = rx.recv_timeout(Duration::from_secs(60));
                child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
                let status = child.wait().expect("wait");
                assert!(reached.is_ok(), "{}: failpoint {step}:{point} never reached (exit {status})", case.procedure);
                crash_points += 1;
                // Without --take-over the dead executor's unexpired claim on an in-flight step is
                // respected: the resume is refused and changes nothing.
                if point == "after-intent" || point == "after-execute" {
                    let refused = bin()
                        .args(["resume", &run_id, "--store"])
                        .arg(&store)
                        .arg("--sim")
                        .arg(&state)
                        .output()
                        .expect("resume");
                    assert_eq!(refused.status.code(), Some(4), "{}: {step}:{point}", case.procedure);
                    assert!(String::from_utf8_lossy(&refused.stderr).contains("--take-over"));
                }
                let out = bin()
                    .args(["resume", &run_id, "--take-over", "--store"])
                    .arg(&store)
                    .arg("--sim")
                    .arg(&state)
                    .args(["-o", "json"])
                    .output()
                    .expect("resume");
                assert!(
                    out.status.success(),
                    "{}: resume after {step}:{point} failed: {}{}",
                    case.procedure,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                let got = mutations(&state);
                assert_eq!(
                    got, expected,
                    "{}: after SIGKILL at {step}:{point} and resume, the mutations differ from an uninterrupted run",
                    case.procedure
                );
            }
        }
    }
    eprintln!("crash points explored: {crash_points}");
    assert!(crash_points >= 20, "only {crash_points} crash points");
}
