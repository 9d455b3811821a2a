//! `ckpt seal`, `verify`, `unseal`, and the seal in `info`, `check` and `strip`: exit
//! codes, messages in words (never Debug text), JSON against its schema, files and pipes.

mod common;
use common::{assert_no_debug_text, ok, run, s, sample_to, validate};
use std::path::{Path, PathBuf};

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    image: PathBuf,
    key: PathBuf,
    public: PathBuf,
    secret: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    let image = p.join("img.ckpt");
    sample_to(&image, "3M");
    let key = p.join("seal.key");
    ok(&["keygen", "-o", s(&key)], None);
    let secret = p.join("seal.secret");
    std::fs::write(&secret, [0x42u8; 32]).unwrap();
    Setup {
        public: p.join("seal.key.pub"),
        _dir: dir,
        dir: p,
        image,
        key,
        secret,
    }
}

/// Seals `image` into `t.dir/NAME` with `how` (`--key`, `--secret`) and `key`, and the
/// options `extra`; returns the sealed file.
fn seal_to(t: &Setup, image: &Path, name: &str, how: &str, key: &Path, extra: &[&str]) -> PathBuf {
    let sealed = t.dir.join(name);
    let mut args = vec!["seal", s(image), "-o", s(&sealed), how, s(key)];
    args.extend_from_slice(extra);
    ok(&args, None);
    sealed
}

fn fails(args: &[&str], code: i32, says: &str) -> String {
    let o = run(args, None);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(code),
        "ckpt {}: {err}",
        args.join(" ")
    );
    assert!(err.contains(says), "ckpt {}: {err}", args.join(" "));
    assert_no_debug_text(args, &o.stderr);
    err
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = run(args, None);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", o))
}

fn tamper(from: &Path, to: &Path, at: usize) {
    let mut b = std::fs::read(from).unwrap();
    b[at] ^= 0x20;
    std::fs::write(to, b).unwrap();
}

#[test]
fn seal_verify_unseal_round_trip_with_a_key_and_a_secret() {
    let t = setup();
    let plain = std::fs::read(&t.image).unwrap();
    for (how, seal_key, verify_key) in [
        ("--key", &t.key, ("--pubkey", &t.public)),
        ("--secret", &t.secret, ("--secret", &t.secret)),
    ] {
        let sealed = t.dir.join(format!("img{how}.sealed"));
        ok(
            &["seal", s(&t.image), "-o", s(&sealed), how, s(seal_key)],
            None,
        );
        let out = String::from_utf8(ok(
            &["verify", s(&sealed), verify_key.0, s(verify_key.1)],
            None,
        ))
        .unwrap();
        assert!(out.contains("valid seal"), "{out}");
        let v = json(&[
            "verify",
            s(&sealed),
            verify_key.0,
            s(verify_key.1),
            "--json",
        ]);
        validate("verify.schema.json", &v);
        assert_eq!(v["valid"], true);
        assert_eq!(v["seal"]["key_fingerprint"].is_null(), how == "--secret");
        let unsealed = ok(
            &[
                "unseal",
                s(&sealed),
                verify_key.0,
                s(verify_key.1),
                "-o",
                "-",
            ],
            None,
        );
        assert_eq!(unsealed, plain);
        // A pipe in, a pipe out.
        let piped = ok(&["seal", "-", "-o", "-", how, s(seal_key)], Some(&plain));
        let back = ok(
            &["unseal", "-", verify_key.0, s(verify_key.1), "-o", "-"],
            Some(&piped),
        );
        assert_eq!(back, plain);
        ok(
            &["verify", "-", verify_key.0, s(verify_key.1)],
            Some(&piped),
        );
        // --expect-sha256 of the image itself, and --max-age.
        let sha = v["image_sha256"].as_str().unwrap().to_string();
        ok(
            &[
                "verify",
                s(&sealed),
                verify_key.0,
                s(verify_key.1),
                "--expect-sha256",
                &sha,
                "--max-age",
                "1h",
            ],
            None,
        );
    }
}

#[test]
fn each_failure_has_its_exit_code_and_its_own_message() {
    let t = setup();
    let sealed = seal_to(&t, &t.image, "img.sealed", "--key", &t.key, &[]);
    let other = t.dir.join("other.key");
    ok(&["keygen", "-o", s(&other)], None);
    let other_pub = t.dir.join("other.key.pub");
    let sv = s(&sealed);
    let pk = s(&t.public);
    fails(&["verify", sv, "--pubkey", s(&other_pub)], 1, "wrong key");
    fails(
        &["verify", sv, "--secret", s(&t.secret)],
        1,
        "sealed with Ed25519",
    );
    let zeros = "00".repeat(32);
    fails(
        &["verify", sv, "--pubkey", pk, "--expect-sha256", &zeros],
        1,
        "a seal of another image",
    );
    ok(&["verify", sv, "--pubkey", pk, "--max-age", "1d"], None);
    fails(
        &["verify", sv, "--pubkey", pk, "--max-age", "soon"],
        2,
        "--max-age soon",
    );
    fails(
        &["verify", sv, "--pubkey", pk, "--expect-sha256", "abc"],
        2,
        "64 hex digits",
    );
    fails(&["verify", sv], 2, "");
    fails(&["verify", sv, "--pubkey", s(&t.key)], 2, "PRIVATE KEY");
    fails(
        &["verify", s(&t.image), "--pubkey", s(&t.public)],
        1,
        "not a sealed image",
    );
    fails(
        &["verify", "/nonexistent", "--pubkey", s(&t.public)],
        3,
        "cannot open",
    );
    // A short secret is refused, naming it.
    let short = t.dir.join("short");
    std::fs::write(&short, b"too short").unwrap();
    fails(
        &[
            "seal",
            s(&t.image),
            "-o",
            s(&t.dir.join("x")),
            "--secret",
            s(&short),
        ],
        2,
        "at least 32",
    );
    assert!(!t.dir.join("x").exists());
    // Tampered: a chunk, the header, the end.
    let bad = t.dir.join("bad.sealed");
    let len = std::fs::metadata(&sealed).unwrap().len() as usize;
    tamper(&sealed, &bad, len * 3 / 4);
    let e = fails(
        &["verify", s(&bad), "--pubkey", s(&t.public)],
        1,
        "chunk 3 of 4",
    );
    assert!(e.contains("record"), "{e}");
    let j = json(&["verify", s(&bad), "--pubkey", s(&t.public), "--json"]);
    validate("verify.schema.json", &j);
    assert_eq!(j["error"]["kind"], "chunk_mismatch");
    assert!(j["error"]["record"]["type"].is_string(), "{j}");
    tamper(&sealed, &bad, 64 + 16 + 50);
    fails(
        &["verify", s(&bad), "--pubkey", s(&t.public)],
        1,
        "bad signature",
    );
    let mut b = std::fs::read(&sealed).unwrap();
    b.truncate(len - 100);
    std::fs::write(&bad, &b).unwrap();
    fails(
        &["verify", s(&bad), "--pubkey", s(&t.public)],
        1,
        "truncated",
    );
    let mut b = std::fs::read(&sealed).unwrap();
    b.extend_from_slice(b"tail");
    std::fs::write(&bad, &b).unwrap();
    fails(
        &["verify", s(&bad), "--pubkey", s(&t.public)],
        1,
        "extended",
    );
    let mut b = std::fs::read(&sealed).unwrap();
    b[80] = 7;
    std::fs::write(&bad, &b).unwrap();
    fails(
        &["verify", s(&bad), "--pubkey", s(&t.public)],
        1,
        "seal of format 7.1.0",
    );
}

#[test]
fn unseal_of_an_image_tampered_in_its_second_half_gives_a_prefix_and_exit_1() {
    let t = setup();
    let plain = std::fs::read(&t.image).unwrap();
    let sealed = seal_to(&t, &t.image, "img.sealed", "--secret", &t.secret, &[]);
    let bad = t.dir.join("bad.sealed");
    let len = std::fs::metadata(&sealed).unwrap().len() as usize;
    tamper(&sealed, &bad, len * 3 / 4);
    let args = ["unseal", s(&bad), "--secret", s(&t.secret), "-o", "-"];
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        plain.starts_with(&o.stdout),
        "the output is not a prefix of the plain image"
    );
    assert!(!o.stdout.is_empty() && o.stdout.len() < plain.len());
    assert_no_debug_text(&args, &o.stderr);
    // To a file: nothing remains.
    let out = t.dir.join("out.ckpt");
    fails(
        &["unseal", s(&bad), "--secret", s(&t.secret), "-o", s(&out)],
        1,
        "chunk 3 of 4",
    );
    assert!(!out.exists());
    let left: Vec<String> = common::names(&t.dir)
        .into_iter()
        .filter(|n| n.contains("out.ckpt"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn info_check_and_strip_know_a_sealed_image() {
    let t = setup();
    let ann = t.dir.join("ann.ckpt");
    ok(
        &["annotate", s(&t.image), "-o", s(&ann), "--note", "site=lab"],
        None,
    );
    let sealed = seal_to(&t, &ann, "img.sealed", "--key", &t.key, &[]);
    let info = String::from_utf8(ok(&["info", s(&sealed)], None)).unwrap();
    assert!(info.contains("seal:       Ed25519"), "{info}");
    assert!(info.contains("not verified"), "{info}");
    let v: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", s(&sealed)], None)).unwrap();
    validate("info.schema.json", &v);
    validate("container.schema.json", &v["container"]);
    assert_eq!(v["container"]["seal"]["algorithm"], "Ed25519");
    assert_eq!(v["container"]["annotations"]["notes"][0]["key"], "site");
    let e = fails(&["check", s(&sealed)], 1, "");
    let out = String::from_utf8(run(&["check", s(&sealed)], None).stdout).unwrap();
    assert!(out.contains("ckpt unseal"), "{out}{e}");
    ok(&["check", s(&sealed), "--require-seal", s(&t.public)], None);
    let other = t.dir.join("other.key");
    ok(&["keygen", "-o", s(&other)], None);
    let other_pub = t.dir.join("other.key.pub");
    fails(
        &["check", s(&sealed), "--require-seal", s(&other_pub)],
        1,
        "wrong key",
    );
    fails(
        &["check", s(&t.image), "--require-seal", s(&t.public)],
        1,
        "not a sealed image",
    );
    fails(
        &["strip", s(&sealed), "-o", s(&t.dir.join("x"))],
        1,
        "ckpt unseal",
    );
    fails(&["dump", s(&sealed)], 1, "ckpt unseal");
    fails(
        &[
            "seal",
            s(&sealed),
            "-o",
            s(&t.dir.join("y")),
            "--key",
            s(&t.key),
        ],
        1,
        "sealed already",
    );
    // Unseal never outputs the annotations: the plain image comes out.
    let plain = ok(
        &["unseal", s(&sealed), "--pubkey", s(&t.public), "-o", "-"],
        None,
    );
    assert_eq!(plain, std::fs::read(&t.image).unwrap());
}

#[test]
fn a_detached_seal_is_written_and_verifies() {
    let t = setup();
    let sig = t.dir.join("img.sig");
    let sealed = seal_to(
        &t,
        &t.image,
        "img.sealed",
        "--key",
        &t.key,
        &["--detached", s(&sig)],
    );
    assert!(std::fs::metadata(&sig).unwrap().len() > 200);
    let with_sig = [
        "verify",
        s(&sealed),
        "--pubkey",
        s(&t.public),
        "--sig",
        s(&sig),
    ];
    ok(&with_sig, None);
    let mut b = std::fs::read(&sig).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&sig, b).unwrap();
    fails(&with_sig, 1, "bad signature");
}

#[test]
fn convert_edit_and_annotate_read_through_the_seal_and_sign_again() {
    let t = setup();
    let sealed = seal_to(&t, &t.image, "img.sealed", "--key", &t.key, &[]);
    let out = t.dir.join("out.ckpt");
    // Without a key: refused, naming the options; nothing written.
    fails(
        &["convert", s(&sealed), "--to-rev", "v21-rc", "-o", s(&out)],
        2,
        "--pubkey PUB or --secret FILE",
    );
    fails(
        &["edit", s(&sealed), "--hostname", "h", "-o", s(&out)],
        2,
        "--pubkey PUB or --secret FILE",
    );
    fails(
        &["annotate", s(&sealed), "--note", "a=b", "-o", s(&out)],
        2,
        "--pubkey PUB or --secret FILE",
    );
    assert!(!out.exists());
    // With the key: a plain image out, the same as from the unsealed image.
    let plain = t.dir.join("plain.ckpt");
    ok(
        &[
            "unseal",
            s(&sealed),
            "--pubkey",
            s(&t.public),
            "-o",
            s(&plain),
        ],
        None,
    );
    let direct = t.dir.join("direct.ckpt");
    ok(
        &["convert", s(&plain), "--to-rev", "v21-rc", "-o", s(&direct)],
        None,
    );
    ok(
        &[
            "convert",
            s(&sealed),
            "--to-rev",
            "v21-rc",
            "-o",
            s(&out),
            "--pubkey",
            s(&t.public),
        ],
        None,
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&direct).unwrap()
    );
    // --sign seals the output again: it unseals to the same plain output.
    let resealed = t.dir.join("edited.sealed");
    let through = ["--pubkey", s(&t.public), "--sign", s(&t.key)];
    let edit = ["edit", s(&sealed), "--hostname", "h", "-o", s(&resealed)];
    ok(&[&edit[..], &through].concat(), None);
    let edited = t.dir.join("edited.ckpt");
    ok(
        &["edit", s(&plain), "--hostname", "h", "-o", s(&edited)],
        None,
    );
    let back = ok(
        &["unseal", s(&resealed), "--pubkey", s(&t.public), "-o", "-"],
        None,
    );
    assert_eq!(back, std::fs::read(&edited).unwrap());
    let annotated = t.dir.join("annotated.sealed");
    let annotate = ["annotate", s(&sealed), "--note", "a=b", "-o", s(&annotated)];
    ok(&[&annotate[..], &through].concat(), None);
    let info = String::from_utf8(ok(&["info", s(&annotated)], None)).unwrap();
    assert!(
        info.contains("note: a=b") && info.contains("seal:"),
        "{info}"
    );
    // A bad seal is refused, naming the chunk; a wrong key too.
    let bad = t.dir.join("bad.sealed");
    let len = std::fs::metadata(&sealed).unwrap().len() as usize;
    tamper(&sealed, &bad, len * 3 / 4);
    let gone = t.dir.join("gone.ckpt");
    fails(
        &[
            "convert",
            s(&bad),
            "--to-rev",
            "v21-rc",
            "-o",
            s(&gone),
            "--pubkey",
            s(&t.public),
        ],
        1,
        "chunk 3 of 4",
    );
    assert!(!gone.exists());
    fails(
        &[
            "edit",
            s(&sealed),
            "--hostname",
            "h",
            "-o",
            s(&gone),
            "--secret",
            s(&t.secret),
        ],
        1,
        "sealed with Ed25519",
    );
    fails(
        &[
            "edit",
            s(&plain),
            "--hostname",
            "h",
            "-o",
            s(&gone),
            "--pubkey",
            s(&t.public),
        ],
        2,
        "not a sealed image",
    );
}

/// An X25519 recipient key pair in `t.dir`: (KEY, KEY.pub).
fn recipient(t: &Setup, name: &str) -> (PathBuf, PathBuf) {
    let key = t.dir.join(name);
    ok(&["keygen", "--kind", "x25519", "-o", s(&key)], None);
    let public = t.dir.join(format!("{name}.pub"));
    (key, public)
}

#[test]
fn an_encrypted_seal_verifies_without_its_identity_and_unseals_with_it() {
    let t = setup();
    let plain = std::fs::read(&t.image).unwrap();
    let (id, id_pub) = recipient(&t, "host.key");
    let (other, _) = recipient(&t, "other.key");
    let enc = ["--encrypt", "--recipient", s(&id_pub)];
    let sealed = seal_to(&t, &t.image, "img.sealed", "--key", &t.key, &enc);
    let pk = ["--pubkey", s(&t.public)];
    // verify: the ciphertext, without the identity; says it is encrypted.
    let out = String::from_utf8(ok(&[&["verify", s(&sealed)][..], &pk].concat(), None)).unwrap();
    assert!(
        out.contains("valid seal") && out.contains("encrypted"),
        "{out}"
    );
    let v = json(&[&["verify", s(&sealed), "--json"][..], &pk].concat());
    validate("verify.schema.json", &v);
    assert_eq!(v["seal"]["encrypted"], true);
    assert!(v["image_sha256"].is_null());
    assert_eq!(v["seal"]["revision"], 0);
    let idarg = ["--identity", s(&id)];
    let v = json(&[&["verify", s(&sealed), "--json"][..], &pk, &idarg].concat());
    validate("verify.schema.json", &v);
    assert!(v["image_sha256"].is_string());
    // unseal: with the identity, the plain image, from a file and a pipe.
    let back = ok(
        &[&["unseal", s(&sealed), "-o", "-"][..], &pk, &idarg].concat(),
        None,
    );
    assert_eq!(back, plain);
    let piped = ok(
        &[&["seal", "-", "-o", "-", "--key", s(&t.key)][..], &enc].concat(),
        Some(&plain),
    );
    let back = ok(
        &[&["unseal", "-", "-o", "-"][..], &pk, &idarg].concat(),
        Some(&piped),
    );
    assert_eq!(back, plain);
    // Without it, or with another: refused with its own message, nothing written.
    let out = t.dir.join("out.ckpt");
    fails(
        &[&["unseal", s(&sealed), "-o", s(&out)][..], &pk].concat(),
        2,
        "--identity KEY",
    );
    fails(
        &[
            &["unseal", s(&sealed), "-o", s(&out), "--identity", s(&other)][..],
            &pk,
        ]
        .concat(),
        1,
        "wrong identity",
    );
    fails(
        &[
            &["unseal", s(&sealed), "-o", s(&out), "--identity", s(&t.key)][..],
            &pk,
        ]
        .concat(),
        2,
        "--identity",
    );
    assert!(!out.exists());
    // Tampered in its second half: a decrypted prefix, then exit 1.
    let bad = t.dir.join("bad.sealed");
    let len = std::fs::metadata(&sealed).unwrap().len() as usize;
    tamper(&sealed, &bad, len * 3 / 4);
    let o = run(
        &[&["unseal", s(&bad), "-o", "-"][..], &pk, &idarg].concat(),
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!o.stdout.is_empty() && o.stdout.len() < plain.len());
    assert!(plain.starts_with(&o.stdout));
    // info: the seal and its encryption, not the image.
    let text = String::from_utf8(ok(&["info", s(&sealed)], None)).unwrap();
    assert!(
        text.contains("encrypted: yes") && text.contains("ChaCha20-Poly1305"),
        "{text}"
    );
    let v = json(&["info", s(&sealed), "--json"]);
    validate("container.schema.json", &v["container"]);
    assert_eq!(v["container"]["seal"]["aead"], "ChaCha20-Poly1305 STREAM");
    // convert reads through it with --identity only.
    fails(
        &[
            &["convert", s(&sealed), "--to-rev", "v21-rc", "-o", s(&out)][..],
            &pk,
        ]
        .concat(),
        2,
        "--identity KEY",
    );
    ok(
        &[
            &["convert", s(&sealed), "--to-rev", "v21-rc", "-o", s(&out)][..],
            &pk,
            &idarg,
        ]
        .concat(),
        None,
    );
    let direct = t.dir.join("direct.ckpt");
    ok(
        &[
            "convert",
            s(&t.image),
            "--to-rev",
            "v21-rc",
            "-o",
            s(&direct),
        ],
        None,
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&direct).unwrap()
    );
    // check names unseal.
    fails(&["check", s(&sealed)], 2, "ckpt unseal --identity");
    // --expect-sha256 reads the plain image: it needs the identity.
    let sha = v_sha(&[&["verify", s(&sealed), "--json"][..], &pk, &idarg].concat());
    fails(
        &[&["verify", s(&sealed), "--expect-sha256", &sha][..], &pk].concat(),
        2,
        "--identity KEY",
    );
    ok(
        &[
            &["verify", s(&sealed), "--expect-sha256", &sha][..],
            &pk,
            &idarg,
        ]
        .concat(),
        None,
    );
    // An HMAC seal encrypts the same way; a recipient that is a signing key is refused.
    let macd = seal_to(&t, &t.image, "mac.sealed", "--secret", &t.secret, &enc);
    let sk = ["--secret", s(&t.secret)];
    assert_eq!(
        ok(
            &[&["unseal", s(&macd), "-o", "-"][..], &sk, &idarg].concat(),
            None
        ),
        plain
    );
    let refused = t.dir.join("refused.sealed");
    fails(
        &[
            "seal",
            s(&t.image),
            "-o",
            s(&refused),
            "--key",
            s(&t.key),
            "--encrypt",
            "--recipient",
            s(&t.public),
        ],
        2,
        "--recipient",
    );
    assert!(!refused.exists());
}

/// The plain image's SHA-256 that `verify --json` reports.
fn v_sha(args: &[&str]) -> String {
    json(args)["image_sha256"].as_str().unwrap().to_string()
}
