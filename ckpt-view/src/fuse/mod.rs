//! An image as a read-only file system (`ckpt mount`, feature `fuse`): its summary,
//! its tasks as /proc shows processes, their memory readable at its addresses, every
//! record, SysV IPC objects, pipes and sockets with their queued bytes (README,
//! "Mounting an image").
//!
//! * [`build`]: one pass over the records ([`build::read_records`]) and the page index
//!   of [`ckpt_format::pages`] (the one `ckpt mem` uses) laid out as a [`tree::Tree`]
//!   ([`build::build_tree`]); nothing of it holds page contents;
//! * [`fs`]: the tree served over FUSE by the `fuser` crate (pure Rust; the mount goes
//!   through `fusermount3`, Debian's package `fuse3`), contents read by `pread`.

pub mod build;
pub mod fs;
pub mod tree;
