//! Procedure, plan, guard-rail and executor tests on mocks and a small stateful fake.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;

use super::action::check_inverse;
use super::testutil::{FakeCluster, MockSet, t0};
use super::*;
use crate::backend::{Backends, DbInstance, MockDatabases};
use crate::clock::Clock as _;
use crate::policy::{Policy, RetryPolicy};
use crate::store::{MemoryStore, RunStatus, Store};
use crate::{Error, ErrorKind, HumanDuration};

fn scale(name: &str, replicas: u32) -> StepKind {
    StepKind::Action(Action::ScaleDeployment {
        context: "ctx".into(),
        namespace: "ml-platform".into(),
        name: name.into(),
        replicas,
    })
}

fn read_only(v: &str) -> StepKind {
    StepKind::Action(Action::PatchConfigMap {
        context: "ctx".into(),
        namespace: "ml-platform".into(),
        name: "app-config".into(),
        data: [("read_only".to_owned(), Some(v.to_owned()))].into(),
    })
}

fn two_step(name: &str) -> Procedure {
    Procedure::new(name, "test")
        .step(Step::new("scale-up", "s1", scale("api", 10)))
        .step(Step::new("read-only", "s2", read_only("true")).after(["scale-up"]))
}

fn fake() -> Arc<FakeCluster> {
    FakeCluster::with(&[("api", 3), ("worker", 2)])
}

async fn setup(
    f: &Arc<FakeCluster>,
    policy: Policy,
) -> (Backends, crate::clock::ManualClock, Arc<MemoryStore>, Executor) {
    let (b, clock) =
        MockSet { cluster: Some(Arc::clone(f) as Arc<dyn crate::backend::Cluster>), ..Default::default() }.backends();
    let store = Arc::new(MemoryStore::new());
    let exec = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, policy);
    (b, clock, store, exec)
}

fn approve(plan: Plan) -> ApprovedPlan {
    plan.approve(Approval::new("alice", t0())).expect("approve")
}

// ------------------------------------------------------------------------------------------------
// Procedures
// ------------------------------------------------------------------------------------------------

#[test]
fn dag_validation_names_the_step() {
    let dup = Procedure::new("p", "").step(Step::new("a", "s", scale("api", 1))).step(Step::new(
        "a",
        "s",
        scale("worker", 1),
    ));
    assert!(dup.validate().expect_err("dup").message().contains("duplicate step id \"a\""));
    let unknown = Procedure::new("p", "").step(Step::new("a", "s", scale("api", 1)).after(["zzz"]));
    let e = unknown.validate().expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("step \"a\" depends on unknown step \"zzz\""), "{e}");
    let cycle = Procedure::new("p", "")
        .step(Step::new("a", "s", scale("api", 1)).after(["b"]))
        .step(Step::new("b", "s", scale("worker", 1)).after(["a"]));
    assert!(cycle.validate().expect_err("cycle").message().contains("cycle through step \"a\""));
    let unordered =
        Procedure::new("p", "").step(Step::new("a", "s", scale("api", 1))).step(Step::new("b", "s", scale("api", 2)));
    assert!(unordered.validate().expect_err("race").message().contains("both change"));
    let restore = Procedure::new("p", "").step(Step::new("a", "s", scale("api", 0))).step(Step::new(
        "b",
        "s",
        StepKind::Action(Action::RestoreReplicas {
            context: "ctx".into(),
            namespace: "ml-platform".into(),
            name: "worker".into(),
            recorded_by: "a".into(),
        }),
    ));
    assert!(restore.validate().expect_err("not a dep").message().contains("not one of its dependencies"));
    assert!(two_step("p").validate().is_ok());
}

#[test]
fn procedures_serialize_print_and_diff() {
    let policy = Policy::default();
    for name in library::NAMES {
        let p = library::by_name(name, &policy).expect("library");
        p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = p.to_json().expect("json");
        assert_eq!(Procedure::parse(&json).expect("parse json"), p, "{name}");
        let yaml = p.to_yaml().expect("yaml");
        assert_eq!(Procedure::parse(&yaml).expect("parse yaml"), p, "{name}");
        assert!(p.to_string().contains(&format!("procedure {name}")));
        assert!(p.diff(&p).is_empty());
    }
    let a = two_step("p");
    let mut b = a.clone();
    b.steps[0].kind = scale("api", 12);
    b.steps.push(Step::new("extra", "s3", StepKind::check(Check::CallerIdentity { region: "us-east-1".into() })));
    let d = a.diff(&b);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].starts_with("~ step scale-up:") && d[0].contains("--replicas=12"), "{d:?}");
    assert!(d[1].starts_with("+ step extra:"), "{d:?}");
    let e = Procedure::parse(
        "name: p\nsteps:\n  - id: a\n    stage: s\n    kind: {type: action, action: scale_deployment, context: c}\n",
    )
    .expect_err("missing fields");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn deprecated_procedure_names_are_aliases() {
    let policy = Policy::default();
    for (old, new) in library::DEPRECATED_NAMES {
        assert!(!library::NAMES.contains(&old) && library::NAMES.contains(&new), "{old} -> {new}");
        assert_eq!(library::canonical_name(old), new);
        let by_old = library::by_name(old, &policy).expect("alias");
        assert_eq!(by_old, library::by_name(new, &policy).expect("current"));
        assert_eq!(by_old.name, new, "built under the current name");
        let params = [("replicas".to_owned(), "12".to_owned())].into();
        let spec = library::procedure_from_spec(old, &params, &policy).expect("alias with params");
        assert_eq!(spec, library::procedure_from_spec(new, &params, &policy).expect("current with params"));
    }
    assert_eq!(library::by_name("regional-failover", &policy).expect("alias").name, "region-failure");
    assert_eq!(library::canonical_name("traffic-management"), "traffic-management");
    let e = library::by_name("no-such-procedure", &policy).expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("region-failure") && !e.message().contains("regional-failover"), "{e}");
}

#[test]
fn region_failure_keeps_independent_steps_independent() {
    let p = library::RegionFailure::default().build(&Policy::default());
    let deps = |id: &str| p.get(id).map(|s| s.depends_on.clone()).unwrap_or_default();
    assert_eq!(deps("dns-failover"), vec!["health-events", "caller-identity"]);
    assert_eq!(deps("promote-replica"), vec!["health-events", "caller-identity"]);
    assert_eq!(p.get("health-events").and_then(|s| s.deadline), Some(HumanDuration::from_mins(5)));
    assert_eq!(p.get("scale-secondary").and_then(|s| s.deadline), Some(HumanDuration::from_mins(15)));
    assert_eq!(p.get("promote-replica").and_then(|s| s.deadline), Some(HumanDuration::from_mins(30)));
    let mut durations = BTreeMap::new();
    for s in &p.steps {
        durations.insert(s.id.clone(), Duration::from_secs(1));
    }
    let (total, path) = p.critical_path(&durations);
    assert_eq!(total, Duration::from_secs(5), "{path:?}");
    assert_eq!(path.len(), 5, "{path:?}");
    assert!(path[0] == "health-events" || path[0] == "caller-identity", "{path:?}");
}

// ------------------------------------------------------------------------------------------------
// Planning
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn planning_is_read_only_and_chains_state_through_steps() {
    let f = fake();
    let (b, _, _, _) = setup(&f, Policy::default()).await;
    let p = library::DatabaseCorruption {
        context: "ctx".into(),
        write_deployments: vec!["api".into(), "worker".into()],
        ..Default::default()
    }
    .build(&Policy::default());
    // The RDS steps need databases; plan only the cluster part.
    let mut p = p;
    p.steps.retain(|s| s.stage == "stop-writes" || s.stage == "restore-writes");
    for s in &mut p.steps {
        if s.stage == "restore-writes" {
            s.depends_on = vec!["scale-api-to-zero".into(), "scale-worker-to-zero".into(), "read-only".into()];
        }
    }
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    assert!(f.scales().is_empty(), "planning must not mutate");
    let restore = plan.step("restore-api").expect("step");
    assert_eq!(restore.before, json!({"replicas": 0}), "planned from the scale-to-zero step's after");
    assert_eq!(restore.after, json!({"replicas": 3}), "restores the recorded count");
    assert!(matches!(&restore.kind, StepKind::Action(Action::ScaleDeployment { replicas: 3, .. })));
    assert_eq!(plan.step("restore-worker").map(|s| s.after.clone()), Some(json!({"replicas": 2})));
    let rw = plan.step("read-write").expect("rw");
    assert_eq!(rw.before, json!({"data": {"read_only": "true"}}));
    assert!(plan.to_string().contains("undo: kubectl --context ctx scale deployment api --replicas=3"), "{plan}");
    assert!(plan.run_id.starts_with("run-database-corruption-20261106T150000Z-"));
}

// ------------------------------------------------------------------------------------------------
// Guard rails
// ------------------------------------------------------------------------------------------------

fn every_action() -> Vec<Action> {
    let manifest = crate::backend::Manifest {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("ml-platform".into()),
        name: "x".into(),
        body: json!({}),
    };
    vec![
        Action::ScaleDeployment { context: "c".into(), namespace: "n".into(), name: "d".into(), replicas: 2 },
        Action::RestoreReplicas {
            context: "c".into(),
            namespace: "n".into(),
            name: "d".into(),
            recorded_by: "x".into(),
        },
        Action::RollbackDeployment { context: "c".into(), namespace: "n".into(), name: "d".into(), to_revision: None },
        Action::AnnotateService {
            context: "c".into(),
            namespace: "n".into(),
            name: "s".into(),
            key: "k".into(),
            value: None,
        },
        Action::LabelPod { context: "c".into(), namespace: "n".into(), pod: "p".into(), key: "k".into(), value: None },
        Action::PatchConfigMap { context: "c".into(), namespace: "n".into(), name: "m".into(), data: BTreeMap::new() },
        Action::ApplyManifests { context: "c".into(), manifests: vec![manifest.clone()] },
        Action::RevertManifests { context: "c".into(), restore: vec![manifest], delete: Vec::new() },
        Action::SwitchContext { context: "c".into() },
        Action::RdsPointInTimeRestore {
            region: "r".into(),
            source: "s".into(),
            target: "t".into(),
            restore_time: None,
        },
        Action::RdsRestoreFromSnapshot { region: "r".into(), snapshot: None, instance: "i".into(), target: "t".into() },
        Action::PromoteReadReplica { region: "r".into(), id: "i".into() },
        Action::DeleteDbInstance { region: "r".into(), id: "i".into() },
        Action::Route53Change { zone_id: "z".into(), changes: Vec::new() },
    ]
}

fn unplanned(action: Action, procedure: &str) -> Plan {
    let step = PlannedStep {
        id: "x".into(),
        stage: "s".into(),
        depends_on: Vec::new(),
        deadline: HumanDuration::from_mins(1),
        summary: action.describe(),
        mutating: action.is_mutating(),
        kind: StepKind::Action(action.clone()),
        before: json!({}),
        after: json!({}),
        inverse: None,
        fingerprint: None,
        noop: false,
        findings: Vec::new(),
    };
    let mut plan = Plan {
        run_id: "run-x".into(),
        procedure: Procedure::new(procedure, "").step(Step::new("x", "s", StepKind::Action(action))),
        created_at: t0(),
        steps: vec![step],
        findings: Vec::new(),
        needs_production_confirmation: false,
        policy_digest: Policy::default().digest(),
        digest: String::new(),
        field_digests: BTreeMap::new(),
        signature: None,
    };
    plan.seal();
    plan
}

#[tokio::test]
async fn every_action_is_refused_without_a_valid_approval() {
    for action in every_action() {
        // Backends without expectations: any backend call would panic.
        let (b, _) = MockSet::default().backends();
        let store = Arc::new(MemoryStore::new());
        let exec = Executor::new(b, Arc::clone(&store) as Arc<dyn Store>, Policy::default());
        let plan = unplanned(action.clone(), "p");
        let digest = plan.digest.clone();
        let no_one = ApprovedPlan { plan: plan.clone(), approval: Approval::new("", t0()), plan_digest: digest };
        let e = exec.run(no_one, None).await.expect_err("no approver");
        assert_eq!(e.kind(), ErrorKind::Refused, "{}: {e}", action.name());
        let mut tampered = approve(plan);
        tampered.plan.steps[0].summary.push_str(" --force");
        let e = exec.run(tampered, None).await.expect_err("tampered");
        // A plan changed after planning is refused as a precondition (exit 4), naming the field.
        assert_eq!(e.kind(), ErrorKind::PreconditionFailed, "{}: {e}", action.name());
        assert!(e.message().contains("plan field steps[0].summary changed after planning"), "{e}");
        assert!(store.runs().await.expect("runs").is_empty(), "nothing recorded for {}", action.name());
    }
}

async fn refused_by(policy: Policy, procedure: Procedure, rule: &str) {
    let f = fake();
    let (b, _, _, exec) = setup(&f, policy.clone()).await;
    let plan = procedure.plan(&b, &policy).await.expect("plan");
    assert!(plan.findings.iter().any(|g| g.rule == rule), "{rule}: {:?}", plan.findings);
    assert_eq!(plan.clone().approve(Approval::new("alice", t0())).expect_err("approve").kind(), ErrorKind::Refused);
    // Bypass `approve` to prove the executor enforces the rule itself.
    let digest = plan.digest.clone();
    let forged =
        ApprovedPlan { plan, approval: Approval::new("alice", t0()).confirm_production(), plan_digest: digest };
    let e = exec.run(forged, None).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Refused, "{rule}: {e}");
    assert!(e.message().contains(rule), "{rule}: {e}");
    assert!(f.scales().is_empty(), "{rule}: nothing may change");
}

#[tokio::test]
async fn guard_rails_are_enforced_by_the_executor() {
    let mut p = Policy::default();
    p.guard_rails.allowed_namespaces = vec!["other".into()];
    refused_by(p, two_step("p"), "allowed_namespaces").await;
    let mut p = Policy::default();
    p.guard_rails.allowed_contexts = vec!["other".into()];
    refused_by(p, two_step("p"), "allowed_contexts").await;
    let mut p = Policy::default();
    p.guard_rails.max_replicas = 5;
    refused_by(p, two_step("p"), "max_replicas").await;
    refused_by(
        Policy::default(),
        Procedure::new("traffic-management", "").step(Step::new("z", "s", scale("api", 0))),
        "scale_to_zero_procedures",
    )
    .await;
}

#[tokio::test]
async fn region_allow_list_is_enforced() {
    let mut db = MockDatabases::new();
    db.expect_instance().returning(|region, id| {
        Ok(Some(DbInstance {
            id: id.into(),
            region: region.into(),
            status: "available".into(),
            engine: "postgres".into(),
            endpoint: None,
            replica_source: Some("primary".into()),
            replicas: Vec::new(),
            latest_restorable_time: None,
            earliest_restorable_time: None,
        }))
    });
    let (b, _) = MockSet { databases: Some(db), ..Default::default() }.backends();
    let mut policy = Policy::default();
    policy.guard_rails.allowed_regions = vec!["us-west-2".into()];
    let proc_ = Procedure::new("p", "").step(Step::new(
        "promote",
        "s",
        StepKind::Action(Action::PromoteReadReplica { region: "us-east-1".into(), id: "replica".into() }),
    ));
    let plan = proc_.plan(&b, &policy).await.expect("plan");
    let digest = plan.digest.clone();
    let exec = Executor::new(b, Arc::new(MemoryStore::new()), policy);
    let e = exec
        .run(ApprovedPlan { plan, approval: Approval::new("alice", t0()), plan_digest: digest }, None)
        .await
        .expect_err("region");
    assert!(e.message().contains("allowed_regions"), "{e}");
}

#[tokio::test]
async fn scale_to_zero_is_allowed_in_the_corruption_procedure_and_production_needs_confirmation() {
    let f = fake();
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let zero = Procedure::new("database-corruption", "").step(Step::new("z", "s", scale("api", 0)));
    let plan = zero.plan(&b, &Policy::default()).await.expect("plan");
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(f.replicas_of("api"), Some(0));

    let prod = Procedure::new("p", "").step(Step::new(
        "s",
        "s",
        StepKind::Action(Action::ScaleDeployment {
            context: "prod-eu".into(),
            namespace: "ml".into(),
            // Not `api`, which is at 0 now: scaling up from 0 is refused outside database-corruption (its
            // inverse would scale to zero).
            name: "worker".into(),
            replicas: 4,
        }),
    ));
    let plan = prod.plan(&b, &Policy::default()).await.expect("plan");
    assert!(plan.needs_production_confirmation);
    let e = plan.clone().approve(Approval::new("alice", t0())).expect_err("needs confirmation");
    assert!(e.message().contains("confirm_production"), "{e}");
    let digest = plan.digest.clone();
    let forged = ApprovedPlan { plan: plan.clone(), approval: Approval::new("alice", t0()), plan_digest: digest };
    assert_eq!(exec.run(forged, None).await.expect_err("refused").kind(), ErrorKind::Refused);
    let ok = plan.approve(Approval::new("alice", t0()).confirm_production()).expect("confirmed");
    assert_eq!(exec.run(ok, None).await.expect("run").status, RunStatus::Succeeded);
}

#[tokio::test]
async fn old_and_stale_plans_must_be_replanned() {
    let f = fake();
    let (b, clock, _, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    clock.advance(TimeDelta::minutes(16));
    let e = exec.run(approve(plan), None).await.expect_err("old");
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(e.message().contains("re-plan"), "{e}");

    let plan = two_step("p2").plan(&b, &Policy::default()).await.expect("plan");
    f.replicas.lock().expect("lock").insert("api".into(), 5); // someone else scaled
    let report = exec.run(approve(plan), None).await.expect("run");
    let step = report.step("scale-up").expect("step");
    assert_eq!(step.status, StepStatus::Failed);
    assert!(step.error.as_deref().unwrap_or_default().contains("re-plan"), "{step:?}");
    assert_eq!(step.attempts, 1, "a stale plan is not retried");
    assert!(f.scales().is_empty());
    assert_eq!(report.step("read-only").map(|s| s.status), Some(StepStatus::Skipped));
}

// ------------------------------------------------------------------------------------------------
// Retries, compensation, resume
// ------------------------------------------------------------------------------------------------

#[test]
fn backoff_caps_grow_exponentially_up_to_the_maximum() {
    let r = RetryPolicy::default();
    let caps: Vec<u64> = (1..=7).map(|n| backoff_cap(&r, n).as_secs()).collect();
    assert_eq!(caps, vec![1, 2, 4, 8, 16, 30, 30]);
}

#[tokio::test]
async fn retryable_errors_are_retried_with_backoff_and_others_are_not() {
    let f = fake();
    f.scale_fail.set(2, Error::unavailable("throttled"));
    let (b, clock, _, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let before = clock.now();
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(report.step("scale-up").map(|s| s.attempts), Some(3));
    assert!(clock.now() > before, "backoff slept on the injected clock");
    assert!(clock.now() - before <= TimeDelta::seconds(3), "full jitter stays under 1s + 2s");
    assert_eq!(f.scales(), vec![("api".to_owned(), 10)]);

    let f = fake();
    f.scale_fail.set(5, Error::new(ErrorKind::PermissionDenied, "forbidden"));
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let report = exec.run(approve(plan), None).await.expect("run");
    let s = report.step("scale-up").expect("step");
    assert_eq!((s.status, s.attempts), (StepStatus::Failed, 1));
    assert_eq!(report.status, RunStatus::Compensated, "nothing changed, nothing left");
    assert!(report.left_state.is_empty());
}

#[tokio::test]
async fn a_timeout_after_sending_is_reconciled_not_repeated() {
    let f = fake();
    f.scale_fail_after_apply.set(1, Error::timeout("read timed out"));
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    let s = report.step("scale-up").expect("step");
    assert_eq!(s.attempts, 2);
    assert!(s.detail.contains("earlier attempt"), "{s:?}");
    assert_eq!(f.scales().len(), 1, "the scale call was not repeated");
}

#[tokio::test]
async fn failure_compensates_completed_steps_in_reverse_order() {
    let f = fake();
    f.patch_fail.set(9, Error::new(ErrorKind::PermissionDenied, "forbidden"));
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let p = Procedure::new("p", "")
        .step(Step::new("scale-up", "s1", scale("api", 10)))
        .step(Step::new("scale-worker", "s1", scale("worker", 4)))
        .step(Step::new("read-only", "s2", read_only("true")).after(["scale-up", "scale-worker"]))
        .step(Step::new("after", "s3", scale("api", 11)).after(["read-only"]));
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    let run_id = plan.run_id.clone();
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Compensated, "{report:#?}");
    assert!(report.left_state.is_empty(), "{:?}", report.left_state);
    assert_eq!(report.step("scale-up").map(|s| s.status), Some(StepStatus::Compensated));
    assert_eq!(report.step("read-only").map(|s| s.status), Some(StepStatus::Failed));
    assert_eq!(report.step("after").map(|s| s.status), Some(StepStatus::Skipped));
    assert_eq!((f.replicas_of("api"), f.replicas_of("worker")), (Some(3), Some(2)));
    let scales = f.scales();
    assert_eq!(scales.len(), 4);
    // Reverse completion order: whichever finished last is undone first.
    assert_eq!(scales[2].0, scales[1].0, "{scales:?}");
    assert_eq!(store.run(&run_id).await.expect("run").map(|r| r.status), Some(RunStatus::Compensated));

    // Without compensation the report lists exactly what was left.
    let f = fake();
    f.patch_fail.set(9, Error::new(ErrorKind::PermissionDenied, "forbidden"));
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let mut p = two_step("q");
    p.compensate_on_failure = false;
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.left_state.len(), 1, "{:?}", report.left_state);
    assert!(
        report.left_state[0].starts_with("scale-up: ")
            && report.left_state[0].contains(r#"{"replicas":3} -> {"replicas":10}"#)
    );
}

#[tokio::test]
async fn compensation_stops_at_a_failed_inverse_and_resume_continues_in_order() {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let p = Procedure::new("p", "")
        .step(Step::new("read-only", "s1", read_only("true")))
        .step(Step::new("scale-up", "s2", scale("api", 10)).after(["read-only"]))
        .step(Step::new("scale-worker", "s3", scale("worker", 4)).after(["scale-up"]));
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    let run_id = plan.run_id.clone();
    // scale-up succeeds, scale-worker is forbidden, and so is the first undo of scale-up.
    f.scale_fail.set_after(1, 2, Error::new(ErrorKind::PermissionDenied, "forbidden"));
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    // The older inverse (read_only back to false) did not run: undoing it before scale-up would leave a
    // state no plan describes, and a later retry of scale-up's undo would run out of order.
    assert_eq!(f.patch_calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(f.config.lock().expect("lock").get("read_only").map(String::as_str), Some("true"));
    assert_eq!(f.replicas_of("api"), Some(10));
    assert_eq!(report.left_state.len(), 2, "{:?}", report.left_state);
    assert!(report.left_state[0].starts_with("read-only: "), "{:?}", report.left_state);
    assert!(report.left_state[1].starts_with("scale-up: ") && report.left_state[1].contains("[compensation failed: "));
    let err = report.step("scale-up").and_then(|s| s.error.clone()).unwrap_or_default();
    assert!(err.contains("compensation failed: ") && err.contains("forbidden"), "{err}");

    // The permission is fixed: resume retries scale-up's undo, then read-only's, in order.
    let report = exec.resume(&run_id).await.expect("resume");
    assert_eq!(report.status, RunStatus::Compensated, "{report:#?}");
    assert!(report.left_state.is_empty(), "{:?}", report.left_state);
    assert_eq!(f.replicas_of("api"), Some(3));
    assert_eq!(f.config.lock().expect("lock").get("read_only").map(String::as_str), Some("false"));
    assert_eq!(f.scales(), vec![("api".to_owned(), 10), ("api".to_owned(), 3)]);
    assert_eq!(store.run(&run_id).await.expect("run").map(|r| r.status), Some(RunStatus::Compensated));
    // A compensated run is finished: resuming again changes nothing.
    let again = exec.resume(&run_id).await.expect("resume again");
    assert_eq!(again.status, RunStatus::Compensated);
    assert_eq!(f.scales().len(), 2);
}

async fn crash_then_resume(point: FailpointPoint) -> (Arc<FakeCluster>, RunReport, Arc<MemoryStore>) {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let run_id = plan.run_id.clone();
    let crashing = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, Policy::default())
        .with_failpoints(Failpoints::at("scale-up", point, FailpointMode::Error));
    let e = crashing.run(approve(plan), None).await.expect_err("crash");
    assert!(Failpoints::is_failpoint_error(&e), "{e}");
    let report = exec.resume(&run_id).await.expect("resume");
    (f, report, store)
}

#[tokio::test]
async fn resume_never_repeats_nor_skips_a_mutation() {
    for point in [
        FailpointPoint::BeforeIntent,
        FailpointPoint::AfterIntent,
        FailpointPoint::AfterExecute,
        FailpointPoint::AfterOutcome,
    ] {
        let (f, report, _) = crash_then_resume(point).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{point:?}: {report:#?}");
        assert_eq!(f.scales(), vec![("api".to_owned(), 10)], "{point:?}: exactly one scale call");
        assert_eq!(f.patch_calls.load(std::sync::atomic::Ordering::SeqCst), 1, "{point:?}");
        let expected =
            if point == FailpointPoint::AfterExecute { StepStatus::Reconciled } else { StepStatus::Succeeded };
        assert_eq!(report.step("scale-up").map(|s| s.status), Some(expected), "{point:?}");
    }
}

#[tokio::test]
async fn resume_of_a_finished_run_changes_nothing() {
    let (f, report, store) = crash_then_resume(FailpointPoint::AfterOutcome).await;
    let journal_len = store.journal(&report.run_id).await.expect("journal").len();
    let (b, _, _, _) = setup(&f, Policy::default()).await;
    let exec = Executor::new(b, Arc::clone(&store) as Arc<dyn Store>, Policy::default());
    let again = exec.resume(&report.run_id).await.expect("resume");
    assert_eq!(again.status, RunStatus::Succeeded);
    assert_eq!(store.journal(&report.run_id).await.expect("journal").len(), journal_len);
    assert_eq!(f.scales().len(), 1);
}

#[tokio::test]
async fn approval_gates_pause_until_approved() {
    let f = fake();
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let p = Procedure::new("p", "")
        .step(Step::new("scale-up", "s1", scale("api", 10)))
        .step(
            Step::new("gate", "s1", StepKind::Approval { reason: "look at the dashboards".into() }).after(["scale-up"]),
        )
        .step(Step::new("read-only", "s2", read_only("true")).after(["gate"]));
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    let run_id = plan.run_id.clone();
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Running);
    assert_eq!(report.step("gate").map(|s| s.status), Some(StepStatus::AwaitingApproval));
    assert_eq!(report.step("read-only").map(|s| s.status), Some(StepStatus::NotStarted));
    assert_eq!(
        exec.approve_gate(&run_id, "scale-up", "bob").await.expect_err("not a gate").kind(),
        ErrorKind::InvalidInput
    );
    exec.approve_gate(&run_id, "gate", "bob").await.expect("approve gate");
    let report = exec.resume(&run_id).await.expect("resume");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(f.scales().len(), 1);
}

// ------------------------------------------------------------------------------------------------
// Plan integrity and guard rails on inverses (issue 15)
// ------------------------------------------------------------------------------------------------

fn scale_action(name: &str, replicas: u32) -> Action {
    match scale(name, replicas) {
        StepKind::Action(a) => a,
        _ => unreachable!("scale is an action"),
    }
}

/// Set step `i`'s inverse replica count and re-seal the plan, as an attacker who recomputes the digest.
fn forge_inverse(plan: &mut Plan, i: usize, to: u32) {
    if let Some(Action::ScaleDeployment { replicas, .. }) = plan.steps[i].inverse.as_mut() {
        *replicas = to;
    }
    plan.seal();
}

#[tokio::test]
async fn an_edited_plan_is_refused_naming_the_first_changed_field() {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    plan.verify_integrity().expect("as planned");
    assert_eq!(plan.digest, plan.content_digest());
    assert_eq!(plan.policy_digest, Policy::default().digest());

    let mut edited = plan.clone();
    if let Some(Action::ScaleDeployment { replicas, .. }) = edited.steps[0].inverse.as_mut() {
        *replicas = 500;
    }
    let e = edited.verify_integrity().expect_err("edited");
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(e.message().contains("plan field steps[0].inverse changed after planning (digest mismatch)"), "{e}");
    // `approve` refuses it too, and so does the executor when handed it with a matching approval digest.
    assert_eq!(edited.clone().approve(Approval::new("alice", t0())).expect_err("approve").kind(), e.kind());
    let digest = edited.digest.clone();
    let forged = ApprovedPlan { plan: edited, approval: Approval::new("alice", t0()), plan_digest: digest };
    assert_eq!(exec.run(forged, None).await.expect_err("run").kind(), ErrorKind::PreconditionFailed);

    let mut later = plan.clone();
    later.created_at += TimeDelta::days(1);
    later.steps[1].summary.push('!');
    let e = later.verify_integrity().expect_err("created_at");
    assert!(e.message().contains("plan field created_at changed"), "{e}");

    let mut reordered = plan.clone();
    reordered.steps.swap(0, 1);
    let e = reordered.verify_integrity().expect_err("reordered");
    assert!(e.message().contains("plan field steps changed"), "{e}");

    let mut forged_map = plan.clone();
    forged_map.digest = "0".repeat(64);
    assert!(forged_map.verify_integrity().expect_err("digest").message().contains("does not match"));

    assert!(f.scales().is_empty());
    assert!(store.runs().await.expect("runs").is_empty());
}

#[tokio::test]
async fn signed_plans_are_required_when_the_executor_trusts_a_key() {
    use crate::signing::{SigningKey, Trust};
    let (key, _) = SigningKey::generate().expect("key");
    let (other, _) = SigningKey::generate().expect("key");
    let f = fake();
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let exec = exec.trusting(Trust::new([key.public_key()]));
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");

    let e = exec.run(approve(plan.clone()), None).await.expect_err("unsigned");
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(e.message().contains("is not signed"), "{e}");

    let mut by_other = plan.clone();
    by_other.sign(&other);
    assert!(exec.run(approve(by_other), None).await.expect_err("untrusted").message().contains("not trusted"));

    // Re-sealing an edited plan drops its signature; re-signing needs the key.
    let mut resealed = plan.clone();
    resealed.sign(&key);
    forge_inverse(&mut resealed, 0, 3);
    resealed.steps[0].summary.push('!');
    resealed.seal();
    assert!(resealed.signature.is_none());
    let mut stale_sig = resealed.clone();
    stale_sig.signature = {
        let mut p = plan.clone();
        p.sign(&key);
        p.signature
    };
    assert!(exec.run(approve(stale_sig), None).await.expect_err("bad").message().contains("bad signature"));
    assert!(f.scales().is_empty());

    let mut signed = plan;
    signed.sign(&key);
    assert!(signed.to_string().contains(&format!("signed by {}", key.public_key())));
    assert_eq!(exec.run(approve(signed), None).await.expect("run").status, RunStatus::Succeeded);
}

#[test]
fn an_inverse_is_checked_against_before_and_through_the_guard_rails() {
    let rails = Policy::default().guard_rails;
    let forward = scale_action("api", 10);
    let before = json!({"replicas": 3});
    let ok = check_inverse("s", &forward, &before, Some(&scale_action("api", 3)), "p", &rails);
    assert!(ok.is_empty(), "{ok:?}");
    assert_eq!(forward.inverse_for(&before), ExpectedInverse::Exactly(Some(scale_action("api", 3))));

    let wrong = check_inverse("s", &forward, &before, Some(&scale_action("api", 7)), "p", &rails);
    assert_eq!(wrong.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(), ["inverse"]);
    assert!(wrong[0].message.contains("does not restore the recorded before {\"replicas\":3}"), "{wrong:?}");
    let other = check_inverse("s", &forward, &before, Some(&scale_action("worker", 3)), "p", &rails);
    assert_eq!(other[0].rule, "inverse");
    let none = check_inverse("s", &forward, &before, None, "p", &rails);
    assert_eq!(none[0].rule, "inverse", "dropping the inverse is a change too");

    // Restoring `before` exactly is not enough: the inverse passes the same rules as a forward action.
    let big = check_inverse("s", &forward, &json!({"replicas": 500}), Some(&scale_action("api", 500)), "p", &rails);
    assert_eq!(big.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(), ["max_replicas"]);
    assert!(big[0].message.starts_with("inverse: 500 replicas exceeds"), "{big:?}");
    let zero = check_inverse("s", &forward, &json!({"replicas": 0}), Some(&scale_action("api", 0)), "p", &rails);
    assert_eq!(zero.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(), ["scale_to_zero_procedures"]);
    let allowed = check_inverse(
        "s",
        &forward,
        &json!({"replicas": 0}),
        Some(&scale_action("api", 0)),
        "database-corruption",
        &rails,
    );
    assert!(allowed.is_empty(), "{allowed:?}");
    let mut narrow = rails.clone();
    narrow.allowed_namespaces = vec!["ml-platform".into()];
    let elsewhere = Action::ScaleDeployment {
        context: "ctx".into(),
        namespace: "kube-system".into(),
        name: "api".into(),
        replicas: 3,
    };
    let ns = check_inverse("s", &forward, &before, Some(&elsewhere), "p", &narrow);
    assert!(ns.iter().any(|f| f.rule == "allowed_namespaces"), "{ns:?}");
    let prod =
        Action::ScaleDeployment { context: "prod-eu".into(), namespace: "ml".into(), name: "a".into(), replicas: 4 };
    let p = check_inverse(
        "s",
        &prod,
        &before,
        Some(&Action::ScaleDeployment {
            context: "prod-eu".into(),
            namespace: "ml".into(),
            name: "a".into(),
            replicas: 3,
        }),
        "p",
        &rails,
    );
    assert_eq!(p.iter().map(|f| f.level).collect::<Vec<_>>(), [FindingLevel::NeedsConfirmation]);
}

#[tokio::test]
async fn a_forged_inverse_is_refused_before_anything_changes() {
    for (to, needle) in [(500, "does not restore"), (0, "does not restore"), (7, "does not restore")] {
        let f = fake();
        let (b, _, store, exec) = setup(&f, Policy::default()).await;
        let mut plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
        forge_inverse(&mut plan, 0, to);
        let digest = plan.digest.clone();
        let approved = ApprovedPlan { plan, approval: Approval::new("alice", t0()), plan_digest: digest };
        let e = exec.run(approved, None).await.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Refused, "{to}: {e}");
        assert!(e.message().contains(needle) && e.message().contains("(inverse)"), "{to}: {e}");
        assert!(f.scales().is_empty(), "{to}: nothing may change");
        assert!(store.runs().await.expect("runs").is_empty());
    }
}

#[tokio::test]
async fn scaling_up_from_zero_is_refused_outside_database_corruption() {
    let f = FakeCluster::with(&[("idle", 0)]);
    let (b, _, _, exec) = setup(&f, Policy::default()).await;
    let up = |name: &str| Procedure::new(name, "").step(Step::new("up", "s", scale("idle", 2)));
    let plan = up("p").plan(&b, &Policy::default()).await.expect("plan");
    let finding = plan.refusals().next().expect("refused");
    assert_eq!(finding.rule, "scale_to_zero_procedures");
    assert!(finding.message.starts_with("inverse: scaling to 0"), "{finding:?}");
    assert_eq!(plan.clone().approve(Approval::new("alice", t0())).expect_err("approve").kind(), ErrorKind::Refused);
    let digest = plan.digest.clone();
    let forged = ApprovedPlan { plan, approval: Approval::new("alice", t0()), plan_digest: digest };
    assert_eq!(exec.run(forged, None).await.expect_err("run").kind(), ErrorKind::Refused);
    assert!(f.scales().is_empty());

    let plan = up("database-corruption").plan(&b, &Policy::default()).await.expect("plan");
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
    assert_eq!(exec.run(approve(plan), None).await.expect("run").status, RunStatus::Succeeded);
    assert_eq!(f.replicas_of("idle"), Some(2));
}

#[tokio::test]
async fn resume_enforces_the_guard_rails_on_the_pending_inverses() {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let p = Procedure::new("p", "")
        .step(Step::new("scale-down", "s1", scale("api", 1)))
        .step(Step::new("scale-worker", "s2", scale("worker", 4)).after(["scale-down"]));
    let plan = p.plan(&b, &Policy::default()).await.expect("plan");
    let run_id = plan.run_id.clone();
    // scale-down succeeds, scale-worker is forbidden, and so is the first undo of scale-down.
    f.scale_fail.set_after(1, 2, Error::new(ErrorKind::PermissionDenied, "forbidden"));
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    assert_eq!(f.replicas_of("api"), Some(1));

    // Resumed under rails that no longer allow the inverse (3 replicas): refused, nothing runs.
    let mut strict = Policy::default();
    strict.guard_rails.max_replicas = 2;
    let strict_exec = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, strict);
    let e = strict_exec.resume(&run_id).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert!(e.message().contains("inverse: 3 replicas exceeds guard_rails.max_replicas = 2"), "{e}");
    assert_eq!(f.replicas_of("api"), Some(1));
    assert_eq!(exec.resume(&run_id).await.expect("resume").status, RunStatus::Compensated);
    assert_eq!(f.replicas_of("api"), Some(3));
}

#[tokio::test]
async fn a_plan_from_the_future_is_refused_beyond_the_clock_skew() {
    let f = fake();
    let (b, clock, _, exec) = setup(&f, Policy::default()).await;
    let mut plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    plan.created_at += TimeDelta::seconds(119);
    plan.seal();
    let mut far = plan.clone();
    far.created_at += TimeDelta::seconds(2);
    far.seal();
    let e = exec.run(approve(far), None).await.expect_err("future");
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(e.message().contains("121s in the future (guard_rails.max_clock_skew is 2m)"), "{e}");
    assert!(f.scales().is_empty());
    // Within the allowance it runs (the machines' clocks differ a little).
    let _ = clock;
    assert_eq!(exec.run(approve(plan), None).await.expect("run").status, RunStatus::Succeeded);
}

#[tokio::test]
async fn the_approval_is_journaled_with_approver_time_and_digest() {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let (run_id, digest) = (plan.run_id.clone(), plan.digest.clone());
    exec.run(approve(plan), None).await.expect("run");
    let journal = store.journal(&run_id).await.expect("journal");
    let entry = journal.iter().find(|e| e.draft.step_id == APPROVAL_STEP).expect("#approval");
    assert_eq!(entry.draft.detail["by"], "alice");
    assert_eq!(entry.draft.detail["plan_digest"], digest.as_str());
    assert_eq!(entry.draft.detail["at"], json!(t0()));
    assert!(journal.first().is_some_and(|e| e.draft.step_id == APPROVAL_STEP), "journaled before any step");
}

#[test]
fn a_step_id_may_not_use_the_journal_suffix_character() {
    let p = Procedure::new("p", "").step(Step::new("#approval", "s", scale("api", 1)));
    assert!(p.validate().expect_err("reserved").message().contains("contains `#`"));
}

#[tokio::test]
async fn a_resealed_plan_cannot_mark_a_mutation_harmless_nor_swap_its_steps() {
    let f = fake();
    let (b, _, store, exec) = setup(&f, Policy::default()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    // Found by tests/plan_mutations.rs: `mutating: false` on a scale skipped the live-state check and its
    // compensation.
    let mut harmless = plan.clone();
    harmless.steps[0].mutating = false;
    harmless.seal();
    let e = exec.run(approve(harmless), None).await.expect_err("mutating");
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert!(e.message().contains("marked mutating = false"), "{e}");

    let mut fingerprint = plan.clone();
    fingerprint.steps[0].fingerprint = Some("0".repeat(64));
    fingerprint.seal();
    assert!(exec.run(approve(fingerprint), None).await.expect_err("fp").message().contains("(fingerprint)"));

    let mut foreign = plan.clone();
    foreign.steps[1].id = "other".into();
    foreign.seal();
    assert!(exec.run(approve(foreign), None).await.expect_err("steps").message().contains("are not the steps"));

    let mut cyclic = plan;
    cyclic.steps[0].depends_on = vec!["read-only".into()];
    cyclic.seal();
    assert!(exec.run(approve(cyclic), None).await.expect_err("cycle").message().contains("cycle"));
    assert!(f.scales().is_empty());
    assert!(store.runs().await.expect("runs").is_empty());
}

#[tokio::test]
async fn a_plan_made_under_another_policy_runs_under_the_running_one_with_a_warning() {
    let f = fake();
    let mut running = Policy::default();
    running.guard_rails.max_replicas = 40;
    let (b, _, _, exec) = setup(&f, running.clone()).await;
    let plan = two_step("p").plan(&b, &Policy::default()).await.expect("plan");
    let report = exec.run(approve(plan), None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(
        report.warnings.iter().any(|w| w.contains(&format!("runs under policy {}", running.digest()))),
        "{:?}",
        report.warnings
    );
}
