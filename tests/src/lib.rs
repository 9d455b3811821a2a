//! Shared helpers of the integration tests: every revision × architecture pair, and
//! builder images.

pub mod components;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Registry, Schema};

/// Every (revision, architecture) pair the schemas define.
pub fn all_pairs() -> Vec<(&'static Schema, Arch)> {
    Registry::get()
        .all()
        .iter()
        .flat_map(|&s| s.arches.iter().map(move |(a, _)| (s, *a)))
        .collect()
}

/// A builder image of `schema` on `arch`.
pub fn image(schema: &'static Schema, arch: Arch, opts: &BuildOptions) -> Vec<u8> {
    let mut out = Vec::new();
    build(&Format::new(schema, arch), opts, &mut out)
        .unwrap_or_else(|e| panic!("build {} {arch}: {e}", schema.id));
    out
}

/// Runs `program` with `args`, feeding it `stdin` (from a thread, so that a large input
/// cannot block on a full output pipe) or none; collects its output.
pub fn run_with_stdin(program: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut c = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(data) = stdin {
        let mut w = c.stdin.take().expect("a piped stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    c.wait_with_output().expect("the child's output")
}

/// `v` with every number passed through an f64, as a tool that reads JSON numbers as
/// doubles (jq 1.6, JavaScript) reads and writes it: integers above 2^53 are rounded.
pub fn json_through_doubles(v: serde_json::Value) -> serde_json::Value {
    use serde_json::{Number, Value};
    match v {
        Value::Number(n) => Value::Number(
            Number::from_f64(n.as_f64().expect("a JSON number is a double"))
                .expect("a finite number"),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(json_through_doubles).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, json_through_doubles(v)))
                .collect(),
        ),
        other => other,
    }
}

/// How a fuzz input's leading bytes select formats. The fuzz targets (`fuzz/`) and the
/// replays of their regressions in this suite decode them with these, so that a kept
/// input means the same thing in both.
pub mod fuzz_input {
    use ckpt_format::{Arch, Registry, Schema};

    /// The revision (`a` mod the number of revisions) and one of its arches (`b` mod
    /// the revision's).
    pub fn pick(a: u8, b: u8) -> (&'static Schema, Arch) {
        let all = Registry::get().all();
        let schema = all[a as usize % all.len()];
        let arch = schema.arches[b as usize % schema.arches.len()].0;
        (schema, arch)
    }

    /// A conversion target: the `c`-th (mod their number) of the revisions that have
    /// `arch`, since a conversion keeps the arch.
    pub fn pick_target(arch: Arch, c: u8) -> &'static Schema {
        let targets: Vec<&'static Schema> = Registry::get()
            .all()
            .iter()
            .copied()
            .filter(|s| s.has_arch(arch))
            .collect();
        targets[c as usize % targets.len()]
    }

    /// Reads every record of `reader` to the end or the first error: inline records
    /// decoded, streamed payloads drained (what the `read` and `container` targets do
    /// with an image).
    pub fn read_all<R: ckpt_format::input::Input>(reader: &mut ckpt_format::Reader<R>) {
        let mut buf = [0u8; 4096];
        while let Ok(Some(info)) = reader.next_record() {
            if info.inline {
                let _ = reader.decode();
            } else {
                while let Ok(k) = reader.read_payload(&mut buf) {
                    if k == 0 {
                        break;
                    }
                }
            }
        }
    }
}

/// The pair set of the conversion tests: builder options of its images, conversion
/// options, and a conversion of an image in memory.
pub mod pairs {
    use ckpt_convert::{ConvertError, Options, Summary, TaskPaths, convert};
    use ckpt_format::build::{BuildOptions, Omit};
    use ckpt_format::{Arch, Format, Reader, Schema};

    /// The images every pair converts: 3 tasks, files, IPC and pid namespaces; no
    /// sockets or pending signals.
    pub fn build_options() -> BuildOptions {
        BuildOptions {
            tasks: 3,
            memory: 3 * 4096,
            seed: 9,
            omit: Omit {
                sockets: true,
                signals: true,
                ..Omit::default()
            },
            ..BuildOptions::default()
        }
    }

    /// Paths for the FS objects an upgrade across c97c03d needs; losses allowed.
    pub fn convert_options() -> Options {
        Options {
            cwd: TaskPaths::all("/srv"),
            root: TaskPaths::all("/"),
            allow_lossy: true,
            ..Options::default()
        }
    }

    /// Converts `img` of `from` on `arch` to `to`: the output and the summary, its
    /// ledger entries kept.
    pub fn convert_image(
        img: &[u8],
        from: &'static Schema,
        to: &'static Schema,
        arch: Arch,
        o: &Options,
    ) -> Result<(Vec<u8>, Summary), ConvertError> {
        let r = Reader::new(img, Format::new(from, arch));
        let mut out = Vec::new();
        let s = convert(r, to, o, &mut out)?;
        Ok((out, s))
    }
}

/// Editing images in tests: a reader over bytes, and an edit run end to end (survey,
/// then the pass).
pub mod editing {
    use std::io::Cursor;

    use ckpt_convert::ConvertError;
    use ckpt_convert::edit::{Edit, Operation};
    use ckpt_convert::transform::{RunOptions, run};
    use ckpt_format::model::{ImageModel, read_model};
    use ckpt_format::{Arch, Format, Reader, Schema};

    /// A reader of `img`, an image of `schema` on `arch`.
    pub fn reader(schema: &'static Schema, arch: Arch, img: &[u8]) -> Reader<Cursor<Vec<u8>>> {
        Reader::new(Cursor::new(img.to_vec()), Format::new(schema, arch))
    }

    /// How many problems `ckpt check` finds in `img` for its own revision.
    pub fn problems(schema: &'static Schema, arch: Arch, img: &[u8]) -> usize {
        ckpt_convert::check::check(
            reader(schema, arch, img),
            None,
            schema,
            None,
            None,
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{} {arch}: check: {e}", schema.id))
        .problems
        .len()
    }

    /// The model of `img`.
    pub fn model(schema: &'static Schema, arch: Arch, img: &[u8]) -> ImageModel {
        read_model(reader(schema, arch, img), false).unwrap()
    }

    /// The f_type name of file object `tag`.
    pub fn kind(schema: &'static Schema, arch: Arch, m: &ImageModel, tag: i64) -> &'static str {
        let o = m.object(tag).unwrap();
        let t = o.int("common.f_type").or_else(|| o.int("f_type")).unwrap();
        schema.enum_name("file", t as i64, arch).unwrap()
    }

    /// (pid, fd, file tag) of every descriptor, with how many descriptors share the file.
    pub fn descriptors(m: &ImageModel) -> Vec<(i64, i64, i64, usize)> {
        let mut v = Vec::new();
        for t in &m.tasks {
            let Some(table) = t.refs.get("files_objref") else {
                continue;
            };
            let fds = &m.object(*table).unwrap().fds;
            for d in fds {
                let users = m
                    .objects
                    .values()
                    .flat_map(|o| o.fds.iter())
                    .filter(|x| x.file == d.file)
                    .count();
                v.push((t.pid, d.fd, d.file, users));
            }
        }
        v
    }

    /// The file object tag of descriptor `fd` of task `pid`.
    pub fn file_of(m: &ImageModel, pid: i64, fd: i64) -> i64 {
        let t = m.tasks.iter().find(|t| t.pid == pid).unwrap();
        let table = t.refs["files_objref"];
        m.object(table)
            .unwrap()
            .fds
            .iter()
            .find(|d| d.fd == fd)
            .unwrap()
            .file
    }

    /// Runs `ops` over `img`: the output, or why it was refused.
    pub fn edit(
        schema: &'static Schema,
        arch: Arch,
        img: &[u8],
        ops: Vec<Operation>,
    ) -> Result<Vec<u8>, ConvertError> {
        let mut e = Edit::new(ops);
        e.survey(reader(schema, arch, img))?;
        let mut out = Vec::new();
        run(
            reader(schema, arch, img),
            Format::shared(schema, arch),
            &mut [&mut e],
            &mut out,
            &RunOptions::default(),
            None,
        )?;
        Ok(out)
    }
}

/// The names in the directory `dir`, sorted (tests and the `restore` fuzz target check
/// with it that nothing was written beside a root).
pub fn sorted_names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A place to restore an archive into: in a temporary directory, an empty `root`, a
/// `sentinel` directory beside it holding `keep`, and the path `a.tar` of the archive.
pub struct RestoreScene {
    /// The temporary directory (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The root to restore into.
    pub root: std::path::PathBuf,
    /// A directory beside it that a restore must never touch.
    pub sentinel: std::path::PathBuf,
    /// Where the archive goes.
    pub archive: std::path::PathBuf,
}

impl RestoreScene {
    /// A new scene.
    pub fn new() -> RestoreScene {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let sentinel = dir.path().join("sentinel");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&sentinel).unwrap();
        std::fs::write(sentinel.join("keep"), b"keep").unwrap();
        RestoreScene {
            archive: dir.path().join("a.tar"),
            root,
            sentinel,
            dir,
        }
    }

    /// Panics unless nothing beside the root changed: the sentinel as it was, no other
    /// name beside the root and the archive.
    pub fn assert_untouched_outside(&self) {
        assert_eq!(sorted_names(&self.sentinel), ["keep"]);
        assert_eq!(std::fs::read(self.sentinel.join("keep")).unwrap(), b"keep");
        assert_eq!(sorted_names(self.dir.path()), ["a.tar", "root", "sentinel"]);
    }
}

impl Default for RestoreScene {
    fn default() -> RestoreScene {
        RestoreScene::new()
    }
}
