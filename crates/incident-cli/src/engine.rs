//! The engine commands: drill, plan, run, resume, triage, evidence.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand};
use incident_backends::{BackendSet, BackendSpec, SimSpec, StoreSpec};
use incident_core::drill::{self, Approver, AutoApprove, DrillEvent, DrillObserver, DrillOptions};
use incident_core::engine::{Approval, Plan, RunReport};
use incident_core::evidence::{DrillBundle, SignatureCheck};
use incident_core::signing::SigningKey;
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::Store;
use incident_core::triage::TriageOptions;
use incident_core::{Error, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::io::{Ctx, Format, parse_doc};

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| Error::internal(format!("cannot serialize: {e}")))
}

// ----------------------------------------------------------------------------------------------------
// drill
// ----------------------------------------------------------------------------------------------------

/// `incident drill`.
#[derive(Debug, Args)]
pub(crate) struct DrillArgs {
    /// Scenario: a built-in name (see --list) or a scenario YAML file.
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// List the built-in scenarios.
    #[arg(long)]
    list: bool,
    /// Approve the plan without asking (confirms production targets and approval gates).
    #[arg(long)]
    yes: bool,
    /// Who approves (default: the on-call engineer).
    #[arg(long)]
    approver: Option<String>,
    /// The on-call engineer, incident commander by default.
    #[arg(long, default_value = "on-call")]
    on_call: String,
    /// Output directory (post-mortem, timeline, journal, evidence manifest); replaced files are the
    /// previous drill's.
    #[arg(long, default_value = "out/drill")]
    out: PathBuf,
    /// Only the summary, no live log.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Sign the evidence manifest with this Ed25519 private key (PKCS#8 PEM or DER, e.g. from
    /// `openssl genpkey -algorithm ed25519`): `manifest.sig`.
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

/// Read `--signing-key FILE` (the key is never printed).
fn signing_key(path: Option<&Path>) -> Result<Option<SigningKey>> {
    path.map(|p| {
        let bytes = std::fs::read(p)
            .map_err(|e| Error::invalid_input(format!("cannot read the signing key {}: {e}", p.display())))?;
        SigningKey::parse(&bytes).map_err(|e| e.context(p.display()))
    })
    .transpose()
}

/// Live log with one progress bar per stage (virtual time).
struct Live {
    bars: MultiProgress,
    current: Mutex<Option<ProgressBar>>,
    start: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    quiet: bool,
}

impl Live {
    fn offset(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        let mut start = self.start.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = *start.get_or_insert(at);
        let secs = (at - s).num_seconds().max(0);
        format!("+{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.bars.is_hidden() {
            crate::io::out(text);
        } else {
            let _ = self.bars.println(text);
        }
    }
}

impl DrillObserver for Live {
    fn on_event(&self, event: &DrillEvent) {
        match event {
            DrillEvent::StageStarted { stage, budget, at } => {
                let off = self.offset(*at);
                self.line(&format!("{off} ▶ {stage}{}", budget.map(|b| format!(" (budget {b})")).unwrap_or_default()));
                if !self.quiet && !self.bars.is_hidden() {
                    let len = budget.map_or(1, |b| b.as_secs().max(1));
                    let bar = self.bars.add(ProgressBar::new(len));
                    bar.set_style(
                        ProgressStyle::with_template("  {prefix:<16} [{bar:30}] {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    bar.set_prefix(stage.clone());
                    *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bar);
                }
            }
            DrillEvent::StageFinished { result } => {
                if let Some(bar) = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                    bar.set_position(u64::try_from(result.elapsed_secs).unwrap_or(0));
                    bar.finish_with_message(format!("{}s", result.elapsed_secs));
                }
                let verdict = match (result.ok, result.within_budget) {
                    (false, _) => "FAILED",
                    (true, Some(false)) => "over budget",
                    (true, Some(true)) => "within budget",
                    (true, None) => "done",
                };
                let off = self.offset(result.finished_at);
                self.line(&format!("{off} ■ {} {}s {verdict}", result.stage, result.elapsed_secs));
            }
            DrillEvent::Log { at, text } => {
                let off = self.offset(*at);
                self.line(&format!("{off}   {text}"));
            }
        }
    }
}

/// Asks on the terminal.
struct Prompt {
    by: String,
}

#[async_trait::async_trait]
impl Approver for Prompt {
    async fn approve(&self, plan: &Plan, now: chrono::DateTime<chrono::Utc>) -> Result<Option<Approval>> {
        if !std::io::stdin().is_terminal() {
            eprintln!("plan not approved: stdin is not a terminal (pass --yes to approve)");
            return Ok(None);
        }
        crate::io::out(&plan.to_string());
        print!(
            "Approve this plan as {}{}? [y/N] ",
            self.by,
            if plan.needs_production_confirmation { " (PRODUCTION)" } else { "" }
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::invalid_input(e.to_string()))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(None);
        }
        AutoApprove { by: self.by.clone() }.approve(plan, now).await
    }
}

pub(crate) fn drill(ctx: &Ctx, a: &DrillArgs) -> Result<()> {
    if a.list {
        for name in Scenario::names() {
            let s = Scenario::builtin(name)?;
            crate::io::out(&format!("{name:<24} {}", s.description.split(". ").next().unwrap_or("")));
        }
        return Ok(());
    }
    let scenario = Scenario::from_name_or_path(a.scenario.as_deref().unwrap_or_default())?;
    let key = signing_key(a.signing_key.as_deref())?;
    let bundle = DrillBundle::<incident_store::SqliteStore>::create(&a.out)?;
    let store: Arc<dyn Store> = Arc::new(bundle.store().clone());
    let platform = SimPlatform::from_scenario(&scenario)?;
    incident_core::text::single_line("--on-call", &a.on_call)?;
    if let Some(approver) = &a.approver {
        incident_core::text::single_line("--approver", approver)?;
    }
    let by = a.approver.clone().unwrap_or_else(|| a.on_call.clone());
    let approver: Box<dyn Approver> = if a.yes { Box::new(AutoApprove { by }) } else { Box::new(Prompt { by }) };
    let bars = MultiProgress::new();
    if a.quiet || ctx.format != Format::Text || !std::io::stdout().is_terminal() {
        bars.set_draw_target(ProgressDrawTarget::hidden());
    }
    let live =
        Live { bars, current: Mutex::new(None), start: Mutex::new(None), quiet: a.quiet || ctx.format != Format::Text };
    let opts = DrillOptions { on_call: a.on_call.clone(), ..DrillOptions::default() };
    let rt = incident_core::sim::runtime()?;
    let report = rt.block_on(drill::run_drill(
        &platform,
        Arc::clone(&store),
        &ctx.policy,
        &scenario,
        &opts,
        approver.as_ref(),
        &live,
    ))?;
    drop(store);
    let proof = bundle.finish(&report, key.as_ref())?;

    let summary = drill::summary(&report);
    ctx.emit(&report, || {
        let signed = match &proof.signature {
            SignatureCheck::Unsigned => "unsigned".to_owned(),
            SignatureCheck::Trusted { key } | SignatureCheck::Valid { key } => format!("signed by {key}"),
        };
        format!("{summary}  output: {} (evidence bundle, {signed})", a.out.display())
    })?;
    if report.passed {
        Ok(())
    } else {
        Err(Error::precondition(format!("drill {} failed: {}", report.scenario, report.failures.join("; "))))
    }
}

// ----------------------------------------------------------------------------------------------------
// keygen
// ----------------------------------------------------------------------------------------------------

/// `incident keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600); an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub(crate) fn keygen(ctx: &Ctx, a: &KeygenArgs) -> Result<()> {
    let (key, der) = SigningKey::generate()?;
    let pem = SigningKey::pkcs8_pem(&der);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(&a.out).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::AlreadyExists { "it exists; not overwritten" } else { "" };
        Error::invalid_input(format!("cannot create {}: {e} {what}", a.out.display()).trim_end().to_owned())
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::unavailable(format!("cannot write {}: {e}", a.out.display())))?;
    let public = key.public_key().to_string();
    let v = serde_json::json!({ "private_key_file": a.out.display().to_string(), "public_key": public });
    ctx.emit(&v, || {
        format!(
            "{public}\n(private key written to {}; trust it elsewhere with policy `signing.trusted_keys = [\"{public}\"]`)",
            a.out.display()
        )
    })
}

// ----------------------------------------------------------------------------------------------------
// evidence
// ----------------------------------------------------------------------------------------------------

/// `incident evidence`.
#[derive(Debug, Args)]
pub(crate) struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Verify an evidence directory: its files against `manifest.sha256` (all required files, nothing
    /// else), the timeline and journal hash chains, the heads `report.json` recorded, and the manifest's
    /// signature (required when a key is trusted: policy `signing.trusted_keys` or --signing-key).
    Verify {
        /// The directory (e.g. a drill's `--out`).
        dir: PathBuf,
        /// Trust this Ed25519 private key's public half too (PKCS#8 PEM or DER): the manifest must be signed
        /// by a trusted key.
        #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
}

pub(crate) fn evidence(ctx: &Ctx, a: &EvidenceArgs) -> Result<()> {
    let EvidenceCommand::Verify { dir, signing_key: key_file } = &a.command;
    let key = signing_key(key_file.as_deref())?;
    let proof =
        incident_core::evidence::verify::<incident_store::SqliteStore>(dir, &ctx.policy.signing.trust(key.as_ref()))?;
    ctx.emit(&proof, || proof.render())
}

// ----------------------------------------------------------------------------------------------------
// plan / run / resume / triage on a backend
// ----------------------------------------------------------------------------------------------------

/// Which platform to act on.
#[derive(Debug, Args)]
pub(crate) struct BackendArgs {
    /// Simulated platform state file (created from --scenario when missing): the Kubernetes side, and the
    /// databases, DNS and region checks unless --aws is given. Give this, --kube or --eks.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["kube", "kubeconfig", "eks"], conflicts_with_all = ["kube", "kubeconfig", "eks"])]
    sim: Option<PathBuf>,
    /// Scenario used to create the --sim state file.
    #[arg(long, default_value = "bad-deploy")]
    scenario: String,
    /// Advance the simulated platform to this offset from its start first (e.g. `5m`).
    #[arg(long, requires = "sim")]
    at: Option<incident_core::HumanDuration>,
    /// Act on a real Kubernetes cluster (kube-rs) from the kubeconfig ($KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kube: bool,
    /// Kubeconfig file for a real cluster (implies --kube).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Default kubeconfig context (default: its current-context; implies --kube); procedures name their
    /// own contexts.
    #[arg(long, value_name = "CONTEXT", conflicts_with = "sim")]
    kube_context: Option<String>,
    /// Serve kube context CONTEXT from EKS cluster CLUSTER in REGION (the runbook's `aws eks
    /// update-kubeconfig`, without the aws CLI; tokens are refreshed before they expire). Repeatable;
    /// needs --aws. `REGION/CLUSTER` alone names the context after the cluster.
    #[arg(long, value_name = "CONTEXT=REGION/CLUSTER", requires = "aws")]
    eks: Vec<String>,
    /// Use AWS (RDS, Route53, STS, Health) for databases, DNS and region checks, from the standard
    /// configuration chain (environment, profile, region).
    #[arg(long)]
    aws: bool,
    /// AWS primary region (default: the chain's region).
    #[arg(long, requires = "aws")]
    aws_region: Option<String>,
    /// AWS secondary (failover) region.
    #[arg(long, requires = "aws")]
    aws_secondary_region: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, requires = "aws")]
    aws_profile: Option<String>,
    /// Endpoint override for every AWS service (moto, LocalStack).
    #[arg(long, requires = "aws")]
    aws_endpoint_url: Option<String>,
}

impl BackendArgs {
    /// The backends these flags select (the rule itself lives in `incident-backends`).
    fn spec(&self, store: Option<&str>) -> Result<BackendSpec> {
        let sim = self.sim.as_ref().map(|path| SimSpec::file(path, &self.scenario));
        let mut spec = BackendSpec::new().with_sim_at(sim, self.at.map(|a| a.as_std()), "--at")?.with_kube_flags(
            self.kube,
            self.kubeconfig.clone(),
            self.kube_context.clone(),
        );
        spec = spec.with_eks_specs(&self.eks)?;
        if self.aws {
            spec = spec.with_aws(incident_backends::AwsConfig {
                primary_region: self.aws_region.clone(),
                secondary_region: self.aws_secondary_region.clone(),
                endpoint_url: self.aws_endpoint_url.clone(),
                profile: self.aws_profile.clone(),
                ..incident_backends::AwsConfig::default()
            });
        }
        if let Some(store) = store {
            spec = spec.with_store(StoreSpec::parse(store)?);
        }
        Ok(spec)
    }

    /// The runtime commands run on: the simulator's paused-clock runtime for a simulated platform, an
    /// ordinary one (real time, for real waits) for a real cluster.
    fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        if self.sim.is_some() {
            incident_core::sim::runtime()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::internal(format!("cannot start a runtime: {e}")))
        }
    }

    /// Connect the backends on `rt` (from [`BackendArgs::runtime`]).
    fn open(&self, ctx: &Ctx, store: Option<&str>, rt: &tokio::runtime::Runtime) -> Result<BackendSet> {
        rt.block_on(self.spec(store)?.open(&ctx.policy))
    }
}

/// `incident plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Library procedure (traffic-management, application-rollback, database-recovery, regional-failover,
    /// database-corruption) or a procedure file (JSON/YAML).
    procedure: String,
    /// Procedure parameter `key=value` (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Write the plan (JSON) here, for `incident run`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sign the plan with this Ed25519 private key (PKCS#8 PEM or DER, from `incident keygen`), so a
    /// machine trusting its public key (policy `signing.trusted_keys`) runs it.
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

pub(crate) fn plan(ctx: &Ctx, a: &PlanArgs) -> Result<()> {
    let mut params = BTreeMap::new();
    for p in &a.params {
        let (k, v) =
            p.split_once('=').ok_or_else(|| Error::invalid_input(format!("--param {p:?}: expected KEY=VALUE")))?;
        params.insert(k.trim().to_owned(), v.to_owned());
    }
    let procedure = if Path::new(&a.procedure).exists() {
        if !params.is_empty() {
            return Err(Error::invalid_input("--param applies to library procedures, not procedure files"));
        }
        let text = std::fs::read_to_string(&a.procedure)
            .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", a.procedure)))?;
        incident_core::engine::Procedure::parse(&text).map_err(|e| e.context(&a.procedure))?
    } else {
        drill::procedure_from_spec(&a.procedure, &params, &ctx.policy)?
    };
    let key = signing_key(a.signing_key.as_deref())?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, None, &rt)?;
    let mut plan = rt.block_on(procedure.plan(set.backends(), &ctx.policy))?;
    if let Some(key) = &key {
        plan.sign(key);
    }
    if let Some(out) = &a.out {
        std::fs::write(out, json(&plan)?)
            .map_err(|e| Error::unavailable(format!("cannot write {}: {e}", out.display())))?;
    }
    ctx.emit(&plan, || plan.to_string())
}

/// `incident run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plan file written by `incident plan --out`.
    plan: PathBuf,
    /// Approve as this person (required: execution needs an explicit approval).
    #[arg(long)]
    approve_by: Option<String>,
    /// Confirm production targets.
    #[arg(long)]
    confirm_production: bool,
    /// Journal store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// Incident the run belongs to (its timeline records every step).
    #[arg(long)]
    incident: Option<String>,
    /// Require the plan to be signed by this Ed25519 key (PKCS#8 PEM or DER) or by a key of policy
    /// `signing.trusted_keys`; without either, signatures are not required (the digest always is).
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Refuse unless the plan's digest is this one (the digest `incident plan` showed the approver).
    #[arg(long, value_name = "SHA256")]
    expect_digest: Option<String>,
    #[command(flatten)]
    backend: BackendArgs,
}

/// Read a plan file written by `incident plan --out`: a file that is not JSON/YAML is bad input (exit 2);
/// one that is not a plan exactly as planning writes it (an unknown or missing field) is refused (exit 4).
fn read_plan(path: &Path) -> Result<Plan> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::invalid_input(format!("cannot read {name}: {e}")))?;
    let doc: serde_json::Value = parse_doc(&name, &text)?;
    serde_path_to_error::deserialize(doc).map_err(|e| {
        Error::precondition(format!(
            "{name} is not a plan as `incident plan` wrote it ({}: {}): refused; re-plan",
            e.path(),
            e.inner()
        ))
    })
}

fn report_result(ctx: &Ctx, report: &RunReport) -> Result<()> {
    ctx.emit(report, || {
        let mut s = format!("run {} ({}): {}\n", report.run_id, report.procedure, report.status);
        for st in &report.steps {
            let _ = writeln!(
                s,
                "  {:<28} {}{}",
                st.id,
                st.status,
                st.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            );
        }
        for l in &report.left_state {
            let _ = writeln!(s, "  left: {l}");
        }
        s
    })?;
    match report.status {
        incident_core::store::RunStatus::Succeeded | incident_core::store::RunStatus::Running => Ok(()),
        other => Err(Error::precondition(format!("run {} ended {other}", report.run_id))),
    }
}

/// This process's executor identity (`host:pid`): claims of a live executor exclude every other one.
fn owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

pub(crate) fn run(ctx: &Ctx, a: &RunArgs) -> Result<()> {
    let plan = read_plan(&a.plan)?;
    // Before anything else (and before any backend is opened): the plan is the one planned, signed when
    // signatures are required, and the one the approver saw.
    let key = signing_key(a.signing_key.as_deref())?;
    let trust = ctx.policy.signing.trust(key.as_ref());
    plan.verify(&trust)?;
    if let Some(expected) = &a.expect_digest {
        if !expected.trim().eq_ignore_ascii_case(&plan.digest) {
            return Err(Error::precondition(format!(
                "plan {} has digest {}, not the approved {expected}: refused",
                plan.run_id, plan.digest
            )));
        }
    }
    let by = a.approve_by.clone().ok_or_else(|| {
        Error::refused(format!("plan {} is not approved: pass --approve-by NAME to execute it", plan.run_id))
    })?;
    incident_core::text::single_line("--approve-by", &by)?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, Some(&a.store), &rt)?;
    let exec = set.executor(ctx.policy.clone(), owner()).trusting(trust);
    let mut approval = Approval::new(by, set.now());
    if a.confirm_production {
        approval = approval.confirm_production();
    }
    let approved = plan.approve(approval)?;
    let report = rt.block_on(exec.run(approved, a.incident.clone()))?;
    report_result(ctx, &report)
}

/// `incident resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The run id.
    run_id: String,
    /// The executor that left steps in flight is dead: adopt its identity and take over its claims.
    /// Without it, a step claimed by another live executor is refused.
    #[arg(long)]
    take_over: bool,
    /// Journal store: a SQLite file, or `postgres://...` for the team store (also `INCIDENT_STORE`).
    #[arg(long, env = "INCIDENT_STORE", default_value = "incident.sqlite")]
    store: String,
    /// Require the stored plan to be signed by this Ed25519 key or by a key of policy
    /// `signing.trusted_keys`.
    #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
    signing_key: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub(crate) fn resume(ctx: &Ctx, a: &ResumeArgs) -> Result<()> {
    let key = signing_key(a.signing_key.as_deref())?;
    let rt = a.backend.runtime()?;
    let set = a.backend.open(ctx, Some(&a.store), &rt)?;
    let mut exec = set.executor(ctx.policy.clone(), owner()).trusting(ctx.policy.signing.trust(key.as_ref()));
    if a.take_over {
        exec = exec.taking_over();
    }
    let report = rt.block_on(exec.resume(&a.run_id))?;
    report_result(ctx, &report)
}

/// `incident triage`.
#[derive(Debug, Args)]
pub(crate) struct TriageArgs {
    /// Namespace of the critical services.
    #[arg(short = 'n', long, default_value = "ml-platform")]
    namespace: String,
    /// Kube context (default: the backend's default).
    #[arg(long)]
    context: Option<String>,
    /// Log lines per pod.
    #[arg(long, default_value_t = 100)]
    tail: u32,
    /// Scan the logs of this deployment (`NAME` in -n, or `NAMESPACE/NAME`, like
    /// `kubectl logs deployment/coredns -n kube-system`); repeatable. Default: every deployment of -n.
    #[arg(long = "logs-deployment", value_name = "[NS/]NAME")]
    log_deployments: Vec<String>,
    /// Scan the logs of pods matching a label selector (`app=api` in -n, or `NAMESPACE/app=api,tier=web`);
    /// repeatable.
    #[arg(long = "logs-selector", value_name = "[NS/]SELECTOR")]
    log_selectors: Vec<String>,
    /// Case-insensitive error pattern for the log scan (repeatable; default `error`).
    #[arg(long = "error-pattern", value_name = "TEXT")]
    error_patterns: Vec<String>,
    /// Report recent changes (rollouts, warning events, commits of --git-repo) since this long ago
    /// (e.g. `2h`), the runbook's "Examine Recent Changes".
    #[arg(long, value_name = "DURATION")]
    since: Option<incident_core::HumanDuration>,
    /// A local git repository whose commits since --since are listed (`git log --since`).
    #[arg(long, value_name = "DIR", requires = "since")]
    git_repo: Option<PathBuf>,
    /// Deadline of each API call.
    #[arg(long, default_value = "10s")]
    call_deadline: incident_core::HumanDuration,
    /// Probe this PostgreSQL too (`postgres://user:password@host:port/db`; the password is never printed).
    #[arg(long, env = "INCIDENT_POSTGRES_URL", hide_env_values = true)]
    postgres: Option<String>,
    /// Probe this Redis too (`redis://:password@host:port`).
    #[arg(long, env = "INCIDENT_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub(crate) fn triage_cmd(ctx: &Ctx, a: &TriageArgs) -> Result<()> {
    let mut spec = a.backend.spec(None)?;
    if let Some(url) = &a.postgres {
        spec = spec.with_postgres(incident_backends::ConnectionString::parse(url)?);
    }
    if let Some(url) = &a.redis {
        spec = spec.with_redis(incident_backends::RedisUrl::parse(url)?);
    }
    let rt = a.backend.runtime()?;
    let set = rt.block_on(spec.open(&ctx.policy))?;
    let mut opts = TriageOptions {
        namespace: a.namespace.clone(),
        log_tail: a.tail,
        log_deployments: a.log_deployments.clone(),
        log_selectors: a.log_selectors.clone(),
        since: a.since.map(|d| set.now() - d.as_delta()),
        git_repo: a.git_repo.clone(),
        call_deadline: a.call_deadline.as_std(),
        max_concurrency: ctx.policy.limits.max_concurrency as usize,
        ..TriageOptions::default()
    };
    if !a.error_patterns.is_empty() {
        opts.error_patterns.clone_from(&a.error_patterns);
    }
    let report = rt.block_on(set.triage(&opts, a.context.as_deref()))?;
    ctx.emit(&report, || report.render())
}

// ----------------------------------------------------------------------------------------------------
// procedure
// ----------------------------------------------------------------------------------------------------

/// `incident procedure`.
#[derive(Debug, Args)]
pub(crate) struct ProcedureArgs {
    #[command(subcommand)]
    command: ProcedureCommand,
}

#[derive(Debug, Subcommand)]
enum ProcedureCommand {
    /// The runbook's library procedures.
    List,
    /// Print a library procedure (text, or `-o json|yaml` to start composing your own).
    Show {
        /// Library procedure name.
        name: String,
        /// Procedure parameter `key=value` (repeatable).
        #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
    /// Validate a procedure file (JSON or YAML): DAG, step kinds, parameters.
    Validate {
        /// The file.
        file: PathBuf,
    },
}

fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in params {
        let (k, v) =
            p.split_once('=').ok_or_else(|| Error::invalid_input(format!("--param {p:?}: expected KEY=VALUE")))?;
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}

pub(crate) fn procedure(ctx: &Ctx, a: &ProcedureArgs) -> Result<()> {
    match &a.command {
        ProcedureCommand::List => {
            let list: Vec<(String, String)> = incident_core::engine::library::NAMES
                .iter()
                .map(|n| {
                    incident_core::engine::library::by_name(n, &ctx.policy).map(|p| ((*n).to_owned(), p.description))
                })
                .collect::<Result<_>>()?;
            ctx.emit(&list, || list.iter().map(|(n, d)| format!("{n:<22} {d}")).collect::<Vec<_>>().join("\n"))
        }
        ProcedureCommand::Show { name, params } => {
            let p = drill::procedure_from_spec(name, &parse_params(params)?, &ctx.policy)?;
            ctx.emit(&p, || p.to_string())
        }
        ProcedureCommand::Validate { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", file.display())))?;
            let p = incident_core::engine::Procedure::parse(&text).map_err(|e| e.context(file.display()))?;
            p.validate().map_err(|e| e.context(file.display()))?;
            ctx.emit(&serde_json::json!({"valid": true, "procedure": p.name, "steps": p.steps.len()}), || {
                format!("{}: procedure {} with {} steps is valid", file.display(), p.name, p.steps.len())
            })
        }
    }
}
