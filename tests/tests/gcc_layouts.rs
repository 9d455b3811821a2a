//! The layout engine against the real C compilers: every struct, member, enum value and
//! constant of every revision × architecture in `tests/facts/gcc/` (measured with GCC;
//! see that folder's README).

use std::path::Path;

use ckpt_format::layout::Layouts;
use ckpt_format::{Arch, Registry};
use serde_json::Value;

#[test]
fn schemas_match_gcc_for_every_revision_and_arch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("facts/gcc");
    let mut files = 0;
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        files += 1;
        let facts: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rev = facts["revision"].as_str().unwrap();
        let arch: Arch = facts["arch"].as_str().unwrap().parse().unwrap();
        let schema = Registry::get().find(rev).unwrap();
        assert!(schema.has_arch(arch), "{rev} has no {arch} in its schema");
        let layouts = Layouts::new(schema, arch);
        for (name, s) in facts["structs"].as_object().unwrap() {
            let l = match layouts.get(name) {
                Ok(l) => l,
                Err(e) => {
                    failures.push(format!("{rev} {arch} {name}: {e}"));
                    continue;
                }
            };
            let want = (
                s["size"].as_u64().unwrap() as u32,
                s["align"].as_u64().unwrap() as u32,
            );
            if (l.size, l.align) != want {
                failures.push(format!(
                    "{rev} {arch} {name}: size/align {:?}, gcc {want:?}",
                    (l.size, l.align)
                ));
            }
            checked += 1;
            for m in s["members"].as_array().unwrap() {
                let mname = m["name"].as_str().unwrap();
                let want = (
                    m["offset"].as_u64().unwrap() as u32,
                    m["size"].as_u64().unwrap() as u32,
                );
                match l.find(mname) {
                    Some((off, ml)) if (off, ml.size) == want => {}
                    Some((off, ml)) => failures.push(format!(
                        "{rev} {arch} {name}.{mname}: offset/size {:?}, gcc {want:?}",
                        (off, ml.size)
                    )),
                    None => failures.push(format!("{rev} {arch} {name}.{mname}: missing")),
                }
                checked += 1;
            }
        }
        for (cname, v) in facts["enums"].as_object().unwrap() {
            let v = v.as_i64().unwrap();
            let found = schema
                .enums
                .iter()
                .filter(|e| ckpt_format::schema::applies(&e.arches, arch))
                .flat_map(|e| {
                    e.values
                        .iter()
                        .map(move |(n, x)| (format!("{}{n}", e.prefix), *x))
                })
                .find(|(n, _)| n == cname);
            match found {
                Some((_, x)) if x == v => {}
                other => failures.push(format!("{rev} {arch} enum {cname}: {other:?}, gcc {v}")),
            }
            checked += 1;
        }
        for (cname, v) in facts["defines"].as_object().unwrap() {
            if cname == "CKPT_ARCH_ID" {
                continue; // an alias of an enumerator, not a constant of its own
            }
            let v = v.as_i64().unwrap() as i128;
            match schema.constant(cname, arch) {
                Some(x) if x == v => {}
                other => failures.push(format!("{rev} {arch} define {cname}: {other:?}, gcc {v}")),
            }
            checked += 1;
        }
    }
    assert!(files >= 70, "only {files} facts files");
    assert!(
        failures.is_empty(),
        "{} of {checked} checks differ from gcc:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
