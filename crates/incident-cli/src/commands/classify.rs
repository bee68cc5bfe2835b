//! `incident classify`: impact facts → severity, with the rules that fired.

use std::path::PathBuf;

use clap::Args;
use incident_core::Result;
use incident_core::classify::{Classifier, ImpactFacts};

use crate::input::{parse_doc, read_input};
use crate::output::Ctx;

/// `incident classify`.
#[derive(Debug, Args)]
pub(crate) struct ClassifyArgs {
    /// Impact facts (JSON or YAML); stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, a: &ClassifyArgs) -> Result<()> {
    let (name, text) = read_input(a.file.as_deref(), ctx.policy.limits.max_payload_bytes)?;
    let facts: ImpactFacts = parse_doc(&name, &text)?;
    let c = Classifier::from_policy(&ctx.policy).try_classify(&facts).map_err(|e| e.context(&name))?;
    ctx.emit(&c, || incident_core::render::classification(&ctx.policy, &c))
}
