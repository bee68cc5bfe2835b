//! `incident evidence`: capture a real incident's evidence into the store (`capture`), write its bundle
//! (`collect`), and check a bundle (`verify`: a drill's or an incident's).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use incident_core::evidence::EvidenceDriver;
use incident_core::{Error, Result};

use crate::backends::ClusterArgs;
use crate::incidents::{ActorArg, StoreArg};
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
    /// Verify an evidence directory: its files against `manifest.sha256` (all required files and the
    /// listed evidence items, nothing else), the timeline and journal hash chains, the heads `report.json`
    /// recorded, every `evidence/*` file against the hash its `evidence_added` event records and the item
    /// stored in `journal.sqlite`, and the manifest's signature (required when a key is trusted: policy
    /// `signing.trusted_keys` or --signing-key).
    Verify {
        /// The directory (a drill's `--out`, or `incident evidence collect`'s).
        dir: PathBuf,
        /// Trust this Ed25519 private key's public half too (PKCS#8 PEM or DER): the manifest must be signed
        /// by a trusted key.
        #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
    /// Write the evidence bundle of an incident in the store to a directory, in the drill bundle's
    /// format, with every evidence item under `evidence/`; it is verified before the command succeeds.
    Collect {
        /// The incident.
        id: String,
        /// The directory (created; a previous bundle there is replaced, anything else is refused).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Sign the manifest with this Ed25519 private key (PKCS#8 PEM or DER).
        #[arg(long, env = "INCIDENT_SIGNING_KEY", value_name = "FILE")]
        signing_key: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Capture the evidence of an incident now, by hand (what `incident serve` does with a cluster):
    /// triage, warning events and log lines of its components, stored as evidence items, each hashed into
    /// the timeline. Captures at its newest declaration or status change (or --event SEQ) unless that one
    /// has its evidence already.
    Capture {
        /// The incident.
        id: String,
        /// The timeline event (a `declared` or `status_changed` seq) the capture belongs to.
        #[arg(long, value_name = "SEQ")]
        event: Option<u64>,
        /// Namespace of components named without one.
        #[arg(short = 'n', long, default_value = "ml-platform")]
        namespace: String,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub(crate) fn run(ctx: &Ctx, a: &EvidenceArgs) -> Result<()> {
    match &a.command {
        EvidenceCommand::Verify { dir, signing_key: key_file } => {
            let key = signing_key(key_file.as_deref())?;
            let proof = incident_core::evidence::verify::<incident_store::SqliteStore>(
                dir,
                &ctx.policy.signing.trust(key.as_ref()),
            )?;
            ctx.emit(&proof, || proof.render())
        }
        EvidenceCommand::Collect { id, out, signing_key: key_file, store } => {
            let key = signing_key(key_file.as_deref())?;
            let proof = crate::incidents::with_incidents(ctx, store, None, async |i| {
                incident_core::evidence::collect::<incident_store::SqliteStore>(&i, id, out, key.as_ref()).await
            })?;
            ctx.emit(&proof, || proof.render())
        }
        EvidenceCommand::Capture { id, event, namespace, cluster, store, actor } => {
            let actor = actor.actor()?;
            if !cluster.given() {
                return Err(Error::invalid_input(
                    "which cluster? give --kube, --kubeconfig FILE, --kube-context CONTEXT or --eks",
                ));
            }
            let captured = crate::incidents::with_incidents(ctx, store, None, async |i| {
                let Some((_set, cluster)) = cluster.open(&ctx.policy).await? else {
                    return Err(Error::internal("no cluster"));
                };
                let (_, timeline) = i.load(id).await?;
                let seq = match event {
                    Some(s) => *s,
                    None => timeline
                        .events()
                        .iter()
                        .rev()
                        .find(|e| incident_core::evidence::capture::is_trigger(e))
                        .map(|e| e.seq)
                        .ok_or_else(|| Error::not_found(format!("incident {id} has no declaration on its timeline")))?,
                };
                let mut options = incident_core::evidence::EvidenceOptions::from_policy(&ctx.policy);
                options.capture.namespace.clone_from(namespace);
                let driver = EvidenceDriver::new(
                    std::sync::Arc::clone(i.store()),
                    cluster,
                    std::sync::Arc::new(incident_core::clock::SystemClock),
                    ctx.policy.clone(),
                )
                .with_options(options);
                driver.capture_event(id, seq, &actor).await
            })?;
            let text = || match &captured {
                None => format!("{id}: the evidence of that event is captured already (incident show {id})"),
                Some(c) => {
                    let mut s = format!("{}: captured {} item(s) under {}/\n", c.incident_id, c.items.len(), c.prefix);
                    for n in &c.items {
                        s.push_str(&format!("  {n}\n"));
                    }
                    for f in &c.failed {
                        s.push_str(&format!("  missing: {}: {} ({})\n", f.what, f.reason, f.kind));
                    }
                    s.trim_end().to_owned()
                }
            };
            ctx.emit(&captured, text)
        }
    }
}
