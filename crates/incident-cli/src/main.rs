//! `incident`: the runbook from the command line.
//!
//! Every command takes `--policy FILE` (or `INCIDENT_POLICY`) and `-o text|json|yaml`, and exits non-zero
//! with a one-line reason on bad input.
//!
//! Layout: one module per subcommand under [`commands`] (its clap arguments and its `run`), sharing only
//! the helper modules here: [`input`], [`output`], [`clock`], [`backends`], [`keys`], [`params`],
//! [`choices`], [`incidents`] (the store, actor and notifiers of the commands that work a live
//! incident). The text printed for core values comes from `incident_core::render`.

mod backends;
mod choices;
mod clock;
mod commands;
mod incidents;
mod input;
mod keys;
mod output;
mod params;
mod watch_cache;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use incident_core::{Error, ErrorKind, Policy};

use crate::commands::Command;
use crate::output::{Ctx, Format};

/// The ML platform's incident-response runbook, executable.
#[derive(Debug, Parser)]
// `--version` prints `incident 0.1.0 (<commit>[-dirty] <commit date>)`; see build.rs.
#[command(name = "incident", version = env!("INCIDENT_LONG_VERSION"), about, propagate_version = true)]
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
    let policy = if cli.command.needs_policy() { cli.policy.as_ref() } else { None };
    let result = load_policy(policy).and_then(|policy| {
        let ctx = Ctx { policy, format: cli.output };
        cli.command.run(&ctx)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}
