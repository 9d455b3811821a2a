//! `convert --target-config` and `--source-config` from the command line: refusals name
//! the record and the option, as `check --target-config` does; a file that is not a
//! kernel config is a usage error naming the line; the source config in an image's
//! annotation is compared with the image, and the summary and the report say which
//! config each decision came from.

mod common;
use common::{ok, root, run, s};

const FULL: &str = "CONFIG_CHECKPOINT=y\nCONFIG_SYSVIPC=y\nCONFIG_EPOLL=y\nCONFIG_EVENTFD=y\n\
CONFIG_INET=y\nCONFIG_UNIX=y\nCONFIG_FUTEX=y\nCONFIG_COMPAT=y\nCONFIG_IA32_EMULATION=y\n\
CONFIG_PID_NS=y\nCONFIG_NET_NS=y\nCONFIG_IPC_NS=y\nCONFIG_UTS_NS=y\nCONFIG_USER_NS=y\n\
CONFIG_SECURITY=y\n";

#[test]
fn convert_refuses_what_check_refuses_naming_the_option_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let cfg = dir.path().join("no-epoll.config");
    std::fs::write(
        &cfg,
        FULL.replace("CONFIG_EPOLL=y\n", "# CONFIG_EPOLL is not set\n"),
    )
    .unwrap();
    let out = dir.path().join("out.ckpt");
    let o = run(
        &[
            "convert",
            s(&sample),
            "--to-rev",
            "v23-rc1",
            "-o",
            s(&out),
            "--target-config",
            s(&cfg),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CONFIG_EPOLL") && err.contains("(FILE)") && err.contains("no-epoll.config"),
        "{err}"
    );
    assert!(!out.exists(), "no output when refused");
    let o = run(&["check", s(&sample), "--target-config", s(&cfg)], None);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("CONFIG_EPOLL"), "{said}");
    // With every option set it converts, and says which config chose the constants.
    let full = dir.path().join("full.config");
    std::fs::write(&full, FULL).unwrap();
    let report = dir.path().join("report.json");
    let o = run(
        &[
            "convert",
            s(&sample),
            "--to-rev",
            "v23-rc1",
            "-o",
            s(&out),
            "--target-config",
            s(&full),
            "--report",
            s(&report),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("config: ckpt_const variant: CONFIG_IA32_EMULATION=y (at_vector_size 44) (target config ")
            && !err.contains("config: CONFIG_SECURITY"),
        "{err}"
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    common::validate("convert-report.schema.json", &j);
    let d = &j["result"]["summary"]["config_decisions"];
    assert_eq!(d[0]["fact"], "ckpt_const variant", "{d}");
    assert!(
        d[0]["config"].as_str().unwrap().ends_with("full.config"),
        "{d}"
    );
}

#[test]
fn a_file_that_is_not_a_kernel_config_is_a_usage_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, "CONFIG_EPOLL=y\nremember the milk\n").unwrap();
    let out = dir.path().join("out.ckpt");
    for cmd in [
        vec![
            "convert",
            s(&sample),
            "--to-rev",
            "v23-rc1",
            "-o",
            s(&out),
            "--target-config",
            s(&bad),
        ],
        vec![
            "convert",
            s(&sample),
            "--to-rev",
            "v23-rc1",
            "-o",
            s(&out),
            "--source-config",
            s(&bad),
        ],
        vec!["check", s(&sample), "--target-config", s(&bad)],
        vec!["annotate", s(&sample), "-o", s(&out), "--config", s(&bad)],
    ] {
        let o = run(&cmd, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(
            err.contains("notes.txt") && err.contains("line 2"),
            "{cmd:?}: {err}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn the_annotated_source_config_is_compared_with_the_image_and_the_image_wins() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let cfg = dir.path().join("src.config");
    std::fs::write(
        &cfg,
        FULL.replace(
            "CONFIG_IA32_EMULATION=y\n",
            "# CONFIG_IA32_EMULATION is not set\n",
        ),
    )
    .unwrap();
    let a = dir.path().join("a.ckpt");
    ok(
        &["annotate", s(&sample), "-o", s(&a), "--config", s(&cfg)],
        None,
    );
    let out = dir.path().join("out.ckpt");
    let o = run(
        &["convert", s(&a), "--to-rev", "v23-rc1", "-o", s(&out)],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("source CONFIG_IA32_EMULATION: CONFIG_IA32_EMULATION=y, as the image's ckpt_const says: the image wins over the source config the image's annotation, which says n"),
        "{err}"
    );
    // The output is a plain image.
    assert!(!std::fs::read(&out).unwrap().starts_with(b"CKPT+ANN"));
}
