//! `ckpt edit`: paths, pids, uids, gids and UTS names changed everywhere an image holds
//! them, in one streaming pass.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_convert::edit::{Edit, Operation};
use ckpt_convert::transform::{RunOptions, RunSummary, run};
use ckpt_convert::{Action, ConvertError, LedgerEntry};
use ckpt_format::Format;
use ckpt_format::write::Sink;
use serde::Serialize;

use crate::io::{
    Output, Spool, kept_annotations, open_image, refuse_colliding_outputs, refuse_same_file,
    with_detection,
};

const AFTER: &str = "Examples:
  ckpt edit app.ckpt -o moved.ckpt --path /srv/app/=/data/app/
  ckpt edit app.ckpt -o other.ckpt --uid 1000=2000 --gid 1000=2000 --hostname box2
  ckpt edit app.ckpt --pid 4242=5000 --dry-run
  ckpt edit app.ckpt -o out.ckpt --fd 4242:3=/var/log/app.log --close 4242:7
  ckpt edit app.ckpt -o out.ckpt --uid 1000=2000 --json | jq '.changes | length'

Every place that holds the value changes together (see `ckpt edit --help` for the list
of places per operation); record and string lengths are recomputed. Operations apply at
once: a place takes the first operation that maps it, so --uid 1=2 --uid 2=1 swaps.
An edit that would make two things one (a NEW pid, uid or gid the image already uses,
two bound unix sockets at one path) is refused, naming the places. The image is read
twice (a survey, then the edit), so standard input is first copied to a temporary file.
The output appears only when the edit succeeded (a file is written beside OUT and
renamed).

Exit status:
  0  edited (also when an OLD value occurs nowhere: a warning, unless --strict)
  1  refused, or with --strict an OLD value occurs nowhere
  2  usage error (a malformed OLD=NEW)
  3  I/O error";

/// Change paths, pids, uids, gids or UTS names everywhere an image holds them.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Output image, or - for standard output (not needed with --dry-run).
    #[arg(short, long, required_unless_present = "dry_run")]
    output: Option<PathBuf>,
    /// Revision of the input instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Move a path (OLD=NEW), or a directory and everything below it (OLD/=NEW/): open
    /// files, the executable and mapped files, cwd and root, unix socket addresses, fifos.
    #[arg(long, value_name = "OLD=NEW")]
    path: Vec<String>,
    /// Change a pid of the root pid namespace: the tree, pid objects, signal senders,
    /// tty process groups, file owners, SysV IPC pids, socket peer credentials.
    #[arg(long, value_name = "OLD=NEW")]
    pid: Vec<String>,
    /// Change a uid: credentials (real, effective, saved, fs), user objects, SysV IPC
    /// owners and creators, socket peer credentials, signal senders.
    #[arg(long, value_name = "OLD=NEW")]
    uid: Vec<String>,
    /// Change a gid: credentials, groups lists, SysV IPC owners and creators, socket peer
    /// credentials.
    #[arg(long, value_name = "OLD=NEW")]
    gid: Vec<String>,
    /// Descriptor FD of task PID opens PATH instead, keeping its flags and position; a
    /// file shared with other descriptors or tasks is split (regular files, directories,
    /// devices and fifos only: files opened by path).
    #[arg(long, value_name = "PID:FD=PATH")]
    fd: Vec<String>,
    /// Close descriptor FD of task PID: its FILE_DESC goes and its file table counts one
    /// fewer; its file, and what only that file kept (a socket and its queued buffers,
    /// an epoll's items, a pipe end), go when nothing else refers to them.
    #[arg(long, value_name = "PID:FD")]
    close: Vec<String>,
    /// The file position of the descriptors --fd redirects.
    #[arg(long, value_name = "N", requires = "fd")]
    pos: Option<u64>,
    /// Set the node name of the UTS namespaces.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Set the domain name of the UTS namespaces.
    #[arg(long, value_name = "NAME")]
    domainname: Option<String>,
    /// Print the changes and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the changes as JSON (schemas/json/edit.schema.json) on standard output.
    #[arg(long)]
    json: bool,
    /// Write the changes as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Fail (exit 1, nothing written) when an OLD value occurs nowhere.
    #[arg(long)]
    strict: bool,
    /// Edit a failed checkpoint (an image that ends in an ERROR record).
    #[arg(long)]
    allow_incomplete: bool,
    /// When the image is in ckpt's container (`ckpt annotate`), write the output in one
    /// too, with the same annotations (an edit changes no kernel); a plain image
    /// otherwise.
    #[arg(long)]
    keep_annotations: bool,
    /// Write the image to a terminal too (refused otherwise).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    seal: crate::through_seal::ThroughSealArgs,
}

/// The version of the JSON document of `--json` and `--report`.
const EDIT_FORMAT_VERSION: &str = "1.1.0";

/// The changes of an edit, as `--json` and `--report` print them.
#[derive(Serialize)]
struct EditDoc<'a> {
    format_version: &'static str,
    image: &'a str,
    revision: &'a str,
    arch: String,
    dry_run: bool,
    operations: Vec<OperationDoc>,
    changes: &'a [LedgerEntry],
    records_in: u64,
    records_changed: u64,
}

#[derive(Serialize)]
struct OperationDoc {
    operation: String,
    places_changed: u64,
}

impl Opts {
    fn operations(&self) -> Result<Vec<Operation>> {
        let mut ops = Vec::new();
        let lists: [(&str, &[String]); 6] = [
            ("path", &self.path),
            ("fd", &self.fd),
            ("close", &self.close),
            ("pid", &self.pid),
            ("uid", &self.uid),
            ("gid", &self.gid),
        ];
        for (name, args) in lists {
            for a in args {
                let mut op = Operation::parse(name, a).map_err(|e| super::usage(e.to_string()))?;
                if let Operation::Fd { pos, .. } = &mut op {
                    *pos = self.pos;
                }
                ops.push(op);
            }
        }
        for (name, arg) in [
            ("hostname", &self.hostname),
            ("domainname", &self.domainname),
        ] {
            if let Some(a) = arg {
                ops.push(Operation::parse(name, a).map_err(|e| super::usage(e.to_string()))?);
            }
        }
        if ops.is_empty() {
            return Err(super::usage(
                "give at least one operation: --path, --fd, --close, --pid, --uid, --gid, --hostname or --domainname"
                    .into(),
            ));
        }
        Ok(ops)
    }

    /// Runs the subcommand.
    pub fn run(mut self) -> Result<u8> {
        // A sealed image is read through its seal; --sign seals the output.
        let seal = self.seal.clone();
        let through = crate::through_seal::Through::around(
            &mut self.image,
            self.output.as_mut().filter(|_| !self.dry_run),
            &seal,
            "edit",
        )?;
        let code = self.run_plain()?;
        through.finish(code)
    }

    fn run_plain(self) -> Result<u8> {
        let ops = self.operations()?;
        let mut outputs: Vec<(&str, &Path)> = Vec::new();
        if let Some(o) = &self.output {
            refuse_same_file(&self.image, o)?;
            if !self.dry_run {
                outputs.push(("-o", o));
            }
        }
        if let Some(r) = &self.report {
            refuse_same_file(&self.image, r)?;
            outputs.push(("--report", r));
        }
        if self.json {
            outputs.push(("--json", Path::new("-")));
        }
        refuse_colliding_outputs(&outputs)?;
        // Two passes: standard input is kept in a temporary file for the second.
        // Registered, so that an interrupt removes it with the outputs.
        let spooled = if self.image == "-" {
            let (mut f, registered) = crate::interrupt::register(|| {
                let f = tempfile::NamedTempFile::new()?;
                let p = f.path().to_path_buf();
                Ok((f, p))
            })
            .context("cannot create a temporary file for standard input")?;
            std::io::copy(&mut std::io::stdin().lock(), f.as_file_mut())
                .context("cannot copy standard input to a temporary file")?;
            Some((f, registered))
        } else {
            None
        };
        let path = match &spooled {
            Some((f, _)) => f.path().to_string_lossy().into_owned(),
            None => self.image.clone(),
        };
        let name = if spooled.is_some() {
            "standard input"
        } else {
            self.image.as_str()
        };
        let (survey, det) = open_image(&path, self.rev.as_deref())?;
        let format = Format::shared(det.schema, det.arch);
        let mut edit = Edit::new(ops);
        let unused = match edit.survey(survey) {
            Ok(u) => u,
            Err(ConvertError::Format(e)) => {
                return Err(with_detection(anyhow::Error::new(e), &det, name));
            }
            Err(e) => return Err(refused(e)),
        };
        let mut err = std::io::stderr().lock();
        for u in &unused {
            writeln!(
                err,
                "{}: {u}",
                if self.strict { "error" } else { "warning" }
            )?;
        }
        if self.strict && !unused.is_empty() {
            return Ok(crate::EXIT_NO);
        }
        let (reader, _) = open_image(&path, Some(det.schema.id.as_str()))?;
        let run_opts = RunOptions {
            spill_dir: None,
            allow_incomplete: self.allow_incomplete,
        };
        let (summary, out) = match (&self.output, self.dry_run) {
            (Some(o), false) => {
                let mut spool = match kept_annotations(self.keep_annotations, &path, name)? {
                    Some(a) => Some(Spool::new(o, a, det.arch.endian())?),
                    None => None,
                };
                let mut out = Output::create_image(o, self.force)?;
                let sink: &mut dyn Sink = match spool.as_mut() {
                    Some(s) => s.sink(),
                    None => &mut out,
                };
                let s = run(reader, format, &mut [&mut edit], sink, &run_opts, None);
                if s.is_ok()
                    && let Some(sp) = spool
                {
                    sp.finish(&mut out)?;
                }
                (s, Some(out))
            }
            _ => {
                let s = run(
                    reader,
                    format,
                    &mut [&mut edit],
                    std::io::sink(),
                    &run_opts,
                    None,
                );
                (s, None)
            }
        };
        let summary: RunSummary = match summary {
            Ok(s) => s,
            Err(ConvertError::Format(e)) => {
                return Err(with_detection(anyhow::Error::new(e), &det, name));
            }
            Err(e) => return Err(refused(e)),
        };
        if let Some(out) = out {
            out.commit()?;
        }
        let doc = EditDoc {
            format_version: EDIT_FORMAT_VERSION,
            image: name,
            revision: &det.schema.id,
            arch: det.arch.to_string(),
            dry_run: self.dry_run,
            operations: edit
                .operations()
                .iter()
                .zip(edit.changed())
                .map(|(o, n)| OperationDoc {
                    operation: o.to_string(),
                    places_changed: *n,
                })
                .collect(),
            changes: &summary.ledger.entries,
            records_in: summary.records_in,
            records_changed: summary.records_changed,
        };
        if let Some(r) = &self.report {
            let mut out = Output::create(r)?;
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
            out.commit()
                .with_context(|| format!("writing {}", r.display()))?;
        }
        if self.json {
            let mut stdout = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut stdout, &doc)?;
            writeln!(stdout)?;
        } else if self.dry_run {
            let mut stdout = std::io::stdout().lock();
            for e in &summary.ledger.entries {
                writeln!(stdout, "{}", change_line(e))?;
            }
        }
        let counts: Vec<String> = doc
            .operations
            .iter()
            .map(|o| {
                let what = if o.operation.starts_with("--close") {
                    "records"
                } else {
                    "places"
                };
                format!("{}: {} {what}", o.operation, o.places_changed)
            })
            .collect();
        writeln!(
            err,
            "{} {} ({} on {}): {} records of {} changed; {}",
            if self.dry_run { "would edit" } else { "edited" },
            name,
            det.schema.id,
            det.arch,
            summary.records_changed,
            summary.records_in,
            counts.join(", ")
        )?;
        Ok(0)
    }
}

/// An edit's refusal says so (the library's words are a conversion's).
fn refused(e: ConvertError) -> anyhow::Error {
    match e {
        ConvertError::Refused(why) => anyhow::anyhow!("edit refused: {why}"),
        e => e.into(),
    }
}

/// One change as a line: `record #12 CRED uid: 1000 -> 2000; real uid (--uid 1000=2000)`,
/// or for a whole record `record #99 FILE_DESC removed; descriptor 7 of task 1 closed
/// (--close 1:7)`.
fn change_line(e: &LedgerEntry) -> String {
    let show = |v: &Option<ckpt_format::value::Value>| {
        v.as_ref().map_or_else(String::new, |v| v.to_string())
    };
    let reason = e
        .reason
        .as_ref()
        .map(|r| format!("; {r}"))
        .unwrap_or_default();
    if e.field.is_empty() && e.old.is_none() {
        // A whole record removed, inserted or moved.
        let new = e.new.as_ref().map(|v| format!(" {v}")).unwrap_or_default();
        return format!(
            "record #{} {} {}{new}{reason}",
            e.record_index, e.record, e.action
        );
    }
    let what = match e.action {
        Action::Supplied => String::new(),
        a => format!(" [{a}]"),
    };
    format!(
        "record #{} {} {}: {} -> {}{what}{reason}",
        e.record_index,
        e.record,
        e.field,
        show(&e.old),
        show(&e.new),
    )
}
