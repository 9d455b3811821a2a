//! Verifying and unsealing, forward over any `Read` (a pipe too), in constant memory:
//! the signature over the container's prefix and the seal header (which holds h_1) is
//! checked before any chunk is read; then each frame is read whole, its chunk hashed with
//! the link it carries and compared with the link already trusted, and only then are its
//! bytes given out. Memory is one frame (at most 1 MiB and 32 bytes).

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use ckpt_format::Endian;
use ckpt_format::container::{
    self, ContainerInfo, FLAG_SEALED, PREFIX_LEN, Prefix, SECTION_ENCRYPTION, SECTION_SEAL,
    SectionHeader, encode_part,
};
use ckpt_format::read::HeaderPeek;
use sha2::{Digest, Sha256};

use crate::chain::{self, END, Link};
use crate::encrypt::{self, Cipher, EncryptionHeader, MAX_CHUNKS, TAG_LEN};
use crate::error::SealError;
use crate::format::{
    Algorithm, CHUNK_SIZE, HASH_LEN, MAX_SEAL_BODY, SEAL_FLAG_ENCRYPTED, SEAL_FLAG_TPM,
    SEAL_VERSION, SIGNED_LEN, SealHeader, chunk_count, chunk_len, frame_offset, framed_len,
};
use crate::keys::PrivateKey;
use crate::signing::VerifyingKey;

/// What a verifier asks beyond the signature.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The SHA-256 the plain image must have (a seal of another image fails).
    pub expect_sha256: Option<[u8; 32]>,
    /// The oldest seal accepted: made at most this long before `now`.
    pub max_age: Option<Duration>,
    /// The verifier's clock, in seconds since 1970-01-01 UTC.
    pub now: u64,
    /// A detached seal section (`seal --detached`), read instead of the container's own.
    pub detached: Option<Vec<u8>>,
    /// The X25519 private key an encrypted seal is decrypted with. Without it an
    /// encrypted seal is verified (its ciphertext) and no byte of it is given out.
    pub identity: Option<Arc<PrivateKey>>,
}

/// A seal as its container gives it (its signature not checked yet by [`read_seal`]).
#[derive(Debug, Clone)]
pub struct SealInfo {
    /// The seal header.
    pub header: SealHeader,
    /// The container's prefix.
    pub prefix: Prefix,
    /// The container's byte order.
    pub endian: Endian,
    /// Bytes of the whole container.
    pub total_len: u64,
    /// The encryption section, when the payload is encrypted.
    pub encryption: Option<EncryptionHeader>,
    section_header: Vec<u8>,
    body: Vec<u8>,
    encryption_body: Vec<u8>,
}

impl SealInfo {
    /// The algorithm (known: [`read_seal`] refuses others).
    pub fn algorithm(&self) -> Algorithm {
        self.header
            .algorithm()
            .expect("read_seal refuses unknown algorithms")
    }

    /// The sealing key's fingerprint (`SHA256:` and hex), None for HMAC.
    pub fn fingerprint(&self) -> Option<String> {
        (self.algorithm() != Algorithm::HmacSha256)
            .then(|| format!("SHA256:{}", hex::encode(self.header.key_fingerprint)))
    }

    /// Whether the payload is encrypted.
    pub fn encrypted(&self) -> bool {
        self.header.flags & SEAL_FLAG_ENCRYPTED != 0
    }

    /// Bytes each chunk of the payload has beyond its plain bytes (an AEAD's tag).
    pub fn tag_len(&self) -> u64 {
        if self.encrypted() { TAG_LEN } else { 0 }
    }

    /// Whether the key is held in a TPM.
    pub fn tpm(&self) -> bool {
        self.header.flags & SEAL_FLAG_TPM != 0
    }
}

/// Reads exactly as much of `buf` as `r` has; returns how much.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads a sealed container's prefix and seal section from `r` (at its start), leaving
/// `r` at the first frame: the seal, decoded, its signature not checked. `detached`
/// replaces the container's seal section. Every length is checked before anything is
/// allocated.
pub fn read_seal<R: Read>(r: &mut R, detached: Option<&[u8]>) -> Result<SealInfo, SealError> {
    let (prefix, endian, total) = container::read_prefix(r)?;
    if prefix.flags & FLAG_SEALED == 0 {
        return Err(SealError::NotSealed(
            "a ckpt container without a seal (its flags have no sealed bit)".into(),
        ));
    }
    let gap = prefix.image_offset - PREFIX_LEN;
    if gap > container::MAX_LEADING {
        return Err(SealError::Damaged {
            offset: 24,
            what: format!(
                "{gap} bytes before the image (at most {})",
                container::MAX_LEADING
            ),
        });
    }
    let mut leading = vec![0u8; gap as usize];
    let got = read_full(r, &mut leading)?;
    if got < leading.len() {
        return Err(SealError::Truncated {
            at: "inside its seal section".into(),
            offset: PREFIX_LEN + got as u64,
        });
    }
    let sections = container::read_leading(&mut &leading[..], &prefix, endian)?;
    let own = sections[0];
    let own_at = (own.body_offset - PREFIX_LEN) as usize;
    let mut encryption = None;
    for s in &sections[1..] {
        if s.kind != SECTION_ENCRYPTION || encryption.is_some() {
            return Err(SealError::Damaged {
                offset: s.body_offset - 16,
                what: format!(
                    "a section of kind {} before the image, where only one encryption section \
                     (kind 3) may follow the seal",
                    s.kind
                ),
            });
        }
        let at = (s.body_offset - PREFIX_LEN) as usize;
        let body = leading[at..at + s.len as usize].to_vec();
        let h = EncryptionHeader::parse(&body, endian, s.body_offset)?;
        encryption = Some((h, body, s.body_offset));
    }
    let (section_header, body, body_at) = match detached {
        None => (
            leading[own_at - 16..own_at].to_vec(),
            leading[own_at..own_at + own.len as usize].to_vec(),
            own.body_offset,
        ),
        Some(d) => {
            let h = parse_section_header(d, endian)?;
            if h.len != d.len() as u64 - 16 {
                return Err(SealError::Damaged {
                    offset: 0,
                    what: format!(
                        "a detached seal of {} bytes whose section says {}",
                        d.len(),
                        h.len + 16
                    ),
                });
            }
            (d[..16].to_vec(), d[16..].to_vec(), 16)
        }
    };
    let header = SealHeader::parse(&body, endian, body_at)?;
    if header.major != SEAL_VERSION.0 {
        return Err(SealError::UnknownVersion(
            header.major,
            header.minor,
            header.patch,
        ));
    }
    if header.algorithm().is_none() {
        return Err(SealError::UnknownAlgorithm(header.algorithm));
    }
    let flagged = header.flags & SEAL_FLAG_ENCRYPTED != 0;
    if flagged != encryption.is_some() {
        return Err(SealError::Damaged {
            offset: PREFIX_LEN,
            what: if flagged {
                "an encrypted seal without its encryption section".into()
            } else {
                "an encryption section in a seal that is not encrypted".into()
            },
        });
    }
    let (encryption, encryption_body) = match encryption {
        Some((h, b, at)) => {
            h.check_known(at)?;
            (Some(h), b)
        }
        None => (None, Vec::new()),
    };
    Ok(SealInfo {
        header,
        prefix,
        endian,
        total_len: total,
        encryption,
        section_header,
        body,
        encryption_body,
    })
}

fn parse_section_header(d: &[u8], endian: Endian) -> Result<SectionHeader, SealError> {
    use binrw::BinRead;
    if d.len() < 16 || d.len() as u64 > 16 + MAX_SEAL_BODY {
        return Err(SealError::Damaged {
            offset: 0,
            what: format!("a detached seal of {} bytes", d.len()),
        });
    }
    let e = match endian {
        Endian::Little => binrw::Endian::Little,
        Endian::Big => binrw::Endian::Big,
    };
    let h = SectionHeader::read_options(&mut io::Cursor::new(&d[..16]), e, ()).map_err(|_| {
        SealError::Damaged {
            offset: 0,
            what: "a detached seal whose section header does not read".into(),
        }
    })?;
    if h.kind != SECTION_SEAL {
        return Err(SealError::Damaged {
            offset: 0,
            what: format!("a detached section of kind {}, not a seal (2)", h.kind),
        });
    }
    Ok(h)
}

/// Checks the seal's signature under `key` and what `opts` asks that the header tells
/// (its age), then that the header agrees with its container.
fn check_seal(s: &SealInfo, key: &VerifyingKey<'_>, opts: &VerifyOptions) -> Result<(), SealError> {
    let h = &s.header;
    let alg = s.algorithm();
    if s.tpm() || alg == Algorithm::EcdsaP256Sha256 {
        return Err(SealError::Unsupported("was signed in a TPM"));
    }
    if h.flags & !SEAL_FLAG_ENCRYPTED != 0 {
        return Err(SealError::Unsupported("has flags of a later ckpt"));
    }
    if alg != key.algorithm() {
        return Err(SealError::KeyMismatch {
            sealed: alg.name(),
            given: key.algorithm().name(),
        });
    }
    if alg == Algorithm::Ed25519 && h.key_fingerprint != key.fingerprint() {
        return Err(SealError::WrongKey {
            sealed_by: format!("SHA256:{}", hex::encode(h.key_fingerprint)),
            given: format!("SHA256:{}", hex::encode(key.fingerprint())),
        });
    }
    let prefix = encode_part(&s.prefix, s.endian);
    let digest = chain::signed_digest(&prefix, &s.section_header, &s.body[..SIGNED_LEN]);
    if !key.verifies(&digest, &h.signature)? {
        return Err(SealError::BadSignature(match alg {
            Algorithm::HmacSha256 => {
                "the secret is not the one the image was sealed with, or the seal header or the \
                 container's prefix changed (an HMAC seal cannot tell them apart)"
            }
            _ => "the seal header or the container's prefix changed since the image was sealed",
        }));
    }
    if s.encrypted() && Sha256::digest(&s.encryption_body)[..] != h.encryption_sha256 {
        return Err(SealError::BadSignature(
            "the encryption section changed since the image was sealed",
        ));
    }
    // Signed, so only a faulty sealer makes these; checked before the frame is allocated.
    let damaged = |what: String| SealError::Damaged { offset: 80, what };
    if s.encrypted() && (h.revision, h.arch) != (0, 0) {
        return Err(damaged(
            "an encrypted seal that names the image's revision and arch in clear".into(),
        ));
    }
    if s.encrypted() && h.chunk_count > MAX_CHUNKS {
        return Err(damaged(format!(
            "{} encrypted chunks (at most {MAX_CHUNKS})",
            h.chunk_count
        )));
    }
    if h.chunk_size == 0 || h.chunk_size > CHUNK_SIZE {
        return Err(damaged(format!(
            "a chunk size of {} (1 to {CHUNK_SIZE})",
            h.chunk_size
        )));
    }
    if h.chunk_count != chunk_count(h.image_len, h.chunk_size) {
        return Err(damaged(format!(
            "{} chunks for an image of {} bytes",
            h.chunk_count, h.image_len
        )));
    }
    if framed_len(h.image_len, h.chunk_size, s.tag_len()) != Some(s.prefix.image_len) {
        return Err(SealError::OtherImage(format!(
            "the seal is of an image of {} bytes, which the container's {} bytes of frames do \
             not hold",
            h.image_len, s.prefix.image_len
        )));
    }
    if let Some(max) = opts.max_age {
        let age = opts.now.saturating_sub(h.created_at);
        if age > max.as_secs() {
            let when = std::time::UNIX_EPOCH + Duration::from_secs(h.created_at);
            return Err(SealError::TooOld {
                created: humantime::format_rfc3339_seconds(when).to_string(),
                age: humantime::format_duration(Duration::from_secs(age)).to_string(),
                max: humantime::format_duration(max).to_string(),
            });
        }
    }
    Ok(())
}

/// What a whole verification found.
#[derive(Debug, Clone)]
pub struct SealReport {
    /// The seal.
    pub seal: SealInfo,
    /// The SHA-256 of the plain image; None for an encrypted seal verified without its
    /// identity (its ciphertext was verified).
    pub plain_sha256: Option<[u8; 32]>,
    /// The container, with its annotations (read after the frames, checked against the
    /// seal's tail hash).
    pub container: ContainerInfo,
}

/// The plain image of a sealed container, verified as it streams: [`Unsealer::next_chunk`]
/// gives each chunk once it holds, and [`Read`] gives the same bytes. After the last
/// chunk, [`Unsealer::finish`] checks what follows the frames.
pub struct Unsealer<R> {
    r: R,
    seal: SealInfo,
    opts: VerifyOptions,
    /// The next chunk to read (1-based).
    next: u64,
    /// The trusted link of that chunk.
    expected: Link,
    frame: Vec<u8>,
    /// The decrypted chunk, when encrypted and decrypting.
    out: Vec<u8>,
    /// Plain bytes of the chunk verified last.
    k: usize,
    /// The plain image's first bytes, up to its HEADER record's end.
    head: Vec<u8>,
    cipher: Option<Cipher>,
    plain: Sha256,
    failed: bool,
    /// The chunk given out through `Read`: its length, and how much of it was read.
    held: (usize, usize),
}

impl<R: Read> Unsealer<R> {
    /// Reads the seal from `r` (at the container's start) and checks its signature under
    /// `key`, and its age, before any chunk is read.
    pub fn new(
        mut r: R,
        key: &VerifyingKey<'_>,
        opts: VerifyOptions,
    ) -> Result<Unsealer<R>, SealError> {
        let seal = read_seal(&mut r, opts.detached.as_deref())?;
        check_seal(&seal, key, &opts)?;
        let cipher = match (&seal.encryption, &opts.identity) {
            (Some(e), Some(id)) => {
                let key = encrypt::unwrap_with(e, id)?;
                Some(Cipher::new(&key, e, &seal.encryption_body))
            }
            (Some(e), None) if opts.expect_sha256.is_some() => {
                return Err(SealError::NeedsIdentity(e.recipient()));
            }
            _ => None,
        };
        let payload = (seal.header.chunk_size + seal.tag_len()) as usize;
        let frame = vec![0u8; payload + HASH_LEN as usize];
        Ok(Unsealer {
            r,
            expected: seal.header.first_hash,
            out: Vec::with_capacity(if cipher.is_some() { payload } else { 0 }),
            k: 0,
            head: Vec::with_capacity(HEADER_LEN),
            cipher,
            seal,
            opts,
            next: 1,
            frame,
            plain: Sha256::new(),
            failed: false,
            held: (0, 0),
        })
    }

    /// The seal (its signature holds).
    pub fn seal(&self) -> &SealInfo {
        &self.seal
    }

    /// Bytes of the plain image verified and given out so far.
    pub fn verified_len(&self) -> u64 {
        (self.next - 1) * self.seal.header.chunk_size
    }

    /// Whether the plain image is given out: the seal is not encrypted, or an identity
    /// decrypts it.
    pub fn gives_plain(&self) -> bool {
        self.seal.encryption.is_none() || self.cipher.is_some()
    }

    /// The plain bytes of the chunk verified last.
    fn released(&self) -> &[u8] {
        if self.cipher.is_some() {
            &self.out
        } else {
            &self.frame[..self.k]
        }
    }

    /// The next chunk of the plain image, once it holds (and is decrypted); None after
    /// the last. An encrypted seal without an identity gives no chunk:
    /// [`SealError::NeedsIdentity`] ([`Unsealer::finish`] verifies it all the same).
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>, SealError> {
        if !self.gives_plain() {
            let e = self.seal.encryption.as_ref().expect("encrypted");
            return Err(SealError::NeedsIdentity(e.recipient()));
        }
        Ok(if self.advance()? {
            Some(self.released())
        } else {
            None
        })
    }

    /// Verifies (and decrypts) the next chunk; false after the last.
    fn advance(&mut self) -> Result<bool, SealError> {
        if self.failed {
            return Err(SealError::NotSealed(
                "verification already failed; nothing more is read".into(),
            ));
        }
        let h = &self.seal.header;
        let (n, c) = (h.chunk_count, h.chunk_size);
        if self.next > n {
            return Ok(false);
        }
        let i = self.next;
        let tag = self.seal.tag_len();
        let k_plain = chunk_len(i, n, h.image_len, c) as usize;
        let k = k_plain + tag as usize;
        let file_offset = self.seal.prefix.image_offset + frame_offset(i, c, tag);
        self.failed = true;
        let got = read_full(&mut self.r, &mut self.frame[..k + HASH_LEN as usize])?;
        if got < k + HASH_LEN as usize {
            return Err(SealError::Truncated {
                at: format!("inside chunk {i} of {n}"),
                offset: file_offset + got as u64,
            });
        }
        let (chunk, carried) = self.frame[..k + HASH_LEN as usize].split_at(k);
        let carried: Link = carried.try_into().expect("32 bytes");
        if chain::chunk_hash(i, chunk, &carried) != self.expected {
            return Err(SealError::ChunkMismatch {
                chunk: i,
                chunks: n,
                plain_offset: (i - 1) * c,
                plain_end: (i - 1) * c + k_plain as u64,
                file_offset,
                record: None,
            });
        }
        if i == n && carried != END {
            return Err(SealError::Damaged {
                offset: file_offset + k as u64,
                what: "a last chunk whose next link is not zero".into(),
            });
        }
        if let Some(cipher) = &self.cipher {
            self.out.clear();
            self.out.extend_from_slice(chunk);
            if !cipher.decrypt(i, n, &mut self.out) {
                return Err(SealError::Undecryptable {
                    chunk: i,
                    chunks: n,
                });
            }
        }
        self.expected = carried;
        self.k = k_plain;
        if self.gives_plain() {
            let plain = if self.cipher.is_some() {
                &self.out[..]
            } else {
                &self.frame[..k_plain]
            };
            self.plain.update(plain);
            // The HEADER record may span chunks (of less than 72 bytes).
            if self.head.len() < HEADER_LEN {
                let want = (HEADER_LEN - self.head.len()).min(plain.len());
                self.head.extend_from_slice(&plain[..want]);
                if self.head.len() == HEADER_LEN || i == n {
                    check_first_chunk(&self.seal, &self.head)?;
                }
            }
        }
        self.next += 1;
        self.failed = false;
        Ok(true)
    }

    /// Reads (and verifies) the chunks not read yet, then what follows the frames: the
    /// sections and the footer, which must hash to the seal's tail hash, and nothing
    /// after them; then the plain image's SHA-256 against `expect_sha256`.
    pub fn finish(mut self) -> Result<SealReport, SealError> {
        while self.advance()? {}
        let mut hashing = HashingReader {
            inner: &mut self.r,
            hash: Sha256::new(),
        };
        let s = &self.seal;
        let end_of_frames = s.prefix.image_offset + s.prefix.image_len;
        let info = container::read_tail_after_image(&mut hashing, &s.prefix, s.endian, s.total_len)
            .map_err(|e| match SealError::from(e) {
                SealError::Truncated { offset, .. } => SealError::Truncated {
                    at: "after its last chunk, inside the sections or footer that follow".into(),
                    offset,
                },
                SealError::Container(e) => SealError::TailChanged(e.to_string()),
                e => e,
            })?;
        let tail: [u8; 32] = hashing.hash.finalize().into();
        if tail != s.header.tail_sha256 {
            return Err(SealError::TailChanged(format!(
                "the bytes from offset {end_of_frames:#x} to the end do not hash to what the seal \
                 signs"
            )));
        }
        let mut one = [0u8; 1];
        if read_full(&mut self.r, &mut one)? != 0 {
            return Err(SealError::Extended {
                offset: s.total_len,
            });
        }
        let given = self.gives_plain();
        let plain: [u8; 32] = self.plain.finalize().into();
        if let Some(want) = self.opts.expect_sha256
            && want != plain
        {
            return Err(SealError::OtherImage(format!(
                "the plain image's SHA-256 is {}, not the {} expected",
                hex::encode(plain),
                hex::encode(want)
            )));
        }
        Ok(SealReport {
            seal: self.seal,
            plain_sha256: given.then_some(plain),
            container: info,
        })
    }
}

/// Bytes of an image's HEADER record, which gives its revision and arch.
const HEADER_LEN: usize = 72;

/// The image's HEADER must give the revision and arch the seal binds (an encrypted seal
/// binds them through the ciphertext only).
fn check_first_chunk(s: &SealInfo, chunk: &[u8]) -> Result<(), SealError> {
    let h = &s.header;
    let peek = HeaderPeek::parse(chunk).map_err(|e| {
        SealError::OtherImage(format!("the sealed bytes are not a Linux-CR image: {e}"))
    })?;
    if !s.encrypted() && (peek.rev as u32, peek.arch_id as u32) != (h.revision, h.arch) {
        return Err(SealError::OtherImage(format!(
            "the seal binds rev {} and arch id {}, the image's HEADER says rev {} and arch id {}",
            h.revision, h.arch, peek.rev, peek.arch_id
        )));
    }
    Ok(())
}

struct HashingReader<'a, R> {
    inner: &'a mut R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> Read for Unsealer<R> {
    /// The verified plain image; a seal that does not hold is an error of kind
    /// `InvalidData` carrying the [`SealError`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.held.1 == self.held.0 {
            match self.next_chunk() {
                Ok(Some(c)) => self.held = (c.len(), 0),
                Ok(None) => return Ok(0),
                Err(SealError::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            if self.held.0 == 0 {
                return Ok(0);
            }
        }
        let (len, at) = self.held;
        let n = buf.len().min(len - at);
        buf[..n].copy_from_slice(&self.released()[at..at + n]);
        self.held.1 += n;
        Ok(n)
    }
}

impl<R: Read> ckpt_format::input::Input for Unsealer<R> {}

/// Verifies the sealed container `r` whole under `key`: the signature, every chunk, what
/// follows the frames, and what `opts` asks. Nothing of the image is kept.
pub fn verify<R: Read>(
    r: R,
    key: &VerifyingKey<'_>,
    opts: VerifyOptions,
) -> Result<SealReport, SealError> {
    Unsealer::new(r, key, opts)?.finish()
}
