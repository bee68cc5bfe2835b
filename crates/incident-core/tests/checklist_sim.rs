//! The validation checklist worked through on the simulated platform (`run_validation_checklist`, what
//! `incident drills checklist --run` prints): every item is checked where `policy.checklist_targets`
//! says, with evidence; a broken system fails the item that needs it and names the reason, and the
//! others are still checked; an item with no targets is not automated and the checklist has not passed.
#![cfg(feature = "sim")] // the simulator: `cargo test -p incident-core --features sim`

use incident_core::Policy;
use incident_core::drills::{CheckOutcome, ChecklistId, ValidationReport};
use incident_core::engine::library::run_validation_checklist;
use incident_core::sim::{Faults, Scenario, SimPlatform};

fn platform() -> SimPlatform {
    SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("platform")
}

fn item(report: &ValidationReport, id: ChecklistId) -> &incident_core::drills::ValidationItem {
    report.items.iter().find(|i| i.id == id).expect("item")
}

#[tokio::test(start_paused = true)]
async fn a_healthy_platform_passes_every_targeted_item_with_evidence() {
    let p = platform();
    let policy = Policy::default();
    let report = run_validation_checklist(&p.backends(), &policy).await.report();
    // The default targets name no monitoring endpoint: that item is not automated, so the checklist as
    // a whole has not passed, and nothing failed.
    assert_eq!(report.failed, Vec::<ChecklistId>::new(), "{report}");
    assert_eq!(report.unchecked, vec![ChecklistId::MonitoringAndAlertingOperational], "{report}");
    assert!(!report.all_passed);
    let services = item(&report, ChecklistId::CriticalServicesResponding);
    assert_eq!(services.outcome, CheckOutcome::Pass);
    assert!(services.evidence.iter().any(|e| e.starts_with("ok: https://api.ml-platform.com/health: HTTP 200")));
    assert!(services.evidence.iter().any(|e| e.contains("get endpoints ml-inference-api")), "{services:?}");
    let auth = item(&report, ChecklistId::AuthenticationWorking);
    assert_eq!(auth.evidence.len(), 2, "{auth:?}");
    assert!(auth.evidence[0].contains("aws sts get-caller-identity --region us-west-2"), "{auth:?}");
    assert!(auth.evidence[1].contains("authenticated as system:serviceaccount:incident-core:incident-core"));
    let backups = item(&report, ChecklistId::BackupsRunningSuccessfully);
    assert_eq!(backups.evidence.len(), 2, "{backups:?}");
    assert!(backups.evidence[1].contains("latest restorable time"), "{backups:?}");
    let text = report.to_text();
    assert!(text.contains("- [ ] Monitoring and alerting operational (not checked)\n  - not automated"), "{text}");
    assert!(text.contains("6 of 7 passed; 1 not checked."), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_dark_region_fails_the_items_that_need_it_and_the_rest_are_still_checked() {
    let p = platform();
    p.set_faults(Faults { dark_regions: vec!["us-west-2".into()], ..Faults::default() }).expect("faults");
    let mut policy = Policy::default();
    policy.checklist_targets.monitoring = vec!["https://api.ml-platform.com/".into()];
    let report = run_validation_checklist(&p.backends(), &policy).await.report();
    assert!(!report.all_passed);
    assert!(report.unchecked.is_empty(), "{report}");
    for id in [
        ChecklistId::CriticalServicesResponding,
        ChecklistId::AuthenticationWorking,
        ChecklistId::BackupsRunningSuccessfully,
    ] {
        let i = item(&report, id);
        let CheckOutcome::Fail { reason } = &i.outcome else { panic!("{id:?} should fail: {i:?}") };
        assert!(!reason.is_empty() && !reason.starts_with("FAILED"), "{id:?}: {reason}");
    }
    // Every item reports every one of its checks, failed or not.
    let backups = item(&report, ChecklistId::BackupsRunningSuccessfully);
    assert_eq!(backups.evidence.len(), 2, "{backups:?}");
    assert!(backups.evidence.iter().all(|e| e.starts_with("FAILED: ")), "{backups:?}");
}

#[tokio::test(start_paused = true)]
async fn a_missing_backup_fails_the_backups_item_naming_the_instance() {
    let p = platform();
    let mut policy = Policy::default();
    policy.checklist_targets.backups[0].instance = "ml-platform-nobackups".into();
    let report = run_validation_checklist(&p.backends(), &policy).await.report();
    assert_eq!(report.failed, vec![ChecklistId::BackupsRunningSuccessfully], "{report}");
    let text = report.to_text();
    assert!(
        text.contains("- [ ] Backups running successfully (FAILED: no available snapshot of ml-platform-nobackups"),
        "{text}"
    );
}

#[test]
fn checklist_targets_are_policy_data_with_field_named_errors() {
    let policy = Policy::from_toml_str(
        r#"
[checklist_targets]
context = ""
datastores = ["postgres"]
monitoring = ["http://127.0.0.1:9090/-/ready", "http://127.0.0.1:9093/-/ready"]

[[checklist_targets.services]]
namespace = "checkout"
name = "api"
health_url = "http://127.0.0.1:8080/healthz"
"#,
    )
    .expect("policy");
    let t = &policy.checklist_targets;
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.monitoring.len(), 2);
    assert_eq!(t.backups.len(), 1, "unset fields keep the runbook's defaults");
    let err = Policy::from_toml_str("[checklist_targets]\nmonitoring = [\"prometheus:9090\"]\n").expect_err("bad URL");
    assert!(err.to_string().contains("checklist_targets.monitoring[0]"), "{err}");
    let err = Policy::from_toml_str("[checklist_targets]\nbogus = 1\n").expect_err("unknown field");
    assert!(err.to_string().contains("bogus"), "{err}");
}
