//! What the commands print: the output format (`-o text|json|yaml`), the context every command gets, and
//! stdout writing that ends quietly on a closed pipe.

use incident_core::engine::RunReport;
use incident_core::store::RunStatus;
use incident_core::{Error, Policy, Result};
use serde::Serialize;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Human-readable text.
    Text,
    /// JSON (pretty).
    Json,
    /// YAML.
    Yaml,
}

/// What every command gets.
pub(crate) struct Ctx {
    pub(crate) policy: Policy,
    pub(crate) format: Format,
}

impl Ctx {
    /// Print `value` as JSON/YAML, or `text()` in text mode.
    pub(crate) fn emit<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        let out = match self.format {
            Format::Text => text(),
            Format::Json => {
                serde_json::to_string_pretty(value).map_err(|e| Error::internal(format!("cannot render JSON: {e}")))?
            }
            Format::Yaml => {
                serde_yaml_ng::to_string(value).map_err(|e| Error::internal(format!("cannot render YAML: {e}")))?
            }
        };
        crate::output::out(out.trim_end());
        Ok(())
    }
}

/// Write `text` and a newline to stdout. A closed pipe (`incident ... | head`) ends the process quietly
/// with success, as Unix tools do, instead of panicking like `println!`.
pub(crate) fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Print a run's report (`incident run`, `incident resume`); a run that ended other than succeeded (or
/// paused at an approval gate) is an error.
pub(crate) fn emit_run_report(ctx: &Ctx, report: &RunReport) -> Result<()> {
    ctx.emit(report, || incident_core::render::run_report(report))?;
    match report.status {
        RunStatus::Succeeded | RunStatus::Running => Ok(()),
        other => Err(Error::precondition(format!("run {} ended {other}", report.run_id))),
    }
}

/// `word` as one POSIX shell word, for commands people copy from a message: as it is when it needs no
/// quoting, else in single quotes (`'` written as `'\''`).
pub(crate) fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_reach_a_shell_as_they_were() {
        assert_eq!(shell_word("/var/lib/incident.sqlite"), "/var/lib/incident.sqlite");
        for word in ["/tmp/my state.json", "it's", "$HOME", "a;rm -rf /", ""] {
            let quoted = shell_word(word);
            assert_ne!(quoted, word, "{word:?} must be quoted");
            let out =
                std::process::Command::new("sh").args(["-c", &format!("printf %s {quoted}")]).output().expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "{quoted}");
        }
    }
}
