//! `ckpt`: inspect, validate, dump, encode and build Linux-CR checkpoint images.
//!
//! A thin layer over the libraries: `ckpt-format` reads, models, summarises, dumps and
//! builds images (its crate docs say where to start), `ckpt-convert` converts and checks
//! them, `ckpt-view` draws them (`ckpt graph`). What is the command line's alone lives here:
//!
//! * `cmd/<name>.rs`: one file per subcommand, its options (`Opts`, clap) and its `run`,
//!   which parses, calls the libraries and prints;
//! * `io/`: opening images (a file is scanned whole for detection, `-` read from its
//!   first MiB; `io/annotated.rs`: ckpt's container, from a file or a pipe, and around
//!   an output), atomic outputs, the file named in every error, and the exit codes
//!   ([`EXIT_NO`], [`EXIT_USAGE`], [`EXIT_IO`]); a closed pipe exits 0 quietly;
//! * `interrupt.rs`: SIGINT, SIGTERM and SIGHUP remove temporary outputs;
//! * `values.rs`: the names options take (revisions, arches), told to clap and so to the
//!   shell completions.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod interrupt;
mod io;
mod kconfig;
mod sealing;
mod through_seal;
mod values;

/// Exit status: the answer is no (invalid image, failed check, differences).
pub const EXIT_NO: u8 = 1;
/// Exit status: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: I/O or system error.
pub const EXIT_IO: u8 = 3;

const EXIT_HELP: &str = "Exit status:
  0  success
  1  the answer is no: invalid image, failed check, refused conversion, differences
  2  usage error
  3  I/O or system error";

/// Reads, explains, dumps and builds Linux-CR checkpoint images (linux-cr kernels, 2009-2012).
#[derive(Parser)]
#[command(name = "ckpt", version, after_help = EXIT_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Annotate(cmd::annotate::Opts),
    Check(cmd::check::Opts),
    Completions(cmd::completions::Opts),
    Convert(cmd::convert::Opts),
    Diff(cmd::diff::Opts),
    Edit(cmd::edit::Opts),
    Info(cmd::info::Opts),
    Keygen(cmd::keygen::Opts),
    Man(cmd::man::Opts),
    Mem(cmd::mem::Opts),
    #[cfg(feature = "fuse")]
    Mount(cmd::mount::Opts),
    #[cfg(feature = "fuse")]
    Umount(cmd::umount::Opts),
    Dump(cmd::dump::Opts),
    Encode(cmd::encode::Opts),
    Graph(cmd::graph::Opts),
    Report(cmd::report::Opts),
    #[command(subcommand)]
    Fs(cmd::fs::Command),
    Sample(cmd::sample::Opts),
    Seal(cmd::seal::Opts),
    Strip(cmd::strip::Opts),
    Unseal(cmd::unseal::Opts),
    Verify(cmd::verify::Opts),
    #[command(subcommand)]
    Schema(cmd::schema::Command),
}

fn main() -> ExitCode {
    if let Err(e) = open_standard_streams() {
        report(&format!("ckpt: error: /dev/null: {e}"));
        return ExitCode::from(EXIT_IO);
    }
    if let Err(e) = interrupt::install() {
        report(&format!("ckpt: error: cannot handle signals: {e}"));
        return ExitCode::from(EXIT_IO);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Annotate(o) => o.run(),
        Command::Check(o) => o.run(),
        Command::Completions(o) => o.run(),
        Command::Convert(o) => o.run(),
        Command::Diff(o) => o.run(),
        Command::Edit(o) => o.run(),
        Command::Man(o) => o.run(),
        Command::Mem(o) => o.run(),
        #[cfg(feature = "fuse")]
        Command::Mount(o) => o.run(),
        #[cfg(feature = "fuse")]
        Command::Umount(o) => o.run(),
        Command::Info(o) => o.run(),
        Command::Dump(o) => o.run(),
        Command::Encode(o) => o.run(),
        Command::Graph(o) => o.run(),
        Command::Report(o) => o.run(),
        Command::Fs(c) => c.run(),
        Command::Sample(o) => o.run(),
        Command::Strip(o) => o.run(),
        Command::Seal(o) => o.run(),
        Command::Unseal(o) => o.run(),
        Command::Verify(o) => o.run(),
        Command::Keygen(o) => o.run(),
        Command::Schema(c) => c.run(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if io::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            report_error(&e);
            ExitCode::from(io::exit_code(&e))
        }
    }
}

/// Version of the `--json` error document (`schemas/json/error.schema.json`).
const ERROR_FORMAT_VERSION: &str = "1.0.0";

/// Prints an error on standard error (hints on lines of their own) and, when the command
/// was asked for `--json`, as a JSON document on standard output. A closed stream is
/// not an error of its own: what cannot be written is dropped.
fn report_error(e: &anyhow::Error) {
    use std::io::Write;
    let report = io::Report::of(e);
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if json {
        let doc = serde_json::json!({
            "format_version": ERROR_FORMAT_VERSION,
            "error": report,
        });
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, &doc);
        let _ = writeln!(out);
        let _ = out.flush();
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "ckpt: error: {}", report.message);
    for h in &report.hints {
        let _ = writeln!(err, "ckpt: hint: {h}");
    }
}

/// Writes a line to standard error; a closed or full standard error is ignored (the exit
/// status still tells), where `eprintln!` would panic.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Opens `/dev/null` on each of standard input, output and error that is closed: a file
/// opened later would get its number, and messages for standard error would go into an
/// output image.
fn open_standard_streams() -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, IntoRawFd};
    loop {
        // The lowest free number: a closed standard stream's, if any.
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        if null.as_raw_fd() > 2 {
            return Ok(());
        }
        // Kept open for the rest of the run, as that stream.
        let _ = null.into_raw_fd();
    }
}
