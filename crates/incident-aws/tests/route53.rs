//! Route53 against moto: paginated listing, simple/weighted/failover changes, change status, error
//! kinds, and a failover change planned and run by the engine followed by its inverse, leaving the zone
//! exactly as before.

mod common;

use std::sync::Arc;

use common::{backends, create_zone, moto};
use incident_core::backend::{ChangeAction, ChangeStatus, FailoverRole, RecordChange, RecordSet};
use incident_core::engine::{Action, Approval, Executor, Procedure, Step, StepKind};
use incident_core::store::{MemoryStore, RunStatus, Store};
use incident_core::{ErrorKind, Policy, Result};

fn rec(name: &str, rtype: &str, value: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: rtype.into(),
        ttl: Some(60),
        values: vec![value.into()],
        set_identifier: None,
        weight: None,
        failover: None,
        health_check_id: None,
    }
}

fn weighted(name: &str, id: &str, weight: u32, value: &str) -> RecordSet {
    RecordSet { set_identifier: Some(id.into()), weight: Some(weight), ..rec(name, "CNAME", value) }
}

fn failover(name: &str, id: &str, role: FailoverRole, value: &str) -> RecordSet {
    RecordSet { set_identifier: Some(id.into()), failover: Some(role), ..rec(name, "CNAME", value) }
}

fn change(action: ChangeAction, record: RecordSet) -> RecordChange {
    RecordChange { action, record }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_every_page_and_filters_by_name() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    let zone = create_zone(&m.aws, "ml-platform.com").await;
    let dns = m.aws.dns();
    let batch: Vec<RecordChange> = (0..650)
        .map(|i| {
            change(
                ChangeAction::Create,
                rec(&format!("host-{i:03}.ml-platform.com"), "A", &format!("10.0.{}.{}", i / 200, i % 200)),
            )
        })
        .collect();
    for chunk in batch.chunks(100) {
        dns.change(&zone, chunk, "seed").await?;
    }
    let all = dns.record_sets(&zone, None).await?;
    assert_eq!(all.len(), 650 + 2, "650 A records + NS + SOA over several pages");
    let one = dns.record_sets(&format!("/hostedzone/{zone}"), Some("HOST-117.ml-platform.com")).await?;
    assert_eq!(one, vec![rec("host-117.ml-platform.com.", "A", "10.0.0.117")]);
    assert!(dns.record_sets(&zone, Some("absent.ml-platform.com.")).await?.is_empty());
    let e = dns.record_sets("ZNOSUCHZONE", None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_simple_weighted_and_failover_records() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    let zone = create_zone(&m.aws, "ml-platform.com").await;
    let dns = m.aws.dns();
    let api = rec("api.ml-platform.com.", "CNAME", "ml-platform-primary.us-west-2.elb.amazonaws.com");
    let w1 = weighted("models.ml-platform.com.", "models-us-west-2", 90, "models.us-west-2.elb.amazonaws.com");
    let w2 = weighted("models.ml-platform.com.", "models-us-east-1", 10, "models.us-east-1.elb.amazonaws.com");
    let f1 =
        failover("api-failover.ml-platform.com.", "api-failover-primary", FailoverRole::Primary, "p.elb.amazonaws.com");
    let f2 = failover(
        "api-failover.ml-platform.com.",
        "api-failover-secondary",
        FailoverRole::Secondary,
        "s.elb.amazonaws.com",
    );
    let info = dns
        .change(
            &zone,
            &[
                change(ChangeAction::Create, api.clone()),
                change(ChangeAction::Upsert, w1.clone()),
                change(ChangeAction::Upsert, w2.clone()),
                change(ChangeAction::Create, f1.clone()),
                change(ChangeAction::Create, f2.clone()),
            ],
            "seed",
        )
        .await?;
    assert_eq!(dns.change_status(&info.id).await?.status, ChangeStatus::Insync);
    assert_eq!(dns.record_sets(&zone, Some("api.ml-platform.com")).await?, vec![api.clone()]);
    let mut models = dns.record_sets(&zone, Some("models.ml-platform.com.")).await?;
    models.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
    assert_eq!(models, vec![w2.clone(), w1.clone()]);
    let mut fo = dns.record_sets(&zone, Some("api-failover.ml-platform.com.")).await?;
    fo.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
    assert_eq!(fo, vec![f1.clone(), f2.clone()]);

    // Shift weights, delete a weighted record, flip failover roles.
    let w2_all = RecordSet { weight: Some(100), ..w2.clone() };
    dns.change(&zone, &[change(ChangeAction::Upsert, w2_all.clone()), change(ChangeAction::Delete, w1)], "drain")
        .await?;
    assert_eq!(dns.record_sets(&zone, Some("models.ml-platform.com.")).await?, vec![w2_all]);

    // Errors: CREATE of an existing record, DELETE of a non-matching one, an unknown zone, an alias.
    let e = dns.change(&zone, &[change(ChangeAction::Create, api.clone())], "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let wrong = rec("api.ml-platform.com.", "CNAME", "other.example.com");
    let e = dns.change(&zone, &[change(ChangeAction::Delete, wrong)], "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = dns.change("ZNOSUCHZONE", &[change(ChangeAction::Upsert, api.clone())], "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = dns.change(&zone, &[change(ChangeAction::Upsert, RecordSet { ttl: None, ..api })], "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = dns.change(&zone, &[], "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    Ok(())
}

async fn run_change(b: &incident_core::backend::Backends, zone: &str, changes: Vec<RecordChange>) -> Option<Action> {
    let policy = Policy::default();
    let proc = Procedure::new("dns-change", "one Route53 change batch").step(Step::new(
        "dns",
        "activate-secondary",
        StepKind::Action(Action::Route53Change { zone_id: zone.into(), changes }),
    ));
    let plan = proc.plan(b, &policy).await.expect("plan");
    let inverse = plan.steps[0].inverse.clone();
    let approved = plan.approve(Approval::new("test", b.clock.now()).confirm_production()).expect("approve");
    let store = Arc::new(MemoryStore::new());
    let report = Executor::new(b.clone(), store as Arc<dyn Store>, policy).run(approved, None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    inverse
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_then_its_inverse_leaves_the_zone_exactly_as_before() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    let zone = create_zone(&m.aws, "ml-platform.com").await;
    let (_p, b) = backends(&m.aws, "region-failure");
    let api = rec("api.ml-platform.com.", "CNAME", "ml-platform-primary.us-west-2.elb.amazonaws.com");
    let w1 = weighted("models.ml-platform.com.", "fb-models-us-west-2", 100, "models.us-west-2.elb.amazonaws.com");
    let f1 = failover("api-failover.ml-platform.com.", "fb-primary", FailoverRole::Primary, "p.elb.amazonaws.com");
    let f2 = failover("api-failover.ml-platform.com.", "fb-secondary", FailoverRole::Secondary, "s.elb.amazonaws.com");
    b.dns
        .change(
            &zone,
            &[
                change(ChangeAction::Create, api.clone()),
                change(ChangeAction::Create, w1.clone()),
                change(ChangeAction::Create, f1.clone()),
                change(ChangeAction::Create, f2.clone()),
            ],
            "seed",
        )
        .await?;
    let before = b.dns.record_sets(&zone, None).await?;

    let secondary = rec("api.ml-platform.com.", "CNAME", "ml-platform-secondary.us-east-1.elb.amazonaws.com");
    let failover_batch = vec![
        change(ChangeAction::Upsert, secondary.clone()),
        change(
            ChangeAction::Create,
            weighted("models.ml-platform.com.", "fb-models-us-east-1", 100, "models.us-east-1.elb.amazonaws.com"),
        ),
        change(ChangeAction::Delete, w1),
        change(ChangeAction::Upsert, RecordSet { values: vec!["s2.elb.amazonaws.com".into()], ..f2 }),
    ];
    let inverse = run_change(&b, &zone, failover_batch).await.expect("an inverse");
    let during = b.dns.record_sets(&zone, None).await?;
    assert_ne!(during, before);
    assert_eq!(b.dns.record_sets(&zone, Some("api.ml-platform.com.")).await?, vec![secondary]);

    let Action::Route53Change { changes, .. } = inverse else { panic!("{inverse:?}") };
    let back = run_change(&b, &zone, changes).await;
    assert!(back.is_some(), "the failback has an inverse too");
    let mut after = b.dns.record_sets(&zone, None).await?;
    let mut before = before;
    let key = |r: &RecordSet| (r.name.clone(), r.rtype.clone(), r.set_identifier.clone());
    before.sort_by_key(key);
    after.sort_by_key(key);
    assert_eq!(after, before, "failback restores the zone exactly");

    // A change that would leave a name with no target is refused at plan time.
    let policy = Policy::default();
    let proc = Procedure::new("dns-delete", "delete the only target").step(Step::new(
        "dns",
        "activate-secondary",
        StepKind::Action(Action::Route53Change {
            zone_id: zone.clone(),
            changes: vec![change(ChangeAction::Delete, api)],
        }),
    ));
    let e = proc.plan(&b, &policy).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("no target"), "{e}");
    Ok(())
}
