//! What the commands read: a file argument or stdin within the policy's size limit, and JSON or YAML
//! documents parsed with the offending field named on error.

use std::io::Read;
use std::path::Path;

use incident_core::{Error, Result};
use serde::de::DeserializeOwned;

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

/// Read and parse a JSON or YAML file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", path.display())))?;
    parse_doc(&path.display().to_string(), &text)
}
