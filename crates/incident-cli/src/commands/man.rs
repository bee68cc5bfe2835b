//! `incident man`: the manual page (roff) on stdout, or with `--out DIR` one page per command
//! (`incident.1`, `incident-drill.1`, ...) written into DIR.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _};
use incident_core::{Error, Result};

/// `incident man`.
#[derive(Debug, Args)]
#[command(after_help = "Read it with `incident man | man -l -`, or install the pages with \
    `incident man --out ~/.local/share/man/man1`.")]
pub(crate) struct ManArgs {
    /// Write `incident.1` and one page per subcommand into this directory (it must exist) instead of
    /// printing the top-level page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run(a: &ManArgs) -> Result<()> {
    let cmd = crate::Cli::command();
    match &a.out {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::invalid_input(format!("--out {}: not a directory", dir.display())));
            }
            // What clap_mangen::generate_to does, keeping the names of the pages written.
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            let mut pages = Vec::new();
            write_pages(cmd, dir, &mut pages)
                .map_err(|e| Error::unavailable(format!("cannot write the pages into {}: {e}", dir.display())))?;
            crate::output::out(&format!("{} pages written to {}", pages.len(), dir.display()));
            Ok(())
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| Error::internal(format!("cannot render the manual page: {e}")))?;
            crate::output::out(String::from_utf8_lossy(&page).trim_end());
            Ok(())
        }
    }
}

/// The page of `cmd` and of each of its (visible) subcommands, depth first, into `dir`.
fn write_pages(cmd: clap::Command, dir: &std::path::Path, pages: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        write_pages(sub, dir, pages)?;
    }
    pages.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
    Ok(())
}
