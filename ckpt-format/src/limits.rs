//! Every limit the reader enforces, in one place.
//!
//! A length field is checked against these (and against the schema) before anything is
//! allocated, so a hostile image cannot make ckpt allocate more than these bounds.

/// Largest record body that is held in memory and decoded (metadata records).
/// Longer records (page chunks, big buffers) are streamed, never collected.
pub const MAX_INLINE_BODY: u32 = 1 << 20;

/// Size of the reader's internal buffer.
pub const READ_BUFFER: usize = 64 * 1024;

/// Largest number of tasks in a tree.
pub const MAX_TASKS: u64 = 1 << 20;

/// Largest number of pages in one PGARR chunk.
pub const MAX_PAGES_PER_CHUNK: u64 = 1 << 20;

/// Largest string (STRING, FILE_NAME) payload (PATH_MAX-sized, with margin).
pub const MAX_STRING: u32 = 64 * 1024;

/// Records scanned ahead when detecting the revision of a seekable image.
pub const DETECT_SCAN_RECORDS: u64 = 1 << 22;

/// Bytes looked at ahead when detecting the revision of a pipe.
pub const DETECT_WINDOW: usize = 1 << 20;

/// Page size of every architecture that linux-cr supported (raw socket fragment pages).
pub const PAGE_SIZE: u32 = 4096;
