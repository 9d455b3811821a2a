//! `ckpt`: inspect, validate, dump, encode and build Linux-CR checkpoint images.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod io;

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
    Check(cmd::check::Opts),
    Completions(cmd::completions::Opts),
    Convert(cmd::convert::Opts),
    Diff(cmd::diff::Opts),
    Info(cmd::info::Opts),
    Man(cmd::man::Opts),
    Mem(cmd::mem::Opts),
    Dump(cmd::dump::Opts),
    Encode(cmd::encode::Opts),
    Sample(cmd::sample::Opts),
    #[command(subcommand)]
    Schema(cmd::schema::Command),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(o) => o.run(),
        Command::Completions(o) => o.run(),
        Command::Convert(o) => o.run(),
        Command::Diff(o) => o.run(),
        Command::Man(o) => o.run(),
        Command::Mem(o) => o.run(),
        Command::Info(o) => o.run(),
        Command::Dump(o) => o.run(),
        Command::Encode(o) => o.run(),
        Command::Sample(o) => o.run(),
        Command::Schema(c) => c.run(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if io::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ckpt: error: {e:#}");
            ExitCode::from(io::exit_code(&e))
        }
    }
}
