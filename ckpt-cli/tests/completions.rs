//! `ckpt completions SHELL` offers the names options take: revision ids and aliases,
//! architectures, the kinds of `sample --omit` and `--with`; and the options still take
//! what they took before (commit prefixes, ordinals).

use std::process::Command;

use ckpt_format::{Arch, Registry};

const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

fn completions(shell: &str) -> String {
    let o = Command::new(CKPT)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn completions_offer_revisions_arches_and_kinds() {
    let mut names: Vec<String> = Vec::new();
    for e in Registry::get().entries() {
        names.push(e.id().to_string());
        names.extend(e.aliases().iter().cloned());
    }
    assert!(names.len() > Registry::get().entries().len(), "no aliases");
    names.extend(Arch::ALL.iter().map(|a| a.name().to_string()));
    names.extend(
        [
            "files", "sockets", "ipc", "signals", "zombies", "threads", "tty", "pidns", "netns",
            "hugetlb", "sem-undo",
        ]
        .map(String::from),
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = completions(shell);
        let missing: Vec<&String> = names.iter().filter(|n| !script.contains(*n)).collect();
        assert!(missing.is_empty(), "{shell}: not offered: {missing:?}");
    }
    // fish shows what each revision is.
    let fish = completions("fish");
    let v23 = Registry::get().find("v23-rc2").unwrap();
    assert!(
        fish.contains(&format!("user-cr {}", v23.short_commit())),
        "{fish}"
    );
}

#[test]
fn revisions_are_still_taken_by_commit_prefix_and_ordinal() {
    let entry = Registry::get().find_entry("v19").unwrap();
    let ordinal = (Registry::get()
        .entries()
        .iter()
        .position(|e| e.id() == entry.id())
        .unwrap()
        + 1)
    .to_string();
    let commit = entry.short_commit();
    for rev in [entry.id(), commit, &commit[..7], &ordinal] {
        let o = Command::new(CKPT)
            .args(["schema", "show", rev])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "schema show {rev}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(CKPT)
            .args([
                "sample",
                "--rev",
                rev,
                "--arch",
                "x86_32",
                "-o",
                "/dev/null",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "sample --rev {rev}");
    }
    // An unknown name is refused with the lookup's own message (exit 2).
    let o = Command::new(CKPT)
        .args(["schema", "show", "no-such-revision"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-revision"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
