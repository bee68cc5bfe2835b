//! Input reading and output rendering shared by the commands.

use std::io::Read;
use std::path::Path;

use incident_core::{Error, Policy, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
        crate::io::out(out.trim_end());
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

/// Read a file argument, or stdin when it is absent or `-`.
pub(crate) fn read_input(path: Option<&Path>, max_bytes: u64) -> Result<(String, String)> {
    let (name, mut reader): (String, Box<dyn Read>) = match path {
        None => ("stdin".into(), Box::new(std::io::stdin())),
        Some(p) if p.as_os_str() == "-" => ("stdin".into(), Box::new(std::io::stdin())),
        Some(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", p.display())))?;
            (p.display().to_string(), Box::new(f))
        }
    };
    let mut buf = String::new();
    reader
        .by_ref()
        .take(max_bytes.saturating_add(1))
        .read_to_string(&mut buf)
        .map_err(|e| Error::invalid_input(format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > max_bytes {
        return Err(Error::invalid_input(format!(
            "{name}: input larger than the policy's limits.max_payload_bytes ({max_bytes} bytes)"
        )));
    }
    if buf.trim().is_empty() {
        return Err(Error::invalid_input(format!("{name}: empty input")));
    }
    Ok((name, buf))
}

/// Parse JSON or YAML into `T`, naming the offending field on error.
pub(crate) fn parse_doc<T: DeserializeOwned>(name: &str, text: &str) -> Result<T> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| Error::invalid_input(format!("{name}: {}: {}", field_path(e.path()), e.inner())))
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| Error::invalid_input(format!("{name}: {}: {}", field_path(e.path()), e.inner())))
    }
}

fn field_path(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." { "document".into() } else { s }
}
