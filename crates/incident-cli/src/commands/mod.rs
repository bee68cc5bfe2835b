//! One module per subcommand, each with its clap arguments and its `run`; [`Command`] lists them and
//! dispatches. Commands share code only through the crate's helper modules (`input`, `output`, `clock`,
//! `backends`, `keys`, `params`, `incidents`), never with each other.

use clap::Subcommand;
use incident_core::Result;

use crate::output::Ctx;

mod ack;
mod assign;
mod classify;
mod comms;
mod completions;
mod declare;
mod drill;
mod drills;
mod escalation;
mod evidence;
mod ingest;
mod keygen;
mod list;
mod man;
mod match_;
mod mitigated;
mod note;
mod plan;
mod policy;
mod postmortem;
mod procedure;
mod resolve;
mod resume;
mod run;
mod serve;
mod severity;
mod show;
mod status;
mod triage;
mod update;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Classify impact facts (JSON or YAML, file or stdin) into a severity, with the rules that fired.
    Classify(classify::ClassifyArgs),
    /// Run the declaration rules over observations (JSON array, JSON lines or YAML; file or stdin) and
    /// declare an incident when a rule is sustained; or declare a person's report into the store
    /// (`--title T --severity P1 --reporter customer|internal|partner`).
    Declare(declare::DeclareArgs),
    /// Ingest an alert payload (file or stdin) into observations, facts and a severity.
    Ingest(ingest::IngestArgs),
    /// Render the runbook's communication templates.
    Comms(comms::CommsArgs),
    /// The post-mortem document of an incident in the store (ID), or from a drill's or incident's output
    /// directory (DIR).
    Postmortem(postmortem::PostmortemArgs),
    /// Monthly drill schedule.
    Drills(drills::DrillsArgs),
    /// Show, validate or describe the policy.
    Policy(policy::PolicyArgs),
    /// Run a whole incident end to end on the embedded simulator (the runbook's drills).
    Drill(drill::DrillArgs),
    /// The runbook's procedures as values: list, show (JSON/YAML to compose your own), validate.
    Procedure(procedure::ProcedureArgs),
    /// Which runbook procedure fits an incident (policy `matching`: facts, alert labels, triage findings),
    /// with its parameters and why; "no rule matched" is an answer too.
    Match(match_::MatchArgs),
    /// Plan a procedure against live state (dry run: nothing changes).
    Plan(plan::PlanArgs),
    /// Make an Ed25519 signing key for plans and evidence manifests; prints its public key.
    Keygen(keygen::KeygenArgs),
    /// Execute an approved plan, journaled write-ahead.
    Run(run::RunArgs),
    /// Resume an interrupted run without repeating or skipping a mutation (or retry a stopped compensation).
    Resume(resume::ResumeArgs),
    /// Triage a cluster: unhealthy pods, nodes, deployments, events, logs, datastores.
    Triage(triage::TriageArgs),
    /// Evidence bundles: verify the SHA-256 manifest and the timeline chain.
    Evidence(evidence::EvidenceArgs),
    /// Where the paging of an incident stands: who was paged, the acknowledgement deadline, the next
    /// level and when.
    Escalation(escalation::EscalationArgs),
    /// Receive alerts (Alertmanager, PagerDuty, Grafana, CloudWatch via SNS, Datadog) and declare
    /// deduplicated incidents in the store; until SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
    /// Incidents in the store, newest first (`--open`, `--severity`, `--since`).
    List(list::ListArgs),
    /// One incident: summary, roles, stakeholders, updates due and overdue, metrics, runs, timeline.
    Show(show::ShowArgs),
    /// Acknowledge an incident.
    Ack(ack::AckArgs),
    /// Give a response role (incident commander, communications lead, scribe) to a person.
    Assign(assign::AssignArgs),
    /// Raise or lower an incident's severity, with a reason.
    Severity(severity::SeverityArgs),
    /// Move an incident to identified or monitoring, with a message.
    Status(status::StatusArgs),
    /// Post the status-update template for an incident now (counts for the cadence).
    Update(update::UpdateArgs),
    /// Add a note to an incident's timeline.
    Note(note::NoteArgs),
    /// Record that an incident's user impact stopped.
    Mitigated(mitigated::MitigatedArgs),
    /// Resolve an incident with its root cause and send the final RESOLVED message.
    Resolve(resolve::ResolveArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command with `--out DIR`.
    Man(man::ManArgs),
}

impl Command {
    /// Whether the command describes the CLI itself (completions, manual page) and so needs no policy:
    /// a bad `INCIDENT_POLICY` in the environment must not stop a shell from loading its completions.
    pub(crate) fn needs_policy(&self) -> bool {
        !matches!(self, Self::Completions(_) | Self::Man(_))
    }

    /// Run the command.
    pub(crate) fn run(&self, ctx: &Ctx) -> Result<()> {
        match self {
            Self::Classify(a) => classify::run(ctx, a),
            Self::Declare(a) => declare::run(ctx, a),
            Self::Ingest(a) => ingest::run(ctx, a),
            Self::Comms(a) => comms::run(ctx, a),
            Self::Postmortem(a) => postmortem::run(ctx, a),
            Self::Drills(a) => drills::run(ctx, a),
            Self::Policy(a) => policy::run(ctx, a),
            Self::Drill(a) => drill::run(ctx, a),
            Self::Procedure(a) => procedure::run(ctx, a),
            Self::Match(a) => match_::run(ctx, a),
            Self::Plan(a) => plan::run(ctx, a),
            Self::Keygen(a) => keygen::run(ctx, a),
            Self::Run(a) => run::run(ctx, a),
            Self::Resume(a) => resume::run(ctx, a),
            Self::Triage(a) => triage::run(ctx, a),
            Self::Evidence(a) => evidence::run(ctx, a),
            Self::Escalation(a) => escalation::run(ctx, a),
            Self::Serve(a) => serve::run(ctx, a),
            Self::List(a) => list::run(ctx, a),
            Self::Show(a) => show::run(ctx, a),
            Self::Ack(a) => ack::run(ctx, a),
            Self::Assign(a) => assign::run(ctx, a),
            Self::Severity(a) => severity::run(ctx, a),
            Self::Status(a) => status::run(ctx, a),
            Self::Update(a) => update::run(ctx, a),
            Self::Note(a) => note::run(ctx, a),
            Self::Mitigated(a) => mitigated::run(ctx, a),
            Self::Resolve(a) => resolve::run(ctx, a),
            Self::Completions(a) => completions::run(a),
            Self::Man(a) => man::run(a),
        }
    }
}
