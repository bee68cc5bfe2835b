//! `incident postmortem`: the post-mortem document of an incident in the store (`incident postmortem
//! ID`), or from a drill's or incident's output directory (`incident postmortem DIR`, as before).
//!
//! The two forms share one argument: a path to an existing directory is the directory form; anything
//! else is an incident id looked up in `--store` / `INCIDENT_STORE`.

use std::path::{Path, PathBuf};

use clap::Args;
use incident_core::Result;
use incident_core::incident::Incident;
use incident_core::postmortem::{PostMortem, PostMortemInput};
use incident_core::timeline::Timeline;

use crate::incidents::{ActorArg, StoreArg, with_incidents};
use crate::input::read_json;
use crate::output::Ctx;

/// `incident postmortem`.
#[derive(Debug, Args)]
pub(crate) struct PostmortemArgs {
    /// An incident id in the store, or a directory holding `incident.json` and `timeline.json` (e.g. a
    /// drill's `--out`).
    #[arg(value_name = "ID|DIR")]
    target: String,
    /// What the post-mortem meeting adds (root cause, action items, ...), JSON or YAML.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Store the rendered `postmortem.md` as an evidence item of the incident (hashed into its timeline;
    /// marks the post-incident task "Write the post-mortem" done). Only for an incident id.
    #[arg(long)]
    record: bool,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    actor: ActorArg,
}

pub(crate) fn run(ctx: &Ctx, a: &PostmortemArgs) -> Result<()> {
    let input: PostMortemInput = match &a.input {
        Some(p) => read_json(p)?,
        None => PostMortemInput::default(),
    };
    let dir = Path::new(&a.target);
    if a.record && dir.is_dir() {
        return Err(incident_core::Error::invalid_input(
            "--record stores the post-mortem of an incident in the store: give its id, not a directory",
        ));
    }
    let actor = if a.record { Some(a.actor.actor()?) } else { None };
    let pm = if dir.is_dir() {
        let incident: Incident = read_json(&dir.join("incident.json"))?;
        let timeline: Timeline = read_json(&dir.join("timeline.json"))?;
        PostMortem::build(&incident, &timeline, input)
    } else {
        with_incidents(ctx, &a.store, None, async |i| match &actor {
            Some(actor) => {
                let recorded = i.record_postmortem(&a.target, input, actor).await?;
                eprintln!("incident postmortem: {}", recorded.message());
                Ok(recorded.postmortem)
            }
            None => i.postmortem(&a.target, input).await,
        })?
    };
    ctx.emit(&pm, || pm.to_markdown())
}
