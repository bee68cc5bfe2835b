//! Writes seed corpora that have no fixture file: serialized procedures and plans, stored timelines and
//! journals, impact facts and observations, and the alert inputs the fixtures only hold inside another
//! format (CloudWatch alarm documents, SNS confirmations, the `sns_signing` line format). `cargo run --example seeds -- OUT_DIR` writes
//! `OUT_DIR/<target>/<name>`; `scripts/fuzz` runs it before fuzzing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use incident_core::engine::{Approval, Executor, library};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::sim::{Faults, Scenario, SimPlatform};
use incident_core::store::{MemoryStore, Store};
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{Policy, Severity, Status};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write(dir: &Path, target: &str, name: &str, text: &str) -> Res<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(name), text)?;
    Ok(())
}

fn main() -> Res<()> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: seeds OUT_DIR")?);
    let policy = Policy::default();
    for name in library::NAMES {
        let p = library::by_name(name, &policy)?;
        write(&out, "procedure", &format!("{name}.json"), &p.to_json()?)?;
        write(&out, "procedure", &format!("{name}.yaml"), &p.to_yaml()?)?;
    }
    let rt = incident_core::sim::runtime()?;
    // (procedure, scenario): a plan, and the journal of running it (under light faults) with a timeline.
    for (i, (name, scenario)) in [
        ("traffic-management", "bad-deploy"),
        ("region-failure", "regional-failover"),
        ("database-recovery", "bad-deploy"),
    ]
    .into_iter()
    .enumerate()
    {
        let platform = SimPlatform::from_scenario(&Scenario::builtin(scenario)?)?;
        let b = platform.backends();
        let plan = rt.block_on(library::by_name(name, &policy)?.plan(&b, &policy))?;
        write(&out, "plan", &format!("{name}.json"), &serde_json::to_string_pretty(&plan)?)?;
        write(&out, "plan", &format!("{name}.yaml"), &serde_yaml_ng::to_string(&plan)?)?;
        let store = Arc::new(MemoryStore::new());
        let (incident, timeline) = Incident::declare(
            DeclareRequest {
                id: format!("INC-{i}"),
                title: format!("{scenario} seed"),
                severity: Severity::P1,
                components: vec!["ml-inference-api".into()],
                impact: "errors".into(),
                customer_facing: true,
                customers_affected: true,
                on_call: "alice".into(),
                commander: None,
                started_at: None,
                detected_at: None,
                detection_source: Some("prometheus".into()),
            },
            &policy,
            b.clock.now(),
        )?;
        let run_id = plan.run_id.clone();
        let approved = plan.approve(Approval::new("seed", b.clock.now()).confirm_production())?;
        platform.set_faults(Faults { error_rate: 0.1, timeout_rate: 0.1, seed: 7, ..Faults::default() })?;
        let journal = rt.block_on(async {
            store.save_incident(&incident).await?;
            store.append_events(&incident.id, timeline.events()).await?;
            let ex = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, policy.clone());
            ex.run(approved, Some(incident.id.clone())).await?;
            store.journal(&run_id).await
        })?;
        write(&out, "journal", &format!("{name}.json"), &serde_json::to_string_pretty(&journal)?)?;
        let mut tl = rt.block_on(store.timeline(&incident.id))?;
        let mut inc = incident.clone();
        let at = tl.last().map_or_else(|| b.clock.now(), |e| e.at);
        inc.acknowledge(at, "alice", &mut tl)?;
        inc.transition(Status::Identified, at, "alice", &mut tl)?;
        tl.append(
            at,
            "bot",
            EventKind::MessageSent {
                channel: "status-page".into(),
                kind: "status_update".into(),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            },
        )?;
        tl.append(at, "alice", EventKind::EvidenceAdded { name: "logs.txt".into(), sha256: "0".repeat(64) })?;
        inc.mark_mitigated(at, "alice", &mut tl)?;
        inc.resolve(at, "alice", &mut tl)?;
        write(&out, "timeline", &format!("{name}.json"), &serde_json::to_string_pretty(&tl)?)?;
        write(&out, "timeline", &format!("{name}-events.json"), &serde_json::to_string(tl.events())?)?;
    }
    for (name, text) in [
        ("partial.json", r#"{"outage":"partial","customer_facing_errors":true}"#),
        ("complete.yaml", "outage: complete\ndata_loss_or_corruption: true\n"),
        ("latency.json", r#"{"performance_degradation_pct":75.5,"service":"api","customer_facing":true}"#),
        (
            "observations.jsonl",
            "{\"service\":\"api\",\"at\":\"2026-11-26T14:00:00Z\",\"signal\":{\"error_rate\":0.3}}\n\
             {\"service\":\"api\",\"at\":\"2026-11-26T14:06:00Z\",\"signal\":{\"error_rate\":0.3}}\n",
        ),
        (
            "observations.yaml",
            "- service: api\n  at: 2026-11-26T14:00:00Z\n  signal: {availability: {up: false, whole_service: true}}\n",
        ),
    ] {
        write(&out, "domain_inputs", name, text)?;
    }
    alert_seeds(&out)
}

/// Seeds of the alert targets derived from `crates/incident-core/tests/fixtures/` (the fixture files themselves are seeded by
/// `scripts/fuzz`): the bare CloudWatch alarms inside the SNS notifications, SNS confirmations and the
/// `sns_signing` line format, and the Datadog and Grafana variants the fixtures lack.
fn alert_seeds(out: &Path) -> Res<()> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/incident-core/tests/fixtures");
    let mut notifications = Vec::new();
    for (dir, name) in [("cloudwatch", "alarm.json"), ("cloudwatch", "ok.json"), ("sns", "notification-v1.json")] {
        let body: serde_json::Value = serde_json::from_slice(&std::fs::read(fixtures.join(dir).join(name))?)?;
        notifications.push((format!("{dir}-{name}"), body));
    }
    for (name, body) in &notifications {
        let message = body["Message"].as_str().ok_or("fixture without Message")?;
        write(out, "ingest_cloudwatch", name, message)?;
        let insufficient = message
            .replacen("\"NewStateValue\":\"ALARM\"", "\"NewStateValue\":\"INSUFFICIENT_DATA\"", 1)
            .replacen("\"NewStateValue\":\"OK\"", "\"NewStateValue\":\"INSUFFICIENT_DATA\"", 1);
        write(out, "ingest_cloudwatch", &format!("insufficient-{name}"), &insufficient)?;
        // sns_signing: selector, Message, MessageId, Subject, Timestamp, Token, TopicArn, SubscribeURL,
        // SigningCertURL (line breaks inside values as \u{1}).
        let field = |k: &str| body[k].as_str().unwrap_or_default().replace('\n', "\u{1}");
        let lines = ["N", "Message", "MessageId", "Subject", "Timestamp", "Token", "TopicArn", "SubscribeURL"];
        let mut text: Vec<String> = lines.iter().map(|k| if *k == "N" { "0".into() } else { field(k) }).collect();
        text.push(field("SigningCertURL"));
        write(out, "sns_signing", name, &text.join("\n"))?;
    }
    let (_, alarm) = &notifications[0];
    for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
        let mut m = alarm.clone();
        m["Type"] = kind.into();
        m["Message"] = format!("You have chosen to subscribe to the topic {}.", m["TopicArn"]).into();
        m["Token"] = "2336412f37fb687f5d51e6e2425dacbba".into();
        m["SubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:incident-alarms&Token=2336412f37fb687f5d51e6e2425dacbba".into();
        if let Some(o) = m.as_object_mut() {
            o.remove("Subject");
            o.remove("UnsubscribeURL");
        }
        write(out, "ingest_sns", &format!("{kind}.json"), &serde_json::to_string_pretty(&m)?)?;
        let lines = [
            "1",
            m["Message"].as_str().unwrap_or_default(),
            "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "",
            "2024-05-03T14:05:01.456Z",
            "2336412f37fb687f5d51e6e2425dacbba",
            "arn:aws:sns:us-east-1:123456789012:incident-alarms",
            m["SubscribeURL"].as_str().unwrap_or_default(),
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        ];
        write(out, "sns_signing", &format!("{kind}.txt"), &lines.join("\n"))?;
    }
    for (name, url) in [
        ("url-aws.txt", "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"),
        ("url-cn.txt", "https://sns.cn-north-1.amazonaws.com.cn:443/a.pem?x#y"),
        ("url-test.txt", "http://127.0.0.1:8080/cert.pem"),
        ("url-ipv6.txt", "https://[::1]:8443/cert.pem"),
    ] {
        write(out, "sns_signing", name, url)?;
    }
    for (name, text) in [
        (
            "no-data.json",
            r#"{"alert_transition":"No Data","alert_id":7,"aggregate":"k","date":1714744800,"tags":["service:db","severity:critical"]}"#,
        ),
        (
            "warn-latency.json",
            r#"{"alert_transition":"Re-Warn","alert_priority":"P3","alert_title":"Latency","alert_id":"9","alert_scope":"service:api,env:prod","date":"2024-05-03T14:00:00Z","value":850,"baseline":"0.2s","tags":"alertname:HighLatency,customer_facing:yes"}"#,
        ),
        (
            "recovered-number.json",
            r#"{"alert_transition":"Recovered","id":1,"alert_cycle_key":-2,"date":1714744800000.5}"#,
        ),
    ] {
        write(out, "ingest_datadog", name, text)?;
    }
    let firing = std::fs::read_to_string(fixtures.join("grafana/firing.json"))?;
    let mut g: serde_json::Value = serde_json::from_str(&firing)?;
    g["status"] = "resolved".into();
    if let Some(alerts) = g["alerts"].as_array_mut() {
        for a in alerts {
            a["status"] = "resolved".into();
            a["endsAt"] = "2024-05-03T14:30:00+02:00".into();
            a["values"] = serde_json::json!({"B": null, "C": 1e-7, "D": -0.0});
        }
    }
    write(out, "ingest_grafana", "resolved.json", &serde_json::to_string_pretty(&g)?)?;
    Ok(())
}
