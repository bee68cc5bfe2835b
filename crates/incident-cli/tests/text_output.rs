//! Text for people (issue 15, deliverable 8): a snapshot of the text output of every command that runs
//! without services, and a check that none of it leaks a Rust name.
//!
//! Every command here is deterministic: times are given (`--time`, `--now`, `--from`, observation
//! times), the simulator runs on its own clock, and temporary paths are replaced by `[TMP]`. Snapshots
//! live in `tests/snapshots/`; after an intended change, review them with `cargo insta review` (or
//! re-bless with `INSTA_UPDATE=always cargo test -p incident-cli --test text_output`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (fixtures are named relative to it, so paths in the output are stable).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Run `incident args` from the workspace root and render what a person sees: the command, stdout,
/// stderr when not empty, and the exit code when not 0. `tmp` is replaced by `[TMP]`.
fn transcript(args: &[&str], stdin: Option<&str>, tmp: Option<&Path>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .current_dir(root())
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .env_remove("INCIDENT_FAILPOINT")
        .env_remove("INCIDENT_SIGNING_KEY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn incident");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let o = child.wait_with_output().expect("wait");
    let mut s = format!("$ incident {}\n", args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "));
    s.push_str(&String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    if !err.is_empty() {
        s.push_str("--- stderr\n");
        s.push_str(&err);
    }
    match o.status.code() {
        Some(0) => {}
        Some(code) => s.push_str(&format!("--- exit {code}\n")),
        None => s.push_str("--- killed by a signal\n"),
    }
    if let Some(tmp) = tmp {
        s = s.replace(&tmp.display().to_string(), "[TMP]");
    }
    s
}

fn shell_word(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=[]".contains(c)) {
        a.to_owned()
    } else {
        format!("{a:?}")
    }
}

/// CamelCase names of the crate's enums (as `{:?}` would print them) that must never reach a person,
/// and `{:?}` artefacts. Kubernetes' own words (`CrashLoopBackOff`) and provider alert names are fine.
const DEBUG_NAMES: &[&str] = &[
    "AnyTime",
    "BusinessHours",
    "StatusPage",
    "OnCallEngineer",
    "EngineeringManager",
    "ProductManager",
    "CustomerSupport",
    "SupportTeamLead",
    "CustomerSuccess",
    "AwsSupport",
    "PagerdutySupport",
    "SlackSupport",
    "NotStarted",
    "AwaitingApproval",
    "NeedsConfirmation",
    "ServiceUnavailable",
    "ErrorRate",
    "PerformanceDegradation",
    "PerformanceDegradationOver50",
    "PerformanceDegradationUnder50",
    "DataIntegrity",
    "CompleteOutage",
    "PartialOutage",
    "DataLossOrCorruption",
    "SecurityBreach",
    "RevenueImpact",
    "KeyFeatureUnavailable",
    "CustomerFacingErrors",
    "NonCustomerFacingErrors",
    "MinorFeatureIssues",
    "ScaleDeployment",
    "RollbackDeployment",
    "AnnotateService",
    "RestoreReplicas",
    "WaitUntil",
    "HttpHealth",
    "PodsHealthy",
    "LogErrorCount",
    "PointInTime",
    "PromoteReplica",
    "ReportOnly",
    "NotChecked",
    "SeverityChanged",
    "StatusChanged",
    "CommanderAssigned",
    "StageStarted",
    "StageFinished",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "ApplicationRollback",
    "DatabaseFailover",
    "RegionalFailover",
    "RegionFailure",
    "FullDisasterRecovery",
    "BeforeIntent",
    "AfterIntent",
    "AfterExecute",
    "AfterOutcome",
    "OomKilled",
    "Insync",
    "Upsert",
];
const DEBUG_ARTEFACTS: &[&str] = &["Some(", "None", "Ok(", "Err(", "{:?}"];

/// Fails naming the first Debug-looking word of `text` (whole words only, case-sensitive).
fn assert_no_debug_names(name: &str, text: &str) {
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(!DEBUG_NAMES.contains(&word), "{name}: Rust enum name {word:?} in text output:\n{text}");
    }
    for artefact in DEBUG_ARTEFACTS {
        let hit = if artefact.chars().all(char::is_alphanumeric) {
            text.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == *artefact)
        } else {
            text.contains(artefact)
        };
        assert!(!hit, "{name}: Debug artefact {artefact:?} in text output:\n{text}");
    }
}

/// Fails on a label repeated in parentheses right after itself (`Engineering on-call (Engineering
/// on-call)`).
fn assert_no_repeated_labels(name: &str, text: &str) {
    for line in text.lines() {
        let mut rest = line;
        while let Some(open) = rest.find(" (") {
            let before = rest[..open].trim_end();
            let after = &rest[open + 2..];
            if let Some(close) = after.find(')') {
                let inner = after[..close].trim();
                assert!(
                    inner.is_empty() || !before.to_lowercase().ends_with(&inner.to_lowercase()),
                    "{name}: label {inner:?} repeated in {line:?}"
                );
            }
            rest = after;
        }
    }
}

/// Snapshot the transcripts of `runs` as one document named `name`, after checking them for Debug names.
fn check(name: &str, runs: &[String]) {
    let text = runs.join("\n");
    let output: Vec<&str> = text.lines().filter(|l| !l.starts_with("$ incident ")).collect();
    assert_no_debug_names(name, &output.join("\n"));
    assert_no_repeated_labels(name, &output.join("\n"));
    insta::assert_snapshot!(name, text);
}

fn run(args: &[&str]) -> String {
    transcript(args, None, None)
}

fn run_stdin(args: &[&str], stdin: &str) -> String {
    transcript(args, Some(stdin), None)
}

/// JSON lines: `n` samples on `api`, one a minute from 14:00.
fn samples(n: usize, signal: impl Fn(usize) -> String) -> String {
    (0..n)
        .map(|i| format!(r#"{{"service":"api","at":"2026-11-26T14:{i:02}:00Z","signal":{}}}"#, signal(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_checker_catches_debug_names() {
    for leak in ["escalate AnyTime to x", "OVERDUE StatusPage: due", "left: Some(3)", "status NotStarted"] {
        let caught = std::panic::catch_unwind(|| assert_no_debug_names("probe", leak));
        assert!(caught.is_err(), "{leak:?} must be caught");
    }
    assert_no_debug_names("probe", "CrashLoopBackOff restarts=7; HighErrorRate firing; (none)");
}

#[test]
fn the_checkers_catch_the_issues_examples() {
    let caught = std::panic::catch_unwind(|| {
        assert_no_repeated_labels("probe", "  - Engineering on-call (Engineering on-call)")
    });
    assert!(caught.is_err(), "a repeated label must be caught");
    assert_no_repeated_labels("probe", "  - Engineering manager (P0/P1 only)\nP1 (High): respond");
}

/// The issue's examples, named: the runbook's words where the Rust names leaked.
#[test]
fn the_issues_leaks_read_as_runbook_words() {
    let p1 = run_stdin(&["classify"], r#"{"outage":"partial"}"#);
    assert!(p1.contains("escalate at any time to Engineering on-call"), "{p1}");
    let p2 = run_stdin(&["classify"], r#"{"minor_feature_issue":true}"#);
    assert!(p2.contains("escalate during business hours to"), "{p2}");
    let cadence = run(&[
        "comms",
        "cadence",
        "--severity",
        "P1",
        "--declared-at",
        "2026-11-26T14:00:00Z",
        "--now",
        "2026-11-26T16:00:00Z",
    ]);
    assert!(cadence.contains("OVERDUE status page update: due 2026-11-26 14:15 UTC"), "{cadence}");
    let declared = run_stdin(&["declare"], &samples(8, |_| r#"{"error_rate":0.2}"#.to_owned()));
    assert!(declared.contains("\n  - Engineering on-call\n"), "{declared}");
    assert!(!declared.contains("Engineering on-call (Engineering on-call)"), "{declared}");
}

#[test]
fn classify_text() {
    check(
        "classify",
        &[
            run_stdin(&["classify"], r#"{"outage":"complete"}"#),
            run_stdin(&["classify"], r#"{"outage":"partial","performance_degradation_pct":70}"#),
            run_stdin(&["classify"], r#"{"performance_degradation_pct":50.00000000000002}"#),
            run_stdin(&["classify"], r#"{"non_customer_facing_errors":true}"#),
            run_stdin(&["classify"], r#"{"cosmetic":true}"#),
            run_stdin(&["classify"], "{}"),
            run_stdin(&["classify"], r#"{"performance_degradation_pct":-3}"#),
        ],
    );
}

#[test]
fn match_text() {
    let bad_deploy = r#"{"alerts":[{"labels":{"alertname":"HighErrorRate","service":"ml-inference-api"},"starts_at":"2026-11-06T15:04:00Z"}],
        "findings":{"rollouts":[{"namespace":"ml-platform","name":"ml-inference-api","revision":3,"previous_revision":2,
        "at":"2026-11-06T15:00:00Z","change_cause":"deploy ml-inference-api v2.1.0","commit":"9f3c2ab"}]}}"#;
    check(
        "match",
        &[
            run_stdin(&["match"], bad_deploy),
            run_stdin(&["match", "--at", "2026-11-06T15:04:00Z"], r#"{"facts":{"performance_degradation_pct":20}}"#),
            run_stdin(&["match"], r#"{"facts":{"performance_degradation_pct":-3}}"#),
        ],
    );
}

#[test]
fn declare_text() {
    let errors = samples(8, |_| r#"{"error_rate":0.2}"#.to_owned());
    check(
        "declare",
        &[
            run_stdin(&["declare", "--id", "INC-1", "--customers-affected"], &errors),
            run_stdin(
                &["declare"],
                &samples(21, |_| r#"{"latency":{"observed_ms":2.1,"baseline_ms":1.4}}"#.to_owned()),
            ),
            run_stdin(&["declare", "--id", "INC-2"], &samples(21, |_| r#"{"availability":{"up":false}}"#.to_owned())),
            run_stdin(
                &["declare", "--id", "INC-3"],
                &samples(8, |i| {
                    if i == 2 { r#"{"error_rate":20}"#.to_owned() } else { r#"{"error_rate":0.2}"#.to_owned() }
                }),
            ),
            run_stdin(&["declare"], &samples(12, |_| r#"{"error_rate":6}"#.to_owned())),
            run_stdin(&["declare", "--title", "a\nb"], &errors),
        ],
    );
}

#[test]
fn ingest_text() {
    check(
        "ingest",
        &[
            run(&["ingest", "alertmanager", "crates/incident-core/tests/fixtures/alertmanager/complete-outage.json"]),
            run(&["ingest", "alertmanager", "crates/incident-core/tests/fixtures/alertmanager/firing-mixed.json"]),
            run(&["ingest", "alertmanager", "crates/incident-core/tests/fixtures/alertmanager/resolved.json"]),
            run(&["ingest", "pagerduty", "crates/incident-core/tests/fixtures/pagerduty/batch-lifecycle.json"]),
            run(&["ingest", "grafana", "crates/incident-core/tests/fixtures/grafana/firing.json"]),
            run(&["ingest", "cloudwatch", "crates/incident-core/tests/fixtures/cloudwatch/alarm.json"]),
            run(&["ingest", "datadog", "crates/incident-core/tests/fixtures/datadog/triggered.json"]),
        ],
    );
}

#[test]
fn comms_text() {
    let t = "2026-11-26T14:05:00Z";
    check(
        "comms",
        &[
            run(&["comms", "render", "initial", "--service", "ml-inference-api"]),
            run(&[
                "comms",
                "render",
                "update",
                "--status",
                "identified",
                "--impact",
                "30% of predictions fail",
                "--details",
                "Bad deploy of v2.1.0\nRolling back",
                "--time",
                t,
                "--severity",
                "P1",
            ]),
            run(&["comms", "render", "update", "--status", "resolved", "--impact", "none", "--time", t]),
            run(&[
                "comms",
                "render",
                "resolved",
                "--service",
                "ml-inference-api",
                "--started-at",
                "2026-11-26T13:50:00Z",
                "--root-cause",
                "bad config",
                "--resolution",
                "rolled back",
                "--impact",
                "30% of predictions failed",
                "--time",
                "2026-11-26T15:05:00Z",
            ]),
            run(&["comms", "render", "update", "--status", "investigating", "--impact", "line1\nStatus: resolved"]),
            run(&[
                "comms",
                "cadence",
                "--severity",
                "P0",
                "--declared-at",
                "2026-11-26T14:00:00Z",
                "--now",
                "2026-11-26T15:00:00Z",
            ]),
            run(&[
                "comms",
                "cadence",
                "--severity",
                "P1",
                "--declared-at",
                "2026-11-26T14:00:00Z",
                "--last-update",
                "2026-11-26T14:20:00Z",
                "--last-status-page",
                "2026-11-26T14:10:00Z",
                "--now",
                "2026-11-26T14:30:00Z",
            ]),
            run(&[
                "comms",
                "cadence",
                "--severity",
                "P3",
                "--declared-at",
                "2026-11-26T14:00:00Z",
                "--now",
                "2026-11-26T18:00:00Z",
            ]),
            run(&[
                "comms",
                "cadence",
                "--severity",
                "P1",
                "--declared-at",
                "2026-11-26T14:00:00Z",
                "--now",
                "2026-11-26T13:00:00Z",
            ]),
        ],
    );
}

#[test]
fn policy_and_drills_text() {
    check(
        "policy_and_drills",
        &[
            run(&["policy", "show"]),
            run(&["policy", "validate", "crates/incident-core/tests/fixtures/policy/override.toml"]),
            run(&["policy", "validate", "crates/incident-core/tests/fixtures/policy/invalid-threshold.toml"]),
            run(&["drills", "next", "--from", "2026-11-26T00:00:00Z", "-n", "5"]),
            run(&["drills", "checklist"]),
        ],
    );
}

#[test]
fn procedures_text() {
    let mut runs = vec![run(&["procedure", "list"])];
    for name in
        ["traffic-management", "application-rollback", "database-recovery", "region-failure", "database-corruption"]
    {
        runs.push(run(&["procedure", "show", name]));
    }
    check("procedures", &runs);
}

#[test]
fn simulator_plan_run_triage_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let p = |f: &str| d.join(f).display().to_string();
    let (sim, plan, store) = (p("sim.json"), p("plan.json"), p("journal.sqlite"));
    let t = |args: &[&str]| transcript(args, None, Some(d));
    check(
        "simulator",
        &[
            t(&[
                "plan",
                "application-rollback",
                "--sim",
                &sim,
                "--scenario",
                "bad-deploy",
                "--at",
                "5m",
                "--out",
                &plan,
            ]),
            t(&["run", &plan, "--sim", &sim, "--store", &store]),
            t(&["run", &plan, "--approve-by", "alice", "--sim", &sim, "--store", &store]),
            t(&["triage", "--sim", &sim]),
            t(&[
                "plan",
                "traffic-management",
                "--sim",
                &p("sim2.json"),
                "--scenario",
                "bad-deploy",
                "--at",
                "5m",
                "--out",
                &p("tm.json"),
            ]),
            t(&["run", &p("tm.json"), "--approve-by", "alice", "--sim", &p("sim2.json"), "--store", &p("tm.sqlite")]),
        ],
    );
}

#[test]
fn drill_postmortem_evidence_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out = d.join("drill").display().to_string();
    let t = |args: &[&str]| transcript(args, None, Some(d));
    check(
        "drill",
        &[
            t(&["drill", "--list"]),
            t(&["drill", "bad-deploy", "--yes", "--out", &out]),
            concurrent_checks_sorted(&t(&["postmortem", &out])),
            heads_redacted(&t(&["evidence", "verify", &out])),
        ],
    );
}

/// Steps that run concurrently (the rollback's verification checks, at the same virtual time) land on
/// the timeline in the order they finish, which differs from run to run: the post-mortem's adjacent
/// `Check` lines of one procedure are sorted, and the timeline's head hash (which covers that order) is
/// shown as `[HEAD]`.
fn concurrent_checks_sorted(transcript: &str) -> String {
    let is_check = |l: &str| l.starts_with("- ") && l.contains(" (procedure:") && l.contains(") Check ");
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in transcript.lines().chain([""]) {
        if is_check(line) {
            run.push(line);
            continue;
        }
        run.sort_unstable();
        out.extend(run.drain(..).map(str::to_owned));
        out.push(match line.find("head hash `") {
            Some(i) => format!("{}head hash `[HEAD]`.", &line[..i]),
            None => line.to_owned(),
        });
    }
    out.pop();
    out.join("\n") + "\n"
}

/// The journal and the timeline record the entries of steps that run concurrently (the rollback's
/// checks) in the order they finish, so their head hashes differ from run to run while every line of
/// text stays the same; the snapshot shows `[HEAD]` in their place (verify itself has checked them
/// against report.json).
fn heads_redacted(transcript: &str) -> String {
    transcript
        .lines()
        .map(|line| {
            match (
                line.trim_start().starts_with("journal ") || line.trim_start().starts_with("timeline "),
                line.find(" head #"),
            ) {
                (true, Some(i)) => {
                    let after = &line[i + " head #".len()..];
                    let n: String = after.chars().take_while(char::is_ascii_digit).collect();
                    let rest = &after[n.len()..];
                    let hash_len = rest.trim_start().chars().take_while(char::is_ascii_hexdigit).count();
                    let tail = &rest.trim_start()[hash_len..];
                    format!("{} head #{n} [HEAD]{tail}", &line[..i])
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
