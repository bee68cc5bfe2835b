//! The engine on the simulated platform: every library procedure plans and runs; under injected faults
//! every run completes through retries or stops with compensation and its report matches the sim's real
//! state; an interrupted run resumes without repeating or skipping a mutation; incident runs write the
//! timeline.
#![cfg(feature = "sim")] // the simulator: `cargo test -p incident-core --features sim`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use incident_core::Policy;
use incident_core::engine::{
    Approval, ApprovedPlan, Executor, FailpointMode, FailpointPoint, Failpoints, Plan, Procedure, RunReport, StepKind,
    StepStatus, library,
};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::sim::{Faults, Scenario, SimPlatform};
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::timeline::EventKind;

fn platform(scenario: &str) -> SimPlatform {
    SimPlatform::from_scenario(&Scenario::builtin(scenario).expect("scenario")).expect("platform")
}

/// A library procedure tuned to the scenario it is run against.
fn procedure(name: &str, policy: &Policy) -> Procedure {
    match name {
        "application-rollback" => library::ApplicationRollback { max_errors: 1000, ..Default::default() }.build(policy),
        "database-recovery" => library::DatabaseRecovery {
            region: "us-east-1".into(),
            mode: library::RecoveryMode::PromoteReplica { id: "ml-platform-secondary".into() },
            // The sim's postgres probe checks the failed primary; the promoted replica is verified by
            // `wait-available`.
            integrity_probes: Vec::new(),
            ..Default::default()
        }
        .build(policy),
        "database-recovery-pitr" => library::DatabaseRecovery::default().build(policy),
        other => library::by_name(other, policy).expect("library"),
    }
}

/// (procedure, scenario, virtual time to let pass before planning).
const CASES: [(&str, &str, u64); 6] = [
    ("traffic-management", "bad-deploy", 0),
    ("application-rollback", "application-rollback", 120),
    ("database-recovery", "database-failover", 0),
    ("database-recovery-pitr", "bad-deploy", 0),
    ("region-failure", "regional-failover", 0),
    ("database-corruption", "database-corruption", 240),
];

async fn plan_on(p: &SimPlatform, name: &str, policy: &Policy, wait_secs: u64) -> ApprovedPlan {
    if wait_secs > 0 {
        p.advance(Duration::from_secs(wait_secs)).expect("advance");
    }
    let b = p.backends();
    let plan = procedure(name, policy).plan(&b, policy).await.unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    plan.approve(Approval::new("drill-lead", b.clock.now()).confirm_production()).expect("approve")
}

fn executor(p: &SimPlatform, store: &Arc<MemoryStore>, policy: &Policy) -> Executor {
    Executor::new(p.backends(), Arc::clone(store) as Arc<dyn Store>, policy.clone())
}

/// The report matches the sim: for every resource a mutating step touched, live state equals the
/// `after` of the last step on it that is (still) done, or else the `before` of the first step on it.
async fn assert_matches_live(p: &SimPlatform, plan: &Plan, report: &RunReport, label: &str) {
    let b = p.backends();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if let (true, StepKind::Action(a)) = (s.mutating, &s.kind) {
            groups.entry(a.resources().join("|")).or_default().push(i);
        }
    }
    p.set_faults(Faults::default()).expect("faults off");
    for (resource, idx) in groups {
        let StepKind::Action(action) = &plan.steps[idx[0]].kind else {
            continue;
        };
        let live = action.observe(&b).await.unwrap_or_else(|e| panic!("{label}: observe {resource}: {e}"));
        let done = idx.iter().rev().find(|&&i| {
            matches!(
                report.step(&plan.steps[i].id).map(|s| s.status),
                Some(StepStatus::Succeeded | StepStatus::Reconciled)
            )
        });
        let expected = match done {
            Some(&i) => &plan.steps[i].after,
            None => &plan.steps[idx[0]].before,
        };
        let left =
            report.left_state.iter().any(|l| idx.iter().any(|&i| l.starts_with(&format!("{}:", plan.steps[i].id))));
        if !left {
            assert_eq!(&live, expected, "{label}: {resource} (report {:#?})", report.steps);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_library_procedure_plans_and_runs_on_the_sim() {
    let policy = Policy::default();
    for (name, scenario, wait) in CASES {
        let p = platform(scenario);
        let store = Arc::new(MemoryStore::new());
        let approved = plan_on(&p, name, &policy, wait).await;
        let plan = approved.plan.clone();
        assert!(!plan.to_string().is_empty());
        let report = executor(&p, &store, &policy).run(approved, None).await.expect("run");
        assert_eq!(report.status, RunStatus::Succeeded, "{name}: {report:#?}");
        assert!(report.left_state.is_empty() || report.steps.iter().any(|s| s.changed), "{name}");
        for s in &report.steps {
            assert_eq!(s.status, StepStatus::Succeeded, "{name}: {s:?}");
            assert!(s.started_at.is_some() && s.finished_at.is_some());
        }
        assert_matches_live(&p, &plan, &report, name).await;
        for stage in &report.stages {
            if let Some(ok) = stage.within_budget {
                assert!(ok, "{name}: stage {} over budget: {stage:?}", stage.stage);
            }
        }
    }
}

async fn faulty_runs(rate: f64, max_attempts: u32, seeds: std::ops::RangeInclusive<u64>) -> BTreeMap<String, usize> {
    let mut policy = Policy::default();
    policy.retry.max_attempts = max_attempts;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for seed in seeds {
        for (name, scenario, wait) in CASES {
            let p = platform(scenario);
            let store = Arc::new(MemoryStore::new());
            let approved = plan_on(&p, name, &policy, wait).await;
            let plan = approved.plan.clone();
            let f = Faults {
                error_rate: rate * 0.4,
                throttle_rate: rate * 0.3,
                timeout_rate: rate * 0.3,
                seed,
                ..Faults::default()
            };
            p.set_faults(f).expect("faults");
            let report = executor(&p, &store, &policy).run(approved, None).await.expect("run");
            let label = format!("{name} seed {seed} rate {rate}");
            match report.status {
                RunStatus::Succeeded => {
                    assert!(report.steps.iter().all(|s| s.status == StepStatus::Succeeded), "{label}")
                }
                RunStatus::Compensated => {
                    assert!(report.steps.iter().any(|s| s.status == StepStatus::Failed), "{label}");
                    assert!(report.left_state.is_empty(), "{label}");
                }
                // Only irreversible or un-undoable changes remain, and they are listed.
                RunStatus::Failed => assert!(!report.left_state.is_empty(), "{label}: {report:#?}"),
                other => panic!("{label}: {other:?}"),
            }
            assert_matches_live(&p, &plan, &report, &label).await;
            *outcomes.entry(format!("{:?}", report.status)).or_default() += 1;
        }
    }
    outcomes
}

#[tokio::test(start_paused = true)]
async fn under_ten_percent_faults_runs_complete_or_compensate_and_reports_match_the_sim() {
    let outcomes = faulty_runs(0.10, Policy::default().retry.max_attempts, 1..=6).await;
    eprintln!("outcomes under 10% faults: {outcomes:?}");
    assert!(outcomes.get("Succeeded").copied().unwrap_or(0) > 0, "{outcomes:?}");
}

#[tokio::test(start_paused = true)]
async fn under_heavy_faults_failed_runs_compensate_and_reports_match_the_sim() {
    let outcomes = faulty_runs(0.5, 2, 1..=6).await;
    eprintln!("outcomes under 50% faults, 2 attempts: {outcomes:?}");
    assert!(outcomes.keys().any(|k| k != "Succeeded"), "{outcomes:?}");
}

/// Mutations through the backends, without sequence numbers and times.
fn mutations(p: &SimPlatform) -> Vec<(String, String)> {
    p.api_operations().into_iter().filter(|o| o.scope != "notifier").map(|o| (o.scope, o.op)).collect()
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_run_resumes_without_repeating_or_skipping_a_mutation() {
    let policy = Policy::default();
    let reference = {
        let p = platform("regional-failover");
        let store = Arc::new(MemoryStore::new());
        let approved = plan_on(&p, "region-failure", &policy, 0).await;
        let report = executor(&p, &store, &policy).run(approved, None).await.expect("run");
        assert_eq!(report.status, RunStatus::Succeeded);
        let mut m = mutations(&p);
        m.sort();
        m
    };
    assert!(reference.len() >= 3, "{reference:?}");
    for step in ["scale-secondary", "dns-failover", "promote-replica", "wait-replica-available"] {
        let submit = (step == "dns-failover").then_some(FailpointPoint::AfterSubmit);
        for point in [
            FailpointPoint::BeforeIntent,
            FailpointPoint::AfterIntent,
            FailpointPoint::AfterExecute,
            FailpointPoint::AfterOutcome,
        ]
        .into_iter()
        .chain(submit)
        {
            let p = platform("regional-failover");
            let store = Arc::new(MemoryStore::new());
            let approved = plan_on(&p, "region-failure", &policy, 0).await;
            let run_id = approved.plan.run_id.clone();
            let crashing =
                executor(&p, &store, &policy).with_failpoints(Failpoints::at(step, point, FailpointMode::Error));
            let e = crashing.run(approved, None).await.expect_err("crash");
            assert!(Failpoints::is_failpoint_error(&e), "{e}");
            let report = executor(&p, &store, &policy).resume(&run_id).await.expect("resume");
            let label = format!("{step}:{point:?}");
            assert_eq!(report.status, RunStatus::Succeeded, "{label}: {report:#?}");
            let mut m = mutations(&p);
            m.sort();
            assert_eq!(m, reference, "{label}: every mutation exactly once");
            if point == FailpointPoint::AfterSubmit {
                // Resumed before the change was INSYNC: the records are not written again, but the
                // step still ends only once Route53 has the change everywhere.
                let s = report.step(step).expect("the step");
                assert_eq!(s.status, StepStatus::Reconciled, "{label}: {s:?}");
                assert!(s.detail.contains("INSYNC after"), "{label}: {s:?}");
            }
            if point == FailpointPoint::AfterExecute && step != "wait-replica-available" {
                assert_eq!(
                    report.step(step).map(|s| s.status),
                    Some(StepStatus::Reconciled),
                    "{label}: {:?}",
                    report.step(step)
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn incident_runs_write_approval_actions_and_checks_to_the_timeline() {
    let policy = Policy::default();
    let p = platform("bad-deploy");
    let store = Arc::new(MemoryStore::new());
    let b = p.backends();
    let (incident, timeline) = Incident::declare(
        DeclareRequest {
            id: "INC-1".into(),
            title: "errors".into(),
            severity: incident_core::Severity::P1,
            components: vec!["ml-inference-api".into()],
            impact: "5xx".into(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        },
        &policy,
        b.clock.now(),
    )
    .expect("declare");
    store.save_incident(&incident).await.expect("save");
    store.append_events("INC-1", timeline.events()).await.expect("events");
    let approved = plan_on(&p, "traffic-management", &policy, 0).await;
    let report = executor(&p, &store, &policy).run(approved, Some("INC-1".into())).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let tl = store.timeline("INC-1").await.expect("timeline");
    let kinds: Vec<&EventKind> = tl.events().iter().map(|e| &e.kind).collect();
    assert!(kinds.iter().any(|k| matches!(k, EventKind::ApprovalGranted { by, .. } if by == "drill-lead")));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::ActionPlanned { step_id, .. } if step_id == "scale-up")));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::ActionExecuted { step_id, .. } if step_id == "scale-up")));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::CheckResult { passed: true, .. })));
}
