//! The region failover's DNS step waits until its Route53 change is `INSYNC` (`GetChange` with backoff,
//! bounded by the step deadline). moto answers `INSYNC` to every `GetChange`, so Route53 here is
//! `aws-smithy-mocks`: a zone whose record follows the submitted change, and `GetChange` answering
//! `PENDING` then `INSYNC`, or `PENDING` for ever (the deadline case). The clock is the simulator's
//! (virtual time), so the backoff is measured exactly.

mod common;

use std::sync::{Arc, Mutex};

use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::{ChangeInfo, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType};
use aws_smithy_mocks::{Rule, mock};
use common::config;
use incident_aws::AwsBackends;
use incident_core::backend::{ChangeAction, RecordChange, RecordSet};
use incident_core::engine::{Action, Approval, Executor, Procedure, RunReport, Step, StepKind, StepStatus};
use incident_core::sim::{Scenario, SimPlatform, TimeMode};
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::{HumanDuration, Policy};

const NAME: &str = "api.ml-platform.com.";
const PRIMARY_ELB: &str = "ml-platform-primary.us-west-2.elb.amazonaws.com";
const SECONDARY_ELB: &str = "ml-platform-secondary.us-east-1.elb.amazonaws.com";

fn change_info(status: ChangeStatus) -> ChangeInfo {
    ChangeInfo::builder()
        .id("/change/C0FAILOVER")
        .status(status)
        .submitted_at(aws_smithy_types::DateTime::from_secs(1_800_000_000))
        .build()
        .expect("change info")
}

fn record(target: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(NAME)
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(target).build().expect("record"))
        .build()
        .expect("record set")
}

/// Mocked Route53: the zone's CNAME (returned too) follows the submitted changes; `get_change` is the
/// given rule.
fn route53(get_change: &Rule) -> (aws_sdk_route53::Client, Rule, Arc<Mutex<String>>) {
    let target = Arc::new(Mutex::new(PRIMARY_ELB.to_owned()));
    let read = Arc::clone(&target);
    let zone = Arc::clone(&target);
    let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_compute_output(move |_| {
        let now = read.lock().expect("lock").clone();
        ListResourceRecordSetsOutput::builder()
            .resource_record_sets(record(&now))
            .is_truncated(false)
            .max_items(100)
            .build()
            .expect("list output")
    });
    let change = mock!(aws_sdk_route53::Client::change_resource_record_sets).then_compute_output(move |req| {
        let value = req
            .change_batch()
            .and_then(|b| b.changes().first())
            .and_then(|c| c.resource_record_set())
            .and_then(|r| r.resource_records().first())
            .map(|v| v.value().to_owned())
            .expect("one record in the batch");
        *target.lock().expect("lock") = value;
        ChangeResourceRecordSetsOutput::builder().change_info(change_info(ChangeStatus::Pending)).build()
    });
    let interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
        .rule_mode(aws_smithy_mocks::RuleMode::MatchAny)
        .with_rule(&list)
        .with_rule(&change)
        .with_rule(get_change);
    let conf = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_route53::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    (aws_sdk_route53::Client::from_conf(conf), change, zone)
}

/// The region failover's `dns-failover` step alone (its deadline is the step's), run on the simulator's
/// clock with Route53 from `client`.
async fn run_dns_step(client: aws_sdk_route53::Client, deadline: HumanDuration) -> (RunReport, SimPlatform) {
    let aws = AwsBackends::connect(config("http://127.0.0.1:9")).await.expect("connect").with_route53_client(client);
    let p = SimPlatform::from_scenario(&Scenario::builtin("region-failure").expect("scenario")).expect("platform");
    p.set_time_mode(TimeMode::Jump);
    let mut b = p.backends();
    b.dns = aws.dns();
    let policy = Policy::default();
    let changes = vec![RecordChange {
        action: ChangeAction::Upsert,
        record: RecordSet {
            name: NAME.into(),
            rtype: "CNAME".into(),
            ttl: Some(60),
            values: vec![SECONDARY_ELB.into()],
            set_identifier: None,
            weight: None,
            failover: None,
            health_check_id: None,
        },
    }];
    let proc = Procedure::new("region-failure", "DNS failover").step(
        Step::new(
            "dns-failover",
            "activate-secondary",
            StepKind::Action(Action::Route53Change { zone_id: "Z123456789".into(), changes }),
        )
        .deadline(Some(deadline)),
    );
    let plan = proc.plan(&b, &policy).await.expect("plan");
    let approved = plan.approve(Approval::new("test", b.clock.now()).confirm_production()).expect("approve");
    let store = Arc::new(MemoryStore::new());
    let report = Executor::new(b, store as Arc<dyn Store>, policy).run(approved, None).await.expect("run");
    (report, p)
}

#[tokio::test]
async fn the_dns_step_ends_when_get_change_says_insync() {
    let get = mock!(aws_sdk_route53::Client::get_change)
        .match_requests(|r| r.id() == Some("C0FAILOVER"))
        .sequence()
        .output(|| GetChangeOutput::builder().change_info(change_info(ChangeStatus::Pending)).build())
        .times(3)
        .output(|| GetChangeOutput::builder().change_info(change_info(ChangeStatus::Insync)).build())
        .build();
    let (client, change, zone) = route53(&get);
    let (report, _p) = run_dns_step(client, HumanDuration::from_mins(15)).await;
    assert_eq!(*zone.lock().expect("lock"), SECONDARY_ELB);
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let step = report.step("dns-failover").expect("step");
    assert_eq!(step.status, StepStatus::Succeeded);
    assert!(step.changed);
    // PENDING, PENDING, PENDING, INSYNC after pauses of 250 + 500 + 1000 ms of virtual time.
    assert_eq!((change.num_calls(), get.num_calls()), (1, 4));
    assert!(
        step.detail.contains(
            "change /change/C0FAILOVER PENDING; change /change/C0FAILOVER INSYNC after 4 GetChange call(s), 1750 ms"
        ),
        "{}",
        step.detail
    );
    let took = step.finished_at.expect("finished") - step.started_at.expect("started");
    assert_eq!(took.num_milliseconds(), 1750, "{step:?}");
}

#[tokio::test]
async fn a_change_still_pending_at_the_step_deadline_fails_the_step_with_a_timeout() {
    let get = mock!(aws_sdk_route53::Client::get_change)
        .then_output(|| GetChangeOutput::builder().change_info(change_info(ChangeStatus::Pending)).build());
    let (client, change, zone) = route53(&get);
    let (report, _p) = run_dns_step(client, HumanDuration::from_secs(30)).await;
    // The failed step is reported and the run compensated: the inverse change restores the primary.
    assert_eq!(report.status, RunStatus::Compensated, "{report:#?}");
    let step = report.step("dns-failover").expect("step");
    assert_eq!(step.status, StepStatus::Failed);
    let error = step.error.as_deref().expect("error");
    assert!(
        error.starts_with(
            "route53 change /change/C0FAILOVER not INSYNC by the step deadline (PENDING after 11 GetChange call(s), 30000 ms)"
        ),
        "{error}"
    );
    assert!(error.ends_with("(gave up: the step deadline of 30s passed)"), "a retryable Timeout, not retried: {error}");
    assert_eq!(step.attempts, 1, "{step:?}");
    // The change: pauses of 0.25, 0.5, 1, 2, 4, then 5 s to the 30 s deadline (11 calls); its inverse is
    // followed the same way up to its own deadline (11 more).
    assert_eq!(get.num_calls(), 22, "the change, then its inverse, each followed to the deadline");
    assert!(step.changed, "{step:?}");
    assert!(step.detail.contains(SECONDARY_ELB), "live state after failure is reported: {}", step.detail);
    let took = step.finished_at.expect("finished") - step.started_at.expect("started");
    assert_eq!(took.num_seconds(), 30, "{step:?}");
    assert_eq!(change.num_calls(), 2, "the failover, then its inverse");
    assert_eq!(*zone.lock().expect("lock"), PRIMARY_ELB);
}
