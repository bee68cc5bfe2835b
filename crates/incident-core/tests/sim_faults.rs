//! Fault injection: determinism, timeouts after applying, dark regions.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use incident_core::ErrorKind;
use incident_core::sim::{Faults, Scenario, SimPlatform, runtime};

fn run(seed: u64) -> (Vec<String>, Vec<String>) {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").unwrap()).unwrap();
    p.set_faults(Faults {
        error_rate: 0.2,
        throttle_rate: 0.1,
        timeout_rate: 0.2,
        latency_spike_rate: 0.1,
        seed,
        ..Faults::default()
    })
    .unwrap();
    let b = p.backends();
    let outcomes = runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        let mut out = Vec::new();
        for i in 0..60u32 {
            let r = if i % 3 == 0 {
                c.scale("ml-platform", "ml-inference-api", 3 + i).await.map(|()| "scaled".to_string())
            } else {
                c.deployment("ml-platform", "ml-inference-api").await.map(|d| format!("rev {}", d.unwrap().revision))
            };
            out.push(match r {
                Ok(s) => s,
                Err(e) => format!("{}:{}:{}", e.kind(), e.request_may_have_been_sent(), e.message()),
            });
        }
        out
    });
    (outcomes, p.operation_log().into_iter().map(|o| format!("{} {}", o.at, o.op)).collect())
}

#[test]
fn same_seed_same_faults() {
    let a = run(42);
    let b = run(42);
    assert_eq!(a, b);
    let c = run(43);
    assert_ne!(a.0, c.0);
    let kinds = a.0.join("\n");
    assert!(kinds.contains("unavailable:false"), "{kinds}");
    assert!(kinds.contains("Throttling: Rate exceeded"), "{kinds}");
    assert!(kinds.contains("timeout:"), "{kinds}");
}

#[test]
fn a_timeout_after_apply_is_marked_maybe_sent_and_was_applied() {
    // find a seed whose first call is a timeout after applying
    for seed in 0..500 {
        let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").unwrap()).unwrap();
        p.set_faults(Faults { timeout_rate: 1.0, seed, ..Faults::default() }).unwrap();
        let b = p.backends();
        let err = runtime().unwrap().block_on(async {
            let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
            c.scale("ml-platform", "ml-inference-api", 7).await.unwrap_err()
        });
        assert_eq!(err.kind(), ErrorKind::Timeout);
        let applied = p.api_operations().len() == 1;
        assert_eq!(applied, err.request_may_have_been_sent(), "seed {seed}");
        if applied {
            p.set_faults(Faults::default()).unwrap();
            let d = runtime().unwrap().block_on(async {
                b.clusters
                    .cluster("ml-platform-primary")
                    .await
                    .unwrap()
                    .deployment("ml-platform", "ml-inference-api")
                    .await
            });
            assert_eq!(d.unwrap().unwrap().replicas, 7);
            return;
        }
    }
    panic!("no timeout-after-apply in 500 seeds");
}

#[test]
fn dark_region_fails_every_call_there() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("region-failure").unwrap()).unwrap();
    let b = p.backends();
    runtime().unwrap().block_on(async {
        assert_eq!(b.cloud.caller_identity("us-west-2").await.unwrap(), "123456789012");
        assert!(b.cloud.health_events("us-west-2", &[]).await.unwrap().is_empty());
        b.clock.sleep(Duration::from_secs(61)).await; // region_dark at 1m
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        assert_eq!(c.deployments("ml-platform").await.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(c.scale("ml-platform", "ml-inference-api", 1).await.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(b.databases.instances("us-west-2").await.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(b.cloud.caller_identity("us-west-2").await.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(b.cloud.caller_identity("us-east-1").await.unwrap(), "123456789012");
        let events = b.cloud.health_events("us-west-2", &["EC2".into(), "RDS".into(), "EKS".into()]).await.unwrap();
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|e| e.status == "open" && e.region == "us-west-2"));
        assert_eq!(b.http.get("https://api.ml-platform.com/health", Duration::from_secs(5)).await.unwrap().status, 503);
        let pg = b.probes["postgres"].probe().await.unwrap();
        assert!(!pg.healthy);
        // the secondary still works
        let c2 = b.clusters.cluster("ml-platform-secondary").await.unwrap();
        assert_eq!(c2.deployment("ml-platform", "ml-inference-api").await.unwrap().unwrap().ready_replicas, 2);
    });
    assert_eq!(p.api_operations().len(), 0);
    p.region_recovers("us-west-2").unwrap();
    assert!(p.faults().dark_regions.is_empty());
    assert_eq!(p.region_goes_dark("mars-1").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn notifier_records_and_fails_under_faults() {
    let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").unwrap()).unwrap();
    let b = p.backends();
    let n = incident_core::backend::Notification {
        incident_id: "INC-7".into(),
        to: incident_core::backend::Destination::Channel { name: "#incident-2026-11-06-1500".into() },
        kind: "declared".into(),
        text: "P1 declared".into(),
    };
    runtime().unwrap().block_on(async {
        let d = b.notifier.notify(&n).await.unwrap();
        assert!(matches!(d, incident_core::backend::Delivery::Delivered { .. }));
        p.set_faults(Faults { error_rate: 1.0, ..Faults::default() }).unwrap();
        assert_eq!(b.notifier.notify(&n).await.unwrap_err().kind(), ErrorKind::Unavailable);
    });
    assert_eq!(p.notifications(), vec![n]);
    assert!(Faults { throttle_rate: -0.1, ..Faults::default() }.dark_regions.is_empty());
    assert!(p.set_faults(Faults { throttle_rate: -0.1, ..Faults::default() }).is_err());
}
