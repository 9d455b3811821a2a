//! What the examples share: their failures, said plainly, and the exit status of each.

use std::error::Error as _;
use std::io;
use std::process::ExitCode;

/// What went wrong, and the exit status it gives.
pub enum Failure {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The image does not read (exit 1) or its source failed (exit 3): what was being
    /// read, and the error with its place in the image.
    Image(String, ckpt_format::Error),
    /// A file could not be opened, written or renamed (exit 3), except a closed pipe,
    /// which ends the program quietly (exit 0).
    Io(String, io::Error),
    /// The answer is no (exit 1).
    #[allow(
        dead_code,
        reason = "each example compiles this module; not every one says no"
    )]
    No(String),
}

impl Failure {
    /// Prints the failure on standard error as `PROGRAM: ...` (and `usage` after a usage
    /// error) and gives its exit status.
    pub fn report(self, program: &str, usage: &str) -> ExitCode {
        match self {
            Failure::Io(_, e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Failure::Usage(msg) => {
                eprintln!("{program}: {msg}\n{usage}");
                ExitCode::from(2)
            }
            Failure::Image(what, e) => {
                eprintln!("{program}: {what}: {}", with_causes(&e));
                ExitCode::from(if e.is_io() { 3 } else { 1 })
            }
            Failure::Io(what, e) => {
                eprintln!("{program}: {what}: {e}");
                ExitCode::from(3)
            }
            Failure::No(msg) => {
                eprintln!("{program}: {msg}");
                ExitCode::from(1)
            }
        }
    }
}

/// An error's message followed by its causes (an I/O error's OS message), as one line.
fn with_causes(e: &ckpt_format::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
}
