//! Issue 15, "an edited plan.json runs": every attack on a plan file, as a user (or an attacker) runs it.
//!
//! Each test plans `traffic-management` on the `bad-deploy` simulator, edits the plan file the way the
//! issue did, and runs it: an edited plan is refused (exit 4, naming the first changed field) before any
//! mutation; a plan whose digest was recomputed after the edit (anyone can compute a SHA-256) meets the
//! guard rails, which now cover inverses (exit 3), plan time (exit 4) and, with a key, signatures (exit 4).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use incident_core::engine::Plan;
use serde_json::Value;

fn incident(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .env_remove("INCIDENT_FAILPOINT")
        .env_remove("INCIDENT_SIGNING_KEY")
        .output()
        .expect("spawn")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Setup {
    dir: tempfile::TempDir,
    sim: PathBuf,
    plan: PathBuf,
}

impl Setup {
    /// `incident plan traffic-management --sim st.json --scenario bad-deploy --at 5m --out p.json [extra]`.
    fn new(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = dir.path().join("st.json");
        let plan = dir.path().join("p.json");
        let mut args = vec![
            "plan",
            "traffic-management",
            "--sim",
            s(&sim),
            "--scenario",
            "bad-deploy",
            "--at",
            "5m",
            "--out",
            s(&plan),
        ];
        args.extend_from_slice(extra);
        let o = incident(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        Self { dir, sim, plan }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&self.plan).expect("read")).expect("json");
        f(&mut v);
        std::fs::write(&self.plan, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
    }

    /// Edit, then recompute the digests the way an attacker who read the source would.
    fn edit_and_reseal(&self, f: impl FnOnce(&mut Value)) {
        self.edit(f);
        let mut plan: Plan = serde_json::from_slice(&std::fs::read(&self.plan).expect("read")).expect("plan");
        let signature = plan.signature.take();
        plan.seal();
        plan.signature = signature;
        std::fs::write(&self.plan, serde_json::to_vec_pretty(&plan).expect("json")).expect("write");
    }

    /// `incident run p.json --approve-by x --sim st.json --store g.sqlite [extra]`.
    fn run(&self, extra: &[&str]) -> Output {
        let store = self.path("g.sqlite");
        let mut args = vec!["run", s(&self.plan), "--approve-by", "x", "--sim", s(&self.sim), "--store", s(&store)];
        args.extend_from_slice(extra);
        incident(&args)
    }

    /// What the simulator has done so far (its operations log) and the API's replica count.
    fn state(&self) -> (Value, Value) {
        let v: Value = serde_json::from_slice(&std::fs::read(&self.sim).expect("sim")).expect("json");
        let replicas =
            v["clusters"]["ml-platform-primary"]["deployments"]["ml-platform/ml-inference-api"]["replicas"].clone();
        (v["ops"].clone(), replicas)
    }

    /// Run with `extra`: refused with `code`, saying `needle`, and nothing changed on the platform.
    #[track_caller]
    fn refused(&self, extra: &[&str], code: i32, needle: &str) -> String {
        let before = self.state();
        let o = self.run(extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert_eq!(self.state(), before, "a refused plan changed the platform");
        assert_eq!(before.1, 3, "still the planned 3 replicas");
        err
    }
}

#[test]
fn the_unedited_plan_runs() {
    // On bad-deploy the rollout never becomes healthy, so the run fails and compensation runs the planned
    // inverse: 3 -> 10, then back to exactly 3.
    let t = Setup::new(&[]);
    let before = t.state();
    let o = t.run(&["-o", "json"]);
    let report: Value = serde_json::from_slice(&o.stdout).expect("report");
    assert_eq!(report["steps"][0]["status"], "compensated", "{report}");
    let (ops, replicas) = t.state();
    assert_ne!(ops, before.0, "the scale step ran: {}", stderr(&o));
    assert_eq!(replicas, 3, "the inverse restored the recorded before");
}

#[test]
fn an_edited_inverse_is_refused_naming_the_field() {
    for replicas in [500, 0] {
        let t = Setup::new(&[]);
        t.edit(|p| p["steps"][0]["inverse"]["replicas"] = replicas.into());
        t.refused(&[], 4, "plan field steps[0].inverse changed after planning (digest mismatch)");
    }
}

#[test]
fn a_resealed_inverse_that_does_not_restore_before_is_a_guard_rail_refusal() {
    // 10 -> 500 breaks max_replicas; 10 -> 0 is scale-to-zero outside database-corruption; both fail to
    // restore the recorded before (3).
    for (replicas, rule) in [(500, "max_replicas"), (0, "scale_to_zero_procedures")] {
        let t = Setup::new(&[]);
        t.edit_and_reseal(|p| p["steps"][0]["inverse"]["replicas"] = replicas.into());
        let err = t.refused(&[], 3, "does not restore the recorded before {\"replicas\":3}");
        assert!(err.contains("(inverse)"), "{err}");
        let again = Setup::new(&[]);
        again.edit_and_reseal(|p| p["steps"][0]["inverse"]["replicas"] = replicas.into());
        // The rule on the inverse itself is reported too when it is the only problem: make before agree.
        again.edit_and_reseal(|p| {
            use sha2::Digest as _;
            p["steps"][0]["before"]["replicas"] = replicas.into();
            // And its fingerprint (the SHA-256 of the canonical `before`), or that is what is refused.
            let canonical = format!("{{\"replicas\":{replicas}}}");
            p["steps"][0]["fingerprint"] = format!("{:x}", sha2::Sha256::digest(canonical.as_bytes())).into();
        });
        let before = again.state();
        let err = again.run(&[]);
        assert_eq!(again.state(), before, "nothing changed");
        assert_eq!(err.status.code(), Some(3), "{}", stderr(&err));
        assert!(stderr(&err).contains("inverse: ") && stderr(&err).contains(rule), "{}", stderr(&err));
    }
}

#[test]
fn an_edited_action_is_refused() {
    let t = Setup::new(&[]);
    t.edit(|p| p["steps"][0]["kind"]["replicas"] = 40.into());
    t.refused(&[], 4, "plan field steps[0].kind changed after planning");
}

#[test]
fn a_plan_from_the_future_is_refused_even_resealed() {
    let t = Setup::new(&[]);
    t.edit(|p| p["created_at"] = "2099-01-01T00:00:00Z".into());
    t.refused(&[], 4, "plan field created_at changed after planning");
    t.edit_and_reseal(|_| {});
    t.refused(&[], 4, "in the future (guard_rails.max_clock_skew is 2m)");
}

#[test]
fn a_stale_plan_is_refused() {
    let t = Setup::new(&[]);
    t.edit_and_reseal(|p| p["created_at"] = "2020-01-01T00:00:00Z".into());
    t.refused(&[], 4, "re-plan");
}

#[test]
fn an_unknown_field_is_refused() {
    let t = Setup::new(&[]);
    t.edit(|p| p["steps"][0]["force"] = true.into());
    t.refused(&[], 4, "unknown field `force`");
    let t = Setup::new(&[]);
    t.edit(|p| p["approved"] = true.into());
    t.refused(&[], 4, "unknown field `approved`");
}

#[test]
fn a_plan_without_its_digest_is_refused() {
    let t = Setup::new(&[]);
    t.edit(|p| {
        p.as_object_mut().expect("object").remove("digest");
    });
    t.refused(&[], 4, "missing field `digest`");
}

#[test]
fn the_run_can_be_bound_to_the_digest_the_approver_saw() {
    let t = Setup::new(&[]);
    let digest = serde_json::from_slice::<Value>(&std::fs::read(&t.plan).expect("read")).expect("json")["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    t.edit_and_reseal(|p| p["steps"][0]["kind"]["replicas"] = 40.into());
    t.refused(&["--expect-digest", &digest], 4, "not the approved");
}

fn keygen(path: &Path) -> String {
    let o = incident(&["keygen", "--out", s(path), "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(path).expect("key").permissions().mode() & 0o777, 0o600);
    }
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let public = v["public_key"].as_str().expect("public key").to_owned();
    assert!(public.starts_with("ed25519:"), "{public}");
    // Never overwritten.
    let again = incident(&["keygen", "--out", s(path)]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    public
}

#[test]
fn signatures_are_required_with_a_key_and_trusted_across_machines() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (a, b) = (keys.path().join("a.pem"), keys.path().join("b.pem"));
    let public_a = keygen(&a);
    let _public_b = keygen(&b);

    // Unsigned plan, key configured on the running machine: refused.
    let t = Setup::new(&[]);
    t.refused(&["--signing-key", s(&b)], 4, "is not signed, and signatures are required");

    // Unsigned plan, trusted keys in the policy: refused.
    let policy = keys.path().join("trust.toml");
    std::fs::write(&policy, format!("[signing]\ntrusted_keys = [\"{public_a}\"]\n")).expect("policy");
    t.refused(&["--policy", s(&policy)], 4, "is not signed");

    // Signed on machine A, run on machine B that holds only its own key: not trusted.
    let t = Setup::new(&["--signing-key", s(&a)]);
    t.refused(&["--signing-key", s(&b)], 4, "which is not trusted");

    // A bad signature (the value changed) is refused.
    let bad = Setup::new(&["--signing-key", s(&a)]);
    bad.edit(|p| {
        let sig = p["signature"]["value"].as_str().expect("signed").to_owned();
        let first = if sig.starts_with('A') { 'B' } else { 'A' };
        let flipped = format!("{first}{}", sig.get(1..).unwrap_or_default());
        p["signature"]["value"] = flipped.into();
    });
    bad.refused(&["--policy", s(&policy)], 4, "bad signature");

    // Edited and resealed: the signature no longer matches the digest.
    let resealed = Setup::new(&["--signing-key", s(&a)]);
    resealed.edit_and_reseal(|p| p["steps"][0]["kind"]["replicas"] = 40.into());
    resealed.refused(&["--policy", s(&policy)], 4, "bad signature");

    // Machine B trusts A's public key in its policy (no private key there): the plan runs.
    let before = t.state();
    let o = t.run(&["--policy", s(&policy), "-o", "json"]);
    assert!(!stderr(&o).contains("signature"), "{}", stderr(&o));
    assert_ne!(t.state(), before, "the signed plan ran: {}", stderr(&o));

    // Machine A with its own key runs its own plan.
    let own = Setup::new(&["--signing-key", s(&a)]);
    let before = own.state();
    let o = own.run(&["--signing-key", s(&a)]);
    assert_ne!(own.state(), before, "{}", stderr(&o));
}

#[test]
fn the_approval_names_approver_time_and_digest_in_the_journal_and_on_the_timeline() {
    let t = Setup::new(&[]);
    let digest = serde_json::from_slice::<Value>(&std::fs::read(&t.plan).expect("read")).expect("json")["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let _ = t.run(&[]);
    let conn = rusqlite::Connection::open(t.path("g.sqlite")).expect("store");
    let detail: String = conn
        .query_row("SELECT detail FROM journal WHERE step_id = '#approval'", [], |r| r.get(0))
        .expect("an #approval journal entry");
    let detail: Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(detail["by"], "x", "{detail}");
    assert_eq!(detail["plan_digest"], digest.as_str(), "{detail}");
    assert!(detail["at"].as_str().is_some_and(|a| a.starts_with("2026-11-06T15:05")), "{detail}");

    // A drill records the same on the incident's timeline.
    let out = t.path("drill");
    let o = incident(&["drill", "bad-deploy", "--yes", "--quiet", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let timeline: Value =
        serde_json::from_slice(&std::fs::read(out.join("timeline.json")).expect("timeline")).expect("json");
    let text = timeline.to_string();
    let approval = text.find("approval_granted").expect("an approval event");
    let around = &text[approval.saturating_sub(400)..(approval + 400).min(text.len())];
    assert!(around.contains("plan_digest") && around.contains("\"at\""), "{around}");
    // And the evidence still verifies with the new journal entry.
    let v = incident(&["evidence", "verify", s(&out)]);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn resume_refuses_a_stored_plan_edited_in_the_store_or_unsigned() {
    let t = Setup::new(&[]);
    let run_id = serde_json::from_slice::<Value>(&std::fs::read(&t.plan).expect("read")).expect("json")["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let _ = t.run(&[]);
    let store = t.path("g.sqlite");
    let resume = |extra: &[&str]| {
        let mut args = vec!["resume", run_id.as_str(), "--sim", s(&t.sim), "--store", s(&store)];
        args.extend_from_slice(extra);
        incident(&args)
    };
    let o = resume(&[]);
    assert!(o.status.code() != Some(3) && !stderr(&o).contains("refused"), "{}", stderr(&o));

    // With a key required, the unsigned stored plan is refused.
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("k.pem");
    keygen(&key);
    let o = resume(&["--signing-key", s(&key)]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not signed"), "{}", stderr(&o));

    // The plan stored with the run is edited in the database: refused, naming the field.
    let conn = rusqlite::Connection::open(&store).expect("store");
    let plan: String = conn.query_row("SELECT plan FROM runs", [], |r| r.get(0)).expect("plan");
    let mut plan: Value = serde_json::from_str(&plan).expect("json");
    plan["steps"][0]["inverse"]["replicas"] = 500.into();
    conn.execute("UPDATE runs SET plan = ?1", [plan.to_string()]).expect("update");
    drop(conn);
    let before = t.state();
    let o = resume(&[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("plan field steps[0].inverse changed after planning"), "{}", stderr(&o));
    assert_eq!(t.state(), before);

    // Both the stored plan (resealed) and the stored approval's digest rewritten consistently: the
    // approval journaled in the hash chain still names the original digest.
    let conn = rusqlite::Connection::open(&store).expect("store");
    let mut plan: Plan = serde_json::from_value(plan).expect("plan");
    plan.seal();
    let approval: String = conn.query_row("SELECT approval FROM runs", [], |r| r.get(0)).expect("approval");
    let mut approval: Value = serde_json::from_str(&approval).expect("json");
    approval["plan_digest"] = plan.digest.clone().into();
    conn.execute(
        "UPDATE runs SET plan = ?1, approval = ?2",
        [serde_json::to_string(&plan).expect("json"), approval.to_string()],
    )
    .expect("update");
    drop(conn);
    let o = resume(&[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not the plan whose approval was journaled"), "{}", stderr(&o));
    assert_eq!(t.state(), before);
}
