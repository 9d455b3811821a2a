//! `ckpt mem`: bytes at addresses, search and strings, from a file (through the page
//! index) and from a pipe (one pass), over builder images of every revision × arch.

use std::path::Path;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::pages::PageIndex;
use ckpt_format::{Arch, Format, Reader, Registry, Schema};

mod common;
use common::{ok, run};

/// An image of 8 tasks (threads sharing their leader's memory, a zombie) on disk.
fn image(dir: &Path, s: &'static Schema, arch: Arch, memory: u64) -> (String, Vec<u8>) {
    let mut img = Vec::new();
    let opts = BuildOptions {
        tasks: 8,
        memory,
        seed: 3,
        ..BuildOptions::default()
    };
    build(&Format::new(s, arch), &opts, &mut img).unwrap();
    let path = dir.join(format!("{}-{arch}.ckpt", s.id));
    std::fs::write(&path, &img).unwrap();
    (path.to_string_lossy().into_owned(), img)
}

fn index(img: &[u8], s: &'static Schema, arch: Arch) -> PageIndex {
    PageIndex::build(&mut Reader::new(img, Format::new(s, arch))).unwrap()
}

#[test]
fn bytes_from_a_file_and_from_a_pipe_equal_the_index_on_every_revision_and_arch() {
    let dir = tempfile::tempdir().unwrap();
    for s in Registry::get().all() {
        for &(arch, _) in &s.arches {
            let (path, img) = image(dir.path(), s, arch, 64 * 1024);
            let idx = index(&img, s, arch);
            // The last live task: a thread of a group on most, whose memory its leader's
            // section holds.
            let task = idx.model().tasks.iter().rev().find(|t| !t.zombie).unwrap();
            let space = idx.address_space_of(task.pid).unwrap();
            // From the executable's first page (held) into its holes.
            let exe = space.vmas()[0].clone();
            let (addr, len) = (exe.start + 0x800, 0x1000u64);
            let mut want = vec![0u8; len as usize];
            space.read_at(&img, addr, &mut want).unwrap();
            assert!(want.iter().any(|&b| b != 0), "{} {arch}", s.id);
            let out = dir.path().join("out.bin");
            let (pid, a, l) = (task.pid.to_string(), format!("{addr:#x}"), len.to_string());
            let o = out.to_str().unwrap();
            let args = [
                "mem", &path, "--pid", &pid, "--addr", &a, "--len", &l, "-o", o,
            ];
            ok(&args, None);
            assert_eq!(std::fs::read(&out).unwrap(), want, "{} {arch}", s.id);
            std::fs::remove_file(&out).unwrap();
            let mut piped = args;
            piped[1] = "-";
            ok(&piped, Some(&img));
            assert_eq!(std::fs::read(&out).unwrap(), want, "{} {arch} pipe", s.id);
        }
    }
}

#[test]
fn a_hexdump_shows_the_bytes_and_addresses_like_xxd() {
    let dir = tempfile::tempdir().unwrap();
    let s = Registry::get().find("v23-rc2").unwrap();
    let (path, img) = image(dir.path(), s, Arch::X86_64, 64 * 1024);
    let idx = index(&img, s, Arch::X86_64);
    let space = idx.address_space_of(1).unwrap();
    let heap = space.vmas()[1].start;
    let mut want = vec![0u8; 40];
    space.read_at(&img, heap + 4, &mut want).unwrap();
    let a = format!("{:#x}", heap + 4);
    let out = String::from_utf8(ok(
        &["mem", &path, "--pid", "1", "--addr", &a, "--len", "40"],
        None,
    ))
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let mut got = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let (at, rest) = line.split_once(": ").unwrap();
        assert_eq!(
            u64::from_str_radix(at, 16).unwrap(),
            heap + 4 + 16 * k as u64
        );
        let hex: String = rest[..39].chars().filter(|c| !c.is_whitespace()).collect();
        got.extend(hex::decode(hex).unwrap());
        let text = &rest[41..];
        assert_eq!(text.len(), want[16 * k..].len().min(16), "{line}");
    }
    assert_eq!(got, want);
}

#[test]
fn search_finds_a_pattern_across_a_page_boundary_from_a_file_and_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    for (rev, arch) in [("v23-rc2", Arch::X86_64), ("v19", Arch::S390x)] {
        let s = Registry::get().find(rev).unwrap();
        let (path, img) = image(dir.path(), s, arch, 256 * 1024);
        let idx = index(&img, s, arch);
        let space = idx.address_space_of(2).unwrap();
        let heap = space.vmas()[1].clone();
        // The last random word of the first heap page, the zeros after it and the
        // first 4 bytes of the second page: a pattern across the page boundary.
        let mut page = vec![0u8; 4096 + 4];
        space.read_at(&img, heap.start, &mut page).unwrap();
        let k = page[..4088].iter().rposition(|&b| b != 0).unwrap() & !7;
        let pat = page[k..].to_vec();
        let start = heap.start + k as u64;
        let arg = format!("hex:{}", hex::encode(&pat));
        let args = ["mem", &path, "--pid", "2", "--search", &arg];
        let from_file = String::from_utf8(ok(&args, None)).unwrap();
        let want = format!("{start:#x}  ");
        assert!(
            from_file.lines().any(|l| l.starts_with(&want)),
            "{rev}: {want} in\n{from_file}"
        );
        assert!(from_file.contains(" rw-p "), "{from_file}");
        let mut piped = args;
        piped[1] = "-";
        assert_eq!(
            String::from_utf8(ok(&piped, Some(&img))).unwrap(),
            from_file,
            "{rev}"
        );
    }
}

#[test]
fn strings_print_runs_at_their_addresses_the_same_from_a_file_and_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let s = Registry::get().find("v21-rc").unwrap();
    let (path, img) = image(dir.path(), s, Arch::X86_32, 512 * 1024);
    let idx = index(&img, s, Arch::X86_32);
    let space = idx.address_space_of(1).unwrap();
    let args = ["mem", &path, "--pid", "1", "--strings", "--min", "3"];
    let out = String::from_utf8(ok(&args, None)).unwrap();
    assert!(out.lines().count() > 3, "{out}");
    for line in out.lines() {
        let line = line.trim_start();
        let (at, text) = line.split_once(' ').unwrap();
        let at = u64::from_str_radix(at, 16).unwrap();
        assert!(text.len() >= 3, "{line}");
        let mut b = vec![0u8; text.len() + 1];
        space.read_at(&img, at, &mut b).unwrap();
        assert_eq!(&b[..text.len()], text.as_bytes(), "{line}");
        assert!(!(b[text.len()] == b'\t' || (0x20..0x7f).contains(&b[text.len()])));
    }
    let mut piped = args;
    piped[1] = "-";
    assert_eq!(String::from_utf8(ok(&piped, Some(&img))).unwrap(), out);
}

#[test]
fn errors_name_the_file_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let s = Registry::get().find("v23-rc2").unwrap();
    let (path, img) = image(dir.path(), s, Arch::X86_64, 64 * 1024);
    let out = dir.path().join("never.bin");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], i32, &[&str]); 7] = [
        (
            &["--pid", "99", "--addr", "0x400000", "--len", "4"],
            1,
            &["no task with pid 99", "1, 2, 3"],
        ),
        (
            &["--pid", "1", "--addr", "0x403ff0", "--len", "4K", "-o", o],
            1,
            &[
                "address 0x404000 is outside every VMA",
                "400000-404000 r-xp 00000000 /usr/bin/task0",
            ],
        ),
        (&["--pid", "8", "--strings"], 1, &["pid 8 is a zombie"]),
        (
            &["--pid", "1", "--addr", "0xzz", "--len", "4"],
            2,
            &["0xzz"],
        ),
        (
            &["--pid", "1", "--search", "0xabc"],
            2,
            &["not hex bytes", "text:0xabc"],
        ),
        (&["--pid", "1"], 2, &["--addr"]),
        (&["--pid", "1", "--addr", "0x400000"], 2, &["--len"]),
    ];
    for (args, code, needles) in cases {
        for input in [path.as_str(), "-"] {
            let mut a = vec!["mem", input];
            a.extend(args);
            let r = run(&a, (input == "-").then_some(&img[..]));
            let err = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status.code(), Some(code), "{a:?}: {err}");
            for n in needles {
                assert!(err.contains(n), "{a:?}: {n} not in {err}");
            }
            if code == 1 {
                let name = if input == "-" {
                    "standard input"
                } else {
                    &path
                };
                assert!(err.contains(name), "{a:?}: {err}");
            }
            assert!(!out.exists(), "{a:?} left an output");
        }
    }
}
