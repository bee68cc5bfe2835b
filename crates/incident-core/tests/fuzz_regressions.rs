//! Regression tests for what the fuzz targets in `fuzz/` found: each is the crashing (or wrongly
//! accepted) input, checked to give `Ok` or a typed error now. Add new findings here with the artifact's
//! bytes (`scripts/fuzz` saves them under `~/.cache/incident-core/fuzz-work/artifacts/<target>/`).

use incident_core::{ErrorKind, HumanDuration, Policy};

/// 2026-11-26T14:00:00Z.
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_701_600, 0).expect("time")
}

/// `policy_toml`/`policy_yaml`/`policy_json` with `use_policy`: a duration too long for time arithmetic
/// used to load, then panic wherever it was added to a time (`TimeDelta::seconds out of bounds` in
/// `as_delta`, or `DateTime + TimeDelta overflowed` in comms, cadence and the executor). Durations are now
/// capped at 100 years when parsed.
#[test]
fn policy_durations_too_long_for_time_arithmetic_are_refused() {
    for (doc, field) in [
        ("[cadence]\nstatus_page_within = \"9999999999999999s\"\n", "cadence.status_page_within"),
        ("[retry]\nstep_deadline = \"100000000d\"\n", "retry.step_deadline"),
        ("[guard_rails]\nmax_plan_age = \"2562047788015216h\"\n", "guard_rails.max_plan_age"),
    ] {
        let e = Policy::from_toml_str(doc).expect_err(doc);
        assert_eq!(e.kind(), ErrorKind::Policy, "{doc}");
        assert!(e.message().starts_with(&format!("policy field `{field}`: invalid duration ")), "{e}");
        assert!(e.message().ends_with("longer than 36500d (100 years)"), "{e}");
    }
    // The longest accepted one is usable everywhere.
    let p = Policy::from_toml_str("[cadence]\nstatus_page_within = \"36500d\"\n").expect("at the limit");
    let _ = now() + p.cadence.status_page_within.as_delta() + chrono::TimeDelta::minutes(1);
    assert_eq!(p.cadence.status_page_within, HumanDuration::MAX);
}

/// `policy_json` (crash-f52ae81d): a key with a line break in it made a two-line error (policy errors
/// are documented as one line); field paths are now escaped.
#[test]
fn policy_error_for_a_key_with_a_newline_is_one_line() {
    let doc = "{\n  \"inrnal_upupdate.P0`:en gattal_upupdate.P0`:en gattlid-n#ernal_update.e duration \\nathn \\\"m\\\" \
               (dume.toml\": \"pde (0, 1]\"\n}\n";
    let e = Policy::from_json_str(doc).expect_err("unknown key");
    assert_eq!(e.kind(), ErrorKind::Policy);
    assert!(!e.message().contains('\n'), "{:?}", e.message());
    assert!(e.message().starts_with("policy field `inrnal_upupdate.P0`:en gattal_upupdate"), "{e}");
    assert!(e.message().contains("duration \\nathn"), "the break is shown escaped: {e}");
}

/// `procedure` (crash-631a72fb, found by the long run): a string with U+0085 (NEL) did not survive
/// `to_json` → `Procedure::parse`, which read JSON with the YAML 1.1 parser, where NEL (and U+2028/U+2029)
/// are line breaks folded to spaces. JSON is now read as JSON.
#[test]
fn procedure_strings_with_yaml_line_breaks_round_trip() {
    use incident_core::engine::{Procedure, library};
    let crash = include_str!("fuzz_inputs/procedure-crash-631a72fb.json");
    let p = Procedure::parse(crash).expect("the crashing input is a valid procedure (YAML `\\N` escapes)");
    for again in [p.to_json().expect("json"), p.to_yaml().expect("yaml")] {
        assert_eq!(Procedure::parse(&again).expect("re-parse"), p, "parse(serialize(x)) == x");
    }
    let mut p = library::by_name("traffic-management", &Policy::default()).expect("library");
    p.description = "one\u{85}two\u{2028}three\u{2029}four".into();
    for again in [p.to_json().expect("json"), p.to_yaml().expect("yaml")] {
        assert_eq!(Procedure::parse(&again).expect("re-parse").description, p.description, "{again}");
    }
    // JSON that is valid JSON but not a procedure is reported by the JSON reader, with the field.
    let e = Procedure::parse(r#"{"name": "x", "steps": 3}"#).expect_err("steps is not a list");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().starts_with("procedure: invalid type: integer `3`, expected a sequence"), "{e}");
}

/// `ingest_cloudwatch` (crash-1c53ec08; the `ingest_pagerduty` target fails the same way, its timestamps are
/// read by the same function): a time whose offset moves it out of years 0000-9999 in UTC
/// (`9999-12-31T23:00:00-02:00`) parsed, but its serialization — a signed year, `+10000-01-01T01:00:00Z`,
/// as `DateTime<Utc>` writes it — did not parse back. Timestamps now also read that form.
#[test]
fn timestamps_moved_out_of_years_0000_9999_by_their_offset_round_trip() {
    use incident_core::ingest::{cloudwatch, pagerduty};
    let policy = Policy::default();
    let crash = include_bytes!("fuzz_inputs/cloudwatch-crash-1c53ec08.json");
    for (body, utc) in [
        (&crash[..], "+10000-01-01T01:00:00Z"),
        (
            br#"{"AlarmName":"x","NewStateValue":"ALARM","StateChangeTime":"0000-01-01T00:00:00+01:00"}"#,
            "-0001-12-31T23:00:00Z",
        ),
    ] {
        let alarm: cloudwatch::Alarm = serde_json::from_slice(body).expect("the input is an alarm");
        let text = serde_json::to_string(&alarm).expect("serialize");
        assert!(text.contains(&format!("\"StateChangeTime\":\"{utc}\"")), "{text}");
        let back: cloudwatch::Alarm = serde_json::from_str(&text).expect("a serialized alarm parses");
        assert_eq!(back, alarm, "parse(serialize(x)) == x");
        let batch = cloudwatch::parse_alarm(body, &policy).expect("maps");
        assert_eq!(cloudwatch::parse_alarm(text.as_bytes(), &policy).expect("maps"), batch);
    }
    let event = br#"{"routing_key":"k","event_action":"trigger",
        "payload":{"summary":"s","source":"h","severity":"info","timestamp":"9999-12-31T23:00:00-02:00"}}"#;
    let events = pagerduty::parse_events(event, &policy).expect("an event");
    let text = serde_json::to_vec(&events).expect("serialize");
    assert_eq!(pagerduty::parse_events(&text, &policy).expect("serialized events parse"), events);
    // Still no licence for anything else: what is not a timestamp is refused, naming the field.
    let e = cloudwatch::parse_alarm(br#"{"AlarmName":"x","NewStateValue":"OK","StateChangeTime":"+10000"}"#, &policy)
        .expect_err("not a timestamp");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().starts_with("cloudwatch alarm: StateChangeTime: invalid timestamp \"+10000\""), "{e}");
}
