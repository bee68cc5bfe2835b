//! `incident completions SHELL`: the shell's completion script for every command and option, on stdout.

use clap::{Args, CommandFactory as _};
use clap_complete::aot::{Shell, generate};
use incident_core::Result;

/// `incident completions`.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    bash: incident completions bash > ~/.local/share/bash-completion/completions/incident\n  \
    zsh:  incident completions zsh > \"${fpath[1]}/_incident\"\n  \
    fish: incident completions fish > ~/.config/fish/completions/incident.fish")]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub(crate) fn run(a: &CompletionsArgs) -> Result<()> {
    let mut cmd = crate::Cli::command();
    let mut script = Vec::new();
    generate(a.shell, &mut cmd, "incident", &mut script);
    crate::output::out(String::from_utf8_lossy(&script).trim_end());
    Ok(())
}
