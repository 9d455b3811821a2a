//! `ckpt keygen`: the key files, their modes, an encrypted private key, what is refused,
//! and (with OpenSSL) that OpenSSL reads them.

mod common;
use common::{ok, run, s};
use std::os::unix::fs::PermissionsExt;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_a_private_key_0600_and_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["ed25519", "x25519"] {
        let key = dir.path().join(format!("{kind}.key"));
        let out = String::from_utf8(ok(&["keygen", "--kind", kind, "-o", s(&key)], None)).unwrap();
        assert!(out.starts_with(kind) && out.contains("SHA256:"), "{out}");
        let pubf = dir.path().join(format!("{kind}.key.pub"));
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&pubf), 0o644);
        let text = std::fs::read_to_string(&key).unwrap();
        let k = ckpt_seal::PrivateKey::from_pem(&text, None).unwrap();
        let p = ckpt_seal::PublicKey::from_pem(&std::fs::read_to_string(&pubf).unwrap()).unwrap();
        assert_eq!(k.public(), p);
        assert!(out.contains(&p.fingerprint()), "{out}");
        // Never over an existing key.
        let o = run(&["keygen", "--kind", kind, "-o", s(&key)], None);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
        assert_eq!(
            std::fs::read_to_string(&key).unwrap(),
            text,
            "the key was kept"
        );
    }
}

#[test]
fn a_passphrase_encrypts_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, "tr0ub4dor\n").unwrap();
    let key = dir.path().join("k");
    ok(
        &["keygen", "-o", s(&key), "--passphrase-file", s(&pass)],
        None,
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(ckpt_seal::PrivateKey::from_pem(&text, Some(b"tr0ub4dor")).is_ok());
    assert!(ckpt_seal::PrivateKey::from_pem(&text, Some(b"tr0ub4dor\n")).is_err());
    // An empty passphrase is refused, and nothing is written.
    std::fs::write(&pass, "\n").unwrap();
    let k2 = dir.path().join("k2");
    let o = run(
        &["keygen", "-o", s(&k2), "--passphrase-file", s(&pass)],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!k2.exists() && !dir.path().join("k2.pub").exists());
}

#[test]
#[ignore = "needs openssl"]
fn openssl_reads_the_keys() {
    let have = std::process::Command::new("openssl")
        .arg("version")
        .output();
    if have.is_err() {
        assert!(
            std::env::var_os("CKPT_REQUIRE_COMPONENTS").is_none(),
            "openssl is not installed"
        );
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, "hunter2\n").unwrap();
    for (kind, enc) in [
        ("ed25519", false),
        ("x25519", false),
        ("ed25519", true),
        ("x25519", true),
    ] {
        let key = dir.path().join(format!("{kind}-{enc}.key"));
        let mut a = vec!["keygen", "--kind", kind, "-o", s(&key)];
        if enc {
            a.extend(["--passphrase-file", s(&pass)]);
        }
        ok(&a, None);
        let mut args = vec!["pkey", "-in", s(&key), "-pubout"];
        if enc {
            args.extend(["-passin", "pass:hunter2"]);
        }
        let o = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{kind} {enc}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let ours =
            std::fs::read_to_string(dir.path().join(format!("{kind}-{enc}.key.pub"))).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            ours,
            "{kind}: the same public key"
        );
    }
}
