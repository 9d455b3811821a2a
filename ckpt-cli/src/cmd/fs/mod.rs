//! `ckpt fs`: the files an image needs (issue 13): list them, snapshot them with tar,
//! rsync or btrfs, receive a btrfs stream, verify a tree with or without a manifest,
//! restore a tar snapshot. The work is `ckpt_fs`'s; these files parse and print.

pub mod list;
pub mod receive;
pub mod restore;
pub mod snapshot;
pub mod verify;

use anyhow::Result;
use ckpt_fs::lookup::{Presence, Root, State};
use ckpt_fs::paths::{PathList, PathUse, Use};

use crate::io::{Source, open_image, with_detection};

/// Version of the `--json` output of `fs list`.
pub const FORMAT_VERSION: &str = "1.0.0";

/// Version of the `--json` output of `fs verify` (1.1.0: `manifest` and the outcomes a
/// manifest adds).
pub const VERIFY_FORMAT_VERSION: &str = "1.1.0";

/// Version of the `--json` output of `fs receive`.
pub const RECEIVE_FORMAT_VERSION: &str = "1.0.0";

/// Version of the `--json` outputs of `fs snapshot` and `fs restore`.
pub const SNAPSHOT_FORMAT_VERSION: &str = "1.0.0";

/// The files an image needs: list them, check a tree before a restart.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Every path the image depends on, by task, with how it is used.
    #[command(after_help = list::AFTER)]
    List(list::Opts),
    /// Capture the files the image needs (and --include trees) with a manifest.
    #[command(after_help = snapshot::AFTER)]
    Snapshot(snapshot::Opts),
    /// Compare a tree with what the image records of its paths, or with a snapshot's manifest (exit 1 when the restart would not find them).
    #[command(after_help = verify::AFTER)]
    Verify(verify::Opts),
    /// Extract a tar snapshot under a root, safely, then verify it.
    #[command(after_help = restore::AFTER)]
    Restore(restore::Opts),
    /// Receive a btrfs send stream of a snapshot, and check it against its manifest.
    #[command(after_help = receive::AFTER)]
    Receive(receive::Opts),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        match self {
            Command::List(o) => o.run(),
            Command::Snapshot(o) => o.run(),
            Command::Verify(o) => o.run(),
            Command::Restore(o) => o.run(),
            Command::Receive(o) => o.run(),
        }
    }
}

/// The image and its revision and arch, as the JSON outputs name them.
pub struct Listed {
    /// The paths.
    pub list: PathList,
    /// The revision's id.
    pub revision: String,
    /// The arch's name.
    pub arch: String,
}

/// Opens the root (a usage error when it is not a directory), before the image is read.
pub fn open_root(dir: &std::path::Path) -> Result<Root> {
    Root::open(dir).map_err(fs_error)
}

/// A library error in the CLI's terms: a root or manifest that cannot be used, a
/// manifest of another image, is a usage error (exit 2); a file that cannot be read or
/// written, rsync or btrfs failing or missing, an I/O error (exit 3); the rest (a needed file missing, an archive refused)
/// the answer no (exit 1).
pub fn fs_error(e: ckpt_fs::Error) -> anyhow::Error {
    match e {
        ckpt_fs::Error::Root { path, reason } => {
            super::usage(format!("--root {}: {reason}", path.display()))
        }
        e @ (ckpt_fs::Error::OtherImage { .. } | ckpt_fs::Error::Manifest { .. }) => {
            super::usage(e.to_string())
        }
        e @ (ckpt_fs::Error::Io { .. } | ckpt_fs::Error::Rsync(_) | ckpt_fs::Error::Btrfs(_)) => {
            anyhow::Error::new(std::io::Error::other(e.to_string()))
        }
        other => anyhow::Error::new(other),
    }
}

/// The image as a file, for its sha256 (standard input cannot be read twice).
pub fn image_identity(args: &ImageArgs, what: &str) -> Result<ckpt_fs::manifest::ImageIdentity> {
    if args.image == "-" {
        return Err(super::usage(format!(
            "{what} reads the image twice (its sha256, its paths): give IMAGE as a file, not -"
        )));
    }
    ckpt_fs::manifest::ImageIdentity::of_file_as(
        std::path::Path::new(&args.image),
        args.rev.as_deref(),
    )
    .map_err(fs_error)
}

/// The image both subcommands read.
#[derive(clap::Args)]
pub struct ImageArgs {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
}

/// Reads the paths of the image (a file, a container or `-`).
pub fn read_paths(args: &ImageArgs) -> Result<Listed> {
    let image = args.image.as_str();
    let (reader, det) = open_image(image, args.rev.as_deref())?;
    let revision = det.schema.id.to_string();
    let arch = reader.format().arch.to_string();
    let list = ckpt_fs::paths::collect::<Source>(reader).map_err(|e| match e {
        ckpt_fs::Error::Image(x) => with_detection(anyhow::Error::new(x), &det, image),
        other => anyhow::Error::new(other),
    })?;
    Ok(Listed {
        list,
        revision,
        arch,
    })
}

/// Writes `doc` to standard output, pretty, with a final newline.
pub fn print_json(doc: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, doc)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A use in a few words: `fd 3 read-write pos 540561 cloexec`, `00400000-00404000
/// private at 0`.
pub fn use_detail(how: &Use) -> String {
    match how {
        Use::OpenFile(d) | Use::Fifo(d) | Use::Tty(d) => format!(
            "fd {} {}{}{}",
            d.fd,
            d.access.name(),
            if d.pos > 0 {
                format!(" pos {}", d.pos)
            } else {
                String::new()
            },
            if d.close_on_exec { " cloexec" } else { "" }
        ),
        Use::MappedFile {
            start,
            end,
            offset,
            shared,
        } => format!(
            "{start:08x}-{end:08x} {} at {offset}",
            if *shared { "shared" } else { "private" }
        ),
        _ => String::new(),
    }
}

/// Who uses a path how: `pid 1 "init" (open file fd 3 read-write)`.
pub fn users(uses: &[PathUse]) -> Vec<String> {
    let mut out = Vec::new();
    for u in uses {
        let detail = use_detail(&u.how);
        let how = if detail.is_empty() {
            u.how.name().to_string()
        } else {
            format!("{} {detail}", u.how.name())
        };
        if u.tasks.is_empty() {
            out.push(format!("no task ({how})"));
        }
        for t in &u.tasks {
            out.push(format!("pid {} \"{}\" ({how})", t.pid, t.comm));
        }
    }
    out
}

/// A state in a few words: `regular file, 100 bytes, 0644, 0:0`, `missing: /etc does
/// not exist`.
pub fn state_words(s: &State) -> String {
    match s.presence {
        Presence::Present => {
            let mut w = format!(
                "{}, {} bytes, {:04o}, {}:{}",
                s.kind.map_or("?", |k| k.name()),
                s.size.unwrap_or(0),
                s.mode.unwrap_or(0),
                s.uid.unwrap_or(0),
                s.gid.unwrap_or(0)
            );
            if let Some(r) = &s.resolved {
                w.push_str(&format!(" (at {r})"));
            }
            w
        }
        Presence::Missing | Presence::Unreadable => {
            let what = if s.presence == Presence::Missing {
                "missing"
            } else {
                "unreadable"
            };
            match &s.reason {
                Some(r) => format!("{what}: {r}"),
                None => what.into(),
            }
        }
    }
}
