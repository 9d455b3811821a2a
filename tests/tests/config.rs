//! Conversion across kernel configurations: `convert --target-config` and `check
//! --target-config` decide from one table, so over every ordered pair of revisions and
//! every option the image needs, a conversion is refused exactly when the target's
//! preflight of the unconfigured conversion reports that option; the members a target
//! ignores are written as 0 (a loss) exactly when the preflight warns; and the source
//! config never overrides what the image says.

use ckpt_convert::config::{ConfigOrigin, GivenConfig, KernelConfig, OPTION_RULES, Outcome};
use ckpt_convert::transform::{Cx, Flow, Out, RunOptions, Transform, run};
use ckpt_convert::{Action, ConvertError, Options, TaskPaths};
use ckpt_format::build::{BuildOptions, Omit};
use ckpt_format::value::{Value, encode_field};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_tests::image;
use ckpt_tests::pairs::convert_image;

/// A config with every option of the table set, except `without`, which is written
/// as "is not set".
fn config_without(without: Option<&str>) -> GivenConfig {
    let mut text = String::from("# test config\n");
    for r in OPTION_RULES {
        if Some(r.option) == without {
            text.push_str(&format!("# {} is not set\n", r.option));
        } else {
            text.push_str(&format!("{}=y\n", r.option));
        }
    }
    let name = format!("without-{}", without.unwrap_or("nothing"));
    GivenConfig::new(
        KernelConfig::parse_checked(&text).unwrap(),
        ConfigOrigin::File(name),
    )
}

fn options(target: Option<GivenConfig>, source: Option<GivenConfig>) -> Options {
    Options {
        cwd: TaskPaths::all("/srv"),
        root: TaskPaths::all("/"),
        allow_lossy: true,
        target_config: target,
        source_config: source,
        ..Options::default()
    }
}

/// Sockets, epoll, eventfd, IPC, pid namespaces, robust futex lists; no socket buffers
/// (refused across db94f5e whatever the config).
fn build_options() -> BuildOptions {
    BuildOptions {
        tasks: 3,
        memory: 2 * 4096,
        seed: 5,
        omit: Omit {
            signals: true,
            ..Omit::default()
        },
        with_robust_futex: true,
        ..BuildOptions::default()
    }
}

/// Sets every TASK's compat robust futex list (as a 64-bit kernel records a task that
/// registered one through the compat syscall): a transform on the API other tools use.
struct SetCompatList;

impl Transform for SetCompatList {
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        _out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        if cx.rec.name == "TASK" {
            let l = cx.from.layout("ckpt_hdr_task").unwrap();
            for (m, v) in [
                ("compat_robust_futex_list", 0xffd0_0a00u64),
                ("compat_robust_futex_head_len", 12),
            ] {
                let f = l.fields().iter().find(|f| f.path == m).unwrap();
                encode_field(f, &Value::Uint(v), rec, cx.from.endian()).unwrap();
            }
        }
        Ok(Flow::Pass)
    }
}

fn with_compat_list(img: &[u8], s: &'static Schema, arch: Arch) -> Vec<u8> {
    let f = Format::shared(s, arch);
    let mut out = Vec::new();
    run(
        Reader::new(img, Format::new(s, arch)),
        f,
        &mut [&mut SetCompatList],
        &mut out,
        &RunOptions::default(),
        None,
    )
    .unwrap();
    out
}

/// The preflight of `img` (of `s` on `arch`) for its own revision under `cfg`: the
/// options it reports as problems, and as warnings.
fn preflight(
    img: &[u8],
    s: &'static Schema,
    arch: Arch,
    cfg: &GivenConfig,
) -> (Vec<String>, Vec<String>) {
    let r = Reader::new(img, Format::new(s, arch));
    let rep = ckpt_convert::check::check(
        r,
        None,
        s,
        None,
        cfg.config.constants_variant(),
        Some(&cfg.config),
        None,
    )
    .unwrap();
    let opts = |f: &[ckpt_convert::check::Finding]| {
        f.iter()
            .filter_map(|f| f.check.strip_prefix("config ").map(str::to_string))
            .collect::<Vec<_>>()
    };
    (opts(&rep.problems), opts(&rep.warnings))
}

#[test]
fn convert_and_check_agree_on_every_option_over_every_pair() {
    let reg = Registry::get();
    let mut compared = 0;
    let mut refusals = 0;
    let mut drops = 0;
    let mut report = Vec::new();
    for a in reg.all() {
        for (arch, _) in &a.arches {
            let plain = image(a, *arch, &build_options());
            // On 64-bit arches, tasks with compat lists too.
            let img = if arch.word_size() == 8 {
                with_compat_list(&plain, a, *arch)
            } else {
                plain
            };
            for b in reg.all() {
                if !b.has_arch(*arch) {
                    continue;
                }
                let Ok((out, _)) = convert_image(&img, a, b, *arch, &options(None, None)) else {
                    continue; // refused whatever the config (tested in convert.rs)
                };
                // Every option the converted image needs, and the full config.
                let needs: Vec<String> = {
                    let r = Reader::new(&out[..], Format::new(b, *arch));
                    ckpt_convert::check::check(r, None, b, None, None, None, None)
                        .unwrap()
                        .needs
                        .into_iter()
                        .map(|(o, _)| o)
                        .collect()
                };
                for without in std::iter::once(None).chain(needs.iter().map(|o| Some(o.as_str()))) {
                    let cfg = config_without(without);
                    let (problems, warnings) = preflight(&out, b, *arch, &cfg);
                    let what = format!("{} -> {} {arch} {}", a.id, b.id, cfg.origin);
                    compared += 1;
                    match convert_image(&img, a, b, *arch, &options(Some(cfg.clone()), None)) {
                        Err(ConvertError::Refused(msg)) => {
                            refusals += 1;
                            if !problems.iter().any(|o| msg.contains(o.as_str())) {
                                report.push(format!(
                                    "{what}: refused ({msg}) but the preflight reports {problems:?}"
                                ));
                            }
                        }
                        Err(e) => report.push(format!("{what}: {e}")),
                        Ok((out2, s)) => {
                            if !problems.is_empty() {
                                report.push(format!(
                                    "{what}: converted, but the preflight reports {problems:?}"
                                ));
                            }
                            // The members a target ignores are dropped, exactly when the
                            // preflight warns of an option whose rule says so.
                            let ignored: Vec<&String> = warnings
                                .iter()
                                .filter(|o| {
                                    OPTION_RULES.iter().any(|r| {
                                        r.option == o.as_str()
                                            && matches!(r.outcome, Outcome::Ignores(_))
                                    })
                                })
                                .collect();
                            let dropped: Vec<_> = s
                                .ledger
                                .entries
                                .iter()
                                .filter(|e| {
                                    e.action == Action::Dropped
                                        && e.reason
                                            .as_deref()
                                            .is_some_and(|r| r.contains("has no CONFIG_"))
                                })
                                .collect();
                            if ignored.is_empty() != dropped.is_empty() {
                                report.push(format!(
                                    "{what}: preflight warns of {ignored:?}, the conversion dropped {} members",
                                    dropped.len()
                                ));
                            }
                            drops += dropped.len();
                            // What was dropped, the target no longer warns of.
                            let (p2, w2) = preflight(&out2, b, *arch, &cfg);
                            if !p2.is_empty() || w2.iter().any(|o| ignored.contains(&o)) {
                                report.push(format!(
                                    "{what}: the configured conversion's preflight: {p2:?} {w2:?}"
                                ));
                            }
                            // Every config decision names the config it came from.
                            for d in &s.config_decisions {
                                if !d.config.starts_with("target config ") {
                                    report.push(format!("{what}: decision {d:?}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
    assert!(compared > 1000, "{compared} comparisons");
    assert!(
        refusals > 500 && drops > 100,
        "{refusals} refusals, {drops} drops"
    );
}

#[test]
fn the_target_config_chooses_the_constants_and_the_auxv_length() {
    let reg = Registry::get();
    let mut checked = 0;
    for a in reg.all() {
        if !a.has_arch(Arch::X86_64) {
            continue;
        }
        let img = image(a, Arch::X86_64, &build_options());
        for ia32 in [true, false] {
            // Every option set; CONFIG_IA32_EMULATION as asked (the builder's tasks are
            // 64-bit, so it chooses only the constants).
            let full = config_without(Some("CONFIG_IA32_EMULATION"));
            let mut text: String = OPTION_RULES
                .iter()
                .filter(|r| full.config.enabled(r.option))
                .map(|r| format!("{}=y\n", r.option))
                .collect();
            text.push_str(if ia32 {
                "CONFIG_IA32_EMULATION=y\n"
            } else {
                "# CONFIG_IA32_EMULATION is not set\n"
            });
            let cfg = GivenConfig::new(
                KernelConfig::parse_checked(&text).unwrap(),
                ConfigOrigin::File("t.config".into()),
            );
            let o = Options {
                target_config: Some(cfg.clone()),
                ..options(None, None)
            };
            let (out, s) = convert_image(&img, a, a, Arch::X86_64, &o)
                .unwrap_or_else(|e| panic!("{} x86_64 to itself: {e}", a.id));
            // The output passes the preflight of a kernel with that config.
            let r = Reader::new(&out[..], Format::new(a, Arch::X86_64));
            let rep = ckpt_convert::check::check(
                r,
                None,
                a,
                None,
                cfg.config.constants_variant(),
                None,
                None,
            )
            .unwrap();
            assert!(rep.ok(), "{} ia32={ia32}: {:?}", a.id, rep.problems);
            let d = s
                .config_decisions
                .iter()
                .find(|d| d.fact == "ckpt_const variant")
                .unwrap_or_else(|| panic!("{}: {:?}", a.id, s.config_decisions));
            let want = if ia32 { "=y" } else { "=n" };
            assert!(d.decision.contains(want), "{}: {d:?}", a.id);
            assert_eq!(d.config, "target config t.config");
            // 44 entries (IA32_EMULATION=y, the builder's) cut to 42, saying why.
            let cut = s
                .ledger
                .entries
                .iter()
                .find(|e| e.field.starts_with("saved_auxv["));
            if ia32 {
                assert!(cut.is_none(), "{}: {cut:?}", a.id);
            } else {
                let cut = cut.unwrap_or_else(|| panic!("{}: saved_auxv kept", a.id));
                assert_eq!(cut.action, Action::Removed, "{}: {cut:?}", a.id);
                let why = cut.reason.as_deref().unwrap_or_default();
                assert!(
                    why.contains("CONFIG_IA32_EMULATION=n, target config t.config"),
                    "{why}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
}

#[test]
fn the_image_wins_over_a_source_config_that_contradicts_it() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, &build_options());
    // The builder's x86_64 images carry the IA32_EMULATION=y constants.
    let says_n = GivenConfig::new(
        KernelConfig::parse_checked(
            "CONFIG_CHECKPOINT=y\n# CONFIG_IA32_EMULATION is not set\n# CONFIG_INET is not set\n",
        )
        .unwrap(),
        ConfigOrigin::Annotation,
    );
    let (_, sum) = convert_image(&img, s, s, Arch::X86_64, &options(None, Some(says_n))).unwrap();
    let d: Vec<_> = sum
        .config_decisions
        .iter()
        .filter(|d| d.fact.starts_with("source "))
        .collect();
    let ia32 = d
        .iter()
        .find(|d| d.fact == "source CONFIG_IA32_EMULATION")
        .unwrap();
    assert!(ia32.decision.contains("the image wins"), "{ia32:?}");
    assert!(
        ia32.decision.starts_with("CONFIG_IA32_EMULATION=y"),
        "{ia32:?}"
    );
    let inet = d.iter().find(|d| d.fact == "source CONFIG_INET").unwrap();
    assert!(
        inet.decision.contains("SOCKET_INET") && inet.decision.contains("the image wins"),
        "{inet:?}"
    );
    assert_eq!(ia32.config, "source config the image's annotation");

    let says_y = GivenConfig::new(
        KernelConfig::parse_checked("CONFIG_CHECKPOINT=y\nCONFIG_IA32_EMULATION=y\n").unwrap(),
        ConfigOrigin::File("src.config".into()),
    );
    let (_, sum) = convert_image(&img, s, s, Arch::X86_64, &options(None, Some(says_y))).unwrap();
    let ia32 = sum
        .config_decisions
        .iter()
        .find(|d| d.fact == "source CONFIG_IA32_EMULATION")
        .unwrap();
    assert!(ia32.decision.contains("agrees"), "{ia32:?}");
}
