//! `ckpt completions`: shell completions, generated from the command definitions.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

/// Print a completion script for a shell.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ckpt completions bash > /etc/bash_completion.d/ckpt\n  ckpt completions zsh > ~/.zfunc/_ckpt\n\nExit status: 0 success, 2 usage error"
)]
pub struct Opts {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let mut cmd = crate::Cli::command();
        clap_complete::generate(self.shell, &mut cmd, "ckpt", &mut std::io::stdout());
        Ok(0)
    }
}
