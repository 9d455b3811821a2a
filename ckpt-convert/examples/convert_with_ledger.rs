//! Convert an image to another revision and print its ledger: every value the
//! conversion renumbered, defaulted, rewrote, inserted, removed, moved or dropped.
//!
//! ```sh
//! cargo run -p ckpt-convert --example convert_with_ledger -- IMAGE REVISION OUT
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use ckpt_convert::{Options, TaskPaths, convert};
use ckpt_format::{Registry, detect};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, revision, out] = args.as_slice() else {
        eprintln!("usage: convert_with_ledger IMAGE REVISION OUT");
        return ExitCode::from(2);
    };
    match run(image, revision, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convert_with_ledger: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(image: &str, revision: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let to = Registry::get().find(revision)?;
    let file = File::open(image).map_err(|e| format!("{image}: {e}"))?;
    let (reader, detection) =
        detect::open(file, None, None).map_err(|e| format!("{image}: {e}"))?;
    // Directories for the FS objects an older image lacks (used only when needed).
    let opts = Options {
        cwd: TaskPaths::all("/"),
        root: TaskPaths::all("/"),
        ..Options::default()
    };
    let sink = BufWriter::new(File::create(out).map_err(|e| format!("{out}: {e}"))?);
    let summary = convert(reader, to, &opts, sink)?;
    println!(
        "{image} ({}) -> {out} ({}), kernel {}, steps {}",
        detection.schema.id,
        summary.to,
        summary.kernel,
        summary.path.join(" -> ")
    );
    for e in &summary.ledger.entries {
        let show = |v: &Option<ckpt_format::value::Value>| {
            v.as_ref()
                .map_or_else(|| "-".to_string(), |v| v.to_string())
        };
        println!(
            "record #{} {} {}: {} {} -> {}{}",
            e.record_index,
            e.record,
            e.field,
            e.action,
            show(&e.old),
            show(&e.new),
            e.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    println!(
        "{} records in, {} out, {} changed",
        summary.records_in, summary.records_out, summary.records_changed
    );
    Ok(())
}
