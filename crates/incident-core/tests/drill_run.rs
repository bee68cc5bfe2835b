//! Every built-in scenario, end to end through `drill::run_drill`: the runbook's whole incident flow on the
//! simulator, with the same code path a real incident takes.
#![cfg(feature = "sim")] // the simulator: `cargo test -p incident-core --features sim`

use std::sync::Arc;

use incident_core::drill_run::{self as drill, AutoApprove, DrillOptions, Silent};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::timeline::EventKind;
use incident_core::{Policy, Status};

#[test]
fn every_builtin_scenario_resolves_within_budgets() {
    let policy = Policy::default();
    for name in Scenario::names() {
        let scenario = Scenario::builtin(name).expect("scenario");
        let platform = SimPlatform::from_scenario(&scenario).expect("platform");
        let store = Arc::new(MemoryStore::new());
        let report = incident_core::sim::runtime()
            .expect("runtime")
            .block_on(drill::run_drill(
                &platform,
                Arc::clone(&store) as Arc<dyn Store>,
                &policy,
                &scenario,
                &DrillOptions::default(),
                &AutoApprove { by: "drill-test".into() },
                &Silent,
            ))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.passed, "{name}: {:?}", report.failures);
        assert_eq!(report.incident.status, Status::Resolved, "{name}");
        assert_eq!(report.run.as_ref().map(|r| r.status), Some(RunStatus::Succeeded), "{name}");
        assert!(report.expectations.iter().all(|e| e.ok), "{name}: {:?}", report.expectations);

        // The stored timeline is the report's, verified, and tells the whole story in order.
        let stored = incident_core::sim::runtime()
            .expect("runtime")
            .block_on(store.timeline(&report.incident.id))
            .expect("stored timeline");
        assert_eq!(stored, report.timeline, "{name}");
        let kinds: Vec<&'static str> = stored.events().iter().map(|e| e.kind.type_name()).collect();
        for expected in ["declared", "acknowledged", "approval_granted", "action_executed", "resolved"] {
            assert!(kinds.contains(&expected), "{name}: no {expected} in {kinds:?}");
        }
        let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or(usize::MAX);
        assert!(pos("declared") < pos("approval_granted") && pos("approval_granted") < pos("action_executed"));

        // Status page within 15 minutes of declaration (customer-facing incidents only: the cadence
        // driver's rule), and internal updates on the severity's cadence.
        let declared = report.incident.declared_at;
        let first_status_page = stored
            .events()
            .iter()
            .find(|e| matches!(&e.kind, EventKind::MessageSent { channel, .. } if channel == "status-page"))
            .map(|e| e.at);
        if report.incident.customer_facing {
            let first = first_status_page.unwrap_or_else(|| panic!("{name}: no status page message"));
            assert!(first - declared <= chrono::TimeDelta::minutes(15), "{name}");
        } else {
            assert_eq!(first_status_page, None, "{name}: an internal incident on the public status page");
        }
        let cadence = policy.cadence.internal_update.get(report.incident.severity).expect("cadence").as_delta();
        let mut last = declared;
        for e in stored.events() {
            if let EventKind::MessageSent { kind, channel, .. } = &e.kind {
                if kind == "internal_update" && channel.starts_with("#incident-") {
                    assert!(e.at - last <= cadence, "{name}: internal update gap {} > {cadence}", e.at - last);
                    last = e.at;
                }
            }
        }
        let resolved = report.incident.resolved_at.expect("resolved at");
        assert!(resolved - last <= cadence, "{name}: no internal update for {} before resolution", resolved - last);

        // Stage budgets from the policy were scored.
        assert!(report.stages.iter().any(|s| s.stage == "first-response" && s.within_budget == Some(true)), "{name}");
        let md = report.postmortem.to_markdown();
        for section in ["## Timeline", "## Root Cause", "## Action Items"] {
            assert!(md.contains(section), "{name}: post-mortem lacks {section}");
        }
    }
}

#[test]
fn a_declined_plan_changes_nothing_and_fails_the_drill() {
    let scenario = Scenario::builtin("bad-deploy").expect("scenario");
    let platform = SimPlatform::from_scenario(&scenario).expect("platform");
    let report = incident_core::sim::runtime()
        .expect("runtime")
        .block_on(drill::run_drill(
            &platform,
            Arc::new(MemoryStore::new()),
            &Policy::default(),
            &scenario,
            &DrillOptions::default(),
            &drill::Decline,
            &Silent,
        ))
        .expect("report");
    assert!(!report.passed);
    assert!(report.run.is_none());
    assert!(report.failures.iter().any(|f| f.contains("declined")), "{:?}", report.failures);
    assert!(platform.api_operations().iter().all(|op| op.scope == "notifier"), "a declined plan mutated the platform");
}
