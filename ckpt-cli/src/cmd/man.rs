//! `ckpt man`: man pages, generated from the command definitions.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::io::Output;

/// Write man pages: ckpt(1) and one for every subcommand at every depth, named by its
/// path (ckpt-schema-list).
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
        let pages = pages();
        let Some(dir) = self.dir else {
            let mut out = Output::create(Path::new("-"))?;
            out.write_all(&render(&pages[0])?)?;
            out.commit()?;
            return Ok(0);
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for page in &pages {
            let path = dir.join(format!("{}.1", page.name));
            let mut out = Output::create(&path)?;
            out.write_all(&render(page)?)?;
            out.commit()?;
        }
        Ok(0)
    }
}

/// Every page, ckpt(1) first: the command and each of its subcommands at
/// every depth, named by their path (`ckpt-schema-list`). The `help` subcommands have no
/// page (each page documents its options), so no page refers to one.
fn pages() -> Vec<Page> {
    let mut cmd = without_help_subcommands(crate::Cli::command());
    // Building names every subcommand by its path (its display name, `ckpt-schema-list`)
    // and gives it its full usage line (`ckpt schema list`).
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, &[], &mut pages);
    pages.reverse();
    pages
}

fn without_help_subcommands(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .into_iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, name| {
            cmd.mut_subcommand(name, without_help_subcommands)
        })
}

/// A page: its name, its command and the names of the pages above it, nearest first.
struct Page {
    name: String,
    cmd: clap::Command,
    parents: Vec<String>,
}

fn collect(cmd: &clap::Command, parents: &[String], pages: &mut Vec<Page>) {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    let mut theirs = vec![name.clone()];
    theirs.extend_from_slice(parents);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, &theirs, pages);
    }
    pages.push(Page {
        name,
        cmd: cmd.clone(),
        parents: parents.to_vec(),
    });
}

/// The page of `page`, with a SEE ALSO section naming the pages of the commands above it
/// (the subcommands' pages are named in its SUBCOMMANDS section).
fn render(page: &Page) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    clap_mangen::Man::new(page.cmd.clone())
        .source(format!("ckpt {}", env!("CARGO_PKG_VERSION")))
        .render(&mut text)?;
    let parents = &page.parents;
    if !parents.is_empty() {
        text.extend_from_slice(b".SH \"SEE ALSO\"\n");
        for (i, parent) in parents.iter().enumerate() {
            let comma = if i + 1 < parents.len() { "," } else { "" };
            let line = format!(".BR {} (1){comma}\n", parent.replace('-', "\\-"));
            text.extend_from_slice(line.as_bytes());
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_at_every_depth_has_a_page_named_by_its_path() {
        let names: Vec<String> = pages().into_iter().map(|p| p.name).collect();
        for expected in [
            "ckpt",
            "ckpt-convert",
            "ckpt-schema",
            "ckpt-schema-list",
            "ckpt-schema-show",
            "ckpt-schema-diff",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
        }
        assert!(!names.iter().any(|n| n.ends_with("-help")), "{names:?}");
    }
}
