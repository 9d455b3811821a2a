//! Opening images and outputs; mapping errors to exit codes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_format::Reader;
use ckpt_format::container::ImageInContainer;
use ckpt_format::detect::{self, Detection, Evidence};
use ckpt_format::input::Input;
use ckpt_format::write::{Sink, copy_between_files};
use std::os::fd::{AsFd, BorrowedFd};

mod annotated;
use annotated::stdin_source;
pub use annotated::{Kept, Spool, container_of, kept_annotations, spool_stdin_container};

/// A boxed image source (a file or standard input).
pub type Source = Box<dyn Input>;

/// Opens `path` (`-` for standard input) and detects its revision, or uses `rev`.
///
/// A file is scanned whole first (payloads skipped by seeking) so that detection sees
/// every record; standard input is detected from its first MiB.
pub fn open_image(path: &str, rev: Option<&str>) -> Result<(Reader<Source>, Detection)> {
    open_image_as(path, rev, None)
}

/// [`open_image`], reading the image as `prefer` (a command's target revision) when that
/// revision reads it identically to the one detected.
pub fn open_image_as(
    path: &str,
    rev: Option<&str>,
    prefer: Option<&ckpt_format::Schema>,
) -> Result<(Reader<Source>, Detection)> {
    if let Some(r) = rev {
        ckpt_format::Registry::get()
            .find(r)
            .map_err(|e| UsageError(format!("--rev: {e}")))?;
    }
    let named = || InFile::new(path);
    if path == "-" {
        let src = stdin_source().context(named())?;
        let (r, d) = detect::open_preferring(src, rev, None, prefer).context(named())?;
        return Ok((r, d));
    }
    if container_of(path)?.is_some() {
        // The plain image inside ckpt's container (schemas/container.md).
        let open = || -> Result<ImageInContainer> {
            let f = File::open(path).context("cannot open").context(named())?;
            Ok(ImageInContainer::open(f)
                .context("cannot read the container")
                .context(named())?
                .0)
        };
        let ev = Evidence::scan(&mut open()?)
            .context("cannot identify the image in the container")
            .context(named())?;
        let (r, d) = detect::open_preferring(Box::new(open()?) as Source, rev, Some(ev), prefer)
            .context(named())?;
        return Ok((r, d));
    }
    let mut f = File::open(path).context("cannot open").context(named())?;
    let ev = Evidence::scan(&mut f)
        .context("cannot identify the image")
        .context(named())?;
    let f = File::open(path).context("cannot open").context(named())?;
    let (r, d) =
        detect::open_preferring(Box::new(f) as Source, rev, Some(ev), prefer).context(named())?;
    Ok((r, d))
}

/// The plain image inside the sealed container `path` (a file), with its seal: read
/// through the seal, verified, when `key` is given (the caller has verified the whole
/// container first: `check --require-seal`), else read **without verifying** it, only to
/// describe it (`info`). Every other reader refuses a sealed image, naming `ckpt unseal`.
pub fn open_sealed(
    path: &str,
    rev: Option<&str>,
    prefer: Option<&ckpt_format::Schema>,
    key: Option<&ckpt_seal::VerifyingKey<'_>>,
) -> Result<(Reader<Source>, Detection, ckpt_seal::SealInfo)> {
    let named = || InFile::new(path);
    let open = || -> Result<(Source, ckpt_seal::SealInfo)> {
        let f = File::open(path).context("cannot open").context(named())?;
        let f = io::BufReader::with_capacity(1 << 20, f);
        let opened = match key {
            Some(k) => ckpt_seal::Unsealer::new(f, k, ckpt_seal::VerifyOptions::default())
                .map(|u| (u.seal().clone(), Box::new(u) as Source)),
            None => ckpt_seal::Unframed::open(f).map(|(u, s)| (s, Box::new(u) as Source)),
        };
        let (seal, src) = opened
            .map_err(crate::sealing::seal_error)
            .context(named())?;
        Ok((src, seal))
    };
    let (mut scan, seal) = open()?;
    let ev = Evidence::scan(&mut scan)
        .context("cannot identify the sealed image")
        .context(named())?;
    let (src, _) = open()?;
    let (r, d) = detect::open_preferring(src, rev, Some(ev), prefer).context(named())?;
    Ok((r, d, seal))
}

/// The image an error is about: a context in the error chain, printed as its path
/// (`standard input` for `-`) and given as `file` in `--json` errors.
#[derive(Debug, Clone)]
pub struct InFile(pub String);

impl InFile {
    /// The image at `path` (`-`: standard input).
    pub fn new(path: &str) -> InFile {
        InFile(if path == "-" {
            "standard input".into()
        } else {
            path.to_string()
        })
    }
}

impl std::fmt::Display for InFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Advice about an error, printed after it on a line of its own (`hint: ...`).
#[derive(Debug, Clone)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names the image `path` in an error found while reading it, and adds how the revision
/// was chosen when another revision could explain the error: the revision was guessed
/// from the start of the image only (a pipe, or a file cut short), other revisions fit
/// that start, and the error is one of the image's structure (not its end, not I/O).
pub fn with_detection(e: anyhow::Error, det: &Detection, path: &str) -> anyhow::Error {
    let structural = e.chain().any(|c| {
        c.downcast_ref::<ckpt_format::Error>().is_some_and(|x| {
            use ckpt_format::ErrorKind as K;
            matches!(
                x.kind(),
                K::Grammar(_) | K::BadLength { .. } | K::UnknownRecord { .. } | K::Layout(_)
            )
        })
    });
    let named = e.downcast_ref::<InFile>().is_some();
    let e = if named {
        e
    } else {
        e.context(InFile::new(path))
    };
    if det.forced || det.whole_image || !structural {
        return e;
    }
    let mut how = format!(
        "the revision was guessed as {} from the start of the image",
        det.schema.id
    );
    if !det.also.is_empty() {
        let also: Vec<&str> = det.also.iter().map(|s| s.id.as_str()).collect();
        how.push_str(&format!(" (it also fits {})", also.join(", ")));
    }
    how.push_str("; if the image is of another revision, name it with --rev");
    e.context(Hint(how))
}

/// An error as the CLI reports it: the message (the chain, hints left out), the hints,
/// and where it happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The error and its causes, joined by `: `.
    pub message: String,
    /// The image concerned, if any.
    pub file: Option<String>,
    /// The byte offset in that image.
    pub offset: Option<u64>,
    /// The index of the record concerned (0 = HEADER).
    pub record_index: Option<u64>,
    /// The record's type name (or number, when the revision has no name for it).
    pub record_type: Option<String>,
    /// Advice, printed after the message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

impl Report {
    /// The report of `e`.
    pub fn of(e: &anyhow::Error) -> Report {
        let mut parts: Vec<String> = Vec::new();
        let hints: Vec<String> = e
            .downcast_ref::<Hint>()
            .map(|h| h.0.clone())
            .into_iter()
            .collect();
        let file = e.downcast_ref::<InFile>().map(|f| f.0.clone());
        let mut at = None;
        for c in e.chain() {
            let text = c.to_string();
            if hints.contains(&text) {
                continue;
            }
            if let Some(x) = c.downcast_ref::<ckpt_format::Error>()
                && !matches!(x.kind(), ckpt_format::ErrorKind::Detect(_))
            {
                at.get_or_insert_with(|| x.position().clone());
            }
            // A wrapper that repeats its cause's text (`#[error(transparent)]`) adds nothing.
            if parts.last() != Some(&text) {
                parts.push(text);
            }
        }
        Report {
            message: parts.join(": "),
            file,
            offset: at.as_ref().map(|p| p.offset),
            record_index: at.as_ref().and_then(|p| p.record),
            record_type: at.as_ref().and_then(|p| {
                p.rtype
                    .map(|(t, name)| name.map_or_else(|| t.to_string(), str::to_string))
            }),
            hints,
        }
    }
}

/// Refuses an output that is the input itself (it would be replaced while being read).
pub fn refuse_same_file(input: &str, output: &Path) -> Result<()> {
    if input == "-" || output == Path::new("-") {
        return Ok(());
    }
    let (Ok(a), Ok(b)) = (std::fs::canonicalize(input), std::fs::canonicalize(output)) else {
        return Ok(());
    };
    if a == b {
        return Err(UsageError(format!(
            "the output {} is the input; write to another file",
            output.display()
        ))
        .into());
    }
    Ok(())
}

/// Refuses two outputs that would land in one place: both standard output (`-o -` and
/// `--report -`: the report would be appended to the image), or one file named twice
/// (the second rename would replace the first output). `outputs` are the options with
/// their values.
pub fn refuse_colliding_outputs(outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, (a, pa)) in outputs.iter().enumerate() {
        for (b, pb) in &outputs[i + 1..] {
            let stdout = |p: &Path| p == Path::new("-");
            if stdout(pa) && stdout(pb) {
                return Err(UsageError(format!(
                    "{a} - and {b} - both write to standard output; give one of them a file"
                ))
                .into());
            }
            if !stdout(pa) && !stdout(pb) && same_place(pa, pb) {
                return Err(UsageError(format!(
                    "{a} and {b} both name {}; give them different files",
                    pb.display()
                ))
                .into());
            }
        }
    }
    Ok(())
}

/// Whether two output paths name one file, existing or not (their folders resolved).
fn same_place(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = std::fs::canonicalize(p) {
            return Some(c);
        }
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).ok()?;
        Some(dir.join(p.file_name()?))
    };
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// Suffix of the temporary file an output is written to before it is renamed into place.
pub const TEMP_SUFFIX: &str = ".ckpt-tmp";

/// Random characters in a temporary file's name.
const TEMP_RANDOM: usize = 6;

/// An output: standard output, a file that appears (by rename) only when complete, or a
/// device or FIFO, written in place.
pub enum Output {
    /// Standard output, as a plain file of fd 1: `io::Stdout` is line-buffered, which cuts
    /// page data at every newline byte into odd-sized writes.
    Stdout(BufWriter<File>),
    /// A temporary file beside the destination, registered for removal on a signal
    /// (declared after the file, the registration ends after the file is removed).
    File(
        BufWriter<tempfile::NamedTempFile>,
        PathBuf,
        crate::interrupt::Registered,
    ),
    /// A destination that is not a regular file (`/dev/null`, a FIFO): it cannot be
    /// replaced by a rename, and is written directly.
    Special(BufWriter<File>, PathBuf),
}

impl Output {
    /// Opens `path` (`-` for standard output).
    ///
    /// A file is written to `.NAME.PID.XXXXXX.ckpt-tmp` beside it (beside the file a
    /// symbolic link points to) and renamed into place by [`Output::commit`]; dropped
    /// uncommitted, the temporary is removed. A run killed meanwhile leaves its temporary,
    /// which the next run writing the same `path` removes (see `remove_leftovers`).
    pub fn create(path: &Path) -> Result<Output> {
        if path == Path::new("-") {
            let fd = io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("standard output")?;
            return Ok(Output::Stdout(BufWriter::with_capacity(
                1 << 16,
                File::from(fd),
            )));
        }
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            let f =
                File::create(path).with_context(|| format!("cannot open {}", path.display()))?;
            return Ok(Output::Special(
                BufWriter::with_capacity(1 << 16, f),
                path.to_path_buf(),
            ));
        }
        // Through a symbolic link, the file it points to is replaced, not the link.
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        remove_leftovers(dir, &name);
        let (tmp, registered) = crate::interrupt::register(|| {
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}.{}.", std::process::id()))
                .rand_bytes(TEMP_RANDOM)
                .suffix(TEMP_SUFFIX)
                // Created 0666 less the umask, like any new file (not tempfile's 0600).
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .tempfile_in(dir)?;
            let path = tmp.path().to_path_buf();
            Ok((tmp, path))
        })
        .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Output::File(
            BufWriter::with_capacity(1 << 16, tmp),
            target,
            registered,
        ))
    }

    /// Opens `path` for an image (binary data): like [`Output::create`], but a terminal is
    /// refused (exit 2) unless `force`, as zstd and gzip do.
    pub fn create_image(path: &Path, force: bool) -> Result<Output> {
        let out = Output::create(path)?;
        if out.is_terminal() && !force {
            let what = if path == Path::new("-") {
                "standard output".to_string()
            } else {
                path.display().to_string()
            };
            return Err(UsageError(format!(
                "refusing to write a binary image to a terminal ({what}); redirect it to a \
                 file or a pipe, or add --force"
            ))
            .into());
        }
        Ok(out)
    }

    /// The temporary file of a regular file's output, flushed, to write at chosen offsets
    /// (a sealer writes its frames so); None for standard output, a device or a FIFO.
    pub fn seekable(&mut self) -> Result<Option<&mut File>> {
        match self {
            Output::File(w, path, _) => {
                w.flush()
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(Some(w.get_mut().as_file_mut()))
            }
            _ => Ok(None),
        }
    }

    /// The file written to (the temporary one for a regular file).
    fn file(&self) -> &File {
        match self {
            Output::Stdout(w) | Output::Special(w, _) => w.get_ref(),
            Output::File(w, _, _) => w.get_ref().as_file(),
        }
    }

    /// Whether the output is a terminal.
    pub fn is_terminal(&self) -> bool {
        std::io::IsTerminal::is_terminal(self.file())
    }

    /// Whether the output goes where a progress bar on standard error would draw: a
    /// terminal, or the file standard error is.
    pub fn shares_the_screen(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let stderr = io::stderr().as_fd().try_clone_to_owned().map(File::from);
        let same = match (self.file().metadata(), stderr.and_then(|f| f.metadata())) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        same || self.is_terminal()
    }

    /// Makes the output final: flushes, and renames a file into place.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().context("writing standard output"),
            Output::Special(mut w, path) => w
                .flush()
                .with_context(|| format!("writing {}", path.display())),
            Output::File(w, path, registered) => {
                let tmp = w
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("writing {}", path.display()))?;
                tmp.as_file()
                    .sync_all()
                    .with_context(|| format!("writing {}", path.display()))?;
                // A failed rename drops (removes) the temporary while still registered.
                registered
                    .finish(|| tmp.persist(&path).map_err(|e| e.error))
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Ok(())
            }
        }
    }
}

/// Removes the temporary files that killed runs writing `dir/name` left: those named
/// `.NAME.PID.XXXXXX.ckpt-tmp` whose process PID is gone. A temporary of a run still
/// going (PID in `/proc`) is left alone, and so is every other file; where `/proc` is not
/// mounted, every temporary named for `name` is removed. Best effort: a leftover that
/// cannot be removed stays and does not stop the run.
fn remove_leftovers(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    let proc = Path::new("/proc");
    let proc_mounted = proc.join("self").exists();
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(mid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        let Some((pid, random)) = mid.split_once('.') else {
            continue;
        };
        let ours = !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && random.len() == TEMP_RANDOM
            && random.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ours || (proc_mounted && proc.join(pid).exists()) {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An error of writing `what`, naming it, of the same kind (a closed pipe stays one).
fn writing(e: io::Error, what: &dyn std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("writing {what}: {e}"))
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf).map_err(|e| writing(e, &"standard output")),
            Output::File(w, p, _) => w.write(buf).map_err(|e| writing(e, &p.display())),
            Output::Special(w, p) => w.write(buf).map_err(|e| writing(e, &p.display())),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush().map_err(|e| writing(e, &"standard output")),
            Output::File(w, p, _) => w.flush().map_err(|e| writing(e, &p.display())),
            Output::Special(w, p) => w.flush().map_err(|e| writing(e, &p.display())),
        }
    }
}

impl Sink for Output {
    fn copy_from_file(&mut self, src: BorrowedFd<'_>, len: u64) -> io::Result<u64> {
        match self {
            Output::Stdout(w) => w
                .copy_from_file(src, len)
                .map_err(|e| writing(e, &"standard output")),
            Output::File(w, p, _) => w
                .flush()
                .and_then(|()| copy_between_files(src, w.get_ref().as_file().as_fd(), len))
                .map_err(|e| writing(e, &p.display())),
            Output::Special(w, p) => w
                .copy_from_file(src, len)
                .map_err(|e| writing(e, &p.display())),
        }
    }
}

fn io_errors(e: &anyhow::Error) -> impl Iterator<Item = &io::Error> {
    e.chain().filter_map(|c| {
        c.downcast_ref::<io::Error>()
            .or_else(|| match c.downcast_ref::<ckpt_format::Error>() {
                Some(ce) => match ce.kind() {
                    ckpt_format::ErrorKind::Io(io) => Some(io),
                    _ => None,
                },
                None => None,
            })
    })
}

/// Kinds of the I/O errors in the chain (serde_json wraps its own).
fn io_kinds(e: &anyhow::Error) -> Vec<io::ErrorKind> {
    let mut kinds: Vec<io::ErrorKind> = io_errors(e).map(io::Error::kind).collect();
    kinds.extend(
        e.chain()
            .filter_map(|c| c.downcast_ref::<serde_json::Error>()?.io_error_kind()),
    );
    kinds
}

/// True when the error is a closed pipe on output.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    io_kinds(e).contains(&io::ErrorKind::BrokenPipe)
}

/// The exit code of an error: 3 for I/O, 1 for everything the image is to blame for.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
        crate::EXIT_USAGE
    } else if !io_kinds(e).is_empty() {
        crate::EXIT_IO
    } else {
        crate::EXIT_NO
    }
}

/// A usage error found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_land_in_one_place_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.ckpt");
        let b = dir.path().join("b.json");
        let (a, b) = (a.as_path(), b.as_path());
        let stdout = Path::new("-");
        let refused = |outputs: &[(&str, &Path)]| {
            let e = refuse_colliding_outputs(outputs).unwrap_err();
            assert_eq!(exit_code(&e), crate::EXIT_USAGE, "{e}");
            e.to_string()
        };
        let both = refused(&[("-o", stdout), ("--report", stdout)]);
        assert!(both.contains("both write to standard output"), "{both}");
        assert!(refused(&[("-o", a), ("--report", a)]).contains("both name"));
        // The same file by another spelling, before it exists.
        let dotted = dir.path().join(".").join("a.ckpt");
        refused(&[("-o", a), ("--report", &dotted)]);
        for fine in [
            [("-o", a), ("--report", b)],
            [("-o", stdout), ("--report", b)],
        ] {
            refuse_colliding_outputs(&fine).unwrap();
        }
        refuse_colliding_outputs(&[("-o", a), ("--report", stdout)]).unwrap();
    }
}
