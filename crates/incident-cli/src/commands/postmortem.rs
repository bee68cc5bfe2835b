//! `incident postmortem`: the post-mortem document from a drill's or incident's output directory.

use std::path::PathBuf;

use clap::Args;
use incident_core::Result;
use incident_core::incident::Incident;
use incident_core::postmortem::{PostMortem, PostMortemInput};
use incident_core::timeline::Timeline;

use crate::input::read_json;
use crate::output::Ctx;

/// `incident postmortem`.
#[derive(Debug, Args)]
pub(crate) struct PostmortemArgs {
    /// Directory holding `incident.json` and `timeline.json` (e.g. a drill's `--out`).
    dir: PathBuf,
    /// What the post-mortem meeting adds (root cause, action items, ...), JSON or YAML.
    #[arg(long)]
    input: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, a: &PostmortemArgs) -> Result<()> {
    let incident: Incident = read_json(&a.dir.join("incident.json"))?;
    let timeline: Timeline = read_json(&a.dir.join("timeline.json"))?;
    let input: PostMortemInput = match &a.input {
        Some(p) => read_json(p)?,
        None => PostMortemInput::default(),
    };
    let pm = PostMortem::build(&incident, &timeline, input);
    ctx.emit(&pm, || pm.to_markdown())
}
