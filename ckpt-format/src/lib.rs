//! Linux-CR checkpoint images: the format of every revision and architecture, read and
//! written as streams.
//!
//! An image is a stream of records (`struct ckpt_hdr`: a type and a length, then the
//! body) from a HEADER to a TAIL. What the records are, how they are laid out and in
//! which order they come depends on the image's format *revision* (17 snapshots of the
//! user-cr headers, 2009–2012, each in `schemas/`) and its *architecture*. This crate
//! knows them all: it tells which revision an image is, reads it record by record,
//! decodes records into named fields, models the tasks and objects of an image, and
//! writes and builds images. It knows no terminal and no conversions between revisions
//! (those are `ckpt-convert`'s); errors are typed ([`Error`], with the byte offset and
//! record where they happened).
//!
//! # Where to start
//!
//! | to | use |
//! |---|---|
//! | tell which revision an image is, and open it | [`detect::open`] (pipes: from the first MiB), after [`detect::Evidence::scan`] for a file |
//! | walk its records | [`Reader::next_record`] → [`RecordInfo`]; [`Reader::decode`] for named fields; [`Reader::read_payload`] for page contents, which are streamed, never held whole |
//! | see its tasks, files, memory | [`model::read_model`] (tasks and objects, tags resolved), then [`summary::tasks::summarise`] (names for the kernel's numbers, as `ckpt info -t` prints them) |
//! | header, tree and statistics | [`summary::summarise_image`], [`summary::TreeTracker`], [`summary::Stats`] |
//! | write an image | [`Writer`] (records as bytes or begun and streamed); [`readback::ReadBack`] reads the output back while it is written |
//! | make a realistic image of any revision × arch | [`build::build`] with [`build::BuildOptions`] |
//! | the revisions and their layouts | [`Registry`] → [`Schema`]; [`Format`] (one revision on one [`Arch`]) and its [`layout`] |
//! | dump to and encode from JSON Lines | [`dump`] |
//! | find one task's pages at an address | [`pages`] |
//!
//! The examples in `ckpt-format/examples/` are whole programs on these:
//! `cargo run -p ckpt-format --example list_tasks -- IMAGE` lists the tasks of an image
//! and their open files; `cargo run -p ckpt-format --example build_sample -- REV ARCH OUT`
//! builds an image and reads it back.
//!
//! # Build an image, detect it, walk its records
//!
//! The builder writes to any `Write`; here, memory. Detection reads only the header and
//! the records' types and lengths, and names the revision (or the set of revisions that
//! read the image identically) with its reasons.
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::detect::{self, Evidence};
//! use ckpt_format::{Arch, Format, Registry};
//!
//! let schema = Registry::get().find("v23-rc2")?;
//! let format = Format::new(schema, Arch::X86_64);
//! let mut image = Vec::new();
//! let built = build(&format, &BuildOptions::default(), &mut image)?;
//! assert_eq!(built.bytes, image.len() as u64);
//!
//! // A file would be scanned whole first (`Evidence::scan`), a pipe from its start.
//! let evidence = Evidence::scan(&mut &image[..])?;
//! let (mut reader, detection) = detect::open(&image[..], None, Some(evidence))?;
//! assert!(detection.reads_as(schema));
//! assert_eq!(detection.arch, Arch::X86_64);
//!
//! let mut records = 0;
//! let mut comms = Vec::new();
//! while let Some(rec) = reader.next_record()? {
//!     records += 1;
//!     // A task's comm is the STRING record that is the TASK's `comm` payload.
//!     if rec.payload_of == Some(("TASK", "comm")) {
//!         comms.push(reader.decode()?.text.unwrap_or_default());
//!     }
//! }
//! assert_eq!(records, built.records);
//! assert_eq!(comms.len(), BuildOptions::default().tasks as usize);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tasks and their open files
//!
//! [`model::read_model`] reads the whole stream into tasks and objects (memory grows
//! with them, not with page bytes); [`summary::tasks::summarise`] says what each task's
//! descriptors are.
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::{Arch, Format, Reader, Registry, model, summary};
//!
//! let schema = Registry::get().find("v23-rc2")?;
//! let format = Format::new(schema, Arch::X86_64);
//! let mut image = Vec::new();
//! build(&format, &BuildOptions::default(), &mut image)?;
//!
//! // The reader owns its format; the summary borrows one.
//! let reader = Reader::new(&image[..], Format::new(schema, Arch::X86_64));
//! let m = model::read_model(reader, false)?;
//! let tasks = summary::tasks::summarise(&m, &format);
//! assert_eq!(tasks.len(), m.tasks.len());
//! let root = &tasks[0];
//! assert_eq!(root.ids.ppid, 0, "the root task's parent is outside the image");
//! assert!(root.files.iter().any(|f| f.r#type == "PIPE"));
//! for f in &root.files {
//!     let _line = format!("{} {} {}", f.fd, f.r#type, f.path.as_deref().unwrap_or(&f.what));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Copy an image, record by record
//!
//! Inline records are rewritten from their bytes; streamed bodies (page contents) are
//! copied through without being held in memory (file to file in the kernel when both
//! ends are files). The copy is byte-exact.
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::{Arch, Format, Reader, Registry, Writer};
//!
//! let format = Format::new(Registry::get().find("v23-rc2")?, Arch::X86_64);
//! let mut image = Vec::new();
//! build(&format, &BuildOptions { memory: 1 << 20, ..BuildOptions::default() }, &mut image)?;
//!
//! let endian = format.endian();
//! let mut reader = Reader::new(&image[..], format);
//! let mut writer = Writer::new(Vec::new(), endian);
//! while let Some(rec) = reader.next_record()? {
//!     if rec.inline {
//!         writer.write_record_bytes(reader.record_bytes())?;
//!     } else {
//!         writer.begin_record(rec.rtype, rec.body_len().into())?;
//!         writer.copy_payload_from(&mut reader)?;
//!     }
//! }
//! assert_eq!(writer.finish()?, image);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! * [`schema`]: the revisions, parsed from the `schemas/` files embedded at build time;
//! * [`layout`]: the layout engine that turns schema structs into sizes and offsets per
//!   architecture;
//! * [`arch`]: the architectures and their C ABI facts; [`mod@format`]: one revision on
//!   one architecture, what the reader and writer need;
//! * [`detect`]: which revision an image is, and why;
//! * [`mod@read`] and [`mod@write`]: the streaming reader and writer; [`readback`]: a writer
//!   that reads its output back as it goes; [`input`]: the byte sources the reader takes;
//! * [`build`]: the image builder; [`prng`]: its pseudo-random numbers, fixed by a seed;
//! * [`model`]: tasks and the objects they use, tags resolved; [`pages`]: where each
//!   page chunk lies, for positioned reads;
//! * [`dump`]: images as the JSON Lines of `ckpt dump`, and rebuilt from them;
//! * [`summary`]: what an image holds, for people and for views (`ckpt info`): the
//!   header, the tree, tasks with names for the kernel's numbers, statistics;
//! * [`value`]: fields to bytes and back; [`limits`]: every limit in one place;
//!   [`error`]: errors with their position.

#![deny(missing_docs)]

pub mod arch;
pub mod build;
pub mod container;
pub mod layout;
pub mod schema;

pub use arch::{Arch, Endian};
pub use schema::{Registry, Schema};
pub mod detect;
pub mod dump;
pub mod error;
pub mod format;
pub mod input;
pub mod limits;
pub mod model;
pub mod pages;
pub mod prng;
pub mod read;
pub mod readback;
pub mod summary;
pub mod value;
pub mod write;

pub use error::{Error, ErrorKind, Result};
pub use format::Format;
pub use read::{Reader, RecordInfo};
pub use write::Writer;
