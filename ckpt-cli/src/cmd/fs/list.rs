//! `ckpt fs list`: every path an image depends on, by task.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::lookup::Root;
use ckpt_fs::paths::ImagePath;

use super::{
    FORMAT_VERSION, ImageArgs, open_root, print_json, read_paths, state_words, use_detail,
};

/// `--help` after the options.
pub const AFTER: &str =
    "Lists the paths the image names (the places `ckpt edit --path` rewrites): open
files with descriptor, access, position; executables; mapped files with range, offset,
private or shared; cwd and root; bound unix sockets; fifos; ttys. What the image records
of each: a size where a record holds one, the position of a descriptor as the least size,
files deleted while open. With --root, each path is looked up under DIR (symbolic links
followed inside DIR only) and its type, size, mode and owner shown.

Examples:
  ckpt fs list image.ckpt
  ckpt fs list image.ckpt --root /srv/rootfs --json

Output (--json, see schemas/json/fs-list.schema.json): format_version, revision, arch,
root, tasks, paths (each with recorded, uses by task, needed, expects, state with --root).

Exit status: 0 success, 1 invalid image, 2 usage error (a --root that is not a
directory), 3 I/O error";

/// List every path the image depends on.
#[derive(clap::Args)]
pub struct Opts {
    #[command(flatten)]
    image: ImageArgs,
    /// Look each path up under this directory.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let root = self.root.as_deref().map(open_root).transpose()?;
        let listed = read_paths(&self.image)?;
        if self.json {
            let paths: Vec<serde_json::Value> = listed
                .list
                .paths
                .iter()
                .map(|p| json_path(p, root.as_ref()))
                .collect::<Result<_>>()?;
            print_json(&serde_json::json!({
                "format_version": FORMAT_VERSION,
                "revision": listed.revision,
                "arch": listed.arch,
                "root": root.as_ref().map(|r| r.dir().display().to_string()),
                "tasks": listed.list.tasks,
                "paths": paths,
            }))?;
        } else {
            let mut out = std::io::stdout().lock();
            print(&mut out, &listed.list, root.as_ref())?;
            out.flush()?;
        }
        Ok(0)
    }
}

fn json_path(p: &ImagePath, root: Option<&Root>) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(p)?;
    v["needed"] = p.needed().into();
    v["expects"] = serde_json::to_value(p.expects())?;
    if let Some(r) = root {
        v["state"] = serde_json::to_value(r.lookup(&p.path))?;
    }
    Ok(v)
}

/// The table: one block per task, a line per use; paths no task reaches at the end.
fn print(out: &mut impl Write, list: &ckpt_fs::paths::PathList, root: Option<&Root>) -> Result<()> {
    let state = |p: &ImagePath| -> String {
        let mut s = String::new();
        if p.recorded.deleted {
            s.push_str("  [deleted when checkpointed]");
        }
        if let Some(n) = p.recorded.size {
            s.push_str(&format!("  [size {n}]"));
        }
        if let Some(r) = root {
            s.push_str(&format!("  ({})", state_words(&r.lookup(&p.path))));
        }
        s
    };
    let line = |out: &mut dyn Write, p: &ImagePath, u: &ckpt_fs::paths::PathUse| {
        let detail = use_detail(&u.how);
        let detail = if detail.is_empty() {
            detail
        } else {
            format!("  {detail}")
        };
        writeln!(out, "  {:<14} {}{detail}{}", u.how.name(), p.path, state(p))
    };
    writeln!(
        out,
        "{} paths{}",
        list.paths.len(),
        root.map_or(String::new(), |r| format!(" under {}", r.dir().display()))
    )?;
    for t in &list.tasks {
        let mine: Vec<_> = list
            .paths
            .iter()
            .flat_map(|p| p.uses.iter().map(move |u| (p, u)))
            .filter(|(_, u)| u.tasks.iter().any(|x| x.pid == t.pid))
            .collect();
        if mine.is_empty() {
            continue;
        }
        writeln!(out, "\npid {} \"{}\"", t.pid, t.comm)?;
        for (p, u) in mine {
            line(out, p, u)?;
        }
    }
    let orphans: Vec<_> = list
        .paths
        .iter()
        .flat_map(|p| p.uses.iter().map(move |u| (p, u)))
        .filter(|(_, u)| u.tasks.is_empty())
        .collect();
    if !orphans.is_empty() {
        writeln!(out, "\nno task")?;
        for (p, u) in orphans {
            line(out, p, u)?;
        }
    }
    Ok(())
}
