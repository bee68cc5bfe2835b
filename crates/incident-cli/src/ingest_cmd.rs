//! `incident ingest`: wired once the ingest module's API lands.

use incident_core::{Error, Result};

use crate::domain::Source;
use crate::io::Ctx;

pub(crate) fn run(_ctx: &Ctx, _source: Source, name: &str, _payload: &[u8]) -> Result<()> {
    Err(Error::internal(format!("{name}: ingest not wired yet")))
}
