//! Embeds every `schemas/*.schema` file of the workspace into the crate.

use std::{env, fs, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("schemas/ folder next to ckpt-format")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "schema"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// Embedded schema files: (file name, text), in ordinal order.\npub(crate) static SCHEMA_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_str().unwrap();
        let abs = fs::canonicalize(f).unwrap();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("schema_files.rs"),
        out,
    )
    .unwrap();
}
