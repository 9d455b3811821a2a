//! The shipped sample is still what the builder makes.

use ckpt_format::Registry;
use ckpt_format::build::BuildOptions;
use ckpt_tests::image;

#[test]
fn shipped_sample_is_the_builder_output() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/v23-rc2.x86_64.ckpt"
    );
    let shipped = std::fs::read(path).unwrap();
    let schema = Registry::get().find("v23-rc2").unwrap();
    let opts = BuildOptions {
        tasks: 3,
        memory: 64 * 1024,
        seed: 1,
        ..Default::default()
    };
    let built = image(schema, ckpt_format::Arch::X86_64, &opts);
    assert_eq!(built.len(), shipped.len());
    assert!(
        built == shipped,
        "the builder no longer makes samples/v23-rc2.x86_64.ckpt byte for byte"
    );
}
