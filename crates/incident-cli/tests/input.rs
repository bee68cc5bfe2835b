//! Honest input handling (issue 15, deliverable 7): every attack of the issue, as a user types it.
//!
//! * samples that are all invalid are an error naming the range, not "no incident";
//! * a few invalid samples are a warning and a `rejected` object, not silence;
//! * exactly +50 % is not "> 50 %" whatever the units;
//! * free text typed on the command line cannot forge a template line;
//! * `comms cadence` refuses times before the declaration.

mod common;
use common::{assert_one_line_error, incident, stderr, stdout};

/// JSON lines: `n` samples of `signal` (a JSON value) on `api`, one a minute from 14:00.
fn samples(n: usize, signal: impl Fn(usize) -> String) -> String {
    (0..n)
        .map(|i| format!(r#"{{"service":"api","at":"2026-11-26T14:{i:02}:00Z","signal":{}}}"#, signal(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn latency(observed: f64, baseline: f64) -> impl Fn(usize) -> String {
    move |_| format!(r#"{{"latency":{{"observed_ms":{observed},"baseline_ms":{baseline}}}}}"#)
}

#[test]
fn error_rate_given_as_a_percentage_is_an_error_naming_the_range() {
    // The issue: `"error_rate": 6` meant as 6 %, all 12 rejected, "no incident", exit 0.
    let input = samples(12, |_| r#"{"error_rate":6}"#.to_owned());
    let o = incident(&["declare"], Some(&input));
    assert_one_line_error(&o, 2, "error_rate is a ratio 0..1");
    let err = stderr(&o);
    assert!(err.contains("got 6 on line 1"), "{err}");
    assert!(err.contains("12 of 12 rejected"), "{err}");
    assert!(stdout(&o).is_empty(), "no 'no incident' on stdout: {}", stdout(&o));

    // The same as a JSON array names the observation instead of a line.
    let array = format!("[{}]", input.replace('\n', ","));
    let o = incident(&["declare", "-o", "json"], Some(&array));
    assert_one_line_error(&o, 2, "got 6 in observation 1");
}

#[test]
fn some_invalid_samples_warn_and_are_reported_in_json() {
    // 8 valid breaching samples (14:00..14:07), then a typo on line 9, then more valid ones.
    let input =
        samples(12, |i| if i == 8 { r#"{"error_rate":20}"#.to_owned() } else { r#"{"error_rate":0.2}"#.to_owned() });
    let o = incident(&["declare", "-o", "json"], Some(&input));
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("warning: stdin: 1 of 12 observation(s) rejected as invalid"), "{err}");
    assert!(err.contains("error_rate is a ratio 0..1 (0.07 = 7 %), got 20 on line 9"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["rejected"]["count"], 1);
    assert_eq!(v["rejected"]["of"], 12);
    assert_eq!(v["rejected"]["first"]["line"], 9);
    assert_eq!(v["rejected"]["first"]["sample"], 9);
    assert_eq!(v["rejected"]["first"]["service"], "api");
    assert_eq!(v["declarations"][0]["rule"], "error_rate", "the valid samples still declare");

    // Blank lines count for line numbers.
    let input =
        format!("\n{}", samples(3, |i| format!(r#"{{"error_rate":{}}}"#, if i == 1 { "-0.5" } else { "0.01" })));
    let o = incident(&["declare"], Some(&input));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("got -0.5 on line 3"), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 invalid rejected"), "{}", stdout(&o));

    // No invalid sample: no warning, no `rejected` key.
    let o = incident(&["declare", "-o", "json"], Some(&samples(3, |_| r#"{"error_rate":0.01}"#.to_owned())));
    assert!(o.status.success());
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.get("rejected").is_none(), "{v}");
}

#[test]
fn exactly_fifty_percent_declares_nothing_in_seconds_or_milliseconds() {
    // 21 samples a minute apart: 20 minutes sustained, well past the 10-minute window.
    for (observed, baseline) in [(2.1, 1.4), (2100.0, 1400.0)] {
        let o = incident(&["declare", "-o", "json"], Some(&samples(21, latency(observed, baseline))));
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v["declarations"], serde_json::json!([]), "{observed} vs {baseline}: {v}");
        assert_eq!(v["incident"], serde_json::Value::Null);
    }
    let o = incident(&["declare", "-o", "json"], Some(&samples(21, latency(2.2, 1.4))));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["declarations"][0]["rule"], "performance_degradation");
    assert_eq!(v["incident"]["classification"]["severity"], "P1");

    // classify agrees: 50.00000000000002 % (2.1 / 1.4 - 1) is exactly 50 %, P2.
    let o = incident(&["classify", "-o", "json"], Some(r#"{"performance_degradation_pct": 50.00000000000002}"#));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["severity"], "P2", "{v}");
}

#[test]
fn impact_with_a_line_break_is_refused() {
    let o = incident(
        &[
            "comms",
            "render",
            "update",
            "--status",
            "investigating",
            "--impact",
            "line1\nStatus: resolved",
            "--time",
            "2026-11-26T14:05:00Z",
        ],
        None,
    );
    assert_one_line_error(&o, 2, "--impact must be single-line text");
    assert!(stderr(&o).contains("line break"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());

    for args in [
        &["comms", "render", "initial", "--service", "api\rStatus: resolved"][..],
        &["comms", "render", "update", "--status", "identified", "--impact", "x\u{1b}[2J"][..],
        &[
            "comms",
            "render",
            "resolved",
            "--service",
            "api",
            "--started-at",
            "2026-11-26T14:00:00Z",
            "--root-cause",
            "a\nb",
            "--resolution",
            "r",
            "--impact",
            "i",
        ][..],
        &["declare", "--title", "t\n- Notify: nobody"][..],
    ] {
        let o = incident(args, Some("[]"));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("must be single-line text"), "{args:?}: {}", stderr(&o));
    }

    // A valid update renders exactly one Status line; details may span lines.
    let o = incident(
        &[
            "comms",
            "render",
            "update",
            "--status",
            "investigating",
            "--impact",
            "Predictions fail",
            "--details",
            "line1\nStatus: resolved",
            "--time",
            "2026-11-26T14:05:00Z",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().filter(|l| l.starts_with("Status:")).count(), 2, "{out}");
    assert!(out.contains("Details:\nline1\nStatus: resolved"), "details keep their lines: {out}");
    assert!(out.starts_with("Time: 2026-11-26 14:05 UTC\nStatus: investigating\n"), "{out}");
}

#[test]
fn cadence_times_before_the_declaration_are_refused() {
    let base = ["comms", "cadence", "--severity", "P1", "--declared-at", "2026-11-26T14:00:00Z"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        incident(&args, None)
    };
    let o = run(&["--now", "2026-11-26T13:59:00Z"]);
    assert_one_line_error(&o, 2, "now (2026-11-26T13:59:00Z) is earlier than the declaration (2026-11-26T14:00:00Z)");
    let o = run(&["--now", "2026-11-26T15:00:00Z", "--last-update", "2026-11-26T13:00:00Z"]);
    assert_one_line_error(&o, 2, "last internal update (2026-11-26T13:00:00Z) is earlier than the declaration");
    let o = run(&["--now", "2026-11-26T15:00:00Z", "--last-status-page", "2026-11-26T13:00:00Z"]);
    assert_one_line_error(&o, 2, "last status-page update (2026-11-26T13:00:00Z) is earlier than the declaration");
    let o = run(&["--now", "2026-11-26T14:10:00Z", "--last-update", "2026-11-26T14:20:00Z"]);
    assert_one_line_error(&o, 2, "is later than now");
    let o = run(&["--now", "2026-11-26T14:00:00Z", "--last-update", "2026-11-26T14:00:00Z"]);
    assert!(o.status.success(), "the declaration instant itself is fine: {}", stderr(&o));
}
