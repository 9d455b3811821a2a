//! Errors of reading and writing images.

use std::fmt;

/// Where in an image something went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the image.
    pub offset: u64,
    /// Index of the record (0 = HEADER), if known.
    pub record: Option<u64>,
    /// Record type number and name, if known.
    pub rtype: Option<(u32, Option<&'static str>)>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.record {
            write!(f, "record #{i}")?;
            match self.rtype {
                Some((t, Some(n))) => write!(f, " ({n}, type {t})")?,
                Some((t, None)) => write!(f, " (type {t})")?,
                None => {}
            }
            write!(f, ", ")?;
        }
        write!(f, "at offset {:#x}", self.offset)
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source or sink failed (the `io::Error` is the error's source).
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// The image ends in the middle of a record or before its TAIL.
    #[error("unexpected end of image: {0}")]
    Truncated(String),
    /// The HEADER's magic is wrong.
    #[error("bad magic {found:#018x} (expected {expected:#018x})")]
    BadMagic {
        /// Magic found.
        found: u64,
        /// Magic expected.
        expected: u64,
    },
    /// A record type that the revision does not define.
    #[error("unknown record type {rtype} in revision {revision}")]
    UnknownRecord {
        /// Type number.
        rtype: u32,
        /// Revision id.
        revision: String,
    },
    /// A record whose length does not match its layout.
    #[error("wrong record length {found} (expected {expected})")]
    BadLength {
        /// What the layout requires (`72`, `>= 16`, ...).
        expected: String,
        /// Length found.
        found: u32,
    },
    /// A length above the limits of [`crate::limits`].
    #[error("{what} {value} exceeds the limit {limit}")]
    Limit {
        /// What was too large.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A record where the grammar expects another.
    #[error("{0}")]
    Grammar(String),
    /// The revision cannot be decided or is contradicted by the image.
    #[error("{0}")]
    Detect(String),
    /// A value that cannot be encoded in its field.
    #[error("{0}")]
    Encode(String),
    /// A schema defect found while decoding.
    #[error("{0}")]
    Layout(#[from] crate::layout::LayoutError),
}

/// An error with the position where it happened.
///
/// Displays as "… (record #12 (TASK, type 102), at offset 0x1a0)".
///
/// ```
/// use ckpt_format::error::{Error, ErrorKind, Position};
/// let e = Error::new(
///     ErrorKind::Io(std::io::Error::other("disk on fire")),
///     Position { offset: 0x40, ..Default::default() },
/// );
/// assert_eq!(e.to_string(), "I/O error (at offset 0x40)");
/// let cause = std::error::Error::source(&e).unwrap();
/// assert_eq!(cause.to_string(), "disk on fire");
/// ```
#[derive(Debug)]
pub struct Error {
    inner: Box<(ErrorKind, Position)>,
}

impl Error {
    /// A new error at `pos`.
    pub fn new(kind: ErrorKind, pos: Position) -> Error {
        Error {
            inner: Box::new((kind, pos)),
        }
    }
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.0
    }
    /// Where.
    pub fn position(&self) -> &Position {
        &self.inner.1
    }
    /// True for errors of the source or sink, not of the image.
    pub fn is_io(&self) -> bool {
        matches!(self.kind(), ErrorKind::Io(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.0 {
            // Detection speaks of the whole image, not of a place in it.
            ErrorKind::Detect(_) => write!(f, "{}", self.inner.0),
            _ => write!(f, "{} ({})", self.inner.0, self.inner.1),
        }
    }
}

/// An I/O error's cause is its source, not part of its message, so that a chain printer
/// (`anyhow`'s `{:#}`) says it once, and wrappers that forward `source` (`#[error(transparent)]`)
/// keep the `io::Error` in the chain.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind() {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
