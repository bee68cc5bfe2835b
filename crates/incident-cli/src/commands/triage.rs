//! `incident triage`: unhealthy pods, nodes, deployments, events, logs and datastores of a cluster.

use std::path::PathBuf;

use clap::Args;
use incident_core::Result;
use incident_core::triage::TriageOptions;

use crate::backends::{BackendArgs, ProbeArgs};
use crate::output::Ctx;

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
    #[command(flatten)]
    probes: ProbeArgs,
    #[command(flatten)]
    backend: BackendArgs,
}

pub(crate) fn run(ctx: &Ctx, a: &TriageArgs) -> Result<()> {
    let spec = a.probes.add_to(a.backend.spec(None)?)?;
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
