//! `incident keygen`: an Ed25519 signing key for plans and evidence manifests.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use incident_core::signing::SigningKey;
use incident_core::{Error, Result};

use crate::output::Ctx;

/// `incident keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600); an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub(crate) fn run(ctx: &Ctx, a: &KeygenArgs) -> Result<()> {
    let (key, der) = SigningKey::generate()?;
    let pem = SigningKey::pkcs8_pem(&der);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(&a.out).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::AlreadyExists { "it exists; not overwritten" } else { "" };
        Error::invalid_input(format!("cannot create {}: {e} {what}", a.out.display()).trim_end().to_owned())
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::unavailable(format!("cannot write {}: {e}", a.out.display())))?;
    let public = key.public_key().to_string();
    let v = serde_json::json!({ "private_key_file": a.out.display().to_string(), "public_key": public });
    ctx.emit(&v, || {
        format!(
            "{public}\n(private key written to {}; trust it elsewhere with policy `signing.trusted_keys = [\"{public}\"]`)",
            a.out.display()
        )
    })
}
