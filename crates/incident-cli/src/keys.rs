//! `--signing-key FILE`: the Ed25519 key that signs (or is trusted to have signed) plans and evidence.

use std::path::Path;

use incident_core::signing::SigningKey;
use incident_core::{Error, Result};

/// Read `--signing-key FILE` (the key is never printed).
pub(crate) fn signing_key(path: Option<&Path>) -> Result<Option<SigningKey>> {
    path.map(|p| {
        let bytes = std::fs::read(p)
            .map_err(|e| Error::invalid_input(format!("cannot read the signing key {}: {e}", p.display())))?;
        SigningKey::parse(&bytes).map_err(|e| e.context(p.display()))
    })
    .transpose()
}
