//! Builds a sample Linux-CR image of a revision and architecture, writes it to a file,
//! reads it back and prints a one-line summary.
//!
//! ```sh
//! cargo run -p ckpt-format --example build_sample -- v23-rc2 x86_64 /tmp/sample.ckpt
//! cargo run -p ckpt-format --example build_sample -- v19 s390x /tmp/s390x.ckpt --tasks 6 --memory 1048576
//! ```
//!
//! `build_sample REV ARCH OUT [--tasks N] [--memory BYTES] [--seed N]`: REV is any name
//! of a revision (`v23-rc2`, `1fd8e6e`, `16`), ARCH one of its architectures. OUT is
//! written to a temporary file beside it (`.OUT.PID.build_sample-tmp`) and renamed into
//! place only once the image is complete. The file is then read back: its revision detected, every record read and
//! its tasks and objects modelled. Exit status: 0, 1 when the image does not read back,
//! 2 for a usage error, 3 for an I/O error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

mod common;
use common::Failure;

use ckpt_format::build::{BuildOptions, BuildSummary, build};
use ckpt_format::detect::{self, Evidence};
use ckpt_format::{Arch, Format, Registry, Schema, model};

const PROGRAM: &str = "build_sample";
const USAGE: &str = "usage: build_sample REV ARCH OUT [--tasks N] [--memory BYTES] [--seed N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => match writeln!(io::stdout(), "{line}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => Failure::Io("cannot write the summary".into(), e).report(PROGRAM, USAGE),
        },
        Err(failure) => failure.report(PROGRAM, USAGE),
    }
}

/// What to build, and where.
struct Request {
    schema: &'static Schema,
    arch: Arch,
    out: String,
    options: BuildOptions,
}

fn parse_args(args: &[String]) -> Result<Request, Failure> {
    let usage = |m: String| Failure::Usage(m);
    let mut positional = Vec::new();
    let mut options = BuildOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, Failure> {
            let v = it
                .next()
                .ok_or_else(|| usage(format!("{name} needs a number")))?;
            v.parse::<u64>()
                .map_err(|_| usage(format!("{name}: `{v}` is not a whole number")))
        };
        match a.as_str() {
            "--tasks" => {
                let n = number("--tasks")?;
                options.tasks = u32::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
                    usage(format!("--tasks: {n} is not between 1 and {}", u32::MAX))
                })?;
            }
            "--memory" => options.memory = number("--memory")?,
            "--seed" => options.seed = number("--seed")?,
            "-h" | "--help" => return Err(usage("builds a sample image and reads it back".into())),
            s if s.starts_with("--") => return Err(usage(format!("unknown option `{s}`"))),
            s => positional.push(s.to_string()),
        }
    }
    let [rev, arch, out] = <[String; 3]>::try_from(positional).map_err(|p| {
        usage(format!(
            "expected REV ARCH OUT, got {} argument(s)",
            p.len()
        ))
    })?;
    let schema = Registry::get()
        .find(&rev)
        .map_err(|e| usage(format!("REV: {e}")))?;
    let arch: Arch = arch.parse().map_err(|e| usage(format!("ARCH: {e}")))?;
    if !schema.has_arch(arch) {
        let known: Vec<String> = schema.arches.iter().map(|(a, _)| a.to_string()).collect();
        return Err(usage(format!(
            "ARCH: revision {} has no {arch} (it has {})",
            schema.id,
            known.join(", ")
        )));
    }
    Ok(Request {
        schema,
        arch,
        out,
        options,
    })
}

fn run(args: &[String]) -> Result<String, Failure> {
    let req = parse_args(args)?;
    let format = Format::shared(req.schema, req.arch);
    let built = write_atomically(&req.out, format, &req.options)?;
    read_back(&req, &built)
}

/// Builds the image into a temporary file beside `out` and renames it into place; the
/// temporary file is removed when anything fails.
fn write_atomically(
    out: &str,
    format: &Format,
    options: &BuildOptions,
) -> Result<BuildSummary, Failure> {
    let path = Path::new(out);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Failure::Usage(format!("OUT: `{out}` names no file")))?;
    let tmp = dir.join(format!(
        ".{}.{}.build_sample-tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Failure::Io(format!("cannot create a file in {}", dir.display()), e))?;
    let written = write_and_rename(file, &tmp, out, format, options);
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_and_rename(
    file: File,
    tmp: &Path,
    out: &str,
    format: &Format,
    options: &BuildOptions,
) -> Result<BuildSummary, Failure> {
    let cannot_write = |e| Failure::Io(format!("cannot write {out}"), e);
    let mut w = BufWriter::new(file);
    let built = build(format, options, &mut w).map_err(|e| Failure::Image(out.into(), e))?;
    let file = w.into_inner().map_err(|e| cannot_write(e.into_error()))?;
    file.sync_all().map_err(cannot_write)?;
    fs::rename(tmp, out).map_err(|e| Failure::Io(format!("cannot rename into {out}"), e))?;
    Ok(built)
}

/// Reads `req.out` back and says what it holds, checking it against what was built.
fn read_back(req: &Request, built: &BuildSummary) -> Result<String, Failure> {
    let out = &req.out;
    let open = || File::open(out).map_err(|e| Failure::Io(format!("cannot open {out}"), e));
    let evidence = Evidence::scan(&mut open()?).map_err(|e| Failure::Image(out.clone(), e))?;
    let (reader, detection) =
        detect::open(open()?, None, Some(evidence)).map_err(|e| Failure::Image(out.clone(), e))?;
    if !detection.reads_as(req.schema) || detection.arch != req.arch {
        return Err(Failure::No(format!(
            "{out}: built as {} on {}, but reads back as {} on {}",
            req.schema.id, req.arch, detection.schema.id, detection.arch
        )));
    }
    let m = model::read_model(reader, false).map_err(|e| Failure::Image(out.clone(), e))?;
    let records: u64 = m.record_counts.values().sum();
    if records != built.records {
        return Err(Failure::No(format!(
            "{out}: {} records written, {records} read back",
            built.records
        )));
    }
    let mut line = format!(
        "{out}: {} ({}) on {}, {} tasks, {} objects, {records} records, {} bytes, {} pages",
        req.schema.id,
        req.schema.short_commit(),
        req.arch,
        m.tasks.len(),
        m.objects.len(),
        built.bytes,
        built.pages,
    );
    if detection.schema.id != req.schema.id {
        line.push_str(&format!(
            "; detected as {}, which reads it identically",
            detection.schema.id
        ));
    }
    if !built.synthetic.is_empty() {
        line.push_str(&format!("; synthetic: {}", built.synthetic.join(", ")));
    }
    Ok(line)
}
