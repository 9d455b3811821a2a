//! ckpt's container around an image (schemas/container.md) as the commands meet it:
//! from a file, or on standard input (the image streams, the sections follow it), and
//! around an output ([`Spool`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use ckpt_format::container::{self, ContainerInfo};
use ckpt_format::input::Input;

use super::{InFile, Output, Source};

/// Standard input as it is read: the bytes read to tell a container from a plain image,
/// then the rest.
type StdinStream = io::Chain<io::Cursor<Vec<u8>>, io::Stdin>;

/// A plain image on standard input.
struct Piped(StdinStream);

impl io::Read for Piped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Input for Piped {}

/// The tail of the container standard input is, when [`super::open_image`] found one there.
static STDIN_CONTAINER: std::sync::Mutex<Option<container::StreamTail<StdinStream>>> =
    std::sync::Mutex::new(None);

fn stdin_tail() -> std::sync::MutexGuard<'static, Option<container::StreamTail<StdinStream>>> {
    STDIN_CONTAINER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Standard input as an image source: a container's image streams through a bounded
/// reader (its tail is read once the image has been: [`container_of`]), a plain image
/// as it comes.
pub(super) fn stdin_source() -> Result<Source> {
    use std::io::Read;
    if let Some(s) = PEEKED.take() {
        return Ok(s);
    }
    let mut head = vec![0u8; container::MAGIC.len()];
    let mut got = 0;
    while got < head.len() {
        match io::stdin().read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow::Error::new(e).context("cannot read")),
        }
    }
    head.truncate(got);
    let is_container = container::is_container(&head);
    let stream = io::Cursor::new(head).chain(io::stdin());
    if !is_container {
        return Ok(Box::new(Piped(stream)));
    }
    let (image, tail) =
        container::StreamedImage::open(stream).context("cannot read the container")?;
    *stdin_tail() = Some(tail);
    Ok(Box::new(image))
}

thread_local! {
    /// Standard input as [`spool_stdin_container`] left it: a plain image, its first
    /// bytes read to tell it from a container.
    static PEEKED: std::cell::RefCell<Option<Source>> = const { std::cell::RefCell::new(None) };
}

/// Standard input, when it holds a container, copied to a temporary file (removed on an
/// interrupt) with the container's annotations (read after the image): for a command
/// that needs them before it reads the image. Memory does not grow with the image.
/// None for a plain image, which [`super::open_image`] then reads from standard input as ever.
pub fn spool_stdin_container() -> Result<
    Option<(
        tempfile::NamedTempFile,
        crate::interrupt::Registered,
        ContainerInfo,
    )>,
> {
    let named = || InFile::new("-");
    let mut src = stdin_source().context(named())?;
    if stdin_container().is_none() {
        PEEKED.set(Some(src));
        return Ok(None);
    }
    let (mut f, registered) = crate::interrupt::register(|| {
        let f = tempfile::NamedTempFile::new()?;
        let p = f.path().to_path_buf();
        Ok((f, p))
    })
    .context("cannot create a temporary file for standard input")?;
    io::copy(&mut src, f.as_file_mut())
        .context("cannot copy the image to a temporary file")
        .context(named())?;
    drop(src);
    let info = container_of("-")?.context("standard input: the container went away")?;
    Ok(Some((f, registered, info)))
}

/// What the prefix of the container on standard input says (no annotations: they
/// follow the image), when [`super::open_image`] found a container there.
pub fn stdin_container() -> Option<ContainerInfo> {
    stdin_tail().as_ref().map(container::StreamTail::prefix)
}

/// The container `path` is, when it is one of ckpt's containers (a plain image plus
/// ckpt's additions, schemas/container.md); None for a plain image. For `-`, the
/// container standard input was opened as by [`super::open_image`], its sections read
/// after the image: call it once the reader is done (what it left of the image, such as
/// the rest of a failed checkpoint, is skipped); None before standard input is opened.
pub fn container_of(path: &str) -> Result<Option<ContainerInfo>> {
    if path == "-" {
        let tail = stdin_tail();
        let Some(t) = tail.as_ref() else {
            return Ok(None);
        };
        let info = t
            .finish()
            .context("cannot read the container")
            .context(InFile::new(path))?;
        return Ok(Some(info));
    }
    let named = || InFile::new(path);
    let mut f = File::open(path).context("cannot open").context(named())?;
    let mut head = [0u8; 8];
    let n = io::Read::read(&mut f, &mut head)
        .context("cannot read")
        .context(named())?;
    if !container::is_container(&head[..n]) {
        return Ok(None);
    }
    let info = container::read_info(&mut f)
        .context("cannot read the container")
        .context(named())?;
    Ok(Some(info))
}

/// The annotations a writer keeps around its output (`--keep-annotations`, `encode`).
pub enum Kept {
    /// Known now.
    Known(container::Annotations),
    /// Those of the container on standard input, known once its image has been read.
    OfStdin,
}

impl Kept {
    /// The annotations (for [`Kept::OfStdin`], read from standard input now).
    pub fn resolve(self) -> Result<container::Annotations> {
        match self {
            Kept::Known(a) => Ok(a),
            Kept::OfStdin => Ok(container_of("-")?
                .map(|c| c.annotations)
                .unwrap_or_default()),
        }
    }
}

/// A writer that writes a container writes its image into a spool file beside the
/// output, and [`Spool::finish`] writes the container around it (the image's length comes
/// first in the container's prefix, so the image cannot stream straight to a pipe).
pub struct Spool {
    file: File,
    annotations: Kept,
    envelope: container::Envelope,
}

impl Spool {
    /// A spool for an image to be written to `output` with `annotations` around it, in
    /// byte order `endian`.
    pub fn new(output: &Path, annotations: Kept, endian: ckpt_format::Endian) -> Result<Spool> {
        Spool::in_envelope(output, annotations, container::Envelope::new(endian))
    }

    /// [`Spool::new`] with the container's byte order, version and flags given.
    pub fn in_envelope(
        output: &Path,
        annotations: Kept,
        envelope: container::Envelope,
    ) -> Result<Spool> {
        let dir = output
            .parent()
            .filter(|d| output != Path::new("-") && !d.as_os_str().is_empty());
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .context("cannot create the spool file for the container")?;
        Ok(Spool {
            file,
            annotations,
            envelope,
        })
    }

    /// Where the image goes.
    pub fn sink(&mut self) -> &mut File {
        &mut self.file
    }

    /// Writes the container, the spooled image inside, to `out`.
    pub fn finish(self, out: &mut Output) -> Result<()> {
        self.finish_with(out, |_| Ok(()))
    }

    /// [`Spool::finish`], the annotations changed by `adjust` first.
    pub fn finish_with(
        mut self,
        out: &mut Output,
        adjust: impl FnOnce(&mut container::Annotations) -> Result<()>,
    ) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut a = self.annotations.resolve()?;
        adjust(&mut a)?;
        let len = self
            .file
            .stream_position()
            .context("cannot read the spool file")?;
        self.file
            .seek(SeekFrom::Start(0))
            .context("cannot read the spool file")?;
        container::write_in(out, &self.envelope, &mut (&self.file).take(len), len, &a)
            .context("writing the container")?;
        Ok(())
    }
}

/// The annotations `--keep-annotations` keeps: those of the container `image` is, or
/// none (with a warning naming `shown`) when it is a plain image. Call it after opening
/// `image`: a container on standard input is known by its prefix, its annotations come
/// later.
pub fn kept_annotations(keep: bool, image: &str, shown: &str) -> Result<Option<Kept>> {
    if !keep {
        return Ok(None);
    }
    if image == "-" && stdin_container().is_some() {
        return Ok(Some(Kept::OfStdin));
    }
    match container_of(image)? {
        Some(c) => Ok(Some(Kept::Known(c.annotations))),
        None => {
            // A closed standard error changes nothing.
            let _ = writeln!(
                io::stderr().lock(),
                "warning: --keep-annotations: {} carries no annotations; the output is a plain image",
                InFile::new(shown)
            );
            Ok(None)
        }
    }
}
