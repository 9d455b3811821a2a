//! A container read as a stream (a pipe, standard input): its prefix first, which gives
//! the image's length; then the image, as a reader that ends where the image ends; then,
//! once the image has been read, the sections and the footer ([`StreamTail::finish`]).
//! On a pipe the annotations are known only after the image. Memory does not grow with
//! the image: the image is never held, and a section is bounded by [`MAX_SECTION`].
//!
//! ```
//! use ckpt_format::container::{Annotations, StreamedImage, write};
//! use ckpt_format::Endian;
//! use std::io::Read;
//!
//! let notes = Annotations { notes: vec![("site".into(), "lab".into())], ..Default::default() };
//! let mut c = Vec::new();
//! write(&mut c, Endian::Big, &mut &b"the image"[..], 9, &notes).unwrap();
//! let (mut image, tail) = StreamedImage::open(&c[..]).unwrap();
//! let mut plain = Vec::new();
//! image.read_to_end(&mut plain).unwrap();
//! assert_eq!(plain, b"the image");
//! assert_eq!(tail.finish().unwrap().annotations, notes);
//! ```

use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    ContainerError, ContainerInfo, FLAG_SEALED, PREFIX_LEN, Prefix, bad, check_lengths,
    check_version_and_flags, empty_info, order_of, read_part, read_sections,
};
use crate::arch::Endian;

/// What the image reader and the tail share: the stream, and where it is.
struct Shared<R> {
    inner: R,
    prefix: Prefix,
    /// What the prefix says (no annotations yet).
    info: ContainerInfo,
    /// Bytes of the image not read yet.
    left: u64,
    /// The tail, once read (or why it could not be).
    tail: Option<Result<ContainerInfo, (u64, String)>>,
}

/// The plain image inside a container given as a stream: reads end where the image
/// ends. See the module documentation.
pub struct StreamedImage<R> {
    shared: Arc<Mutex<Shared<R>>>,
}

/// The sections after the image of a [`StreamedImage`], read once the image has been.
pub struct StreamTail<R> {
    shared: Arc<Mutex<Shared<R>>>,
}

fn lock<R>(m: &Mutex<Shared<R>>) -> MutexGuard<'_, Shared<R>> {
    // A panic elsewhere while holding the lock leaves the state as consistent as any
    // interrupted read does.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R: Read> StreamedImage<R> {
    /// Reads the prefix of the container `r` is at the start of (checked as
    /// [`super::read_info`] checks it, but for the file's size, which a stream does not
    /// have) and returns the image, positioned at its first byte, and its tail.
    pub fn open(mut r: R) -> Result<(StreamedImage<R>, StreamTail<R>), ContainerError> {
        let (p, endian, total) = read_prefix(&mut r)?;
        if p.flags & FLAG_SEALED != 0 {
            return Err(ContainerError::Sealed);
        }
        let gap = p.image_offset - PREFIX_LEN;
        let skipped = io::copy(&mut (&mut r).take(gap), &mut io::sink())?;
        if skipped != gap {
            return Err(bad(
                PREFIX_LEN + skipped,
                "the container is cut short before its image",
            ));
        }
        let info = empty_info(&p, endian, total);
        let shared = Arc::new(Mutex::new(Shared {
            inner: r,
            left: p.image_len,
            prefix: p,
            info,
            tail: None,
        }));
        Ok((
            StreamedImage {
                shared: shared.clone(),
            },
            StreamTail { shared },
        ))
    }
}

/// Reads the prefix of the container a stream starts with, checked as
/// [`super::read_info`] checks it but for the file's size (a stream has none): returns it,
/// the byte order, and the container's total length. Leaves `r` just after the prefix.
pub fn read_prefix<R: Read>(r: &mut R) -> Result<(Prefix, Endian, u64), ContainerError> {
    let head = crate::read::read_up_to(r, PREFIX_LEN as usize)?;
    let got = head.len();
    if got < 10 {
        return Err(bad(0, "not a ckpt container: shorter than its prefix"));
    }
    let endian = order_of(&head)?;
    if got < PREFIX_LEN as usize {
        return Err(bad(
            got as u64,
            format!("the container is cut short: {got} bytes, less than its prefix"),
        ));
    }
    let p: Prefix = read_part(&mut Cursor::new(&head[..]), endian, "prefix")?;
    check_version_and_flags((p.major, p.minor, p.patch), p.flags)?;
    let total = check_lengths(&p)?;
    Ok((p, endian, total))
}

/// Reads the sections and the footer after the image region of the container whose
/// prefix is `p`, from `r` positioned where that region ends: the container as
/// [`super::read_info`] gives it (without its leading sections). Needs no seek; every
/// length is checked before anything is allocated. For a sealed container's verifier,
/// which reads the frames itself.
pub fn read_tail_after_image<R: Read>(
    r: &mut R,
    p: &Prefix,
    endian: Endian,
    total: u64,
) -> Result<ContainerInfo, ContainerError> {
    let mut info = empty_info(p, endian, total);
    read_sections(r, p.image_offset + p.image_len, p, endian, &mut info)?;
    Ok(info)
}

impl<R: Read> Read for StreamedImage<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = lock(&self.shared);
        let n = (buf.len() as u64).min(s.left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let k = s.inner.read(&mut buf[..n])?;
        if k == 0 {
            let read = s.info.image_len - s.left;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the container is cut short inside its image (after {read} of its {} bytes)",
                    s.info.image_len
                ),
            ));
        }
        s.left -= k as u64;
        Ok(k)
    }
}

impl<R: Read> crate::input::Input for StreamedImage<R> {}

impl<R: Read> StreamTail<R> {
    /// What the prefix says: the byte order, version, flags and lengths; no annotations
    /// yet (they follow the image).
    pub fn prefix(&self) -> ContainerInfo {
        lock(&self.shared).info.clone()
    }

    /// Bytes of the image not read yet.
    pub fn image_left(&self) -> u64 {
        lock(&self.shared).left
    }

    /// Reads the sections and the footer after the image: the whole container, as
    /// [`super::read_info`] gives it. Call it once the image has been read: bytes of the
    /// image not read yet are read and dropped first. Read once; later calls give the
    /// same answer.
    pub fn finish(&self) -> Result<ContainerInfo, ContainerError> {
        let mut guard = lock(&self.shared);
        let s = &mut *guard;
        if s.tail.is_none() {
            s.tail = Some(read_tail(s).map_err(|e| match e {
                ContainerError::Bad { offset, what } => (offset, what),
                ContainerError::Io(e) => (0, format!("cannot read the container: {e}")),
                e @ ContainerError::Sealed => (0, e.to_string()),
            }));
        }
        match s.tail.as_ref() {
            Some(Ok(info)) => Ok(info.clone()),
            Some(Err((offset, what))) => Err(bad(*offset, what.clone())),
            None => unreachable!("the tail was just read"),
        }
    }
}

fn read_tail<R: Read>(s: &mut Shared<R>) -> Result<ContainerInfo, ContainerError> {
    let image_end = s.prefix.image_offset + s.prefix.image_len;
    let dropped = io::copy(&mut (&mut s.inner).take(s.left), &mut io::sink())?;
    s.left -= dropped;
    if s.left != 0 {
        return Err(bad(
            image_end - s.left,
            "the container is cut short inside its image",
        ));
    }
    let mut info = s.info.clone();
    read_sections(&mut s.inner, image_end, &s.prefix, info.endian, &mut info)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Endian;
    use crate::container::{Annotations, write};

    fn container(endian: Endian, image: &[u8]) -> Vec<u8> {
        let a = Annotations {
            kernel_config_gz: Some(vec![0x1f, 0x8b, 8]),
            notes: vec![("site".into(), "lab=2".into())],
            unknown: vec![(77, b"later".to_vec())],
            ..Annotations::default()
        };
        let mut c = Vec::new();
        write(&mut c, endian, &mut &image[..], image.len() as u64, &a).unwrap();
        c
    }

    /// A reader that gives at most 3 bytes a call, as a slow pipe does.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_stream_reads_as_the_file_does_in_both_byte_orders() {
        let image: Vec<u8> = (0..3000u32).map(|k| (k * 7) as u8).collect();
        for endian in [Endian::Little, Endian::Big] {
            let c = container(endian, &image);
            let file = crate::container::read_info(&mut Cursor::new(&c)).unwrap();
            let (mut img, tail) = StreamedImage::open(Trickle(&c)).unwrap();
            assert_eq!(tail.prefix().image_len, 3000);
            assert!(tail.prefix().annotations.notes.is_empty());
            let mut plain = Vec::new();
            img.read_to_end(&mut plain).unwrap();
            assert_eq!(plain, image);
            assert_eq!(tail.image_left(), 0);
            assert_eq!(tail.finish().unwrap(), file);
            assert_eq!(tail.finish().unwrap(), file, "read once, answered twice");
        }
    }

    #[test]
    fn the_tail_skips_what_the_reader_left_of_the_image() {
        let c = container(Endian::Little, &[5u8; 100]);
        let (mut img, tail) = StreamedImage::open(&c[..]).unwrap();
        let mut b = [0u8; 10];
        img.read_exact(&mut b).unwrap();
        assert_eq!(tail.finish().unwrap().annotations.unknown_keys(), vec![77]);
    }

    #[test]
    fn a_stream_cut_short_anywhere_is_an_error_naming_where() {
        let c = container(Endian::Little, &[5u8; 100]);
        for cut in [0, 5, 40, 64, 120, 164, 170, c.len() - 1] {
            let r = StreamedImage::open(&c[..cut]);
            let e = match r {
                Err(e) => e.to_string(),
                Ok((mut img, tail)) => {
                    let mut v = Vec::new();
                    match img.read_to_end(&mut v) {
                        Err(e) => {
                            assert!(e.to_string().contains("cut short inside its image"), "{e}");
                            continue;
                        }
                        Ok(_) => tail.finish().unwrap_err().to_string(),
                    }
                }
            };
            assert!(
                e.contains("cut short") || e.contains("shorter than its prefix"),
                "cut at {cut}: {e}"
            );
            assert!(e.contains("offset") || cut < 10, "cut at {cut}: {e}");
        }
        let e = StreamedImage::open(&b"not a container, a longer text"[..])
            .err()
            .unwrap();
        assert!(e.to_string().contains("no CKPT+ANN magic"), "{e}");
    }
}
