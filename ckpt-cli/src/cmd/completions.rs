//! `ckpt completions`: shell completions, generated from the command definitions.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::io::Output;

/// Print a completion script for a shell.
#[derive(clap::Args)]
#[command(
    after_help = "Revisions (ids and aliases), architectures and the kinds of --omit and --with are
completed; a revision is also accepted by its user-cr commit (7 or more hex digits) or
its ordinal.

Examples:\n  ckpt completions bash > /etc/bash_completion.d/ckpt\n  ckpt completions zsh > ~/.zfunc/_ckpt\n\nExit status: 0 success, 2 usage error, 3 I/O error"
)]
pub struct Opts {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

impl Opts {
    /// Runs the subcommand. The script is made in memory first: clap_complete panics on a
    /// write error, and a closed standard output must end quietly instead.
    pub fn run(self) -> Result<u8> {
        let mut cmd = crate::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, "ckpt", &mut script);
        let mut out = Output::create(Path::new("-"))?;
        out.write_all(&script)?;
        out.commit()?;
        Ok(0)
    }
}
