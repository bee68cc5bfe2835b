//! The shared bad-input table (tests/fixtures/bad_inputs.json): every case gives its expected
//! [`ErrorKind`] here, and the Python (python/tests/test_bad_inputs.py) and Node
//! (node/test/bad-inputs.test.mjs) runners check the same table against the bindings, so the three agree.

use incident_core::comms::UpdateKind;
use incident_core::detector::{Observation, Signal};
use incident_core::drills::ChecklistId;
use incident_core::impact::OutageScope;
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::policy::DeclarationRule;
use incident_core::policy::PolicyFormat;
use incident_core::triage::TriageOptions;
use incident_core::{ErrorKind, Policy, Severity, Status, ingest, text};
use serde_json::Value;

fn table() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_inputs.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
    v["cases"].as_array().expect("cases").clone()
}

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("a valid time")
}

fn str_of<'a>(input: &'a Value, key: &str) -> &'a str {
    input[key].as_str().unwrap_or_else(|| panic!("input.{key}"))
}

/// What the entry point (as the bindings call it in core) returns for `input`.
fn run(entry: &str, input: &Value) -> incident_core::Result<()> {
    match entry {
        "parse_alerts" => {
            ingest::parse(str_of(input, "source"), str_of(input, "body").as_bytes(), &Policy::default()).map(drop)
        }
        "severity" => str_of(input, "severity").parse::<Severity>().map(drop),
        "policy" => Policy::from_value(input["overrides"].clone()).map(drop),
        "checklist_record" => str_of(input, "id").parse::<ChecklistId>().map(drop),
        "actor" => {
            let req: DeclareRequest =
                serde_json::from_str(r#"{"id":"INC-9","title":"x","severity":"P2","on_call":"alice"}"#).expect("req");
            let (mut incident, mut timeline) = Incident::declare(req, &Policy::default(), t0()).expect("declare");
            incident.acknowledge(t0(), str_of(input, "actor"), &mut timeline)
        }
        "on_call" => text::non_blank("on_call", str_of(input, "on_call")).map(drop),
        "observation" => Observation::try_new(str_of(input, "service"), t0(), Signal::ErrorRate(0.1)).map(drop),
        "stage_budget" => {
            Policy::default().try_stage_budget(str_of(input, "procedure"), str_of(input, "stage")).map(drop)
        }
        "triage" => {
            TriageOptions { namespace: str_of(input, "namespace").to_owned(), ..TriageOptions::default() }.validate()
        }
        "signal" => {
            let v = input["value"].as_f64().expect("input.value");
            match str_of(input, "kind") {
                "error_rate" => Signal::ErrorRate(v),
                _ => Signal::Latency { observed_ms: 10.0, baseline_ms: v },
            }
            .validate()
        }
        "policy_format" => Policy::parse_as(str_of(input, "text"), str_of(input, "format")).map(drop),
        other => panic!("bad_inputs.json: unknown entry point {other:?}"),
    }
}

#[test]
fn every_bad_input_gives_its_kind() {
    let cases = table();
    assert!(cases.len() >= 8);
    for case in cases {
        let entry = case["entry"].as_str().expect("entry");
        let e = run(entry, &case["input"]).expect_err(&case.to_string());
        assert_eq!(e.kind().as_str(), case["kind"].as_str().expect("kind"), "{case}: {e}");
    }
}

/// The allowed-value lists the bindings read (`NAMES`) are the serde wire names of `ALL`.
#[test]
fn names_are_the_wire_names() {
    fn wire<T: serde::Serialize>(all: impl IntoIterator<Item = T>) -> Vec<String> {
        all.into_iter().map(|v| serde_json::to_value(v).expect("ser").as_str().expect("str").to_owned()).collect()
    }
    assert_eq!(wire(Severity::ALL), Severity::NAMES);
    assert_eq!(wire(Status::ALL), Status::NAMES);
    assert_eq!(wire(OutageScope::ALL), OutageScope::NAMES);
    assert_eq!(wire(DeclarationRule::ALL), DeclarationRule::NAMES);
    assert_eq!(wire(UpdateKind::ALL), UpdateKind::NAMES);
    assert_eq!(wire(ChecklistId::ALL), ChecklistId::NAMES);
    assert_eq!(wire(ingest::AlertSource::ALL), ingest::AlertSource::NAMES);
    assert_eq!(wire(PolicyFormat::ALL), PolicyFormat::NAMES);
    let one_of_each = [
        Signal::Availability { up: true, whole_service: false },
        Signal::ErrorRate(0.1),
        Signal::Latency { observed_ms: 1.0, baseline_ms: 1.0 },
        Signal::DataIntegrity { detail: String::new() },
        Signal::Security { detail: String::new() },
        Signal::Resolved { rule: DeclarationRule::ErrorRate },
    ];
    let keys: Vec<String> = one_of_each
        .iter()
        .map(|s| match serde_json::to_value(s).expect("ser") {
            Value::Object(m) => m.keys().next().expect("a key").clone(),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(keys, Signal::KINDS);
    assert_eq!(wire(ErrorKind::ALL), ErrorKind::ALL.map(ErrorKind::as_str));
    let retryable: Vec<_> = ErrorKind::ALL.into_iter().filter(|k| k.is_retryable()).collect();
    assert_eq!(retryable, [ErrorKind::Timeout, ErrorKind::Unavailable]);
}
