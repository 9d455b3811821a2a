//! `convert --target-cpu`: the FPU state of every task in the target CPU's save format
//! and size (FXSAVE 512 bytes, XSAVE 576 or 832), HEADER_ARCH the target's, on every x86
//! revision and arch; there and back gives the original bytes, AVX state a smaller area
//! cannot hold is a loss, an FSAVE CPU is refused.

use ckpt_convert::check::CpuFacts;
use ckpt_convert::{Action, ConvertError, Options, convert};
use ckpt_format::build::BuildOptions;
use ckpt_format::{Arch, Format, Reader, Schema};
use ckpt_tests::{all_pairs, image};

fn cpu(xsave: bool, size: u16) -> Options {
    Options {
        target_cpu: Some(CpuFacts {
            fxsr: true,
            xsave,
            xstate_size: size,
        }),
        ..Options::default()
    }
}

fn run(img: &[u8], s: &'static Schema, a: Arch, o: &Options) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::new();
    convert(Reader::new(img, Format::new(s, a)), s, o, &mut out)?;
    Ok(out)
}

/// The offsets of the bodies of every CPU_FPU record of `img`.
fn fpu_bodies(img: &[u8], s: &'static Schema, a: Arch) -> Vec<usize> {
    let mut r = Reader::new(img, Format::new(s, a));
    let mut v = Vec::new();
    while let Some(i) = r.next_record().unwrap() {
        if i.name == "CPU_FPU" {
            v.push(i.offset as usize + 8);
        }
    }
    v
}

#[test]
fn fxsave_to_xsave_and_back_gives_the_same_bytes_on_every_x86_revision() {
    for (s, a) in all_pairs() {
        if !matches!(a, Arch::X86_32 | Arch::X86_64) {
            continue;
        }
        let src = image(s, a, &BuildOptions::default());
        for size in [576, 832] {
            let at = format!("{} {a} -> XSAVE {size}", s.id);
            let up = run(&src, s, a, &cpu(true, size)).unwrap_or_else(|e| panic!("{at}: {e}"));
            let c = &cpu(true, size).target_cpu;
            let report = ckpt_convert::check::check(
                Reader::new(&up[..], Format::new(s, a)),
                None,
                s,
                None,
                None,
                None,
                *c,
            )
            .unwrap();
            assert!(
                !report.problems.iter().any(|p| p.check.starts_with("cpu")),
                "{at}: {:#?}",
                report.problems
            );
            for at_body in fpu_bodies(&up, s, a) {
                let bv = u64::from_le_bytes(up[at_body + 512..at_body + 520].try_into().unwrap());
                assert_eq!(bv, 3, "{at}: x87 and SSE from the FXSAVE area");
            }
            let back = run(&up, s, a, &cpu(false, 512)).unwrap();
            assert!(back == src, "{at}: back to FXSAVE changes the image");
        }
    }
}

#[test]
fn avx_state_in_use_is_a_loss_going_to_a_smaller_area() {
    let s = ckpt_format::Registry::get().find("v23-rc2").unwrap();
    let src = image(s, Arch::X86_64, &BuildOptions::default());
    let mut up = run(&src, s, Arch::X86_64, &cpu(true, 832)).unwrap();
    // The first task uses AVX: XSTATE_BV's YMM bit, and a YMM register's upper half.
    let b = fpu_bodies(&up, s, Arch::X86_64)[0];
    up[b + 512] |= 4;
    up[b + 576] = 0x5a;
    for o in [cpu(false, 512), cpu(true, 576)] {
        match run(&up, s, Arch::X86_64, &o) {
            Err(ConvertError::Lossy(l)) => {
                assert!(l.iter().any(|e| e.record == "CPU_FPU"), "{l:?}");
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        let lossy = Options {
            allow_lossy: true,
            ..o
        };
        let mut out = Vec::new();
        let sum = convert(
            Reader::new(&up[..], Format::new(s, Arch::X86_64)),
            s,
            &lossy,
            &mut out,
        )
        .unwrap();
        assert_eq!(sum.ledger.count(Action::Dropped), 1);
    }
}

#[test]
fn a_cpu_without_fxsr_is_refused() {
    let s = ckpt_format::Registry::get().find("v23-rc2").unwrap();
    let src = image(s, Arch::X86_32, &BuildOptions::default());
    let o = Options {
        target_cpu: Some(CpuFacts {
            fxsr: false,
            xsave: false,
            xstate_size: 112,
        }),
        ..Options::default()
    };
    let e = run(&src, s, Arch::X86_32, &o).unwrap_err();
    assert!(e.to_string().contains("FSAVE"), "{e}");
}
