//! Consistency of the schema files: provenance, kernel constants, record bindings.

use ckpt_format::layout::Layouts;
use ckpt_format::{Format, Registry};
use ckpt_tests::{all_pairs, image};

#[test]
fn seventeen_revisions_in_commit_order_with_provenance() {
    let all = Registry::get().all();
    assert_eq!(all.len(), 17);
    for (k, s) in all.iter().enumerate() {
        assert_eq!(s.ordinal as usize, k + 1);
        assert!(
            !s.kernels.is_empty() && !s.date.is_empty() && !s.subject.is_empty(),
            "{}",
            s.id
        );
        assert!(Registry::get().find(s.short_commit()).unwrap().id == s.id);
        if k > 0 {
            assert!(
                s.date >= all[k - 1].date,
                "{} is dated before its predecessor",
                s.id
            );
        }
    }
}

#[test]
fn every_kernel_and_arch_has_its_ckpt_const_values() {
    for (s, arch) in all_pairs() {
        let header = Layouts::new(s, arch).get("ckpt_hdr_header").unwrap();
        let members: Vec<String> = header
            .fields()
            .iter()
            .filter_map(|f| f.path.strip_prefix("constants.").map(str::to_string))
            .collect();
        assert_eq!(members.len(), 12);
        for k in &s.kernels {
            let kc = s
                .kernel_constants(&k.value, arch, None)
                .unwrap_or_else(|| panic!("{} {arch}: no constants for {}", s.id, k.value));
            let names: Vec<&String> = kc.values.iter().map(|(n, _)| n).collect();
            assert_eq!(
                names,
                members.iter().collect::<Vec<_>>(),
                "{} {arch} {}",
                s.id,
                k.value
            );
            let get = |n: &str| kc.values.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
            // The units of the two slots whose meaning changed.
            if let Some(bytes) = get("mm_saved_auxv_len") {
                assert_eq!(bytes % arch.word_size() as u64, 0);
                assert!(bytes >= 160, "{} {arch}: {bytes} bytes", s.id);
            }
            if let Some(n) = get("at_vector_size") {
                assert!((40..=52).contains(&n), "{} {arch}: {n} entries", s.id);
            }
            assert_eq!(get("tty_termios_nccs").unwrap_or(19), 19);
            if let Some(ncc) = get("tty_termios_ncc") {
                assert_eq!(ncc, s.constant("CKPT_TTY_NCC", arch).unwrap() as u64);
            }
        }
    }
}

#[test]
fn builder_headers_carry_the_schema_constants() {
    for (s, arch) in all_pairs() {
        let img = image(s, arch, &Default::default());
        let f = Format::new(s, arch);
        let header = f.layout("ckpt_hdr_header").unwrap();
        let fields = ckpt_format::value::decode_struct(&header, &img[..72], arch.endian());
        let kc = s.kernel_constants(&s.kernels[0].value, arch, None).unwrap();
        for (n, v) in &kc.values {
            let got = fields
                .iter()
                .find(|(p, _)| p == &format!("constants.{n}"))
                .unwrap();
            assert_eq!(got.1.as_int(), Some(*v as i128), "{} {arch} {n}", s.id);
        }
        // arch_id is little-endian on every arch.
        assert_eq!(
            u16::from_le_bytes([img[16], img[17]]),
            s.arch_id(arch).unwrap()
        );
    }
}

#[test]
fn every_record_type_has_a_binding_on_every_arch() {
    for (s, arch) in all_pairs() {
        for (name, _) in s.enum_values("hdr", arch) {
            if name.ends_with("_MAX") {
                continue;
            }
            let f = Format::new(s, arch);
            assert!(
                f.length_rule(name).is_some(),
                "{} {arch}: {name} has no layout",
                s.id
            );
        }
    }
}
