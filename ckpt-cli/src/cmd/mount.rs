//! `ckpt mount IMAGE DIR`: the image as a read-only FUSE file system
//! ([`ckpt_view::fuse`]), served in the background once mounted (or in the foreground).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use ckpt_format::Format;
use ckpt_format::pages::PageIndex;
use ckpt_format::summary::{InfoOptions, summarise_until_error};
use ckpt_view::fuse::build::{Texts, build_tree, read_records};
use ckpt_view::fuse::fs::{ImageFs, mount};

use crate::cmd::usage;
use crate::io::{open_image, with_detection};

const AFTER: &str = "What DIR holds (README, \"Mounting an image\"):
  info.txt, info.json        what `ckpt info` and `ckpt info --json` print
  tasks/PID/                 comm, status, maps, fd/N, fdinfo/N, regs, signals, mem
  tasks/PID/mem              the task's memory at its virtual addresses (as /proc/PID/mem):
                             zeros for pages the image does not hold, EIO outside every VMA
  records/NNNNNN-TYPE.json   each record's line of `ckpt dump`; .payload: its payload
  ipc/, pipes/, sockets/     shm segments' pages, message queues, semaphores; bytes
                             buffered in pipes; socket buffers

The file system is read-only; every entry has the image's time. `ckpt mount` returns
once DIR is mounted and serves it in the background; --foreground serves it until
SIGINT or SIGTERM. `ckpt umount DIR` (or fusermount3 -u DIR) unmounts it; it is
unmounted too when the serving process ends.

Needs /dev/fuse and fusermount3 (Debian's package fuse3). Standard input cannot be
mounted: files are served by positioned reads of the image file.

Examples:
  ckpt mount image.ckpt /mnt/img && cat /mnt/img/tasks/1/maps
  dd if=/mnt/img/tasks/1/mem bs=4096 skip=$((0x400000 / 4096)) count=1 | xxd | head
  ckpt umount /mnt/img

Exit status: 0 mounted, 1 the image does not read, 2 usage error (DIR missing or not
empty, standard input), 3 FUSE unavailable or another system error";

/// Mount an image as a read-only file system: tasks as /proc shows them, memory at its
/// addresses, records as files.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image (a file: standard input cannot be mounted).
    image: String,
    /// The directory to mount it on (existing and empty).
    dir: PathBuf,
    /// Revision of the image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Serve in the foreground until SIGINT or SIGTERM, instead of returning once mounted.
    #[arg(long)]
    foreground: bool,
    /// Print a line on standard output once mounted (how the background server tells the
    /// command that started it).
    #[arg(long, hide = true)]
    notify_ready: bool,
}

/// What the server prints once the file system is mounted.
const READY: &str = "ckpt-mount-ready";

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        if self.image == "-" {
            return Err(usage(
                "cannot mount standard input: the files of a mount are served by positioned \
                 reads of the image; save it to a file and mount that"
                    .into(),
            ));
        }
        check_dir(&self.dir)?;
        if !Path::new("/dev/fuse").exists() {
            return Err(anyhow::Error::new(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "/dev/fuse is missing: this machine (or container) has no FUSE; load the \
                 fuse module or run with /dev/fuse available",
            )));
        }
        if !self.foreground {
            return self.start_in_background();
        }
        self.serve()
    }

    /// Runs `ckpt mount ... --foreground --notify-ready` in its own process group and
    /// returns once it says the mount is up, or with its error and status when it ends.
    fn start_in_background(&self) -> Result<u8> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("cannot find the ckpt executable")?;
        let mut cmd = Command::new(exe);
        cmd.arg("mount")
            .arg(&self.image)
            .arg(&self.dir)
            .args(["--foreground", "--notify-ready"]);
        if let Some(r) = &self.rev {
            cmd.args(["--rev", r]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .context("cannot start the file system's server")?;
        let out = child.stdout.take().expect("piped above");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        if line.trim_end() == READY {
            return Ok(0);
        }
        // It ended before mounting: its error is on standard error already.
        let status = child.wait()?;
        Ok(status.code().map_or(crate::EXIT_IO, |c| c as u8))
    }

    fn serve(&self) -> Result<u8> {
        if let Some(c) = crate::io::container_of(&self.image)? {
            bail!(
                "{}: the image is in ckpt's container{}; mount the plain image (`ckpt {} {} -o PLAIN`)",
                self.image,
                if c.is_sealed() { ", sealed" } else { "" },
                if c.is_sealed() { "unseal" } else { "strip" },
                self.image
            );
        }
        let fs = self.load()?;
        let mut mounted = mount(fs, &self.dir, 2).map_err(|e| {
            anyhow::Error::new(e).context(format!("cannot mount on {}", self.dir.display()))
        })?;
        // On SIGINT or SIGTERM: unmounted before the exit, not after it (fusermount3's
        // auto_unmount would do it once it sees this process gone, a moment later).
        let mut unmounter = mounted.unmounter();
        let dir = self.dir.clone();
        crate::interrupt::at_signal(move || {
            let done = Command::new("fusermount3")
                .arg("-u")
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !done {
                let _ = unmounter.unmount();
            }
        });
        if self.notify_ready {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{READY}")?;
            out.flush()?;
            // The command that started it has returned: its standard error (a pipe
            // someone may read to its end) is let go, as standard output is.
            detach_stderr();
        }
        mounted
            .run()
            .with_context(|| format!("serving {}", self.dir.display()))?;
        Ok(0)
    }

    /// Reads the image: its summary (the texts of `ckpt info`), its records and its
    /// page index; one that does not read is refused, one cut short keeps what was read.
    fn load(&self) -> Result<ImageFs> {
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let options = InfoOptions {
            arch_regs: true,
            ..InfoOptions::default()
        };
        let (info, failure) = summarise_until_error(&mut r, &det, &self.image, &options);
        let Some(mut info) = info else {
            let e = failure.map_or_else(|| anyhow!("the image has no header"), Into::into);
            return Err(with_detection(e, &det, &self.image));
        };
        let regs = info.arch_regs.take().unwrap_or_default();
        let mut info_txt = Vec::new();
        let status = failure.as_ref().map(|e| {
            format!(
                "incomplete: read {} records up to offset {:#x}; then the error below",
                info.records,
                e.position().offset
            )
        });
        super::info::print_text(&mut info_txt, &info, &det, status.as_deref())?;
        if let Some(e) = failure {
            let offset = e.position().offset;
            let e = with_detection(e.into(), &det, &self.image);
            writeln!(
                info_txt,
                "error:      {}",
                crate::io::Report::of(&e).message
            )?;
            let _ = writeln!(
                std::io::stderr(),
                "ckpt: warning: {}: the image cannot be read past offset {offset:#x} (info.txt \
                 says why): mounting what was read",
                self.image
            );
        }
        // As `info --json` prints it: through a JSON value, whose members are sorted.
        let mut info_json = serde_json::to_vec_pretty(&serde_json::to_value(&info)?)?;
        info_json.push(b'\n');
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(info.time);
        let format = Format::new(det.schema, det.arch);
        let (mut r, _) = open_image(&self.image, Some(det.schema.id.as_str()))?;
        let (index, _) = PageIndex::build_until_error(&mut r);
        let (mut r, _) = open_image(&self.image, Some(det.schema.id.as_str()))?;
        let (pass, _) = read_records(&mut r);
        let texts = Texts {
            info_txt,
            info_json,
            regs,
        };
        let tree = build_tree(&index, pass, &format, texts);
        let file =
            File::open(&self.image).with_context(|| format!("cannot open {}", self.image))?;
        Ok(ImageFs::new(tree, file, index, &format, time))
    }
}

/// DIR must be an existing, empty directory.
fn check_dir(dir: &Path) -> Result<()> {
    let shown = dir.display();
    let mut entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(usage(format!(
                "{shown}: no such directory (create it first)"
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(usage(format!("{shown}: not a directory")));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {shown}"))),
    };
    if entries.next().is_some() {
        return Err(usage(format!(
            "{shown}: the directory is not empty (mount on an empty directory)"
        )));
    }
    Ok(())
}

/// Points standard error at /dev/null.
fn detach_stderr() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 of two open descriptors; no memory is touched.
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
}
