//! Randomized fault schedules: every library procedure runs on the simulator under random mixes of
//! injected errors, throttling, timeouts (before and after the change is applied) and latency spikes, with
//! random retry budgets and up to three executor crashes (at any write-ahead point of any step or of its
//! compensation) each followed by a resume. After every schedule these invariants must hold:
//!
//! 1. **exactly once**: every mutation in the simulator's operation log falls inside exactly one journaled
//!    step (or compensation) that touches its resource, and no step accounts for more mutations than one
//!    execution makes (the fault-free reference run); a step journaled as changed has its mutation, a step
//!    journaled as unchanged has none;
//! 2. **no completed step repeated**: a step has at most one outcome and no intent after it;
//! 3. **none skipped**: a succeeded run has an outcome for every step, after the outcomes of its
//!    dependencies; a step reported skipped or not started has no journal entries;
//! 4. **the report matches the world**: for every resource, live state is what the report says is left
//!    (the `after` of the last step still applied, else the `before` of the first), the report rebuilt
//!    from the journal equals the one returned, and a failed run lists what it left;
//! 5. **compensation restores**: a compensated run leaves every touched resource as it was planned.
//!
//! The test prints the schedules and crash points explored (`cargo test --test fault_schedules --
//! --nocapture`), and a `FAULT-SCHEDULES` line that `scripts/reliability` reads. Cases:
//! `INCIDENT_PROPTEST_CASES` (default 1000, a few seconds); replay a run with `INCIDENT_PROPTEST_SEED`.
#![cfg(feature = "sim")] // the simulator: `cargo test -p incident-core --features sim`

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use incident_core::engine::{
    Approval, Executor, FailpointMode, FailpointPoint, Failpoints, Plan, Procedure, RunReport, StepKind, StepStatus,
    library,
};
use incident_core::sim::{Faults, Scenario, SimOp, SimPlatform};
use incident_core::store::{JournalEntry, JournalPhase, MemoryStore, RunStatus, Store};
use incident_core::{Policy, Result};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::Value;

/// (procedure, scenario, virtual seconds to let pass before planning), as in `engine_sim.rs`.
const CASES: [(&str, &str, u64); 6] = [
    ("traffic-management", "bad-deploy", 0),
    ("application-rollback", "application-rollback", 120),
    ("database-recovery", "database-failover", 0),
    ("database-recovery-pitr", "bad-deploy", 0),
    ("region-failure", "regional-failover", 0),
    ("database-corruption", "database-corruption", 240),
];

const POINTS: [FailpointPoint; 4] = [
    FailpointPoint::BeforeIntent,
    FailpointPoint::AfterIntent,
    FailpointPoint::AfterExecute,
    FailpointPoint::AfterOutcome,
];

const COMPENSATE: &str = "#compensate";

fn procedure(name: &str, policy: &Policy) -> Procedure {
    match name {
        "application-rollback" => library::ApplicationRollback { max_errors: 1000, ..Default::default() }.build(policy),
        "database-recovery" => library::DatabaseRecovery {
            region: "us-east-1".into(),
            mode: library::RecoveryMode::PromoteReplica { id: "ml-platform-secondary".into() },
            integrity_probes: Vec::new(),
            ..Default::default()
        }
        .build(policy),
        "database-recovery-pitr" => library::DatabaseRecovery::default().build(policy),
        other => library::by_name(other, policy).expect("library procedure"),
    }
}

/// One random schedule.
#[derive(Debug, Clone)]
struct Schedule {
    case: usize,
    faults: Faults,
    max_attempts: u32,
    /// Crashes, one per executor life: (step index modulo the plan's steps, compensation?, point).
    crashes: Vec<(usize, bool, usize)>,
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    let rate = || prop_oneof![2 => Just(0.0), 3 => 0.0..0.25f64];
    (
        0..CASES.len(),
        (rate(), rate(), rate(), 0.0..0.6f64, 1u64..30_000, any::<u64>()),
        1u32..=5,
        prop::collection::vec((0usize..64, prop::bool::weighted(0.3), 0..POINTS.len()), 0..=3),
    )
        .prop_map(
            |(case, (error_rate, throttle_rate, timeout_rate, spike_rate, spike_ms, seed), max_attempts, crashes)| {
                Schedule {
                    case,
                    faults: Faults {
                        error_rate,
                        throttle_rate,
                        timeout_rate,
                        latency_spike_rate: spike_rate,
                        latency_spike: Duration::from_millis(spike_ms),
                        seed,
                        ..Faults::default()
                    },
                    max_attempts,
                    crashes,
                }
            },
        )
}

/// A platform of the case's scenario, its approved plan, and the policy.
fn setup(case: usize, max_attempts: u32) -> (SimPlatform, Plan, Approval, Policy) {
    let (name, scenario, wait) = CASES[case];
    let mut policy = Policy::default();
    policy.retry.max_attempts = max_attempts;
    let p = SimPlatform::from_scenario(&Scenario::builtin(scenario).expect("scenario")).expect("platform");
    if wait > 0 {
        p.advance(Duration::from_secs(wait)).expect("advance");
    }
    let b = p.backends();
    let rt = incident_core::sim::runtime().expect("runtime");
    let plan = rt.block_on(procedure(name, &policy).plan(&b, &policy)).unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    let approval = Approval::new("chaos-lead", b.clock.now()).confirm_production();
    (p, plan, approval, policy)
}

/// The coarse resource key of a simulator operation (`k8s:<context>/<Kind>/<ns>/<name>`, `rds:<region>/<id>`,
/// `dns:<zone>`).
fn op_key(op: &SimOp) -> String {
    if let Some(zone) = op.target.strip_prefix("HostedZone/") {
        format!("dns:{zone}")
    } else if let Some(id) = op.target.strip_prefix("DBInstance/") {
        format!("rds:{}/{id}", op.scope)
    } else {
        format!("k8s:{}/{}", op.scope, op.target)
    }
}

/// The same key for one of `Action::resources`.
fn resource_key(resource: &str) -> String {
    let (kind, rest) = resource.split_once(':').unwrap_or(("", resource));
    let parts: Vec<&str> = rest.split('/').collect();
    let k8s = |k: &str| format!("k8s:{}/{k}/{}/{}", parts[0], parts.get(1).unwrap_or(&""), parts.get(2).unwrap_or(&""));
    match kind {
        "deployment-replicas" | "deployment-template" => k8s("Deployment"),
        "service-annotation" => k8s("Service"),
        "pod-label" => k8s("Pod"),
        "configmap-key" => k8s("ConfigMap"),
        "object" => format!("k8s:{rest}"),
        "dns" => format!("dns:{}", parts[0]),
        _ => resource.to_owned(),
    }
}

/// Mutations made through the backends (not scenario events, not notifications).
fn mutations(p: &SimPlatform) -> Vec<SimOp> {
    p.api_operations().into_iter().filter(|o| o.scope != "notifier").collect()
}

/// A journaled step life span: `(first intent, last outcome]`, open-ended without an outcome.
#[derive(Debug)]
struct Span {
    step: String,
    keys: BTreeSet<String>,
    from: chrono::DateTime<chrono::Utc>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    outcome: Option<Value>,
    /// Intents journaled (one per attempt, over every executor life).
    intents: usize,
}

fn spans(plan: &Plan, journal: &[JournalEntry]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in plan.steps.iter().filter(|s| s.mutating) {
        let StepKind::Action(a) = &s.kind else { continue };
        let keys: BTreeSet<String> = a.resources().iter().map(|r| resource_key(r)).collect();
        for id in [s.id.clone(), format!("{}{COMPENSATE}", s.id)] {
            let entries: Vec<&JournalEntry> = journal.iter().filter(|e| e.draft.step_id == id).collect();
            let Some(first) = entries.iter().find(|e| e.draft.phase == JournalPhase::Intent) else { continue };
            let last = entries.iter().rev().find(|e| e.draft.phase == JournalPhase::Outcome);
            out.push(Span {
                step: id,
                keys: keys.clone(),
                from: first.draft.at,
                to: last.map(|e| e.draft.at),
                outcome: last.map(|e| e.draft.detail.clone()),
                intents: entries.iter().filter(|e| e.draft.phase == JournalPhase::Intent).count(),
            });
        }
    }
    out
}

/// Per step: how many mutations its spans contain.
fn attribute(plan: &Plan, journal: &[JournalEntry], ops: &[SimOp], v: &mut Vec<String>) -> BTreeMap<String, usize> {
    let spans = spans(plan, journal);
    let mut count: BTreeMap<String, usize> = spans.iter().map(|s| (s.step.clone(), 0)).collect();
    for op in ops {
        let key = op_key(op);
        let owners: Vec<&Span> = spans
            .iter()
            .filter(|s| s.keys.contains(&key) && op.at > s.from && s.to.is_none_or(|t| op.at <= t))
            .collect();
        match owners.as_slice() {
            [one] => *count.entry(one.step.clone()).or_default() += 1,
            [] => v.push(format!("mutation #{} `{}` ({key}) is in no journaled step", op.seq, op.op)),
            many => v.push(format!(
                "mutation #{} `{}` is claimed by {} steps: {:?}",
                op.seq,
                op.op,
                many.len(),
                many.iter().map(|s| s.step.as_str()).collect::<Vec<_>>()
            )),
        }
    }
    count
}

/// Mutations per step of the fault-free run of each case (the cost of one execution).
fn reference(case: usize) -> &'static BTreeMap<String, usize> {
    static REFS: OnceLock<Vec<BTreeMap<String, usize>>> = OnceLock::new();
    &REFS.get_or_init(|| {
        (0..CASES.len())
            .map(|c| {
                let (p, plan, approval, policy) = setup(c, 5);
                let store = Arc::new(MemoryStore::new());
                let rt = incident_core::sim::runtime().expect("runtime");
                let approved = plan.clone().approve(approval).expect("approve");
                let ex = Executor::new(p.backends(), Arc::clone(&store) as Arc<dyn Store>, policy);
                let report = rt.block_on(ex.run(approved, None)).expect("reference run");
                assert_eq!(report.status, RunStatus::Succeeded, "{}: reference run", CASES[c].0);
                let journal = rt.block_on(store.journal(&plan.run_id)).expect("journal");
                let mut v = Vec::new();
                let counts = attribute(&plan, &journal, &mutations(&p), &mut v);
                assert!(v.is_empty(), "{}: reference run: {v:?}", CASES[c].0);
                counts
            })
            .collect()
    })[case]
}

/// What one schedule did.
#[derive(Debug, Default)]
struct Explored {
    crash_points: Vec<String>,
    lives: usize,
    status: Option<RunStatus>,
    violations: Vec<String>,
}

fn run_schedule(s: &Schedule) -> Explored {
    let (name, _, _) = CASES[s.case];
    let refs = reference(s.case);
    let (p, plan, approval, policy) = setup(s.case, s.max_attempts);
    let store = Arc::new(MemoryStore::new());
    let rt = incident_core::sim::runtime().expect("runtime");
    p.set_faults(s.faults.clone()).expect("faults");
    let executor = || Executor::new(p.backends(), Arc::clone(&store) as Arc<dyn Store>, policy.clone());
    let mut out = Explored::default();
    let mut result: Option<Result<RunReport>> = None;
    let lives = s.crashes.len() + 1;
    for life in 0..lives {
        let failpoints = match s.crashes.get(life) {
            Some(&(i, comp, point)) => {
                let step = &plan.steps[i % plan.steps.len()].id;
                let id = if comp { format!("{step}{COMPENSATE}") } else { step.clone() };
                Failpoints::at(id, POINTS[point], FailpointMode::Error)
            }
            None => Failpoints::none(),
        };
        let ex = executor().with_failpoints(failpoints.clone());
        let r = if life == 0 {
            let approved = plan.clone().approve(approval.clone()).expect("approve");
            rt.block_on(ex.run(approved, None))
        } else {
            rt.block_on(ex.resume(&plan.run_id))
        };
        out.lives += 1;
        match &r {
            Err(e) if Failpoints::is_failpoint_error(e) => {
                out.crash_points.push(format!("{name}/{}", e.message()));
                result = Some(r);
            }
            _ => {
                result = Some(r);
                break;
            }
        }
    }
    // A schedule whose last life crashed gets one more, clean resume: a crashed run must always finish.
    if matches!(&result, Some(Err(e)) if Failpoints::is_failpoint_error(e)) {
        result = Some(rt.block_on(executor().resume(&plan.run_id)));
        out.lives += 1;
    }
    let v = &mut out.violations;
    let report = match result {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            v.push(format!("run did not finish: {} error: {e}", e.kind()));
            return out;
        }
        None => unreachable!("at least one life"),
    };
    out.status = Some(report.status);
    let journal = rt.block_on(store.journal(&plan.run_id)).expect("journal verifies");
    check_exactly_once(&plan, &journal, &mutations(&p), refs, v);
    check_no_repeat_no_skip(&plan, &journal, &report, v);
    p.set_faults(Faults::default()).expect("faults off");
    check_report_matches_world(&rt, &p, &plan, &report, v);
    if !v.is_empty() {
        let lines: Vec<String> = journal
            .iter()
            .map(|e| {
                let d = &e.draft;
                let st = d.detail.get("status").and_then(Value::as_str).unwrap_or("");
                format!("  #{} {} {} attempt {} {st} {}", e.seq, d.step_id, d.phase, d.attempt, d.at)
            })
            .collect();
        v.push(format!("journal:\n{}", lines.join("\n")));
    }
    // The report rebuilt from the journal (what `Executor::run_report` shows for a finished run).
    match rt.block_on(executor().run_report(&plan.run_id)) {
        Ok(again) => {
            if again.status != report.status || again.steps != report.steps || again.left_state != report.left_state {
                v.push(format!("report rebuilt from the journal differs: {again:#?} vs {report:#?}"));
            }
        }
        Err(e) => v.push(format!("resume of a finished run failed: {e}")),
    }
    out
}

fn outcome_changed(d: &Value) -> bool {
    d.get("changed").and_then(Value::as_bool).unwrap_or(false)
        || d.get("status").and_then(Value::as_str) == Some("reconciled")
}

fn check_exactly_once(
    plan: &Plan,
    journal: &[JournalEntry],
    ops: &[SimOp],
    refs: &BTreeMap<String, usize>,
    v: &mut Vec<String>,
) {
    let counts = attribute(plan, journal, ops, v);
    for sp in spans(plan, journal) {
        let n = counts.get(&sp.step).copied().unwrap_or(0);
        let base = sp.step.strip_suffix(COMPENSATE).unwrap_or(&sp.step);
        let max = refs.get(base).copied().unwrap_or(0);
        if n > max {
            v.push(format!("step {} made {n} mutations; one execution makes {max}", sp.step));
        }
        let Some(d) = &sp.outcome else { continue };
        let status = d.get("status").and_then(Value::as_str).unwrap_or_default();
        let comp = sp.step.ends_with(COMPENSATE);
        let detail = d.get("detail").and_then(Value::as_str).unwrap_or_default();
        let (must_change, must_not) = match (comp, status) {
            (false, "succeeded" | "reconciled") => (outcome_changed(d), !outcome_changed(d)),
            // "Already undone" after a crash: an earlier life of the compensation made the change.
            (true, "compensated") => {
                let undone = detail.starts_with("already undone");
                (!undone, undone && sp.intents == 1)
            }
            // A failure may or may not have left its change behind (the journal says what it knows).
            _ => (false, false),
        };
        if must_change && n == 0 {
            v.push(format!("step {} is journaled as {status} with a change, but no mutation happened", sp.step));
        }
        if must_not && n > 0 {
            v.push(format!("step {} is journaled as {status} without a change, but made {n} mutation(s)", sp.step));
        }
    }
}

fn check_no_repeat_no_skip(plan: &Plan, journal: &[JournalEntry], report: &RunReport, v: &mut Vec<String>) {
    // A step's outcome is final; a compensation that *failed* may be tried again by a resumed run (it
    // plans the inverse against live state), one that succeeded is final.
    let mut outcome_seq: BTreeMap<&str, u64> = BTreeMap::new();
    for e in journal {
        let id = e.draft.step_id.as_str();
        let failed_compensation =
            id.ends_with(COMPENSATE) && e.draft.detail.get("status").and_then(Value::as_str) != Some("compensated");
        match e.draft.phase {
            JournalPhase::Outcome => {
                if outcome_seq.contains_key(id) {
                    v.push(format!("step {id} has a second outcome (entry #{})", e.seq));
                }
                if !failed_compensation {
                    outcome_seq.insert(id, e.seq);
                }
            }
            JournalPhase::Intent => {
                if let Some(done) = outcome_seq.get(id) {
                    v.push(format!("completed step {id} (outcome #{done}) started again (entry #{})", e.seq));
                }
            }
        }
    }
    for s in &plan.steps {
        let st = report.step(&s.id).map(|r| r.status);
        let last = journal.iter().rev().find(|e| e.draft.step_id == s.id);
        if last.is_some_and(|e| e.draft.phase == JournalPhase::Intent) {
            v.push(format!("step {} ({st:?}) was left in flight: an intent without an outcome", s.id));
        }
        if report.status == RunStatus::Succeeded {
            let Some(&done) = outcome_seq.get(s.id.as_str()) else {
                v.push(format!("run succeeded but step {} has no outcome (skipped)", s.id));
                continue;
            };
            let first_intent = journal.iter().find(|e| e.draft.step_id == s.id).map_or(done, |e| e.seq);
            for d in &s.depends_on {
                if outcome_seq.get(d.as_str()).is_none_or(|&dep| dep > first_intent) {
                    v.push(format!("step {} started before its dependency {d} finished", s.id));
                }
            }
            if !matches!(st, Some(StepStatus::Succeeded | StepStatus::Reconciled)) {
                v.push(format!("run succeeded but step {} is {st:?}", s.id));
            }
        }
    }
    match report.status {
        RunStatus::Succeeded | RunStatus::Compensated | RunStatus::Failed => {}
        other => v.push(format!("run stopped as {other:?}")),
    }
    if report.status == RunStatus::Failed && report.left_state.is_empty() {
        v.push("failed run lists nothing left behind (it should have compensated)".into());
    }
    if report.status == RunStatus::Compensated && !report.left_state.is_empty() {
        v.push(format!("compensated run left state: {:?}", report.left_state));
    }
}

fn check_report_matches_world(
    rt: &tokio::runtime::Runtime,
    p: &SimPlatform,
    plan: &Plan,
    report: &RunReport,
    v: &mut Vec<String>,
) {
    let b = p.backends();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if let (true, StepKind::Action(a)) = (s.mutating, &s.kind) {
            groups.entry(a.resources().join("|")).or_default().push(i);
        }
    }
    for (resource, idx) in groups {
        let StepKind::Action(action) = &plan.steps[idx[0]].kind else { continue };
        let live = match rt.block_on(action.observe(&b)) {
            Ok(l) => l,
            Err(e) => {
                v.push(format!("observe {resource}: {e}"));
                continue;
            }
        };
        let mut expected = Some(&plan.steps[idx[0]].before);
        for &i in &idx {
            let step = &plan.steps[i];
            let Some(r) = report.step(&step.id) else { continue };
            let left = report.left_state.iter().find(|l| l.starts_with(&format!("{}:", step.id)));
            match r.status {
                _ if left.is_some_and(|l| l.contains("[compensation failed")) => expected = None,
                StepStatus::Succeeded | StepStatus::Reconciled => expected = Some(&step.after),
                StepStatus::Failed if r.changed && left.is_some() => expected = None,
                _ => {}
            }
        }
        if let Some(exp) = expected {
            if &live != exp {
                v.push(format!(
                    "{resource}: live {live} but the report ({:?}) implies {exp}; steps {:?}",
                    report.status,
                    idx.iter().map(|&i| report.step(&plan.steps[i].id)).collect::<Vec<_>>()
                ));
            }
        }
        if report.status == RunStatus::Compensated && live != plan.steps[idx[0]].before {
            v.push(format!("{resource}: compensated run left {live}, planned from {}", plan.steps[idx[0]].before));
        }
    }
}

fn cases() -> u32 {
    std::env::var("INCIDENT_PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
}

fn seed() -> u64 {
    std::env::var("INCIDENT_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        h.finish()
    })
}

#[test]
fn random_fault_schedules_keep_journal_report_and_world_consistent() {
    let seed = seed();
    let config =
        Config { cases: cases(), failure_persistence: None, rng_seed: RngSeed::Fixed(seed), ..Config::default() };
    let mut runner = TestRunner::new(config);
    let totals = Mutex::new((0usize, 0usize, BTreeSet::new(), BTreeMap::<String, usize>::new(), 0usize));
    let result = runner.run(&arb_schedule(), |s| {
        let out = run_schedule(&s);
        {
            let mut t = totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            t.0 += 1;
            t.1 += out.crash_points.len();
            t.2.extend(out.crash_points.iter().cloned());
            *t.3.entry(format!("{:?}", out.status)).or_default() += 1;
            t.4 += out.violations.len();
        }
        if out.violations.is_empty() {
            Ok(())
        } else {
            Err(TestCaseError::fail(format!(
                "{s:#?}\n{} violation(s):\n{}",
                out.violations.len(),
                out.violations.join("\n")
            )))
        }
    });
    let t = totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    eprintln!(
        "fault schedules: {} schedules, {} crashes + resumes at {} distinct crash points, outcomes {:?}, {} invariant violations (seed {seed}; replay with INCIDENT_PROPTEST_SEED={seed})",
        t.0,
        t.1,
        t.2.len(),
        t.3,
        t.4
    );
    println!("FAULT-SCHEDULES schedules={} crashes={} crash_points={} violations={}", t.0, t.1, t.2.len(), t.4);
    drop(t);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Schedules that found defects (minimal failing inputs of earlier runs), replayed every time.
#[test]
fn schedules_that_found_defects_stay_fixed() {
    let ms = Duration::from_millis;
    let f = |error_rate, throttle_rate, timeout_rate, latency_spike_rate, latency_spike, seed| Faults {
        error_rate,
        throttle_rate,
        timeout_rate,
        latency_spike_rate,
        latency_spike,
        seed,
        ..Faults::default()
    };
    let known = [
        // A scale-to-zero applied, then timed out; the read after the failure timed out too: the step was
        // reported unchanged, nothing was compensated and the run claimed `compensated` with 0 replicas.
        Schedule {
            case: 5,
            faults: f(0.0, 0.214_168_633_005_813_54, 0.119_227_395_072_270_48, 0.0, ms(1), 12_377_175_343_867_478_814),
            max_attempts: 4,
            crashes: vec![],
        },
        // A crash inside a compensation (after its intent): the resumed run re-journaled the same attempt
        // and stopped with a `Conflict` forever.
        Schedule {
            case: 3,
            faults: f(
                0.175_753_810_675_100_6,
                0.183_086_030_118_937_23,
                0.0,
                0.093_032_397_526_530_68,
                ms(14_415),
                255_567_158_276_753_375,
            ),
            max_attempts: 2,
            crashes: vec![(42, true, 2)],
        },
        // A failed compensation, then a crash before the next one: the resumed run retries it.
        Schedule {
            case: 5,
            faults: f(
                0.0,
                0.0,
                0.140_212_362_350_753_96,
                0.247_811_089_372_833_3,
                ms(11_353),
                4_211_913_761_189_527_761,
            ),
            max_attempts: 1,
            crashes: vec![(22, true, 0)],
        },
        // A compensation applied by an attempt that timed out: the next attempt said "already undone".
        Schedule {
            case: 5,
            faults: f(
                0.070_108_695_673_532_03,
                0.161_809_635_575_665_76,
                0.078_656_482_220_709_64,
                0.492_802_811_968_742_2,
                ms(27),
                8_007_281_049_009_238_155,
            ),
            max_attempts: 3,
            crashes: vec![],
        },
        // A crash with a step in flight, then another step failed: the in-flight step was reported
        // skipped with its intent left open, and never reconciled or compensated.
        Schedule {
            case: 0,
            faults: f(0.223_153_104_778_235_63, 0.0, 0.0, 0.0, ms(1), 5_629_472_444_018_240_738),
            max_attempts: 1,
            crashes: vec![(8, false, 1)],
        },
        // A compensation failed, the next ones ran, the executor crashed and the resumed run retried the
        // failed one last: it restored the state from before its step over the older steps' undo (a config
        // map left read-only in a run reported compensated). Compensation now stops at a failure.
        Schedule {
            case: 5,
            faults: f(
                0.0,
                0.063_554_246_877_006_59,
                0.178_989_673_569_627_72,
                0.273_858_566_097_178_2,
                ms(5_510),
                16_476_299_102_627_063_213,
            ),
            max_attempts: 2,
            crashes: vec![(7, true, 0)],
        },
    ];
    for s in known {
        let out = run_schedule(&s);
        assert!(out.violations.is_empty(), "{s:#?}\n{}", out.violations.join("\n"));
    }
}
