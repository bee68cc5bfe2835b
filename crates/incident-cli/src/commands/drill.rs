//! `incident drill`: a whole incident end to end on the embedded simulator (the runbook's drills), with a
//! live log and the evidence bundle.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use incident_core::drill_run::{self as drill, Approver, AutoApprove, DrillEvent, DrillObserver, DrillOptions};
use incident_core::engine::{Approval, Plan};
use incident_core::evidence::{DrillBundle, SignatureCheck};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::Store;
use incident_core::{Error, Result, render};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::keys::signing_key;
use crate::output::{Ctx, Format};

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
        render::drill_offset((at - s).num_seconds())
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.bars.is_hidden() {
            crate::output::out(text);
        } else {
            let _ = self.bars.println(text);
        }
    }
}

impl DrillObserver for Live {
    fn on_event(&self, event: &DrillEvent) {
        let at = match event {
            DrillEvent::StageStarted { at, .. } | DrillEvent::Log { at, .. } => *at,
            DrillEvent::StageFinished { result } => result.finished_at,
        };
        if let DrillEvent::StageFinished { result } = event
            && let Some(bar) = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
        {
            bar.set_position(u64::try_from(result.elapsed_secs).unwrap_or(0));
            bar.finish_with_message(format!("{}s", result.elapsed_secs));
        }
        self.line(&render::drill_event(&self.offset(at), event));
        if let DrillEvent::StageStarted { stage, budget, .. } = event
            && !self.quiet
            && !self.bars.is_hidden()
        {
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
        crate::output::out(&plan.to_string());
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

pub(crate) fn run(ctx: &Ctx, a: &DrillArgs) -> Result<()> {
    if a.list {
        for name in Scenario::names() {
            let s = Scenario::builtin(name)?;
            crate::output::out(&format!("{name:<24} {}", s.description.split(". ").next().unwrap_or("")));
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
