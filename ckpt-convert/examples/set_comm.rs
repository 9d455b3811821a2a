//! A custom edit on the transform API: set every task's `comm` (its command name).
//!
//! ```sh
//! cargo run -p ckpt-convert --example set_comm -- IMAGE NAME OUT
//! ```
//!
//! The transform sees every record once; it changes the STRING that follows each TASK
//! (exactly `task_comm_len` bytes, zero padded), notes each change in the ledger, and
//! passes the record on. Everything else is copied unchanged, page contents in the
//! kernel.

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use ckpt_convert::transform::{Cx, Flow, Out, RunOptions, Transform, run};
use ckpt_convert::{Action, ConvertError};
use ckpt_format::format::HDR_SIZE;
use ckpt_format::value::Value;
use ckpt_format::{Format, detect};

/// Sets the comm of every task to `name`.
struct SetComm {
    name: String,
}

impl Transform for SetComm {
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        _out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        if cx.rec.payload_of == Some(("TASK", "comm")) {
            let body = &mut rec[HDR_SIZE as usize..];
            if self.name.len() >= body.len() {
                return Err(ConvertError::Refused(format!(
                    "the name {:?} does not fit in a comm of {} bytes",
                    self.name,
                    body.len()
                )));
            }
            let old =
                String::from_utf8_lossy(body.split(|&c| c == 0).next().unwrap_or(&[])).into_owned();
            body.fill(0);
            body[..self.name.len()].copy_from_slice(self.name.as_bytes());
            cx.note(
                "comm",
                Action::Supplied,
                Some(Value::Text(old)),
                Some(Value::Text(self.name.clone())),
            );
        }
        Ok(Flow::Pass)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, name, out] = args.as_slice() else {
        eprintln!("usage: set_comm IMAGE NAME OUT");
        return ExitCode::from(2);
    };
    match set_comm(image, name, out) {
        Ok(n) => {
            println!("{out}: {n} tasks renamed to {name}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("set_comm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn set_comm(image: &str, name: &str, out: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let file = File::open(image).map_err(|e| format!("{image}: {e}"))?;
    let (reader, detection) =
        detect::open(file, None, None).map_err(|e| format!("{image}: {e}"))?;
    let format = Format::shared(detection.schema, detection.arch);
    let mut edit = SetComm {
        name: name.to_string(),
    };
    let sink = BufWriter::new(File::create(out).map_err(|e| format!("{out}: {e}"))?);
    let summary = run(
        reader,
        format,
        &mut [&mut edit],
        sink,
        &RunOptions::default(),
        None,
    )?;
    Ok(summary.ledger.count(Action::Supplied) as u64)
}
