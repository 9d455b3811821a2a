//! Sealing: the frames written by one backward pass over a seekable plain image, the
//! signed header before them (`schemas/seal.md`).
//!
//! To a seekable output each frame is written at its offset, known in advance (the frame
//! sizes are fixed), in the one pass; to a pipe the links are kept (32 bytes a chunk: 32
//! KiB a GiB) and a second, forward pass writes the frames, each chunk checked against
//! its link again. Memory is one chunk, and that table on a pipe.

use std::io::{self, Read, Seek, SeekFrom, Write};

use ckpt_format::container::{
    self, Annotations, FLAG_ANNOTATED, FLAG_SEALED, Footer, PREFIX_LEN, Prefix, SECTION_ENCRYPTION,
    SECTION_SEAL, SectionHeader, encode_part,
};
use ckpt_format::read::HeaderPeek;

use crate::chain::{self, END, Link};
use crate::encrypt::{self, Cipher, MAX_CHUNKS, TAG_LEN};
use crate::error::SealError;
use crate::format::{
    CHUNK_SIZE, SEAL_FLAG_ENCRYPTED, SEAL_VERSION, SIGNED_LEN, SealHeader, chunk_count, chunk_len,
    frame_offset, framed_len,
};
use crate::keys::PublicKey;
use crate::signing::SealingKey;

/// A seekable output.
pub trait WriteSeek: Write + Seek {}
impl<T: Write + Seek> WriteSeek for T {}

/// Where a sealed image goes.
pub enum SealOutput<'a> {
    /// A file: each frame is written at its offset, in one pass over the input.
    Seekable(&'a mut dyn WriteSeek),
    /// A pipe: the links are kept and a second forward pass writes the frames.
    Stream(&'a mut dyn Write),
}

/// How to seal.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// When, in seconds since 1970-01-01 UTC (the caller's clock).
    pub created_at: u64,
    /// Annotations to carry after the frames (bound by the seal, never output by
    /// `unseal`).
    pub annotations: Option<Annotations>,
    /// The plain image's bytes in the input, as (offset, length); the whole input when
    /// None (an annotated container's image is a range of it).
    pub range: Option<(u64, u64)>,
    /// The chunk size, 1 to [`CHUNK_SIZE`] (the default): smaller chunks make more
    /// frames of a small image (tests).
    pub chunk_size: Option<u64>,
    /// Encrypt the image for this X25519 public key (encrypt, then sign: the chain and
    /// the signature cover the ciphertext).
    pub recipient: Option<PublicKey>,
}

/// What was sealed.
#[derive(Debug, Clone)]
pub struct SealSummary {
    /// The seal header written (with its signature).
    pub header: SealHeader,
    /// The seal section as written (header and body): what `--detached` writes.
    pub section: Vec<u8>,
    /// Bytes of the sealed container.
    pub total_len: u64,
}

/// Reads exactly `buf.len()` bytes at `offset` of `input`, chunk `chunk` of the image.
fn read_at<R: Read + Seek>(
    input: &mut R,
    offset: u64,
    buf: &mut [u8],
    chunk: u64,
) -> Result<(), SealError> {
    input.seek(SeekFrom::Start(offset))?;
    input.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => SealError::InputChanged(chunk),
        _ => SealError::Io(e),
    })
}

/// Where the chunks come from: the plain image, and how to make each payload chunk.
struct Chunks<'a, R> {
    input: &'a mut R,
    start: u64,
    len: u64,
    c: u64,
    n: u64,
    cipher: Option<Cipher>,
    buf: Vec<u8>,
}

impl<R: Read + Seek> Chunks<'_, R> {
    /// Payload chunk `i` (1-based): the plain chunk, encrypted when there is a cipher.
    fn get(&mut self, i: u64) -> Result<&[u8], SealError> {
        let k = chunk_len(i, self.n, self.len, self.c) as usize;
        self.buf.resize(k, 0);
        read_at(self.input, self.start + (i - 1) * self.c, &mut self.buf, i)?;
        if let Some(cipher) = &self.cipher {
            cipher.encrypt(i, self.n, &mut self.buf)?;
        }
        Ok(&self.buf)
    }
}

/// Seals the plain image `input` (see [`SealOptions::range`]) with `key` to `output`.
pub fn seal<R: Read + Seek>(
    input: &mut R,
    output: SealOutput<'_>,
    key: &SealingKey<'_>,
    opts: &SealOptions,
) -> Result<SealSummary, SealError> {
    let (start, len) = match opts.range {
        Some(r) => r,
        None => (0, input.seek(SeekFrom::End(0))?),
    };
    let mut head = vec![0u8; len.min(4096) as usize];
    read_at(input, start, &mut head, 1)?;
    let peek = HeaderPeek::parse(&head).map_err(|e| SealError::NotAnImage(e.to_string()))?;
    let endian = peek.endian;
    let c = opts.chunk_size.unwrap_or(CHUNK_SIZE);
    if c == 0 || c > CHUNK_SIZE {
        return Err(SealError::Damaged {
            offset: 0,
            what: format!("a chunk size of {c} asked for (1 to {CHUNK_SIZE})"),
        });
    }
    let n = chunk_count(len, c);
    let encryption = match &opts.recipient {
        Some(r) => {
            if n > MAX_CHUNKS {
                return Err(SealError::NotAnImage(format!(
                    "{n} chunks, more than the {MAX_CHUNKS} that can be encrypted"
                )));
            }
            let (h, key) = encrypt::wrap_for(r)?;
            let body = h.to_bytes(endian);
            let cipher = Cipher::new(&key, &h, &body);
            Some((body, cipher))
        }
        None => None,
    };
    let tag = if encryption.is_some() { TAG_LEN } else { 0 };
    let framed = framed_len(len, c, tag).ok_or_else(|| SealError::NotAnImage("too long".into()))?;
    let tail_sections = match &opts.annotations {
        Some(a) => container::annotation_section(a, endian)?,
        None => Vec::new(),
    };
    let body_len = SIGNED_LEN as u64 + key.algorithm().signature_len() as u64;
    let enc_len = encryption.as_ref().map_or(0, |(b, _)| 16 + b.len() as u64);
    let image_offset = (PREFIX_LEN + 16 + body_len + enc_len).next_multiple_of(8);
    let total = image_offset + framed + tail_sections.len() as u64 + 16;
    let mut tail = tail_sections;
    tail.extend(encode_part(
        &Footer {
            magic: container::FOOTER_MAGIC,
            total,
        },
        endian,
    ));
    let prefix = Prefix {
        magic: container::MAGIC,
        order: 0x0102,
        major: container::VERSION.0,
        minor: container::VERSION.1,
        patch: container::VERSION.2,
        flags: FLAG_SEALED
            | if opts.annotations.is_some() {
                FLAG_ANNOTATED
            } else {
                0
            },
        sections: opts.annotations.is_some() as u32,
        image_offset,
        image_len: framed,
        sections_len: tail.len() as u64 - 16,
        reserved: [0; 16],
    };
    let section_header = SectionHeader {
        kind: SECTION_SEAL,
        flags: 0,
        len: body_len,
    };

    let (enc_body, cipher) = match encryption {
        Some((b, c)) => (Some(b), Some(c)),
        None => (None, None),
    };
    let mut chunks = Chunks {
        input,
        start,
        len,
        c,
        n,
        cipher,
        buf: Vec::with_capacity((c + tag) as usize),
    };
    // The backward pass: h_n first, h_1 last.
    let mut next: Link = END;
    let mut links: Vec<Link> = Vec::new();
    let mut out = output;
    for i in (1..=n).rev() {
        let chunk = chunks.get(i)?;
        let h = chain::chunk_hash(i, chunk, &next);
        match &mut out {
            SealOutput::Seekable(w) => {
                w.seek(SeekFrom::Start(image_offset + frame_offset(i, c, tag)))?;
                w.write_all(chunk)?;
                w.write_all(&next)?;
            }
            SealOutput::Stream(_) => links.push(next),
        }
        next = h;
    }
    let mut header = SealHeader {
        major: SEAL_VERSION.0,
        minor: SEAL_VERSION.1,
        patch: SEAL_VERSION.2,
        algorithm: key.algorithm().id(),
        flags: if enc_body.is_some() {
            SEAL_FLAG_ENCRYPTED
        } else {
            0
        },
        reserved: 0,
        key_fingerprint: key.fingerprint()?,
        created_at: opts.created_at,
        image_len: len,
        chunk_size: c,
        chunk_count: n,
        // Nothing about an encrypted image is confirmable without its key: its revision
        // and arch are inside the ciphertext only.
        revision: if enc_body.is_some() {
            0
        } else {
            peek.rev as u32
        },
        arch: if enc_body.is_some() {
            0
        } else {
            peek.arch_id as u32
        },
        encryption_sha256: enc_body.as_deref().map_or([0; 32], sha256),
        tail_sha256: sha256(&tail),
        first_hash: next,
        reserved2: 0,
        reserved3: 0,
        // A placeholder of the signature's length: the signed bytes hold that length.
        signature: vec![0; key.algorithm().signature_len() as usize],
    };
    let prefix_bytes = encode_part(&prefix, endian);
    let section_bytes = encode_part(&section_header, endian);
    let body = header.to_bytes(endian);
    let digest = chain::signed_digest(&prefix_bytes, &section_bytes, &body[..SIGNED_LEN]);
    header.signature = key.sign(&digest)?;
    let mut leading = section_bytes;
    leading.extend(header.to_bytes(endian));
    let section = leading.clone();
    if let Some(b) = &enc_body {
        leading.extend(encode_part(
            &SectionHeader {
                kind: SECTION_ENCRYPTION,
                flags: 0,
                len: b.len() as u64,
            },
            endian,
        ));
        leading.extend(b);
    }
    leading.resize((image_offset - PREFIX_LEN) as usize, 0);

    match out {
        SealOutput::Seekable(w) => {
            w.seek(SeekFrom::Start(0))?;
            w.write_all(&prefix_bytes)?;
            w.write_all(&leading)?;
            w.seek(SeekFrom::Start(image_offset + framed))?;
            w.write_all(&tail)?;
            w.flush()?;
        }
        SealOutput::Stream(w) => {
            w.write_all(&prefix_bytes)?;
            w.write_all(&leading)?;
            // links[k] is h_{n-k+1}: the link frame n-k carries.
            let mut expected = header.first_hash;
            for i in 1..=n {
                let chunk = chunks.get(i)?;
                let carried = links[(n - i) as usize];
                if chain::chunk_hash(i, chunk, &carried) != expected {
                    return Err(SealError::InputChanged(i));
                }
                w.write_all(chunk)?;
                w.write_all(&carried)?;
                expected = carried;
            }
            w.write_all(&tail)?;
            w.flush()?;
        }
    }
    Ok(SealSummary {
        header,
        section,
        total_len: total,
    })
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}
