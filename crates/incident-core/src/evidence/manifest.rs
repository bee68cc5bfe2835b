//! `manifest.sha256`: rendering and strict parsing.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{MANIFEST, MANIFEST_HEADER, REQUIRED_FILES};
use crate::signing::PublicKey;
use crate::{Error, Result};

const SIGNED_BY: &str = "# signed-by: ";

/// A parsed manifest: who it says signed it, and each file's SHA-256 (the required files, and the
/// evidence items `evidence/<name>` of an incident bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Manifest {
    pub(super) signed_by: Option<PublicKey>,
    /// File name → lower-case hex SHA-256; the required files and any `evidence/<name>`.
    pub(super) files: BTreeMap<String, String>,
}

fn fail(what: impl std::fmt::Display) -> Error {
    Error::integrity(format!("{MANIFEST} {what}"))
}

/// Lower-case hex SHA-256 of the file at `path`, streamed.
pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl Manifest {
    /// The text: header, optional signed-by line, then `<sha256>  <name>` lines sorted by name.
    pub(super) fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("{MANIFEST_HEADER}\n");
        if let Some(key) = &self.signed_by {
            let _ = writeln!(out, "{SIGNED_BY}{key}");
        }
        for (name, hash) in &self.files {
            let _ = writeln!(out, "{hash}  {name}");
        }
        out
    }

    /// Parse and check a manifest: the header, at most one signed-by line right after it, and one line
    /// per required file (no other name, no name twice, none missing).
    ///
    /// # Errors
    /// `Integrity` naming the line or the file.
    pub(super) fn parse(text: &str) -> Result<Self> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
        let Some((_, first)) = lines.next() else {
            return Err(fail(format!(
                "is empty: an evidence manifest lists every required file ({})",
                REQUIRED_FILES.join(", ")
            )));
        };
        if first.trim_end() != MANIFEST_HEADER {
            return Err(fail(format!(
                "line 1 is not `{MANIFEST_HEADER}`: not an evidence manifest, or a format this build does not read"
            )));
        }
        let mut signed_by = None;
        if let Some((_, line)) = lines.peek() {
            if let Some(key) = line.strip_prefix(SIGNED_BY) {
                signed_by = Some(key.parse::<PublicKey>().map_err(|e| fail(format!("line 2: {}", e.message())))?);
                lines.next();
            }
        }
        let mut files = BTreeMap::new();
        for (i, line) in lines {
            let n = i + 1;
            if line.starts_with('#') {
                return Err(fail(format!("line {n}: unexpected comment line (only the header and signed-by lines)")));
            }
            let (hash, name) =
                line.split_once("  ").ok_or_else(|| fail(format!("line {n}: expected `<sha256>  <file>`")))?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(fail(format!("line {n}: {hash:?} is not a lower-case hex SHA-256")));
            }
            let evidence_file = name
                .strip_prefix(super::EVIDENCE_DIR)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|item| crate::store::check_evidence_name(item).is_ok());
            if !REQUIRED_FILES.contains(&name) && !evidence_file {
                return Err(fail(format!(
                    "line {n} lists {name:?}, which is not a file of an evidence bundle (expected: {}, and \
                     evidence items under {}/)",
                    REQUIRED_FILES.join(", "),
                    super::EVIDENCE_DIR
                )));
            }
            if files.insert(name.to_owned(), hash.to_owned()).is_some() {
                return Err(fail(format!("line {n} lists {name} a second time")));
            }
        }
        if let Some(missing) = REQUIRED_FILES.iter().find(|f| !files.contains_key(**f)) {
            return Err(fail(format!("does not list the required file {missing}")));
        }
        Ok(Self { signed_by, files })
    }
}
