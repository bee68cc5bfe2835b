//! `incident evidence verify`: an evidence bundle's manifest, hash chains and signature.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use incident_core::Result;

use crate::keys::signing_key;
use crate::output::Ctx;

/// `incident evidence`.
#[derive(Debug, Args)]
pub(crate) struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Verify an evidence directory: its files against `manifest.sha256` (all required files, nothing
    /// else), the timeline and journal hash chains, the heads `report.json` recorded, and the manifest's
    /// signature (required when a key is trusted: policy `signing.trusted_keys` or --signing-key).
    Verify {
        /// The directory (e.g. a drill's `--out`).
        dir: PathBuf,
        /// Trust this Ed25519 private key's public half too (PKCS#8 PEM or DER): the manifest must be signed
        /// by a trusted key.
        #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
}

pub(crate) fn run(ctx: &Ctx, a: &EvidenceArgs) -> Result<()> {
    let EvidenceCommand::Verify { dir, signing_key: key_file } = &a.command;
    let key = signing_key(key_file.as_deref())?;
    let proof =
        incident_core::evidence::verify::<incident_store::SqliteStore>(dir, &ctx.policy.signing.trust(key.as_ref()))?;
    ctx.emit(&proof, || proof.render())
}
