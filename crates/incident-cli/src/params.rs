//! `--param KEY=VALUE` (repeatable): parameters of a library procedure.

use std::collections::BTreeMap;

use incident_core::{Error, Result};

/// The `--param` flags as a map (a later key wins).
pub(crate) fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in params {
        let (k, v) =
            p.split_once('=').ok_or_else(|| Error::invalid_input(format!("--param {p:?}: expected KEY=VALUE")))?;
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}
