//! Two OS processes racing over one journal: the harness the SQLite and PostgreSQL race tests share.
//!
//! A race test re-executes its own test binary as two workers (its `race_worker` test, which calls
//! [`work`] when the race's environment variables are set). Each worker claims every step; a winner
//! journals the intent, "executes" the step (appends one line to a shared log: `O_APPEND` writes of one
//! short line are atomic between processes) and journals the outcome. [`check`] then proves each step
//! ran exactly once, by its claim winner, with one unforked journal.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // test helpers; tests may spawn

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Output};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::store::{JournalDraft, JournalPhase, RunRecord, RunStatus, Store};

/// The run both workers execute.
pub const RACE_RUN: &str = "race-run";
/// Its steps.
pub const RACE_STEPS: u32 = 40;
const RACE_WAIT: Duration = Duration::from_secs(60);
const OWNERS: [&str; 2] = ["worker-a", "worker-b"];

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(1_795_701_600_000_000_000)
}

/// The race's run, to create before the workers start.
pub fn run_record() -> RunRecord {
    RunRecord {
        run_id: RACE_RUN.to_owned(),
        incident_id: None,
        procedure: "restore-database".to_owned(),
        plan: serde_json::json!({"steps": ["stop-writes", "restore"]}),
        approval: None,
        status: RunStatus::Running,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn draft(step: &str, phase: JournalPhase, owner: &str, secs: i64) -> JournalDraft {
    JournalDraft {
        run_id: RACE_RUN.to_owned(),
        step_id: step.to_owned(),
        phase,
        attempt: 1,
        owner: owner.to_owned(),
        at: t0() + TimeDelta::seconds(secs),
        detail: serde_json::json!({"phase": phase.as_str()}),
    }
}

fn wait_for(path: &Path) {
    let mut waited = Duration::ZERO;
    while !path.exists() {
        assert!(waited < RACE_WAIT, "timed out waiting for {}", path.display());
        std::thread::sleep(Duration::from_millis(2));
        waited += Duration::from_millis(2);
    }
}

/// One worker's part: say ready, wait for the go, then race for every step; prints its counts.
pub async fn work(store: &dyn Store, dir: &Path, owner: &str) {
    std::fs::write(dir.join(format!("ready-{owner}")), b"").expect("ready file");
    wait_for(&dir.join("go"));
    let (mut won, mut refused) = (0u32, 0u32);
    for i in 0..RACE_STEPS {
        let step = format!("step-{i:02}");
        let now = t0() + TimeDelta::seconds(i64::from(i));
        if !store.claim_step(RACE_RUN, &step, owner, now, now + TimeDelta::hours(1)).await.expect("claim") {
            refused += 1;
            continue;
        }
        won += 1;
        let mut intent = draft(&step, JournalPhase::Intent, owner, i64::from(i));
        intent.detail = serde_json::json!({"pid": std::process::id()});
        store.append_journal(intent).await.expect("intent");
        let line = format!("{step} {owner}\n");
        std::io::Write::write_all(
            &mut std::fs::OpenOptions::new().create(true).append(true).open(dir.join("executions.log")).expect("log"),
            line.as_bytes(),
        )
        .expect("execute");
        // The step takes a moment, so the other worker overtakes and wins some steps.
        tokio::time::sleep(Duration::from_millis(3)).await;
        store.append_journal(draft(&step, JournalPhase::Outcome, owner, i64::from(i))).await.expect("outcome");
    }
    println!("worker {owner} executed {won} refused {refused}");
}

/// `(executed, refused)` as a worker printed them, after checking it ran and passed.
fn worker_counts(owner: &str, out: &Output) -> (u32, u32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worker {owner} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("test result: ok. 1 passed"), "worker {owner} did not run the worker test:\n{stdout}");
    let line = stdout.split("worker ").find_map(|l| l.split_once(" executed ")).map(|(_, rest)| rest.to_owned());
    let line = line.unwrap_or_else(|| panic!("no counts in worker output:\n{stdout}"));
    let mut nums = line.split_whitespace().filter_map(|w| w.parse::<u32>().ok());
    (nums.next().expect("executed"), nums.next().expect("refused"))
}

/// Start the two workers (`spawn(owner)`), release them together, wait for both; every step executed
/// once and refused once (both contended). Returns each worker's `(executed, refused)`.
pub async fn race(dir: &Path, spawn: impl Fn(&str) -> Child) -> Vec<(u32, u32)> {
    let children: Vec<Child> = OWNERS.iter().map(|o| spawn(o)).collect();
    let ready = tokio::task::spawn_blocking({
        let dir = dir.to_path_buf();
        move || {
            for o in OWNERS {
                wait_for(&dir.join(format!("ready-{o}")));
            }
            std::fs::write(dir.join("go"), b"").expect("go file");
        }
    });
    let outputs = tokio::task::spawn_blocking(move || {
        children.into_iter().map(|c| c.wait_with_output().expect("wait for worker")).collect::<Vec<_>>()
    });
    ready.await.expect("barrier");
    let outputs = outputs.await.expect("workers");
    let counts: Vec<(u32, u32)> = OWNERS.iter().zip(&outputs).map(|(o, out)| worker_counts(o, out)).collect();
    assert_eq!(counts.iter().map(|c| c.0).sum::<u32>(), RACE_STEPS, "every step executed once: {counts:?}");
    assert_eq!(counts.iter().map(|c| c.1).sum::<u32>(), RACE_STEPS, "every step refused to the other: {counts:?}");
    println!("(executed, refused) per worker: {OWNERS:?} = {counts:?}");
    counts
}

/// Exactly one execution per step, and one unforked, verified journal: an intent and an outcome per
/// step, both by the step's claim winner (`claims`: step id → owner, read from the store's table).
pub async fn check(store: &dyn Store, dir: &Path, claims: &BTreeMap<String, String>) {
    let log = std::fs::read_to_string(dir.join("executions.log")).expect("executions log");
    let mut executed: Vec<(&str, &str)> = log.lines().filter_map(|l| l.split_once(' ')).collect();
    executed.sort_unstable();
    assert_eq!(executed.len(), usize::try_from(RACE_STEPS).expect("small"), "executions:\n{log}");
    let mut steps: Vec<&str> = executed.iter().map(|(s, _)| *s).collect();
    steps.dedup();
    assert_eq!(steps.len(), executed.len(), "a step ran twice:\n{log}");

    let journal = store.journal(RACE_RUN).await.expect("verified journal");
    assert_eq!(journal.len(), 2 * executed.len());
    for (step, executor) in &executed {
        let entries: Vec<_> = journal.iter().filter(|e| e.draft.step_id == *step).collect();
        let phases: Vec<JournalPhase> = entries.iter().map(|e| e.draft.phase).collect();
        assert_eq!(phases, [JournalPhase::Intent, JournalPhase::Outcome], "{step}");
        let claim_owner = claims.get(*step).unwrap_or_else(|| panic!("{step}: no claim row"));
        for e in &entries {
            assert_eq!(&e.draft.owner, claim_owner, "{step}: journal owner vs claim winner");
        }
        assert_eq!(executor, claim_owner, "{step}: executor vs claim winner");
    }
}
