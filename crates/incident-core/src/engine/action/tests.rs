use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use mockall::predicate::eq;

use super::*;
use crate::ErrorKind;
use crate::backend::{DbInstance, DbSnapshot, MockCluster, MockDatabases, MockDns, Revision, Service};
use crate::engine::testutil::{MockSet, deployment, t0};

fn scale(replicas: u32) -> Action {
    Action::ScaleDeployment { context: "c".into(), namespace: "ml-platform".into(), name: "api".into(), replicas }
}

fn stateful_scale_cluster(start: u32, expect_scales: &[u32]) -> (MockCluster, Arc<Mutex<u32>>) {
    let state = Arc::new(Mutex::new(start));
    let mut c = MockCluster::new();
    let s = Arc::clone(&state);
    c.expect_deployment()
        .returning(move |ns, n| Ok(Some(deployment(ns, n, *s.lock().expect("lock"), 3, &["api=img:3"]))));
    for &r in expect_scales {
        let s = Arc::clone(&state);
        c.expect_scale().with(eq("ml-platform"), eq("api"), eq(r)).times(1).returning(move |_, _, r| {
            *s.lock().expect("lock") = r;
            Ok(())
        });
    }
    (c, state)
}

#[tokio::test]
async fn scale_plan_execute_verify_compensate() {
    let (c, state) = stateful_scale_cluster(3, &[10, 3]);
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let p = scale(10).plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"replicas": 3}));
    assert_eq!(p.after, json!({"replicas": 10}));
    assert_eq!(p.inverse, Some(scale(3)));
    assert!(
        p.summary.contains("kubectl --context c scale deployment api --replicas=10 -n ml-platform"),
        "{}",
        p.summary
    );
    assert!(!p.is_noop());
    assert!(!scale(10).verify(&b, &p.after).await.expect("verify"));
    p.action.execute(&b).await.expect("execute");
    assert!(scale(10).verify(&b, &p.after).await.expect("verify"));
    assert_eq!(p.compensate(&b).await.expect("compensate"), scale(3).describe() + " (was 10)");
    assert_eq!(*state.lock().expect("lock"), 3);
}

#[tokio::test]
async fn scale_to_zero_records_previous_replicas_and_noop_is_detected() {
    let (c, _) = stateful_scale_cluster(4, &[]);
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let p = scale(0).plan(&b).await.expect("plan");
    assert_eq!(p.inverse, Some(scale(4)));
    assert!(scale(4).plan(&b).await.expect("plan").is_noop());
}

#[tokio::test]
async fn scale_of_missing_deployment_is_not_found() {
    let mut c = MockCluster::new();
    c.expect_deployment().returning(|_, _| Ok(None));
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let e = scale(1).plan(&b).await.expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

fn rev(n: u64, img: &str) -> Revision {
    Revision {
        revision: n,
        replica_set: format!("api-{n}"),
        change_cause: None,
        images: vec![img.into()],
        created_at: None,
    }
}

#[tokio::test]
async fn rollback_resolves_previous_revision_and_captures_inverse() {
    let mut c = MockCluster::new();
    c.expect_deployment().returning(|ns, n| Ok(Some(deployment(ns, n, 3, 3, &["api=img:3"]))));
    c.expect_rollout_history()
        .returning(|_, _| Ok(vec![rev(1, "api=img:1"), rev(2, "api=img:2"), rev(3, "api=img:3")]));
    c.expect_rollback()
        .with(eq("ml-platform"), eq("api"), eq(Some(2)))
        .times(1)
        .returning(|_, _, _| Ok(rev(4, "api=img:2")));
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::RollbackDeployment {
        context: "c".into(),
        namespace: "ml-platform".into(),
        name: "api".into(),
        to_revision: None,
    };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"images": ["api=img:3"]}));
    assert_eq!(p.after, json!({"images": ["api=img:2"]}));
    assert!(matches!(p.action, Action::RollbackDeployment { to_revision: Some(2), .. }));
    assert!(matches!(p.inverse, Some(Action::RollbackDeployment { to_revision: Some(3), .. })));
    assert!(p.summary.contains("rollout undo deployment/api --to-revision=2"), "{}", p.summary);
    let detail = p.action.execute(&b).await.expect("execute");
    assert!(detail.contains("revision 4"), "{detail}");
}

#[tokio::test]
async fn rollback_without_previous_revision_is_refused_while_planning() {
    let mut c = MockCluster::new();
    c.expect_deployment().returning(|ns, n| Ok(Some(deployment(ns, n, 3, 1, &["api=img:1"]))));
    c.expect_rollout_history().returning(|_, _| Ok(vec![rev(1, "api=img:1")]));
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::RollbackDeployment {
        context: "c".into(),
        namespace: "ml-platform".into(),
        name: "api".into(),
        to_revision: None,
    };
    assert_eq!(a.plan(&b).await.expect_err("no previous").kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn annotate_service_inverse_removes_a_new_annotation() {
    let annotated = Arc::new(Mutex::new(None::<String>));
    let mut c = MockCluster::new();
    let a1 = Arc::clone(&annotated);
    c.expect_service().returning(move |ns, n| {
        let mut annotations = BTreeMap::new();
        if let Some(v) = a1.lock().expect("lock").clone() {
            annotations.insert("circuit-breaker".to_owned(), v);
        }
        Ok(Some(Service { namespace: ns.into(), name: n.into(), selector: BTreeMap::new(), annotations }))
    });
    let a2 = Arc::clone(&annotated);
    c.expect_annotate_service().times(2).returning(move |_, _, _, v| {
        *a2.lock().expect("lock") = v.map(str::to_owned);
        Ok(())
    });
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::AnnotateService {
        context: "c".into(),
        namespace: "ml-platform".into(),
        name: "api".into(),
        key: "circuit-breaker".into(),
        value: Some("enabled".into()),
    };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"value": null}));
    assert!(matches!(&p.inverse, Some(Action::AnnotateService { value: None, .. })));
    p.action.execute(&b).await.expect("execute");
    assert!(a.verify(&b, &p.after).await.expect("verify"));
    p.compensate(&b).await.expect("compensate");
    assert_eq!(*annotated.lock().expect("lock"), None);
}

#[tokio::test]
async fn label_pod_plans_from_the_pods_labels() {
    let mut c = MockCluster::new();
    c.expect_pods().returning(|_, _| {
        Ok(vec![crate::backend::Pod {
            namespace: "ml-platform".into(),
            name: "api-xxx".into(),
            phase: "Running".into(),
            ready: true,
            reason: None,
            message: None,
            restarts: 0,
            node: None,
            labels: [("health".to_owned(), "ok".to_owned())].into(),
            template_hash: None,
            images: Vec::new(),
            memory_bytes: None,
        }])
    });
    c.expect_label_pod().times(1).returning(|ns, pod, key, value| {
        assert_eq!((ns, pod, key, value), ("ml-platform", "api-xxx", "health", Some("degraded")));
        Ok(())
    });
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::LabelPod {
        context: "c".into(),
        namespace: "ml-platform".into(),
        pod: "api-xxx".into(),
        key: "health".into(),
        value: Some("degraded".into()),
    };
    let p = a.plan(&b).await.expect("plan");
    assert!(matches!(&p.inverse, Some(Action::LabelPod { value: Some(v), .. }) if v == "ok"));
    p.action.execute(&b).await.expect("execute");
    let missing = Action::LabelPod {
        context: "c".into(),
        namespace: "ml-platform".into(),
        pod: "nope".into(),
        key: "health".into(),
        value: None,
    };
    assert_eq!(missing.plan(&b).await.expect_err("missing").kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn patch_config_map_captures_previous_values() {
    let mut c = MockCluster::new();
    c.expect_config_map().returning(|ns, n| {
        Ok(Some(crate::backend::ConfigMap {
            namespace: ns.into(),
            name: n.into(),
            data: [("read_only".to_owned(), "false".to_owned())].into(),
        }))
    });
    c.expect_patch_config_map().times(1).returning(|_, _, _| Ok(()));
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::PatchConfigMap {
        context: "c".into(),
        namespace: "ml-platform".into(),
        name: "app-config".into(),
        data: [("read_only".to_owned(), Some("true".to_owned())), ("new".to_owned(), Some("x".to_owned()))].into(),
    };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"data": {"read_only": "false", "new": null}}));
    let Some(Action::PatchConfigMap { data, .. }) = &p.inverse else { panic!("inverse") };
    assert_eq!(data.get("read_only"), Some(&Some("false".to_owned())));
    assert_eq!(data.get("new"), Some(&None));
    assert!(
        p.summary.contains(r#"patch configmap app-config -p '{"data":{"new":"x","read_only":"true"}}'"#),
        "{}",
        p.summary
    );
    p.action.execute(&b).await.expect("execute");
}

fn manifest(name: &str, replicas: u64) -> Manifest {
    Manifest {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("ml-platform".into()),
        name: name.into(),
        body: json!({"spec": {"replicas": replicas}}),
    }
}

#[tokio::test]
async fn apply_manifests_inverse_restores_existing_and_deletes_created() {
    let mut c = MockCluster::new();
    c.expect_object().returning(|_, _, _, name| {
        Ok((name == "api").then(
            || json!({"metadata": {"name": "api", "resourceVersion": "7"}, "spec": {"replicas": 2, "paused": false}}),
        ))
    });
    c.expect_apply().times(1).returning(|m, fm| {
        assert_eq!(fm, FIELD_MANAGER);
        Ok(m.iter()
            .map(|m| crate::backend::Applied { object: m.name.clone(), before: None, outcome: "configured".into() })
            .collect())
    });
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::ApplyManifests { context: "c".into(), manifests: vec![manifest("api", 20), manifest("worker", 5)] };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"objects": [{"spec": {"replicas": 2}}, null]}));
    assert_eq!(p.after, json!({"objects": [{"spec": {"replicas": 20}}, {"spec": {"replicas": 5}}]}));
    let Some(Action::RevertManifests { restore, delete, .. }) = &p.inverse else { panic!("inverse") };
    assert_eq!(restore.len(), 1);
    assert_eq!(restore[0].body, json!({"spec": {"replicas": 2}}));
    assert_eq!(delete, &vec![ObjectRef::of(&manifest("worker", 5))]);
    p.action.execute(&b).await.expect("execute");
}

fn instance(id: &str, replica_source: Option<&str>) -> DbInstance {
    DbInstance {
        id: id.into(),
        region: "us-west-2".into(),
        status: "available".into(),
        engine: "postgres".into(),
        endpoint: None,
        replica_source: replica_source.map(str::to_owned),
        replicas: Vec::new(),
        latest_restorable_time: Some(t0()),
        earliest_restorable_time: Some(t0() - TimeDelta::days(7)),
    }
}

#[tokio::test]
async fn pitr_outside_the_window_is_refused_before_any_call() {
    let mut db = MockDatabases::new();
    db.expect_instance().returning(|_, id| Ok((id == "prod").then(|| instance("prod", None))));
    // No expectation on restore_to_point_in_time: calling it would panic.
    let (b, _) = MockSet { databases: Some(db), ..Default::default() }.backends();
    for t in [t0() + TimeDelta::minutes(1), t0() - TimeDelta::days(8)] {
        let a = Action::RdsPointInTimeRestore {
            region: "us-west-2".into(),
            source: "prod".into(),
            target: "recovery".into(),
            restore_time: Some(t),
        };
        let e = a.plan(&b).await.expect_err("outside window");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("outside the restorable window"), "{e}");
    }
}

#[tokio::test]
async fn pitr_inside_the_window_plans_a_delete_inverse_and_executes() {
    let created = Arc::new(Mutex::new(false));
    let mut db = MockDatabases::new();
    let c1 = Arc::clone(&created);
    db.expect_instance().returning(move |_, id| {
        Ok(match id {
            "prod" => Some(instance("prod", None)),
            "recovery" if *c1.lock().expect("lock") => Some(instance("recovery", None)),
            _ => None,
        })
    });
    let c2 = Arc::clone(&created);
    db.expect_restore_to_point_in_time().times(1).returning(move |_, _, target, _| {
        *c2.lock().expect("lock") = true;
        Ok(instance(target, None))
    });
    db.expect_delete_instance().with(eq("us-west-2"), eq("recovery")).times(1).returning(|_, _| Ok(()));
    let (b, _) = MockSet { databases: Some(db), ..Default::default() }.backends();
    let a = Action::RdsPointInTimeRestore {
        region: "us-west-2".into(),
        source: "prod".into(),
        target: "recovery".into(),
        restore_time: Some(t0() - TimeDelta::hours(1)),
    };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.before, json!({"target_exists": false}));
    assert_eq!(p.inverse, Some(Action::DeleteDbInstance { region: "us-west-2".into(), id: "recovery".into() }));
    p.action.execute(&b).await.expect("execute");
    assert!(a.verify(&b, &p.after).await.expect("verify"));
    p.compensate(&b).await.expect("compensate");
}

#[tokio::test]
async fn snapshot_restore_resolves_the_latest_available_snapshot() {
    let mut db = MockDatabases::new();
    db.expect_instance().returning(|_, _| Ok(None));
    db.expect_snapshots().returning(|_, _| {
        let snap = |id: &str, status: &str, h: i64| DbSnapshot {
            id: id.into(),
            instance_id: "prod".into(),
            region: "us-east-1".into(),
            status: status.into(),
            created_at: Some(t0() - TimeDelta::hours(h)),
        };
        Ok(vec![snap("newest-creating", "creating", 0), snap("new", "available", 1), snap("old", "available", 24)])
    });
    db.expect_restore_from_snapshot()
        .with(eq("us-east-1"), eq("new"), eq("restored"))
        .times(1)
        .returning(|_, _, t| Ok(instance(t, None)));
    let (b, _) = MockSet { databases: Some(db), ..Default::default() }.backends();
    let a = Action::RdsRestoreFromSnapshot {
        region: "us-east-1".into(),
        snapshot: None,
        instance: "prod".into(),
        target: "restored".into(),
    };
    let p = a.plan(&b).await.expect("plan");
    assert!(matches!(&p.action, Action::RdsRestoreFromSnapshot { snapshot: Some(s), .. } if s == "new"));
    p.action.execute(&b).await.expect("execute");
}

#[tokio::test]
async fn promote_is_irreversible_and_idempotent() {
    let promoted = Arc::new(Mutex::new(false));
    let mut db = MockDatabases::new();
    let p1 = Arc::clone(&promoted);
    db.expect_instance()
        .returning(move |_, id| Ok(Some(instance(id, if *p1.lock().expect("lock") { None } else { Some("prod") }))));
    let p2 = Arc::clone(&promoted);
    db.expect_promote_read_replica().times(1).returning(move |_, id| {
        *p2.lock().expect("lock") = true;
        Ok(instance(id, None))
    });
    let (b, _) = MockSet { databases: Some(db), ..Default::default() }.backends();
    let a = Action::PromoteReadReplica { region: "us-east-1".into(), id: "secondary".into() };
    let p = a.plan(&b).await.expect("plan");
    assert_eq!(p.inverse, None);
    p.action.execute(&b).await.expect("execute");
    assert!(a.verify(&b, &p.after).await.expect("verify"));
    assert!(a.plan(&b).await.expect("replan").is_noop());
    assert_eq!(p.compensate(&b).await.expect("nothing to undo"), "nothing to undo");
}

fn cname(name: &str, value: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: "CNAME".into(),
        ttl: Some(60),
        values: vec![value.into()],
        set_identifier: None,
        weight: None,
        failover: None,
        health_check_id: None,
    }
}

#[tokio::test]
async fn route53_change_plans_inverse_and_refuses_leaving_a_name_without_target() {
    let records = Arc::new(Mutex::new(vec![cname("api.example.com.", "primary.elb")]));
    let mut dns = MockDns::new();
    let r1 = Arc::clone(&records);
    dns.expect_record_sets().returning(move |_, name| {
        Ok(r1.lock().expect("lock").iter().filter(|r| Some(r.name.as_str()) == name).cloned().collect())
    });
    let r2 = Arc::clone(&records);
    dns.expect_change().times(4).returning(move |_, changes, _| {
        let mut r = r2.lock().expect("lock");
        for c in changes {
            r.retain(|x| record_key(x) != record_key(&c.record));
            if c.action != ChangeAction::Delete {
                r.push(c.record.clone());
            }
        }
        Ok(crate::backend::ChangeInfo {
            id: "C1".into(),
            status: crate::backend::ChangeStatus::Pending,
            submitted_at: t0(),
        })
    });
    // The compensation's change is PENDING at first, then INSYNC: compensation follows it as the
    // forward step does.
    let polls = Arc::new(Mutex::new(0u32));
    let polls_again = Arc::clone(&polls);
    dns.expect_change_status().returning(move |id| {
        let mut n = polls.lock().expect("lock");
        *n += 1;
        let status = if *n < 2 { crate::backend::ChangeStatus::Pending } else { crate::backend::ChangeStatus::Insync };
        Ok(crate::backend::ChangeInfo { id: id.into(), status, submitted_at: t0() })
    });
    let (b, _) = MockSet { dns: Some(dns), ..Default::default() }.backends();
    let a = Action::Route53Change {
        zone_id: "Z1".into(),
        changes: vec![RecordChange {
            action: ChangeAction::Upsert,
            record: cname("api.example.com.", "secondary.elb"),
        }],
    };
    let p = a.plan(&b).await.expect("plan");
    assert!(p.summary.contains("UPSERT api.example.com. CNAME -> secondary.elb"), "{}", p.summary);
    let Some(Action::Route53Change { changes, .. }) = &p.inverse else { panic!("inverse") };
    assert_eq!(
        changes,
        &vec![RecordChange { action: ChangeAction::Upsert, record: cname("api.example.com.", "primary.elb") }]
    );
    p.action.execute(&b).await.expect("execute");
    assert!(a.verify(&b, &p.after).await.expect("verify"));
    let undone = p.compensate(&b).await.expect("compensate");
    assert!(undone.ends_with("; change C1 INSYNC after 2 GetChange call(s), 250 ms"), "{undone}");
    assert_eq!(records.lock().expect("lock").clone(), vec![cname("api.example.com.", "primary.elb")]);
    // Done again with the wait already over and the change PENDING (the mock answers INSYNC only on its
    // second call, and there is no time for one): the records are restored and the description says
    // propagation is unconfirmed, rather than an error a retry would turn into "already undone".
    *polls_again.lock().expect("lock") = 0;
    p.action.execute(&b).await.expect("execute again");
    let undone = p.compensate_by(&b, b.clock.now()).await.expect("compensate by now");
    assert!(
        undone.contains(
            "; records restored, propagation unconfirmed: route53 change C1 not INSYNC by the step deadline (PENDING after 1 GetChange call(s)"
        ),
        "{undone}"
    );
    assert_eq!(records.lock().expect("lock").clone(), vec![cname("api.example.com.", "primary.elb")]);

    let orphan = Action::Route53Change {
        zone_id: "Z1".into(),
        changes: vec![RecordChange { action: ChangeAction::Delete, record: cname("api.example.com.", "primary.elb") }],
    };
    let e = orphan.plan(&b).await.expect_err("no target left");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("no target"), "{e}");
}

#[tokio::test]
async fn switch_context_is_not_mutating_and_unknown_context_fails_planning() {
    let mut c = MockCluster::new();
    c.expect_nodes().returning(|| Ok(Vec::new()));
    let (b, _) = MockSet { cluster: Some(Arc::new(c)), ..Default::default() }.backends();
    let a = Action::SwitchContext { context: "secondary".into() };
    assert!(!a.is_mutating());
    let p = a.plan(&b).await.expect("plan");
    assert!(p.is_noop() && p.inverse.is_none());
    assert!(a.execute(&b).await.expect("execute").contains("reachable"));
    let (b, _) = MockSet::default().backends();
    assert_eq!(a.plan(&b).await.expect_err("unknown").kind(), ErrorKind::NotFound);
}

#[test]
fn actions_round_trip_through_json_with_an_action_tag() {
    let a = scale(10);
    let v = serde_json::to_value(&a).expect("json");
    assert_eq!(v["action"], "scale_deployment");
    assert_eq!(serde_json::from_value::<Action>(v).expect("back"), a);
    let bad =
        json!({"action": "scale_deployment", "context": "c", "namespace": "n", "name": "x", "replicas": 1, "typo": 1});
    assert!(serde_json::from_value::<Action>(bad).is_err());
}
