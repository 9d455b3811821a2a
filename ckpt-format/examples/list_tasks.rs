//! Lists the tasks of a Linux-CR image and each task's open files.
//!
//! ```sh
//! cargo run -p ckpt-format --example list_tasks -- samples/v23-rc2.x86_64.ckpt
//! ckpt sample --rev v20 --arch s390x -o - | cargo run -p ckpt-format --example list_tasks -- -
//! ```
//!
//! `list_tasks IMAGE [--rev REV]`: IMAGE is a file or `-` for standard input. The
//! revision is detected (a file is scanned whole, a pipe from its first MiB) unless
//! `--rev` names it. Prints the revision, then one line per task (pid, ppid, comm) with
//! one line per open file under it (fd, kind, path or what the file is). Exit status: 0,
//! 1 for an image that does not read, 2 for a usage error, 3 for an I/O error.

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;

mod common;
use common::Failure;

use ckpt_format::detect::{self, Detection, Evidence};
use ckpt_format::input::Input;
use ckpt_format::summary::tasks::{TaskSummary, summarise};
use ckpt_format::{Format, Reader, Registry, model};

const USAGE: &str =
    "usage: list_tasks IMAGE [--rev REV]   (IMAGE: a file, or - for standard input)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report("list_tasks", USAGE),
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let (path, rev) = parse_args(args)?;
    let name = if path == "-" {
        "standard input".to_string()
    } else {
        path.clone()
    };
    if let Some(rev) = &rev {
        Registry::get()
            .find(rev)
            .map_err(|e| Failure::Usage(format!("--rev: {e}")))?;
    }
    let rev = rev.as_deref();
    if path == "-" {
        let (reader, detection) = detect::open(io::stdin().lock(), rev, None)
            .map_err(|e| Failure::Image(name.clone(), e))?;
        list(&name, reader, &detection)
    } else {
        let open = || File::open(&path).map_err(|e| Failure::Io(format!("cannot open {name}"), e));
        // A file is scanned whole first, so that detection sees every record type.
        let evidence = Evidence::scan(&mut open()?).map_err(|e| Failure::Image(name.clone(), e))?;
        let (reader, detection) = detect::open(open()?, rev, Some(evidence))
            .map_err(|e| Failure::Image(name.clone(), e))?;
        list(&name, reader, &detection)
    }
}

/// IMAGE and the revision named with `--rev`, if any.
fn parse_args(args: &[String]) -> Result<(String, Option<String>), Failure> {
    let mut path = None;
    let mut rev = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rev" => {
                let r = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--rev needs a revision".into()))?;
                rev = Some(r.clone());
            }
            "-h" | "--help" => return Err(Failure::Usage("lists the tasks of an image".into())),
            s if s.starts_with("--") => {
                return Err(Failure::Usage(format!("unknown option `{s}`")));
            }
            s if path.is_none() => path = Some(s.to_string()),
            s => return Err(Failure::Usage(format!("unexpected argument `{s}`"))),
        }
    }
    let path = path.ok_or_else(|| Failure::Usage("no image given".into()))?;
    Ok((path, rev))
}

/// Reads the image into a model and prints its tasks and their files.
fn list<R: Input>(name: &str, reader: Reader<R>, detection: &Detection) -> Result<(), Failure> {
    let format = Format::shared(detection.schema, detection.arch);
    let model = model::read_model(reader, false).map_err(|e| Failure::Image(name.into(), e))?;
    let tasks = summarise(&model, format);
    let out = io::stdout().lock();
    print_tasks(out, detection, &tasks, model.error.as_deref())
        .map_err(|e| Failure::Io("cannot write the listing".into(), e))
}

fn print_tasks(
    mut out: impl Write,
    detection: &Detection,
    tasks: &[TaskSummary],
    checkpoint_error: Option<&str>,
) -> io::Result<()> {
    let s = detection.schema;
    writeln!(
        out,
        "revision {} ({}) on {}, {} task{}",
        s.id,
        s.short_commit(),
        detection.arch,
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" }
    )?;
    if let Some(msg) = checkpoint_error {
        writeln!(out, "the checkpoint failed: {msg}")?;
    }
    writeln!(out, "{:>7} {:>7}  COMM", "PID", "PPID")?;
    for t in tasks {
        let zombie = if t.zombie { " (zombie)" } else { "" };
        writeln!(
            out,
            "{:>7} {:>7}  {}{zombie}",
            t.ids.pid, t.ids.ppid, t.comm
        )?;
        for f in &t.files {
            // A file opened by path shows its path; a pipe, socket, tty... what it is.
            let what = f.path.as_deref().unwrap_or(&f.what);
            writeln!(out, "{:>19}  fd {:<3} {:<9} {what}", "", f.fd, f.r#type)?;
        }
    }
    out.flush()
}
