//! `incident`: the runbook from the command line.
//!
//! Every command takes `--policy FILE` (or `INCIDENT_POLICY`) and `-o text|json|yaml`, and exits non-zero
//! with a one-line reason on bad input.

mod domain;
mod engine;
mod ingest_cmd;
mod io;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use incident_core::{Error, ErrorKind, Policy};

use crate::io::Format;

/// The ML platform's incident-response runbook, executable.
#[derive(Debug, Parser)]
#[command(name = "incident", version, about, propagate_version = true)]
struct Cli {
    /// Policy overrides (TOML, YAML or JSON); the runbook's defaults otherwise.
    #[arg(long, global = true, env = "INCIDENT_POLICY", value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify impact facts (JSON or YAML, file or stdin) into a severity, with the rules that fired.
    Classify(domain::ClassifyArgs),
    /// Run the declaration rules over observations (JSON array, JSON lines or YAML; file or stdin) and
    /// declare an incident when a rule is sustained.
    Declare(domain::DeclareArgs),
    /// Ingest an alert payload (file or stdin) into observations, facts and a severity.
    Ingest(domain::IngestArgs),
    /// Render the runbook's communication templates.
    Comms(domain::CommsArgs),
    /// Build the post-mortem document from a drill's or incident's output directory.
    Postmortem(domain::PostmortemArgs),
    /// Monthly drill schedule.
    Drills(domain::DrillsArgs),
    /// Show, validate or describe the policy.
    Policy(domain::PolicyArgs),
    /// Run a whole incident end to end on the embedded simulator (the runbook's drills).
    Drill(engine::DrillArgs),
    /// The runbook's procedures as values: list, show (JSON/YAML to compose your own), validate.
    Procedure(engine::ProcedureArgs),
    /// Plan a procedure against live state (dry run: nothing changes).
    Plan(engine::PlanArgs),
    /// Make an Ed25519 signing key for plans and evidence manifests; prints its public key.
    Keygen(engine::KeygenArgs),
    /// Execute an approved plan, journaled write-ahead.
    Run(engine::RunArgs),
    /// Resume an interrupted run without repeating or skipping a mutation (or retry a stopped compensation).
    Resume(engine::ResumeArgs),
    /// Triage a cluster: unhealthy pods, nodes, deployments, events, logs, datastores.
    Triage(engine::TriageArgs),
    /// Evidence bundles: verify the SHA-256 manifest and the timeline chain.
    Evidence(engine::EvidenceArgs),
    /// Receive alerts (Alertmanager, PagerDuty, Grafana, CloudWatch via SNS, Datadog) and declare
    /// deduplicated incidents in the store; until SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
}

fn load_policy(path: Option<&PathBuf>) -> Result<Policy, Error> {
    match path {
        Some(p) => Policy::from_path(p),
        None => Ok(Policy::default()),
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Policy => 2,
        ErrorKind::Refused => 3,
        ErrorKind::PreconditionFailed | ErrorKind::Conflict => 4,
        ErrorKind::Integrity => 5,
        _ => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = load_policy(cli.policy.as_ref()).and_then(|policy| {
        let ctx = io::Ctx { policy, format: cli.output };
        match cli.command {
            Command::Classify(a) => domain::classify(&ctx, &a),
            Command::Declare(a) => domain::declare(&ctx, &a),
            Command::Ingest(a) => domain::ingest(&ctx, &a),
            Command::Comms(a) => domain::comms(&ctx, &a),
            Command::Postmortem(a) => domain::postmortem(&ctx, &a),
            Command::Drills(a) => domain::drills(&ctx, &a),
            Command::Policy(a) => domain::policy(&ctx, &a),
            Command::Drill(a) => engine::drill(&ctx, &a),
            Command::Procedure(a) => engine::procedure(&ctx, &a),
            Command::Plan(a) => engine::plan(&ctx, &a),
            Command::Keygen(a) => engine::keygen(&ctx, &a),
            Command::Run(a) => engine::run(&ctx, &a),
            Command::Resume(a) => engine::resume(&ctx, &a),
            Command::Triage(a) => engine::triage_cmd(&ctx, &a),
            Command::Evidence(a) => engine::evidence(&ctx, &a),
            Command::Serve(a) => serve::serve(&ctx, &a),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}
