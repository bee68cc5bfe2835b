//! Procedure matching (`policy.matching`, `incident_core::matching`): one table row per runbook scenario,
//! including "no rule matched", then rules from policy files, field-named errors for bad rules, and the
//! findings of real triage on the simulator.

use std::collections::BTreeMap;

use incident_core::matching::{MatchInput, Verdict, match_procedure};
use incident_core::{ErrorKind, Policy};
use serde_json::json;

const AT: &str = "2026-11-06T15:04:00Z";

fn input(v: serde_json::Value) -> MatchInput {
    serde_json::from_value(v).expect("a valid match input")
}

fn alert(name: &str, labels: serde_json::Value) -> serde_json::Value {
    let mut l = labels.as_object().cloned().unwrap_or_default();
    l.insert("alertname".into(), json!(name));
    json!({ "labels": l, "starts_at": AT })
}

struct Row {
    scenario: &'static str,
    input: serde_json::Value,
    /// `(rule, procedure)` chosen, or `None` for "no rule matched".
    expect: Option<(&'static str, &'static str)>,
    params: &'static [(&'static str, &'static str)],
    /// Substrings of the chosen rule's facts (or, for no match, of some rule's reasons).
    explains: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    let rollout = |name: &str, at: &str| {
        json!({ "namespace": "ml-platform", "name": name, "revision": 3, "previous_revision": 2, "at": at,
                "change_cause": format!("deploy {name} v2.1.0"), "commit": "9f3c2ab" })
    };
    vec![
        Row {
            scenario: "bad deploy: error rate on a service rolled out 4 minutes before",
            input: json!({ "alerts": [alert("HighErrorRate", json!({"service": "ml-inference-api"}))],
                           "findings": { "rollouts": [rollout("ml-inference-api", "2026-11-06T15:00:00Z")] } }),
            expect: Some(("rollback-recent-rollout", "application-rollback")),
            params: &[
                ("context", "ml-platform-primary"),
                ("deployment", "ml-inference-api"),
                ("namespace", "ml-platform"),
            ],
            explains: &[
                "ml-platform/ml-inference-api rolled out revision 3",
                "4m before the alert",
                "previous revision 2",
                "commit 9f3c2ab",
                "HighErrorRate",
            ],
        },
        Row {
            scenario: "bad deploy seen through facts only (customer-facing errors), alert named the other deployment",
            input: json!({ "at": AT, "facts": { "customer_facing_errors": true, "service": "ml-gateway" },
                           "findings": { "rollouts": [rollout("ml-gateway", "2026-11-06T14:40:00Z"), rollout("ml-inference-api", "2026-11-06T15:00:00Z")] } }),
            expect: Some(("rollback-recent-rollout", "application-rollback")),
            params: &[("deployment", "ml-gateway"), ("namespace", "ml-platform")],
            explains: &[
                "ml-platform/ml-gateway rolled out",
                "24m before the alert",
                "fact customer_facing_errors = true",
            ],
        },
        Row {
            scenario: "crash-looping pods after a ConfigMap change",
            input: json!({ "at": AT, "context": { "kube_context": "ml-platform-blue" },
                           "findings": { "crash_looping": [{ "namespace": "ml-platform", "deployment": "feature-store", "pods": 3 }],
                                         "config_changes": [{ "namespace": "ml-platform", "object": "ConfigMap/feature-store-config", "at": "2026-11-06T14:55:00Z" }] } }),
            expect: Some(("rollback-crash-loop-after-config-change", "application-rollback")),
            params: &[("context", "ml-platform-blue"), ("deployment", "feature-store"), ("namespace", "ml-platform")],
            explains: &[
                "3 pod(s) of ml-platform/feature-store crash-loop after ConfigMap/feature-store-config changed",
                "9m before the alert",
            ],
        },
        Row {
            scenario: "Complete Region Failure: AWS Health event in the primary region",
            input: json!({ "at": AT, "context": { "primary_region": "us-west-2", "secondary_region": "us-east-1" },
                           "findings": { "health_events": [{ "service": "EKS", "region": "us-west-2", "code": "AWS_EKS_OPERATIONAL_ISSUE", "status": "open", "start_time": null }] } }),
            expect: Some(("region-failure", "region-failure")),
            params: &[("primary_region", "us-west-2"), ("secondary_region", "us-east-1")],
            explains: &["AWS Health: open EKS event AWS_EKS_OPERATIONAL_ISSUE in us-west-2"],
        },
        Row {
            scenario: "Complete Region Failure: the primary region does not answer",
            input: json!({ "at": AT, "context": { "primary_region": "eu-west-1", "secondary_region": "eu-central-1" },
                           "findings": { "unreachable_regions": ["eu-west-1"] } }),
            expect: Some(("region-failure", "region-failure")),
            params: &[("primary_region", "eu-west-1"), ("secondary_region", "eu-central-1")],
            explains: &["region eu-west-1 does not answer"],
        },
        Row {
            scenario: "Database Corruption: an integrity alert",
            input: json!({ "alerts": [alert("DataIntegrityCheckFailed", json!({"service": "postgres"}))] }),
            expect: Some(("database-corruption", "database-corruption")),
            params: &[("context", "ml-platform-primary"), ("region", "us-west-2")],
            explains: &["firing alert with alertname=DataIntegrityCheckFailed"],
        },
        Row {
            scenario: "Database Corruption: a failed integrity check, and a recent rollout also matches (priority)",
            input: json!({ "alerts": [alert("HighErrorRate", json!({}))],
                           "context": { "primary_region": "us-east-2" },
                           "findings": { "rollouts": [rollout("ml-inference-api", "2026-11-06T15:00:00Z")],
                                         "failed_integrity_checks": [{ "datastore": "postgres", "check": "active_models", "detail": "0 < 1" }] } }),
            expect: Some(("database-corruption", "database-corruption")),
            params: &[("region", "us-east-2")],
            explains: &["integrity check active_models failed on postgres: 0 < 1"],
        },
        Row {
            scenario: "Traffic Management: performance degraded by more than 50 %",
            input: json!({ "at": AT, "facts": { "performance_degradation_pct": 75.0, "service": "ml-inference-api" } }),
            expect: Some(("traffic-management", "traffic-management")),
            params: &[("deployment", "ml-inference-api")],
            explains: &["fact performance_degradation_pct = 75"],
        },
        Row {
            scenario: "no rule matched: errors but the only rollout is 45 minutes old, latency 20 %, other region's event",
            input: json!({ "alerts": [alert("HighErrorRate", json!({"service": "ml-inference-api"}))],
                           "facts": { "performance_degradation_pct": 20.0 },
                           "context": { "primary_region": "us-west-2", "secondary_region": "us-east-1" },
                           "findings": { "rollouts": [rollout("ml-inference-api", "2026-11-06T14:19:00Z")],
                                         "health_events": [{ "service": "EC2", "region": "us-east-1", "code": "X", "status": "open", "start_time": null }] } }),
            expect: None,
            params: &[],
            explains: &[
                "45m before the alert, more than 30m",
                "fact performance_degradation_pct is 20.0, not performance_degradation_pct >= 50",
                "no open AWS Health event for EC2/RDS/EKS in us-west-2",
                "no crash-looping pods",
            ],
        },
        Row {
            scenario: "no rule matched: nothing known",
            input: json!({}),
            expect: None,
            params: &[],
            explains: &["no rollout found", "no failed integrity check", "the primary region answers"],
        },
    ]
}

#[test]
fn every_runbook_scenario_matches_its_procedure_and_no_match_is_an_answer() {
    let policy = Policy::default();
    for row in rows() {
        let m = match_procedure(&policy, &input(row.input.clone())).expect(row.scenario);
        assert_eq!(m.rules.len(), policy.matching.rules.len(), "{}: every rule is reported", row.scenario);
        let got = m.matched.as_ref().map(|x| (x.rule.as_str(), x.procedure.as_str()));
        assert_eq!(got, row.expect, "{}:\n{}", row.scenario, m.render());
        let text = m.render();
        match &m.matched {
            Some(chosen) => {
                let params: BTreeMap<&str, &str> =
                    chosen.params.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect();
                for (k, v) in row.params {
                    assert_eq!(params.get(k), Some(v), "{}: param {k}\n{text}", row.scenario);
                }
                let facts = chosen.facts.join("\n");
                for needle in row.explains {
                    assert!(facts.contains(needle), "{}: facts should contain {needle:?}: {facts}", row.scenario);
                }
                assert!(chosen.params.iter().all(|p| !p.source.is_empty()));
                let n = m.rules.iter().filter(|r| r.verdict == Verdict::Chosen).count();
                assert_eq!(n, 1, "{}: one rule is chosen", row.scenario);
                // The proposal builds into a procedure value as is.
                let procedure = m.procedure(&policy).expect("builds").expect("some");
                assert_eq!(procedure.name, chosen.procedure);
                assert!(text.starts_with(&format!("Procedure: {} (rule {})", chosen.procedure, chosen.rule)), "{text}");
            }
            None => {
                assert!(m.rules.iter().all(|r| r.verdict == Verdict::NotMatched && !r.reasons.is_empty()), "{text}");
                let reasons = m.rules.iter().flat_map(|r| r.reasons.clone()).collect::<Vec<_>>().join("\n");
                for needle in row.explains {
                    assert!(
                        reasons.contains(needle),
                        "{}: reasons should contain {needle:?}:\n{reasons}",
                        row.scenario
                    );
                }
                assert!(text.starts_with("No rule matched: no procedure is proposed (5 rules considered)."), "{text}");
                assert!(m.procedure(&policy).expect("no error").is_none());
            }
        }
        // Deterministic: the same input gives the same answer.
        assert_eq!(match_procedure(&policy, &input(row.input)).expect("again"), m, "{}", row.scenario);
    }
}

#[test]
fn rules_are_tried_by_priority_and_lower_matches_are_reported() {
    let policy = Policy::default();
    let m = match_procedure(&policy, &input(rows().remove(6).input)).expect("match");
    let order: Vec<&str> = m.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        order,
        [
            "database-corruption",
            "region-failure",
            "rollback-recent-rollout",
            "rollback-crash-loop-after-config-change",
            "traffic-management"
        ]
    );
    let verdicts: Vec<Verdict> = m.rules.iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Chosen, Verdict::NotMatched, Verdict::AlsoMatched, Verdict::NotMatched, Verdict::NotMatched]
    );
    assert!(m.render().contains("rollback-recent-rollout → application-rollback (priority 200): also matched"));
}

#[test]
fn rules_from_a_policy_file_replace_the_defaults() {
    let policy = Policy::from_toml_str(
        r#"
[[matching.rules]]
id = "scale-on-saturation"
description = "Queue saturation: scale the consumer named by the alert"
procedure = "traffic-management"
priority = 10
all = [{ kind = "alert_annotation", key = "runbook", any_of = ["saturation"] }]
params.deployment = [{ from = "label", key = "deployment" }]
params.replicas = [{ from = "annotation", key = "replicas" }, { from = "value", key = "10" }]
params.namespace = [{ from = "context", key = "namespace" }, { from = "value", key = "ml-platform" }]
"#,
    )
    .expect("a valid policy");
    assert_eq!(policy.matching.rules.len(), 1);
    let mut a = alert("QueueSaturated", json!({"deployment": "batch-worker"}));
    a["annotations"] = json!({"runbook": "saturation", "replicas": "6"});
    let m = match_procedure(&policy, &input(json!({ "alerts": [a] }))).expect("match");
    let chosen = m.matched.expect("matched");
    let got: Vec<(&str, &str, &str)> =
        chosen.params.iter().map(|p| (p.name.as_str(), p.value.as_str(), p.source.as_str())).collect();
    assert_eq!(
        got,
        [
            ("deployment", "batch-worker", "label deployment"),
            ("namespace", "ml-platform", "the rule's value"),
            ("replicas", "6", "annotation replicas")
        ]
    );
    // A parameter without a value is a reason, not a guess.
    let m = match_procedure(&policy, &input(json!({ "alerts": [{ "annotations": {"runbook": "saturation"} }] })))
        .expect("match");
    assert!(m.matched.is_none());
    assert_eq!(m.rules[0].reasons, ["parameter `deployment` has no value (label deployment)"]);
    // A value the procedure rejects is a reason too.
    let mut a = alert("QueueSaturated", json!({"deployment": "batch-worker"}));
    a["annotations"] = json!({"runbook": "saturation", "replicas": "many"});
    let m = match_procedure(&policy, &input(json!({ "alerts": [a] }))).expect("match");
    assert!(m.matched.is_none());
    assert!(m.rules[0].reasons[0].starts_with("the procedure rejects the parameters:"), "{:?}", m.rules[0].reasons);
    // An empty rule list: nothing is proposed, and the answer says so.
    let none = Policy::from_json_str(r#"{"matching": {"rules": []}}"#).expect("valid");
    let m = match_procedure(&none, &MatchInput::default()).expect("match");
    assert!(m.matched.is_none() && m.rules.is_empty());
    assert!(m.render().starts_with("No rule matched: no procedure is proposed (0 rules considered)."));
}

#[test]
fn bad_rules_in_policy_files_name_the_field() {
    let cases = [
        (
            r#"[[matching.rules]]
id = "x"
procedure = "reboot-everything"
any = [{ kind = "region_unreachable" }]"#,
            "policy field `matching.rules[0].procedure`: \"reboot-everything\" is not one of",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "region-failure""#,
            "policy field `matching.rules[0].all`: a rule needs at least one condition",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "application-rollback"
all = [{ kind = "recent_rollout", within = "0s" }]"#,
            "policy field `matching.rules[0].all[0].within`: must be > 0",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "application-rollback"
all = [{ kind = "fact", fact = "outrage" }]"#,
            "policy field `matching.rules[0].all[0].fact`: \"outrage\" is not one of",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "application-rollback"
all = [{ kind = "recent_rollout", within = "30m" }]
params.deployment = [{ from = "finding", key = "rollout.deploymnet" }]"#,
            "policy field `matching.rules[0].params.deployment[0].key`: \"rollout.deploymnet\" is not one of",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "application-rollback"
all = [{ kind = "recent_rollout", within = "30m" }]
params.deployment = []"#,
            "policy field `matching.rules[0].params.deployment`: needs at least one source",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "region-failure"
any = [{ kind = "region_unreachable" }]
[[matching.rules]]
id = "x"
procedure = "region-failure"
any = [{ kind = "region_unreachable" }]"#,
            "policy field `matching.rules[1].id`: \"x\" is used by an earlier rule",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "region-failure"
any = [{ kind = "region_down" }]"#,
            "policy field `matching.rules[0].any[0].kind`: unknown variant `region_down`",
        ),
        (
            r#"[[matching.rules]]
id = "x"
procedure = "region-failure"
any = [{ kind = "region_unreachable" }]
params.primary_region = [{ from = "env", key = "X" }]"#,
            "policy field `matching.rules[0].params.primary_region[0].from`: unknown variant `env`",
        ),
    ];
    for (text, want) in cases {
        let e = Policy::from_toml_str(text).expect_err(want);
        assert_eq!(e.kind(), ErrorKind::Policy, "{want}");
        assert!(e.message().starts_with(want), "{:?} should start with {want:?}", e.message());
    }
    // Deprecated procedure names are accepted and mean the current one.
    let p = Policy::from_toml_str(
        "[[matching.rules]]\nid = \"x\"\nprocedure = \"regional-failover\"\nany = [{ kind = \"region_unreachable\" }]\n",
    )
    .expect("alias");
    let m = match_procedure(&p, &input(json!({ "findings": { "unreachable_regions": ["us-west-2"] } }))).expect("m");
    assert_eq!(m.matched.map(|x| x.procedure), Some("region-failure".to_owned()));
}

/// Real triage and cloud checks on the simulator feed the matcher.
#[cfg(feature = "sim")]
mod sim {
    use super::*;
    use incident_core::matching::Findings;
    use incident_core::sim::{Scenario, SimPlatform};
    use incident_core::triage::{TriageOptions, triage};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn bad_deploy_on_the_simulator_matches_the_rollback_of_that_deployment() {
        let p = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("platform");
        p.advance(Duration::from_secs(5 * 60)).expect("the rollout happens and crash-loops");
        let cluster = p.backends().clusters.cluster("ml-platform-primary").await.expect("primary");
        let opts = TriageOptions { since: Some(p.started_at()), ..TriageOptions::default() };
        let report = triage(cluster.as_ref(), &[], &opts, p.now()).await;
        let findings = Findings::from_triage(&report);
        let r = findings.rollouts.iter().find(|r| r.name == "ml-inference-api").expect("the bad rollout is found");
        assert_eq!(r.change_cause.as_deref(), Some("deploy ml-inference-api v2.1.0 (feature store v3)"));
        assert_eq!(r.previous_revision, Some(r.revision - 1), "{findings:?}");
        let m = match_procedure(
            &Policy::default(),
            &MatchInput {
                at: Some(p.now()),
                alerts: vec![incident_core::matching::MatchAlert {
                    status: incident_core::alert::AlertStatus::Firing,
                    starts_at: Some(p.now()),
                    labels: [("alertname", "HighErrorRate"), ("service", "ml-inference-api")]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    annotations: BTreeMap::new(),
                }],
                findings,
                ..MatchInput::default()
            },
        )
        .expect("match");
        let chosen = m.matched.as_ref().unwrap_or_else(|| panic!("{}", m.render()));
        assert_eq!(
            (chosen.rule.as_str(), chosen.procedure.as_str()),
            ("rollback-recent-rollout", "application-rollback")
        );
        let params = m.params();
        assert_eq!(params.get("deployment").map(String::as_str), Some("ml-inference-api"));
        assert_eq!(params.get("namespace").map(String::as_str), Some("ml-platform"));
        assert!(chosen.facts[0].contains("3m before the alert"), "{:?}", chosen.facts);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dark_region_on_the_simulator_matches_region_failure() {
        let p = SimPlatform::from_scenario(&Scenario::builtin("region-failure").expect("scenario")).expect("platform");
        p.region_goes_dark("us-west-2").expect("dark");
        let regions = ["us-west-2".to_owned(), "us-east-1".to_owned()];
        let findings = Findings::from_cloud(p.backends().cloud.as_ref(), &regions, &[]).await;
        assert_eq!(findings.unreachable_regions, ["us-west-2"]);
        assert!(findings.health_events.iter().all(|e| e.region == "us-west-2") && !findings.health_events.is_empty());
        let context = [("primary_region", "us-west-2"), ("secondary_region", "us-east-1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let m = match_procedure(
            &Policy::default(),
            &MatchInput { at: Some(p.now()), findings, context, ..MatchInput::default() },
        )
        .expect("match");
        let chosen = m.matched.as_ref().unwrap_or_else(|| panic!("{}", m.render()));
        assert_eq!(chosen.procedure, "region-failure");
        assert_eq!(m.params().get("primary_region").map(String::as_str), Some("us-west-2"));
        assert!(m.procedure(&Policy::default()).expect("builds").is_some());
    }
}
