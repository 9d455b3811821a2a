//! What the tests share: the builder image the tests take files for and a tree with
//! every file it needs; the components the ignored tests need (ckpt_tests::components).

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Reader, Registry};
use ckpt_fs::paths::{PathList, collect};

/// The builder's default image of v23-rc2, x86_64.
pub fn image() -> Vec<u8> {
    let s = Registry::get().find("v23-rc2").unwrap();
    let mut img = Vec::new();
    build(
        &Format::new(s, Arch::X86_64),
        &BuildOptions::default(),
        &mut img,
    )
    .unwrap();
    img
}

/// Its paths.
pub fn list(img: &[u8]) -> PathList {
    let s = Registry::get().find("v23-rc2").unwrap();
    collect(Reader::new(img, Format::new(s, Arch::X86_64))).unwrap()
}

/// A file of `len` bytes at `path` under `root`, its directories made.
pub fn file(root: &Path, path: &str, len: usize) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, vec![b'x'; len]).unwrap();
}

/// A fifo at `path` under `root`.
pub fn fifo(root: &Path, path: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let (fifo, mode) = (
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
    );
    rustix::fs::mknodat(rustix::fs::CWD, &p, fifo, mode, 0).unwrap();
}

/// A tree with every path the builder image needs; /usr/bin reached through a link.
pub fn tree(r: &Path) {
    file(r, "/usr/lib/bin/task0", 100);
    file(r, "/usr/lib/bin/task1", 100);
    symlink("lib/bin", r.join("usr/bin")).unwrap();
    file(r, "/var/log/task0.log", 600_000);
    file(r, "/var/log/task1.log", 200_000);
    fs::create_dir_all(r.join("srv/app")).unwrap();
    fifo(r, "/run/fifo0");
    fifo(r, "/run/fifo1");
}

/// The builder image written to `dir/image.ckpt`.
pub fn image_file(dir: &Path) -> PathBuf {
    let p = dir.join("image.ckpt");
    fs::write(&p, image()).unwrap();
    p
}

#[allow(unused_imports)]
pub use ckpt_tests::components::{LoopBtrfs, have, missing, sh};
