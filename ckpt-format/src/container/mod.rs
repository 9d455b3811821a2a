//! The ckpt container: a plain image, byte for byte, inside an envelope that carries
//! ckpt's additions (annotations now, seals later). `schemas/container.md` is the
//! specification and says why it is an envelope: no kernel or user-cr restart gets past
//! its first 8 bytes, and [`strip`] copies the plain image out without parsing it.
//!
//! ```
//! use ckpt_format::container::{Annotations, read_info, strip, write};
//! use ckpt_format::Endian;
//!
//! let image = b"...a plain image...".to_vec();
//! let notes = Annotations { notes: vec![("site".into(), "lab 2".into())], ..Default::default() };
//! let mut c = Vec::new();
//! write(&mut c, Endian::Little, &mut &image[..], image.len() as u64, &notes).unwrap();
//! let info = read_info(&mut std::io::Cursor::new(&c)).unwrap();
//! assert_eq!(info.annotations.notes, notes.notes);
//! let mut plain = Vec::new();
//! strip(&mut std::io::Cursor::new(&c), &mut plain).unwrap();
//! assert_eq!(plain, image);
//! ```
//!
//! The fixed parts are declared once with binrw derives ([`Prefix`], [`SectionHeader`],
//! [`EntryHeader`], [`Footer`]), in the image's byte order.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use binrw::{BinRead, BinWrite, binrw};

use crate::arch::Endian;

/// The first 8 bytes of a container.
pub const MAGIC: [u8; 8] = *b"CKPT+ANN";
/// The first 8 bytes of its footer.
pub const FOOTER_MAGIC: [u8; 8] = *b"CKPT-END";
/// The size of the prefix, and where the image starts in format 1.x.
pub const PREFIX_LEN: u64 = 64;
/// The size of the footer.
pub const FOOTER_LEN: u64 = 16;
/// The newest container format this code reads and writes: (major, minor, patch). 1.1
/// knows the sealed flag and the seal section before the image.
pub const VERSION: (u16, u16, u16) = (1, 1, 0);
/// The version a container without a seal is written in: it uses nothing of 1.1, so a
/// 1.0 reader reads it.
pub const PLAIN_VERSION: (u16, u16, u16) = (1, 0, 0);
/// Flag bit: the container holds annotations.
pub const FLAG_ANNOTATED: u32 = 1;
/// Flag bit (1.1): the container is sealed; a seal section comes before the image, and
/// the image region holds the sealed frames (`schemas/seal.md`), not the plain image.
pub const FLAG_SEALED: u32 = 2;
/// Flag bit, reserved: the image is encrypted (a later ckpt; this one refuses it).
pub const FLAG_ENCRYPTED: u32 = 4;
/// The flag bits format 1.1 knows (encrypted is reserved).
const KNOWN_FLAGS: u32 = FLAG_ANNOTATED | FLAG_SEALED;
/// Section kind: annotations.
pub const SECTION_ANNOTATIONS: u32 = 1;
/// Section kind (1.1): the seal, before the image (`schemas/seal.md`).
pub const SECTION_SEAL: u32 = 2;
/// Section kind, reserved: the encryption parameters, before the image.
pub const SECTION_ENCRYPTION: u32 = 3;
/// The most bytes of sections before the image (the gap between the prefix and
/// `image_offset`) a reader accepts.
pub const MAX_LEADING: u64 = 64 << 10;
/// The largest section ckpt reads into memory (a kernel config is at most a few hundred
/// KiB compressed).
pub const MAX_SECTION: u64 = 64 << 20;

/// The container's prefix (64 bytes).
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// 0x0102 in the image's byte order.
    pub order: u16,
    /// Format version, major.
    pub major: u16,
    /// Format version, minor.
    pub minor: u16,
    /// Format version, patch.
    pub patch: u16,
    /// [`FLAG_ANNOTATED`], and bits reserved for seals and encryption.
    pub flags: u32,
    /// Number of sections after the image.
    pub sections: u32,
    /// Where the image starts.
    pub image_offset: u64,
    /// Bytes of the plain image.
    pub image_len: u64,
    /// Bytes of all sections.
    pub sections_len: u64,
    /// Zero.
    pub reserved: [u8; 16],
}

/// The header of a section after the image.
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHeader {
    /// What the section is ([`SECTION_ANNOTATIONS`]).
    pub kind: u32,
    /// Zero in format 1.0.
    pub flags: u32,
    /// Bytes of its body.
    pub len: u64,
}

/// The header of one annotation entry.
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// What the entry is (1 kernel config, 2 linux-cr tag, 3 ckpt version, 4 annotation
    /// time, 5 note).
    pub key: u16,
    /// Zero.
    pub reserved: u16,
    /// Bytes of its value.
    pub len: u32,
}

/// The footer: [`FOOTER_MAGIC`] and the container's total length.
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// [`FOOTER_MAGIC`].
    pub magic: [u8; 8],
    /// Bytes of the whole container, footer included.
    pub total: u64,
}

/// What annotations say about an image (what it lacks: see `schemas/container.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// The source kernel's `.config`, gzip-compressed.
    pub kernel_config_gz: Option<Vec<u8>>,
    /// The linux-cr tag, when known (`ckpt-v23-rc2`).
    pub linux_cr_tag: Option<String>,
    /// The ckpt version that annotated.
    pub ckpt_version: Option<String>,
    /// When, in seconds since 1970-01-01 UTC.
    pub annotated_at: Option<u64>,
    /// Free notes, as KEY and VALUE.
    pub notes: Vec<(String, String)>,
    /// Entries this version does not know, as key and value (kept as read, written back
    /// after the known ones).
    pub unknown: Vec<(u16, Vec<u8>)>,
}

impl Annotations {
    /// The keys of [`Annotations::unknown`].
    pub fn unknown_keys(&self) -> Vec<u16> {
        self.unknown.iter().map(|(k, _)| *k).collect()
    }
}

/// How a container is framed around its image: the byte order, the format version and
/// the flags its prefix gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The image's byte order.
    pub endian: Endian,
    /// The container format version, (major, minor, patch).
    pub version: (u16, u16, u16),
    /// The prefix's flags ([`FLAG_ANNOTATED`]).
    pub flags: u32,
}

impl Envelope {
    /// The envelope this ckpt writes around a plain image: [`PLAIN_VERSION`], annotated.
    pub fn new(endian: Endian) -> Envelope {
        Envelope {
            endian,
            version: PLAIN_VERSION,
            flags: FLAG_ANNOTATED,
        }
    }

    /// Whether this ckpt can write it: major [`VERSION`], known flags only, not sealed
    /// ([`write_in`] writes a plain image; a seal is written by ckpt-seal).
    pub fn check(&self) -> Result<(), ContainerError> {
        check_version_and_flags(self.version, self.flags)?;
        if self.flags & FLAG_SEALED != 0 {
            return Err(ContainerError::Sealed);
        }
        Ok(())
    }
}

/// A container, as its prefix and sections describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The image's byte order.
    pub endian: Endian,
    /// The format version it was written in.
    pub version: (u16, u16, u16),
    /// Its flags.
    pub flags: u32,
    /// Where the plain image starts, and its length.
    pub image_offset: u64,
    /// Bytes of the plain image.
    pub image_len: u64,
    /// The annotations (empty when there are none).
    pub annotations: Annotations,
    /// Kinds of sections this version does not know (skipped).
    pub unknown_sections: Vec<u32>,
    /// Bytes of the whole container.
    pub total_len: u64,
    /// The sections before the image (a sealed container's seal), by kind, where their
    /// bodies start and their lengths; read but not decoded here (ckpt-seal decodes a
    /// seal).
    pub leading: Vec<LeadingSection>,
}

impl ContainerInfo {
    /// Whether the container is sealed ([`FLAG_SEALED`]).
    pub fn is_sealed(&self) -> bool {
        self.flags & FLAG_SEALED != 0
    }
}

/// Why a container could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The bytes are not what the format says they must be.
    #[error("{what} (at offset {offset:#x})")]
    Bad {
        /// Where.
        offset: u64,
        /// What was expected.
        what: String,
    },
    /// The container is sealed: its image region holds sealed frames, which only a seal's
    /// verifier reads (the plain image is given by `ckpt unseal`, never read unverified).
    #[error(
        "the container is sealed: its image is read through the seal, which `ckpt unseal` \
         verifies and gives the plain image of (`ckpt verify` checks it)"
    )]
    Sealed,
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn bad(offset: u64, what: impl Into<String>) -> ContainerError {
    ContainerError::Bad {
        offset,
        what: what.into(),
    }
}

fn binrw_endian(e: Endian) -> binrw::Endian {
    match e {
        Endian::Little => binrw::Endian::Little,
        Endian::Big => binrw::Endian::Big,
    }
}

fn from_binrw(e: binrw::Error, what: &str) -> ContainerError {
    match e {
        binrw::Error::Io(io) => ContainerError::Io(io),
        e => bad(0, format!("{what}: {e}")),
    }
}

/// Whether `head` (the first bytes of a file) starts a container.
pub fn is_container(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// Reads a fixed part at the reader's offset, mapping a short read to "cut short".
fn read_part<T, R>(r: &mut R, endian: Endian, what: &str) -> Result<T, ContainerError>
where
    T: for<'a> BinRead<Args<'a> = ()>,
    R: Read + Seek,
{
    let at = r.stream_position()?;
    T::read_options(r, binrw_endian(endian), ()).map_err(|e| match e {
        binrw::Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => bad(
            at,
            format!("the container is cut short: its {what} is incomplete"),
        ),
        e => from_binrw(e, what),
    })
}

fn to_bytes<T>(v: &T, endian: Endian) -> Vec<u8>
where
    T: for<'a> BinWrite<Args<'a> = ()>,
{
    let mut c = Cursor::new(Vec::new());
    v.write_options(&mut c, binrw_endian(endian), ())
        .expect("writing to memory does not fail");
    c.into_inner()
}

/// Reads the prefix, the sections and the footer of the container `r` (from its start).
/// Every length is checked against what holds it before anything is allocated.
pub fn read_info<R: Read + Seek>(r: &mut R) -> Result<ContainerInfo, ContainerError> {
    let size = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 10];
    r.read_exact(&mut head)
        .map_err(|_| bad(0, "not a ckpt container: shorter than its prefix"))?;
    let endian = order_of(&head)?;
    if size < PREFIX_LEN + FOOTER_LEN {
        return Err(bad(
            size,
            format!("the container is cut short: {size} bytes, less than its prefix and footer"),
        ));
    }
    r.seek(SeekFrom::Start(0))?;
    let p: Prefix = read_part(r, endian, "prefix")?;
    check_version_and_flags((p.major, p.minor, p.patch), p.flags)?;
    let total = check_lengths(&p)?;
    if total > size {
        return Err(bad(
            size,
            format!(
                "the container is cut short: its prefix says {total} bytes, the file has {size}"
            ),
        ));
    }
    let mut info = empty_info(&p, endian, total);
    if info.is_sealed() {
        r.seek(SeekFrom::Start(PREFIX_LEN))?;
        info.leading = read_leading(r, &p, endian)?;
    }
    let sections_at = p.image_offset + p.image_len;
    r.seek(SeekFrom::Start(sections_at))?;
    read_sections(r, sections_at, &p, endian, &mut info)?;
    Ok(info)
}

/// The byte order of the container whose first bytes (at least 10) are `head`.
fn order_of(head: &[u8]) -> Result<Endian, ContainerError> {
    if !is_container(head) {
        return Err(bad(0, "not a ckpt container: no CKPT+ANN magic"));
    }
    match head.get(8..10) {
        Some([0x02, 0x01]) => Ok(Endian::Little),
        Some([0x01, 0x02]) => Ok(Endian::Big),
        Some(o) => Err(bad(
            8,
            format!(
                "byte order mark {:02x} {:02x}, expected 02 01 or 01 02",
                o[0], o[1]
            ),
        )),
        None => Err(bad(0, "not a ckpt container: shorter than its prefix")),
    }
}

/// What the prefix `p` says, before the sections are read.
fn empty_info(p: &Prefix, endian: Endian, total: u64) -> ContainerInfo {
    ContainerInfo {
        endian,
        version: (p.major, p.minor, p.patch),
        flags: p.flags,
        image_offset: p.image_offset,
        image_len: p.image_len,
        annotations: Annotations::default(),
        unknown_sections: Vec::new(),
        total_len: total,
        leading: Vec::new(),
    }
}

/// Refuses a version or flags this ckpt does not read (schemas/container.md, Versions).
fn check_version_and_flags(version: (u16, u16, u16), flags: u32) -> Result<(), ContainerError> {
    let (major, minor, patch) = version;
    if major != VERSION.0 {
        return Err(bad(
            10,
            format!(
                "container format {major}.{minor}.{patch}, which this ckpt (format {}.x) does not read",
                VERSION.0
            ),
        ));
    }
    if flags & !KNOWN_FLAGS != 0 {
        return Err(bad(
            16,
            format!(
                "flags {flags:#x}: bits this ckpt does not know (encrypted images need a later ckpt)"
            ),
        ));
    }
    Ok(())
}

/// Checks the prefix's offsets and lengths; returns the container's total length.
fn check_lengths(p: &Prefix) -> Result<u64, ContainerError> {
    if p.image_offset < PREFIX_LEN {
        return Err(bad(
            24,
            format!("image offset {} inside the prefix", p.image_offset),
        ));
    }
    p.image_offset
        .checked_add(p.image_len)
        .and_then(|x| x.checked_add(p.sections_len))
        .and_then(|x| x.checked_add(FOOTER_LEN))
        .ok_or_else(|| bad(24, "lengths that overflow"))
}

/// Reads a fixed part from a reader that cannot seek, at offset `at` of the container.
/// `size` is its size in bytes (at most 64).
fn read_part_at<T, R>(
    r: &mut R,
    at: u64,
    size: usize,
    endian: Endian,
    what: &str,
) -> Result<T, ContainerError>
where
    T: for<'a> BinRead<Args<'a> = ()>,
    R: Read,
{
    let mut b = [0u8; 64];
    let n = size.min(64);
    r.read_exact(&mut b[..n]).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => bad(
            at,
            format!("the container is cut short: its {what} is incomplete"),
        ),
        _ => ContainerError::Io(e),
    })?;
    T::read_options(&mut Cursor::new(&b[..n]), binrw_endian(endian), ())
        .map_err(|e| from_binrw(e, what))
}

/// Reads the sections and the footer that follow the image, from `r` positioned at
/// offset `at` (where the image ends), into `info`; needs no seek, so that a pipe reads
/// them as a file does. Every length is checked before anything is allocated.
fn read_sections<R: Read>(
    r: &mut R,
    at: u64,
    p: &Prefix,
    endian: Endian,
    info: &mut ContainerInfo,
) -> Result<(), ContainerError> {
    let end = at + p.sections_len;
    let mut pos = at;
    for _ in 0..p.sections {
        let h: SectionHeader = read_part_at(r, pos, 16, endian, "section header")?;
        let body_at = pos + 16;
        if body_at > end || h.len > end - body_at {
            return Err(bad(
                pos,
                format!("a section of {} bytes, past the end of the sections", h.len),
            ));
        }
        if h.kind != SECTION_ANNOTATIONS {
            info.unknown_sections.push(h.kind);
            let n = io::copy(&mut r.take(h.len), &mut io::sink())?;
            if n != h.len {
                return Err(bad(
                    body_at + n,
                    "the container is cut short inside a section",
                ));
            }
            pos = body_at + h.len;
            continue;
        }
        if h.len > MAX_SECTION {
            return Err(bad(
                pos,
                format!(
                    "an annotation section of {} bytes (at most {MAX_SECTION})",
                    h.len
                ),
            ));
        }
        let mut body = vec![0u8; h.len as usize];
        r.read_exact(&mut body).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                bad(body_at, "the container is cut short inside a section")
            }
            _ => ContainerError::Io(e),
        })?;
        read_annotations(&body, body_at, endian, &mut info.annotations)?;
        pos = body_at + h.len;
    }
    if pos != end {
        return Err(bad(
            pos,
            format!("sections end here, but the prefix says they end at {end:#x}"),
        ));
    }
    let f: Footer = read_part_at(r, end, FOOTER_LEN as usize, endian, "footer")?;
    if f.magic != FOOTER_MAGIC || f.total != info.total_len {
        return Err(bad(
            end,
            format!(
                "a footer of CKPT-END and {} bytes was expected",
                info.total_len
            ),
        ));
    }
    Ok(())
}

fn text(v: &[u8], at: u64, what: &str) -> Result<String, ContainerError> {
    String::from_utf8(v.to_vec()).map_err(|_| bad(at, format!("the {what} is not UTF-8")))
}

fn read_annotations(
    body: &[u8],
    body_at: u64,
    endian: Endian,
    a: &mut Annotations,
) -> Result<(), ContainerError> {
    let mut c = Cursor::new(body);
    while (c.position() as usize) < body.len() {
        let at = body_at + c.position();
        let h: EntryHeader = read_part(&mut c, endian, "annotation entry")?;
        let start = c.position() as usize;
        let value = body.get(start..start + h.len as usize).ok_or_else(|| {
            bad(
                at,
                format!("an annotation of {} bytes, past its section", h.len),
            )
        })?;
        c.set_position((start + h.len as usize) as u64);
        let vat = at + 8;
        match h.key {
            1 => a.kernel_config_gz = Some(value.to_vec()),
            2 => a.linux_cr_tag = Some(text(value, vat, "linux-cr tag")?),
            3 => a.ckpt_version = Some(text(value, vat, "ckpt version")?),
            4 => {
                let b: [u8; 8] = value
                    .try_into()
                    .map_err(|_| bad(vat, "an annotation time of other than 8 bytes"))?;
                a.annotated_at = Some(match endian {
                    Endian::Little => u64::from_le_bytes(b),
                    Endian::Big => u64::from_be_bytes(b),
                });
            }
            5 => {
                let t = text(value, vat, "note")?;
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| bad(vat, "a note without KEY=VALUE"))?;
                a.notes.push((k.to_string(), v.to_string()));
            }
            k => a.unknown.push((k, value.to_vec())),
        }
    }
    Ok(())
}

fn annotation_body(a: &Annotations, endian: Endian) -> Vec<u8> {
    let mut body = Vec::new();
    let mut entry = |key: u16, v: &[u8]| {
        let h = EntryHeader {
            key,
            reserved: 0,
            len: v.len() as u32,
        };
        body.extend(to_bytes(&h, endian));
        body.extend_from_slice(v);
    };
    if let Some(c) = &a.kernel_config_gz {
        entry(1, c);
    }
    if let Some(t) = &a.linux_cr_tag {
        entry(2, t.as_bytes());
    }
    if let Some(v) = &a.ckpt_version {
        entry(3, v.as_bytes());
    }
    if let Some(t) = a.annotated_at {
        let b = match endian {
            Endian::Little => t.to_le_bytes(),
            Endian::Big => t.to_be_bytes(),
        };
        entry(4, &b);
    }
    for (k, v) in &a.notes {
        entry(5, format!("{k}={v}").as_bytes());
    }
    for (k, v) in &a.unknown {
        entry(*k, v);
    }
    body
}

/// Writes a container of the plain image `image` (`image_len` bytes, read to its end)
/// with annotations `a`, in byte order `endian` (the image's), to `out`. Returns the
/// container's length. Fails, having written part of it, when `image` holds other than
/// `image_len` bytes: the caller writes to a temporary file it renames only on success.
pub fn write<W: Write, R: Read>(
    out: W,
    endian: Endian,
    image: &mut R,
    image_len: u64,
    a: &Annotations,
) -> Result<u64, ContainerError> {
    write_in(out, &Envelope::new(endian), image, image_len, a)
}

/// [`write()`] in the envelope `env` (its version and flags, for a container written back
/// as it was read: `ckpt encode` of a container's dump). Refuses an envelope this ckpt
/// does not read, and an unknown entry whose key is one this ckpt knows.
pub fn write_in<W: Write, R: Read>(
    mut out: W,
    env: &Envelope,
    image: &mut R,
    image_len: u64,
    a: &Annotations,
) -> Result<u64, ContainerError> {
    env.check()?;
    let endian = env.endian;
    let section = annotation_section(a, endian)?;
    let sections_len = section.len() as u64;
    let prefix = Prefix {
        magic: MAGIC,
        order: 0x0102,
        major: env.version.0,
        minor: env.version.1,
        patch: env.version.2,
        flags: env.flags,
        sections: 1,
        image_offset: PREFIX_LEN,
        image_len,
        sections_len,
        reserved: [0; 16],
    };
    out.write_all(&to_bytes(&prefix, endian))?;
    let copied = io::copy(&mut image.take(image_len), &mut out)?;
    if copied != image_len {
        return Err(bad(
            PREFIX_LEN + copied,
            format!("the image ended after {copied} of its {image_len} bytes"),
        ));
    }
    out.write_all(&section)?;
    let total = PREFIX_LEN + image_len + sections_len + FOOTER_LEN;
    out.write_all(&to_bytes(
        &Footer {
            magic: FOOTER_MAGIC,
            total,
        },
        endian,
    ))?;
    out.flush()?;
    Ok(total)
}

/// The annotation section (its header and body) of `a` in byte order `endian`, as a
/// container carries it after its image. Refuses an unknown entry whose key is one this
/// ckpt knows, an entry too long for its length field, a note key that is empty or holds
/// `=`, and more than [`MAX_SECTION`] bytes.
pub fn annotation_section(a: &Annotations, endian: Endian) -> Result<Vec<u8>, ContainerError> {
    if let Some((k, _)) = a.unknown.iter().find(|(k, _)| (1..=5).contains(k)) {
        return Err(bad(
            0,
            format!("an unknown annotation of key {k}, which is a key this ckpt knows"),
        ));
    }
    if let Some((_, v)) = a.unknown.iter().find(|(_, v)| v.len() > u32::MAX as usize) {
        return Err(bad(
            0,
            format!("an annotation of {} bytes (at most {})", v.len(), u32::MAX),
        ));
    }
    if let Some((k, _)) = a
        .notes
        .iter()
        .find(|(k, _)| k.is_empty() || k.contains('='))
    {
        return Err(bad(
            0,
            format!("a note key \"{k}\": a key is not empty and holds no ="),
        ));
    }
    let body = annotation_body(a, endian);
    if body.len() as u64 > MAX_SECTION {
        return Err(bad(
            0,
            format!(
                "annotations of {} bytes (at most {MAX_SECTION})",
                body.len()
            ),
        ));
    }
    let header = SectionHeader {
        kind: SECTION_ANNOTATIONS,
        flags: 0,
        len: body.len() as u64,
    };
    let mut section = encode_part(&header, endian);
    section.extend(body);
    Ok(section)
}

/// A fixed part ([`Prefix`], [`SectionHeader`], [`Footer`]) as bytes in byte order `endian`.
pub fn encode_part<T>(v: &T, endian: Endian) -> Vec<u8>
where
    T: for<'a> BinWrite<Args<'a> = ()>,
{
    to_bytes(v, endian)
}

/// Copies the plain image out of container `r` to `out`, byte for byte: the image before
/// anything was added. Returns its length. A sealed container is refused
/// ([`ContainerError::Sealed`]): its plain image is given by verifying the seal.
pub fn strip<R: Read + Seek, W: Write>(r: &mut R, mut out: W) -> Result<u64, ContainerError> {
    let info = read_info(r)?;
    if info.is_sealed() {
        return Err(ContainerError::Sealed);
    }
    r.seek(SeekFrom::Start(info.image_offset))?;
    let n = io::copy(&mut r.take(info.image_len), &mut out)?;
    if n != info.image_len {
        return Err(bad(
            info.image_offset + n,
            "the container is cut short inside its image",
        ));
    }
    out.flush()?;
    Ok(n)
}

mod leading;
pub use leading::{LeadingSection, read_leading};
mod stream;
pub use stream::{StreamTail, StreamedImage, read_prefix, read_tail_after_image};

/// The plain image inside a container file, as a byte source for the reader: reads end
/// where the image ends, skips seek, and page payloads may be copied from the file in the
/// kernel (the file's offset is always the next byte of the image).
#[derive(Debug)]
pub struct ImageInContainer {
    file: std::fs::File,
    end: u64,
}

impl ImageInContainer {
    /// Reads the container `file` ([`read_info`]) and positions it at its image. A
    /// sealed container is refused ([`ContainerError::Sealed`]).
    pub fn open(
        mut file: std::fs::File,
    ) -> Result<(ImageInContainer, ContainerInfo), ContainerError> {
        let info = read_info(&mut file)?;
        if info.is_sealed() {
            return Err(ContainerError::Sealed);
        }
        file.seek(SeekFrom::Start(info.image_offset))?;
        let end = info.image_offset + info.image_len;
        Ok((ImageInContainer { file, end }, info))
    }

    fn left(&mut self) -> io::Result<u64> {
        Ok(self.end.saturating_sub(self.file.stream_position()?))
    }
}

impl Read for ImageInContainer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        let n = (buf.len() as u64).min(left) as usize;
        self.file.read(&mut buf[..n])
    }
}

impl crate::input::Input for ImageInContainer {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let left = self.left()?;
        if n > left {
            self.file.seek(SeekFrom::Start(self.end))?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image in the container ended while skipping",
            ));
        }
        self.file.seek(SeekFrom::Current(n as i64))?;
        Ok(())
    }

    fn as_file_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        Some(self.file.as_fd())
    }
}

#[cfg(test)]
mod tests;
