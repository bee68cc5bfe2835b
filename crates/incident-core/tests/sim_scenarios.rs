//! Every built-in scenario parses, builds, and its expected end state is reachable by running the runbook
//! steps by hand against the simulated backends.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use incident_core::backend::{Backends, ChangeAction, RecordChange};
use incident_core::policy::DrillKind;
use incident_core::sim::{DEPRECATED_NAMES, PROCEDURES, Scenario, SimPlatform, runtime};
use incident_core::{ErrorKind, Result};

macro_rules! retry {
    ($b:expr, $e:expr) => {{
        let mut n = 0;
        loop {
            match $e.await {
                Ok(v) => break Ok(v),
                Err(e) if e.is_retryable() && n < 30 => {
                    n += 1;
                    $b.clock.sleep(Duration::from_secs(2)).await;
                }
                Err(e) => break Err(e),
            }
        }
    }};
}

/// A mutation retried; a `Conflict`/`PreconditionFailed` after an ambiguous attempt means it already
/// happened.
fn done<T>(r: Result<T>) {
    if let Err(e) = r {
        assert!(matches!(e.kind(), ErrorKind::Conflict | ErrorKind::PreconditionFailed), "{e}");
    }
}

async fn run_procedure(p: &SimPlatform, b: &Backends, s: &Scenario) {
    let params = &s.procedure.params;
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    match s.procedure.name.as_str() {
        "application-rollback" => {
            let c = b.clusters.cluster(&get("context")).await.unwrap();
            let to = params.get("to_revision").map(|r| r.parse::<u64>().unwrap());
            retry!(b, c.rollback(&get("namespace"), &get("deployment"), to)).unwrap();
        }
        "region-failure" => {
            let sec = get("secondary_region");
            done(retry!(b, b.databases.promote_read_replica(&sec, &get("replica_instance"))));
            let c = b.clusters.cluster(&get("secondary_context")).await.unwrap();
            retry!(b, c.scale(&get("namespace"), &get("deployment"), get("replicas").parse().unwrap())).unwrap();
            let zone = get("zone_id");
            let mut rec = retry!(b, b.dns.record_sets(&zone, Some(&get("record_name")))).unwrap().remove(0);
            rec.values = vec![get("target")];
            retry!(
                b,
                b.dns.change(&zone, &[RecordChange { action: ChangeAction::Upsert, record: rec.clone() }], "failover")
            )
            .unwrap();
            if let Some(snap) = params.get("snapshot") {
                done(retry!(b, b.databases.restore_from_snapshot(&sec, snap, &get("restore_target"))));
            }
        }
        "database-corruption" => {
            let c = b.clusters.cluster(&get("context")).await.unwrap();
            retry!(b, c.scale(&get("namespace"), &get("deployment"), 0)).unwrap();
            let patch = [("read_only".to_string(), Some("true".to_string()))].into();
            retry!(b, c.patch_config_map(&get("namespace"), &get("config_map"), &patch)).unwrap();
            let pg = b.probes["postgres"].probe().await.unwrap();
            assert!(!pg.healthy, "corruption visible before restore: {pg:?}");
            let at = chrono::DateTime::parse_from_rfc3339(&get("restore_time")).unwrap().to_utc();
            done(retry!(
                b,
                b.databases.restore_to_point_in_time(
                    &get("region"),
                    &get("source_instance"),
                    &get("target_instance"),
                    Some(at)
                )
            ));
        }
        "database-recovery" => {
            done(retry!(b, b.databases.promote_read_replica(&get("region"), &get("replica_instance"))));
        }
        other => panic!("no hand-written procedure for {other}"),
    }
    let _ = p;
    // let everything converge (snapshot restore is the slowest: 25 minutes)
    b.clock.sleep(Duration::from_secs(30 * 60)).await;
}

#[test]
fn every_scenario_parses_builds_and_is_reachable() {
    assert_eq!(Scenario::names().len(), 7);
    for name in Scenario::names() {
        let s = Scenario::builtin(name).unwrap();
        assert!(PROCEDURES.contains(&s.procedure.name.as_str()));
        s.signals.alertmanager_json().unwrap();
        assert!(!s.signals.expand_observations().unwrap().is_empty(), "{name} has signals");
        let p = SimPlatform::from_scenario(&s).unwrap();
        let b = p.backends();
        runtime().unwrap().block_on(async {
            // let the scenario's events happen, as the detector would see them
            b.clock.sleep(Duration::from_secs(12 * 60)).await;
            run_procedure(&p, &b, &s).await;
        });
        let outcomes = p.verify(&s.expect);
        assert!(!outcomes.is_empty(), "{name} has expectations");
        assert!(outcomes.iter().all(|o| o.ok), "{name}: {outcomes:#?}");
    }
}

#[test]
fn deprecated_scenario_and_procedure_names_are_aliases() {
    for (old, new) in DEPRECATED_NAMES {
        assert!(!Scenario::names().contains(&old) && Scenario::names().contains(&new), "{old} -> {new}");
        assert_eq!(Scenario::builtin(old).unwrap(), Scenario::builtin(new).unwrap());
        assert_eq!(Scenario::from_name_or_path(old).unwrap().name, new);
    }
    assert_eq!(Scenario::builtin("db-corruption").unwrap().name, "database-corruption");
    // A scenario file naming a procedure by its deprecated name still validates and builds.
    let mut s = Scenario::builtin("region-failure").unwrap();
    assert_eq!(s.procedure.name, "region-failure");
    s.procedure.name = "regional-failover".into();
    let s = Scenario::from_yaml_str(&s.to_yaml().unwrap()).unwrap();
    let p = incident_core::engine::library::procedure_from_spec(
        &s.procedure.name,
        &s.procedure.params,
        &incident_core::Policy::default(),
    )
    .unwrap();
    assert_eq!(p.name, "region-failure");
}

#[test]
fn every_drill_kind_has_a_scenario() {
    for kind in DrillKind::ALL {
        let s = Scenario::builtin(kind.as_str()).unwrap();
        assert_eq!(s.drill, Some(kind));
    }
}

#[test]
fn expectations_fail_before_the_procedure() {
    let s = Scenario::builtin("region-failure").unwrap();
    let p = SimPlatform::from_scenario(&s).unwrap();
    p.advance(Duration::from_secs(120)).unwrap();
    let outcomes = p.verify(&s.expect);
    assert!(outcomes.iter().any(|o| !o.ok));
    let http = outcomes.iter().find(|o| o.check.starts_with("GET")).unwrap();
    assert!(!http.ok && http.detail.starts_with("503"), "{http:?}");
}

#[test]
fn bad_scenarios_are_rejected_with_the_field() {
    let base = include_str!("../scenarios/bad-deploy.yaml");
    let e = Scenario::from_yaml_str(
        &base.replace("procedure:\n  name: application-rollback", "procedure:\n  name: reboot-everything"),
    )
    .unwrap_err();
    assert!(e.message().contains("reboot-everything"), "{e}");
    let e = Scenario::from_yaml_str(&base.replace("    deploy:\n", "    region_dark: us-west-2\n    deploy:\n"))
        .unwrap_err();
    assert!(e.message().contains("exactly one"), "{e}");
    let e = Scenario::from_yaml_str(&base.replace("  - at: 2m\n", "  - at: 2m\n    colour: red\n")).unwrap_err();
    assert!(e.message().contains("events[0]") && e.message().contains("colour"), "{e}");
    let e = Scenario::from_yaml_str("name: x\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
