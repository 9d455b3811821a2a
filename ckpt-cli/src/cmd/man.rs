//! `ckpt man`: man pages, generated from the command definitions.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::CommandFactory;

/// Write man pages: ckpt(1), and ckpt-SUBCOMMAND(1) for each subcommand.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ckpt man | man -l -\n  ckpt man --dir /usr/local/share/man/man1\n\nExit status: 0 success, 2 usage error, 3 I/O error"
)]
pub struct Opts {
    /// Write every page into this folder instead of printing ckpt(1).
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let cmd = crate::Cli::command();
        let Some(dir) = self.dir else {
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            return Ok(0);
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut pages = vec![("ckpt".to_string(), cmd.clone())];
        for sub in cmd.get_subcommands() {
            let name = format!("ckpt-{}", sub.get_name());
            pages.push((name.clone(), sub.clone().name(name)));
        }
        for (name, page) in pages {
            let path = dir.join(format!("{name}.1"));
            let mut out = Vec::new();
            clap_mangen::Man::new(page).render(&mut out)?;
            std::fs::write(&path, out)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(0)
    }
}
