//! End to end: the library's region-failure and database-corruption procedures planned, approved and
//! run by the engine with RDS, Route53 and STS from moto (AWS Health from `aws-smithy-mocks`) and the
//! clusters, HTTP, probes, notifier and clock from the simulator; then the post-mortem. Every output is
//! searched for the seeded secret.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_health::operation::describe_events::{DescribeEventsError, DescribeEventsOutput};
use aws_smithy_mocks::mock;
use aws_smithy_types::error::ErrorMetadata;
use common::{
    KEY_ID, PRIMARY, SECONDARY, assert_no_secret, backends, create_db, create_replica, create_snapshot, create_zone,
    health_client, is_standalone_in_moto, moto,
};
use incident_aws::AwsBackends;
use incident_core::backend::{Backends, ChangeAction, ChangeInfo, Dns, RecordChange, RecordSet};
use incident_core::engine::{Approval, Executor, Plan, RunReport, StepStatus, library};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::postmortem::{PostMortem, PostMortemInput};
use incident_core::sim::SimPlatform;
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::{Policy, Result, Severity};

const API: &str = "api.ml-platform.com.";
const PRIMARY_ELB: &str = "ml-platform-primary.us-west-2.elb.amazonaws.com";
const SECONDARY_ELB: &str = "ml-platform-secondary.us-east-1.elb.amazonaws.com";
/// The simulator's copy of the zone.
const SIM_ZONE: &str = "Z123456789";

/// Route53 in moto is the system of record; each accepted change is mirrored into the simulator's zone so
/// the simulated traffic (its HTTP probe resolves through its own DNS) follows the real record.
struct MirroredDns {
    real: Arc<dyn Dns>,
    sim: Arc<dyn Dns>,
}

#[async_trait::async_trait]
impl Dns for MirroredDns {
    async fn record_sets<'a>(&self, zone_id: &str, name: Option<&'a str>) -> Result<Vec<RecordSet>> {
        self.real.record_sets(zone_id, name).await
    }

    async fn change(&self, zone_id: &str, changes: &[RecordChange], comment: &str) -> Result<ChangeInfo> {
        let info = self.real.change(zone_id, changes, comment).await?;
        let _ = self.sim.change(SIM_ZONE, changes, comment).await;
        Ok(info)
    }

    async fn change_status(&self, change_id: &str) -> Result<ChangeInfo> {
        self.real.change_status(change_id).await
    }
}

fn quiet_health() -> aws_sdk_health::Client {
    let rule = mock!(aws_sdk_health::Client::describe_events)
        .sequence()
        .output(|| DescribeEventsOutput::builder().build())
        .repeatedly()
        .build();
    health_client(&[&rule])
}

fn denied_health() -> aws_sdk_health::Client {
    let rule = mock!(aws_sdk_health::Client::describe_events)
        .sequence()
        .error(|| {
            DescribeEventsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message(format!("User with key {KEY_ID} is not authorized to perform health:DescribeEvents"))
                    .build(),
            )
        })
        .repeatedly()
        .build();
    health_client(&[&rule])
}

/// Seed what `region-failure` expects: the primary database, its cross-region replica, a snapshot to
/// restore from, the zone with `api.ml-platform.com` on the primary.
async fn seed_failover(aws: &AwsBackends) -> String {
    create_db(aws, PRIMARY, "ml-platform-prod").await;
    create_replica(aws, SECONDARY, "ml-platform-secondary", PRIMARY, "ml-platform-prod").await;
    create_snapshot(aws, SECONDARY, "ml-platform-secondary", "ml-platform-latest-snapshot").await;
    let zone = create_zone(aws, "ml-platform.com").await;
    let api = RecordSet {
        name: API.into(),
        rtype: "CNAME".into(),
        ttl: Some(60),
        values: vec![PRIMARY_ELB.into()],
        set_identifier: None,
        weight: None,
        failover: None,
        health_check_id: None,
    };
    aws.dns().change(&zone, &[RecordChange { action: ChangeAction::Upsert, record: api }], "seed").await.expect("seed");
    zone
}

fn compose(aws: &AwsBackends, scenario: &str) -> (SimPlatform, Backends) {
    let (p, mut b) = backends(aws, scenario);
    let sim_dns = p.backends().dns;
    b.dns = Arc::new(MirroredDns { real: aws.dns(), sim: sim_dns });
    (p, b)
}

async fn declare(store: &MemoryStore, b: &Backends, id: &str, policy: &Policy) -> Incident {
    let (incident, timeline) = Incident::declare(
        DeclareRequest {
            id: id.into(),
            title: "us-west-2 unreachable".into(),
            severity: Severity::P0,
            components: vec!["ml-inference-api".into()],
            impact: "API down for all users".into(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        },
        policy,
        b.clock.now(),
    )
    .expect("declare");
    store.save_incident(&incident).await.expect("save");
    store.append_events(id, timeline.events()).await.expect("events");
    incident
}

/// Plan, approve, run under incident `id`; returns the plan, the report and every rendered output.
async fn run(b: &Backends, plan: Plan, id: &str, policy: &Policy) -> (Plan, RunReport, Vec<(&'static str, String)>) {
    let store = Arc::new(MemoryStore::new());
    let incident = declare(&store, b, id, policy).await;
    let mut outputs = vec![("plan", plan.to_string()), ("plan debug", format!("{plan:?}"))];
    let approved =
        plan.clone().approve(Approval::new("drill-lead", b.clock.now()).confirm_production()).expect("approve");
    let executor = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, policy.clone());
    let report = executor.run(approved, Some(id.into())).await.expect("run");
    let journal = store.journal(&report.run_id).await.expect("journal");
    let timeline = store.timeline(id).await.expect("timeline");
    let pm = PostMortem::build(&incident, &timeline, PostMortemInput::default());
    let md = pm.to_markdown();
    assert!(md.contains(id), "{md}");
    outputs.extend([
        ("report", format!("{report:?}")),
        ("journal", format!("{journal:?}")),
        ("timeline", format!("{:?}", timeline.events())),
        ("post-mortem", md),
    ]);
    (plan, report, outputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_failover_runs_against_moto_and_the_simulator() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    let zone = seed_failover(&m.aws).await;
    let aws = m.aws.clone().with_health_client(quiet_health());
    let (_p, b) = compose(&aws, "region-failure");
    let policy = Policy::default();
    let procedure = library::RegionFailure {
        zone_id: zone.clone(),
        snapshot_restore: Some(library::SnapshotRestore {
            instance: "ml-platform-secondary".into(),
            snapshot: None,
            target: "ml-platform-restored".into(),
        }),
        ..Default::default()
    }
    .build(&policy);
    let plan = procedure.plan(&b, &policy).await?;
    let dns_step = plan.steps.iter().find(|s| s.id == "dns-failover").expect("dns step");
    assert!(dns_step.inverse.is_some(), "failback is captured at plan time");
    let (_plan, report, outputs) = run(&b, plan, "INC-AWS-1", &policy).await;

    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert!(report.steps.iter().all(|s| s.status == StepStatus::Succeeded), "{report:#?}");
    let api = b.dns.record_sets(&zone, Some(API)).await?;
    assert_eq!(api.len(), 1);
    assert_eq!(api[0].values, vec![SECONDARY_ELB.to_owned()], "DNS points at the secondary");
    assert!(is_standalone_in_moto(&aws, SECONDARY, "ml-platform-secondary").await, "the replica is standalone");
    assert!(b.databases.instance(SECONDARY, "ml-platform-restored").await?.is_some_and(|i| i.is_available()));
    assert_no_secret(outputs);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_corruption_restores_to_the_latest_restorable_time() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    create_db(&m.aws, PRIMARY, "ml-platform-prod").await;
    let (p, b) = compose(&m.aws, "database-corruption");
    p.advance(Duration::from_secs(240)).expect("advance");
    let policy = Policy::default();
    let plan = library::DatabaseCorruption::default().build(&policy).plan(&b, &policy).await?;
    let restore = plan.steps.iter().find(|s| s.id == "restore-pitr").expect("restore step");
    assert!(restore.inverse.is_some(), "compensation deletes the recovery instance");
    let (_plan, report, outputs) = run(&b, plan, "INC-AWS-2", &policy).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let recovery = b.databases.instance(PRIMARY, "ml-platform-recovery").await?.expect("recovery instance");
    assert!(recovery.is_available());
    assert_no_secret(outputs);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_retryable_error_stops_the_failover_with_a_precise_report() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    let zone = seed_failover(&m.aws).await;
    let aws = m.aws.clone().with_health_client(denied_health());
    let (_p, b) = compose(&aws, "region-failure");
    let policy = Policy::default();
    let procedure = library::RegionFailure { zone_id: zone.clone(), ..Default::default() }.build(&policy);
    let plan = procedure.plan(&b, &policy).await?;
    let (_plan, report, mut outputs) = run(&b, plan, "INC-AWS-3", &policy).await;

    // Failed, with compensation run over whatever had completed (nothing mutating here).
    assert!(matches!(report.status, RunStatus::Failed | RunStatus::Compensated), "{report:#?}");
    assert!(report.steps.iter().all(|s| !s.changed), "{report:#?}");
    let step = report.step("health-events").expect("health step");
    assert_eq!(step.status, StepStatus::Failed, "{step:?}");
    assert_eq!(step.attempts, 1, "PermissionDenied is not retried: {step:?}");
    let error = step.error.clone().unwrap_or_default();
    assert!(error.contains("health:DescribeEvents failed: AccessDeniedException"), "{error}");
    // Nothing after the assessment ran: DNS still on the primary, the replica still a replica.
    for id in ["dns-failover", "promote-replica", "switch-context"] {
        assert!(report.step(id).is_none_or(|s| s.status != StepStatus::Succeeded), "{id} ran: {report:#?}");
    }
    assert_eq!(b.dns.record_sets(&zone, Some(API)).await?[0].values, vec![PRIMARY_ELB.to_owned()]);
    assert!(!is_standalone_in_moto(&aws, SECONDARY, "ml-platform-secondary").await);
    outputs.push(("step error", error));
    assert_no_secret(outputs);
    Ok(())
}
