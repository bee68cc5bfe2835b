//! The `incident` binary as a user runs it: exit codes, one-line errors, outputs.

mod common;
use common::{assert_one_line_error, incident, stderr, stdout};

#[test]
fn classify_from_stdin_text_and_json() {
    let o = incident(&["classify"], Some(r#"{"outage":"complete"}"#));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("P0 (Critical): respond within 15m"), "{}", stdout(&o));
    assert!(stdout(&o).contains("Complete service outage"));

    let o = incident(&["classify", "-o", "json"], Some("performance_degradation_pct: 30\n"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["severity"], "P2");
    assert_eq!(v["insufficient"], false);
}

#[test]
fn classify_insufficient_facts_is_explicit_not_p3() {
    let o = incident(&["classify", "-o", "json"], Some("{}"));
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["severity"], serde_json::Value::Null);
    assert_eq!(v["insufficient"], true);
}

#[test]
fn bad_input_exits_2_with_the_field() {
    let o = incident(&["classify"], Some(r#"{"outage":"partal"}"#));
    assert_one_line_error(&o, 2, "outage");
    let o = incident(&["classify"], Some(r#"{"performance_degradation_pct": -3}"#));
    assert_one_line_error(&o, 2, "performance_degradation_pct");
    let o = incident(&["classify", "/nonexistent/facts.json"], None);
    assert_one_line_error(&o, 2, "/nonexistent/facts.json");
    let o = incident(&["classify"], Some(""));
    assert_one_line_error(&o, 2, "empty input");
}

#[test]
fn bad_policy_file_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, "[cadence.internal_update]\nP1 = \"-5m\"\n").expect("write");
    let o = incident(&["--policy", p.to_str().expect("utf8"), "policy", "show"], None);
    assert_one_line_error(&o, 2, "cadence.internal_update.P1");
    assert!(stderr(&o).contains("negative duration"));

    std::fs::write(&p, "[declaration]\nunavailable_fr = \"5m\"\n").expect("write");
    let o = incident(&["--policy", p.to_str().expect("utf8"), "policy", "show"], None);
    assert_one_line_error(&o, 2, "unavailable_fr");

    std::fs::write(&p, "[[integrity_checks]]\nname = \"x\"\nsql = \"SELECT 1\"\nmin = 5.0\nmax = 1.0\n")
        .expect("write");
    let o = incident(&["--policy", p.to_str().expect("utf8"), "policy", "show"], None);
    assert_one_line_error(&o, 2, "integrity_checks[0].min");
}

#[test]
fn policy_override_changes_the_effective_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("policy.yaml");
    std::fs::write(&p, "cadence:\n  internal_update:\n    P2: 45m\n").expect("write");
    let o = incident(&["--policy", p.to_str().expect("utf8"), "policy", "show", "-o", "json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["cadence"]["internal_update"]["P2"], "45m");
    assert_eq!(v["cadence"]["internal_update"]["P0"], "15m", "untouched fields keep the runbook default");
}

#[test]
fn policy_schema_is_json_schema() {
    let o = incident(&["policy", "schema"], None);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v["$schema"].as_str().is_some_and(|s| s.contains("json-schema.org")), "{v}");
    assert!(v["properties"]["cadence"].is_object());
}

#[test]
fn drills_next_skips_fifth_fridays() {
    // January 2027 has five Fridays: 1, 8, 15, 22, 29.
    let o = incident(&["drills", "next", "--from", "2027-01-01T00:00:00Z", "-n", "5", "-o", "json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let dates: Vec<&str> = v.as_array().expect("array").iter().map(|d| d["date"].as_str().expect("date")).collect();
    assert_eq!(dates, ["2027-01-01", "2027-01-08", "2027-01-15", "2027-01-22", "2027-02-05"]);
    assert_eq!(v[0]["kind"], "database-failover");
    assert_eq!(v[3]["kind"], "full-disaster-recovery");
}

#[test]
fn declare_from_observations() {
    let mut lines = String::new();
    // Across midnight: 23:55:30 .. 00:01:30 the next day.
    for minute in 0..=6 {
        let (day, hour, min) = if minute < 5 { (26, 23, 55 + minute) } else { (27, 0, minute - 5) };
        lines.push_str(&format!(
            "{{\"service\":\"ml-inference-api\",\"at\":\"2026-11-{day}T{hour:02}:{min:02}:30Z\",\"signal\":{{\"error_rate\":0.12}}}}\n"
        ));
    }
    let o = incident(&["declare", "--on-call", "alice", "-o", "json"], Some(&lines));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["declarations"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["incident"]["classification"]["severity"], "P1");
    assert_eq!(v["incident"]["incident"]["commander"], "alice");
    let ticket = v["incident"]["ticket"].as_str().expect("ticket");
    assert!(ticket.starts_with("Title: [P1] "), "{ticket}");
    // Declared at 00:01:30 UTC on the 27th (5:00 sustained is not enough; 6:00 is).
    assert_eq!(v["incident"]["channel"], "#incident-2026-11-27-0001");
}

#[test]
fn declare_nothing_sustained_is_not_an_incident() {
    let o = incident(
        &["declare"],
        Some(
            r#"[{"service":"api","at":"2026-11-26T10:00:00Z","signal":{"error_rate":0.5}},{"service":"api","at":"2026-11-26T10:04:59Z","signal":{"error_rate":0.5}}]"#,
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("no incident"), "{}", stdout(&o));
}

#[test]
fn comms_templates_render_exactly() {
    let o = incident(&["comms", "render", "initial", "--service", "ML Inference API"], None);
    assert_eq!(
        stdout(&o),
        "We are investigating reports of issues with ML Inference API.\nWe will provide updates as we learn more.\n"
    );
    let o = incident(&["comms", "render", "update", "--status", "bogus", "--impact", "x"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cadence_reports_overdue_updates() {
    let o = incident(
        &[
            "comms",
            "cadence",
            "--severity",
            "P0",
            "--declared-at",
            "2026-11-26T14:00:00Z",
            "--now",
            "2026-11-26T14:20:00Z",
            "-o",
            "json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(!v["overdue"].as_array().expect("overdue").is_empty(), "{v}");
}

/// A bad value of an enumerated flag (clap `ValueEnum`) is refused with exit 2 and an error naming every
/// allowed value.
fn assert_names_allowed_values(args: &[&str], allowed: &[&str]) {
    let o = incident(args, None);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("invalid value"), "{err}");
    let listed = allowed.join(", ");
    assert!(err.contains(&format!("[possible values: {listed}]")), "{err:?} should list {listed}");
}

#[test]
fn bad_enumerated_flags_name_the_allowed_values() {
    assert_names_allowed_values(&["serve", "--cadence", "sometimes"], &["send", "remind", "report", "off"]);
    assert_names_allowed_values(
        &["comms", "cadence", "--severity", "P7", "--declared-at", "2026-11-26T14:00:00Z"],
        &["P0", "P1", "P2", "P3"],
    );
    assert_names_allowed_values(
        &["comms", "render", "update", "--status", "bogus", "--impact", "x"],
        &["investigating", "identified", "monitoring", "resolved"],
    );
    assert_names_allowed_values(
        &["ingest", "nagios"],
        &["alertmanager", "pagerduty", "grafana", "cloudwatch", "datadog"],
    );
    assert_names_allowed_values(&["classify", "-o", "xml"], &["text", "json", "yaml"]);
}

#[test]
fn enumerated_flags_accept_any_case_and_the_runbook_labels() {
    for sev in ["P0", "p0", "Critical", "critical", "CRITICAL"] {
        let o = incident(
            &[
                "comms",
                "cadence",
                "--severity",
                sev,
                "--declared-at",
                "2026-11-26T14:00:00Z",
                "--now",
                "2026-11-26T14:01:00Z",
            ],
            None,
        );
        assert!(o.status.success(), "--severity {sev}: {}", stderr(&o));
    }
    let o = incident(
        &["comms", "render", "update", "--status", "Monitoring", "--impact", "x", "--time", "2026-11-26T14:00:00Z"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\nStatus: monitoring\n"), "{}", stdout(&o));
}

#[test]
fn match_reads_a_triage_report_and_proposes_the_rollback_of_that_deployment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let report = dir.path().join("triage.json");
    let state = state.to_str().expect("utf-8 path");
    let o = incident(
        &["triage", "--sim", state, "--scenario", "bad-deploy", "--at", "5m", "--since", "30m", "-o", "json"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&report, &o.stdout).expect("write the report");
    let at =
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json")["at"].as_str().expect("at").to_owned();
    let alert = r#"{"alerts":[{"labels":{"alertname":"HighErrorRate","service":"ml-inference-api"}}]}"#;
    let report = report.to_str().expect("utf-8 path");
    let o = incident(&["match", "--triage", report, "--at", &at, "-o", "json"], Some(alert));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["matched"]["rule"], "rollback-recent-rollout");
    assert_eq!(v["matched"]["procedure"], "application-rollback");
    let params: Vec<(String, String)> = v["matched"]["params"]
        .as_array()
        .expect("params")
        .iter()
        .map(|p| {
            (p["name"].as_str().unwrap_or_default().to_owned(), p["value"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert!(params.contains(&("deployment".into(), "ml-inference-api".into())), "{params:?}");
    // Without the report nothing points at a procedure: an explicit answer, exit 0.
    let o = incident(&["match", "--at", &at], Some(alert));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("No rule matched: no procedure is proposed (5 rules considered)."),
        "{}",
        stdout(&o)
    );
    // A bad rule in a policy file names its field.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[matching.rules]]\nid = \"x\"\nprocedure = \"reboot\"\nany = [{ kind = \"region_unreachable\" }]\n",
    )
    .expect("write policy");
    let o = incident(&["--policy", policy.to_str().expect("utf-8 path"), "match"], Some("{}"));
    assert_one_line_error(&o, 2, "matching.rules[0].procedure");
}
