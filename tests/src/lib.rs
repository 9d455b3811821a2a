//! Shared helpers of the integration tests: every revision × architecture pair, and
//! builder images.

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Registry, Schema};

/// Every (revision, architecture) pair the schemas define.
pub fn all_pairs() -> Vec<(&'static Schema, Arch)> {
    Registry::get()
        .all()
        .iter()
        .flat_map(|&s| s.arches.iter().map(move |(a, _)| (s, *a)))
        .collect()
}

/// A builder image of `schema` on `arch`.
pub fn image(schema: &'static Schema, arch: Arch, opts: &BuildOptions) -> Vec<u8> {
    let mut out = Vec::new();
    build(&Format::new(schema, arch), opts, &mut out)
        .unwrap_or_else(|e| panic!("build {} {arch}: {e}", schema.id));
    out
}
