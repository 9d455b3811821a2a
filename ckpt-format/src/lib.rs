//! Linux-CR checkpoint images: the format of every revision and architecture, read and
//! written as streams.
//!
//! * [`schema`]: the revisions, parsed from the `schemas/` files embedded at build time;
//! * [`layout`]: the layout engine that turns schema structs into sizes and offsets per
//!   architecture;
//! * [`arch`]: the architectures and their C ABI facts;
//! * [`dump`]: images rebuilt from the JSON Lines of `ckpt dump --payloads`;
//! * [`summary`]: what an image holds, for people and for views (`ckpt info`): the
//!   header, the tree, tasks with names for the kernel's numbers, statistics.

#![warn(missing_docs)]

pub mod arch;
pub mod build;
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
