//! `ckpt-bench`: wall time and peak RSS of the `ckpt` subcommands on builder images of
//! several sizes, beside a plain copy (`cat IMAGE > OUT`) and user-cr's `ckptinfo -v`.
//! BENCHMARKS.md at the repository root has the numbers, the machine and how to rerun.
//!
//! Per size it builds (once; existing images are kept) two x86_64 images with
//! `ckpt sample`: one of revision c97c03d, and one of 1fd8e6e without sockets (user-cr's
//! ckptinfo cannot walk the headerless page of a socket fragment). Every command then
//! runs once to warm up (and to check that it does what it should), and `--runs` times
//! measured, as a child process whose `wait4` gives its peak RSS. The result is a
//! Markdown report on standard output; progress goes to standard error.

mod measure;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Parser;

use measure::{Sample, Sink, best_median, remove_if_exists, run, self_maxrss};

/// Revision of the main image (the conversion source).
const SRC: &str = "c97c03d";
/// The conversion target.
const TARGET: &str = "5c3471a";
/// user-cr commit of the ckptinfo compared with, and revision of its image.
const UCR: &str = "1fd8e6e";
/// Revision of the x86_32 image converted to x86_64 (issue 12: within 1.2× of cat).
const ARCH32: &str = "1fd8e6e";
/// How the rows of that image name it.
const ARCH32_IMAGE: &str = "1fd8e6e-x86_32";
/// The peak RSS target of every ckpt subcommand.
const RSS_TARGET: u64 = 64 << 20;

/// Benchmarks ckpt on builder images beside cat and user-cr's ckptinfo (see BENCHMARKS.md).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Sizes of the images' page contents (binary units), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64M,1G,4G")]
    sizes: Vec<String>,
    /// Measured runs of each command (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The ckpt binary (default: `ckpt` beside this binary, else target/release/ckpt).
    #[arg(long)]
    ckpt: Option<PathBuf>,
    /// user-cr's ckptinfo built at 1fd8e6e (bench/build-ckptinfo.sh); without it, its
    /// rows are left out.
    #[arg(long)]
    ckptinfo: Option<PathBuf>,
    /// Directory of the images and the outputs (outputs are deleted after).
    #[arg(long, default_value = "bench-images")]
    dir: PathBuf,
    /// Tasks in each image.
    #[arg(long, default_value_t = 4)]
    tasks: u32,
    /// Also measure `convert -o FILE` as users run it (temporary file, fsync, rename)
    /// beside `cat IMAGE > OUT && sync OUT`.
    #[arg(long)]
    fsync: bool,
    /// Only the rows whose command contains one of these strings (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Append every run to this CSV file.
    #[arg(long)]
    csv: Option<PathBuf>,
}

/// What a row measures, for the targets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Cat,
    CatSync,
    Info,
    InfoV,
    Check,
    Dump,
    Convert,
    ConvertFsync,
    ConvertArch,
    Edit,
    Ckptinfo,
}

impl Kind {
    fn is_ckpt(self) -> bool {
        !matches!(self, Kind::Cat | Kind::CatSync | Kind::Ckptinfo)
    }
}

/// One command of the table.
struct Row {
    /// Which image it reads (its revision).
    image: &'static str,
    /// The command as shown, with IMG and OUT for the paths.
    shown: String,
    argv: Vec<String>,
    out: Sink,
    kind: Kind,
    /// Expected exit code.
    code: i32,
    /// The row it is compared with (index in the size's rows).
    baseline: Option<usize>,
    /// After the runs, OUT must be byte-identical to this file.
    same_as: Option<PathBuf>,
    /// ckptinfo: the records the image has (its walk must list them all).
    walk: Option<u64>,
}

/// The outcome of a row.
enum Outcome {
    Measured { samples: Vec<Sample>, note: String },
    Failed(String),
}

struct Done {
    /// Index among all the rows of a size (what baselines name).
    key: usize,
    row: Row,
    outcome: Outcome,
}

impl Done {
    fn samples(&self) -> Option<&[Sample]> {
        match &self.outcome {
            Outcome::Measured { samples, .. } => Some(samples),
            Outcome::Failed(_) => None,
        }
    }
    fn median(&self) -> Option<Duration> {
        self.samples()
            .map(|s| best_median(&s.iter().map(|x| x.wall).collect::<Vec<_>>()).1)
    }
    fn best(&self) -> Option<Duration> {
        self.samples()
            .map(|s| best_median(&s.iter().map(|x| x.wall).collect::<Vec<_>>()).0)
    }
    fn maxrss(&self) -> Option<u64> {
        self.samples()
            .map(|s| s.iter().map(|x| x.maxrss).max().unwrap_or(0))
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1 << 20) as f64)
}

/// MemTotal and the kernel's dirty-page thresholds: a writer that goes past their
/// midpoint is throttled to the disk's write speed, page cache or not.
fn memory() -> String {
    let gib = |kib: f64| format!("{:.1} GiB", kib / (1 << 20) as f64);
    let field = |file: &str, name: &str| -> Option<f64> {
        std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()?.trim_end_matches(':') == name).then(|| w.next()?.parse().ok())?
        })
    };
    let total = field("/proc/meminfo", "MemTotal");
    let bg = field("/proc/vmstat", "nr_dirty_background_threshold");
    let limit = field("/proc/vmstat", "nr_dirty_threshold");
    match (total, bg, limit) {
        (Some(t), Some(b), Some(l)) => format!(
            "MemTotal {}; dirty page thresholds now: background {}, limit {}",
            gib(t),
            gib(b * 4.0),
            gib(l * 4.0)
        ),
        _ => "(memory: /proc not readable)".into(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Output of a command (stdout, else stderr), trimmed; for the report's header.
fn capture(argv: &[&str]) -> String {
    match Command::new(argv[0]).args(&argv[1..]).output() {
        Ok(o) => {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s).trim().to_string()
        }
        Err(e) => format!("({}: {e})", argv[0]),
    }
}

/// Reads a file to its end (into the page cache), with a small buffer.
fn warm(path: &Path) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        n += k as u64;
    }
}

/// True when the two files have the same bytes.
fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 128 << 10], vec![0u8; 128 << 10]);
    loop {
        let k = fa.read(&mut ba)?;
        if k == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..k])?;
        if ba[..k] != bb[..k] {
            return Ok(false);
        }
    }
}

/// Runs a ckpt command untimed (image builds, forward conversions); fails on a non-zero
/// exit with its standard error.
fn setup(argv: &[String]) -> Result<(), String> {
    let o = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    if !o.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(())
}

/// Builds the image unless it exists.
fn image(
    ckpt: &str,
    (rev, arch): (&str, &str),
    size: &str,
    tasks: u32,
    omit: &[&str],
    path: &Path,
) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    eprintln!("building {}", path.display());
    let tasks = tasks.to_string();
    let mut argv = strs(&[
        ckpt, "sample", "--rev", rev, "--arch", arch, "--tasks", &tasks, "--memory", size,
        "--seed", "1",
    ]);
    if !omit.is_empty() {
        argv.push("--omit".into());
        argv.push(omit.join(","));
    }
    argv.push("-o".into());
    argv.push(p(path));
    setup(&argv)
}

/// The number of records `ckpt info` counts in the image.
fn records(ckpt: &str, img: &Path) -> Result<u64, String> {
    let o = Command::new(ckpt)
        .args(["info", &p(img)])
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("records:")
                .and_then(|n| n.trim().parse().ok())
        })
        .ok_or_else(|| format!("ckpt info {} names no record count", img.display()))
}

/// Checks that a ckptinfo warm-up run walked the whole image: one `info: [@` line per
/// record, the last one TAIL, then 1fd8e6e's end of file (exit 1, "read 0 of 8").
fn check_walk(
    stdout: &Path,
    stderr: &Path,
    code: Option<i32>,
    want: u64,
) -> Result<String, String> {
    let out = std::fs::read_to_string(stdout).map_err(|e| e.to_string())?;
    let err = std::fs::read_to_string(stderr).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("info: [@")).collect();
    let last = lines.last().copied().unwrap_or("");
    let eof = err.trim() == "unexpected end of file (read 0 of 8)";
    if lines.len() as u64 == want && last.contains("HDR_TAIL") && eof && code == Some(1) {
        Ok(format!(
            "walked all {want} records to HDR_TAIL, then exit 1 \"unexpected end of file (read 0 of 8)\""
        ))
    } else {
        Err(format!(
            "ckptinfo did not walk the image: {} of {want} records, last `{last}`, exit {code:?}, stderr `{}`",
            lines.len(),
            err.trim()
        ))
    }
}

/// Measures one row: a warm-up run (checked), then `runs` runs.
fn measure_row(row: &Row, runs: usize, dir: &Path, size: &str, csv: &mut Option<File>) -> Outcome {
    let err = dir.join("stderr.txt");
    let walk = dir.join("walk.txt");
    let warm_out = if row.walk.is_some() {
        Sink::File(walk.clone())
    } else {
        row.out.clone()
    };
    let w = match run(&row.argv, &warm_out, Some(&err)) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let mut note = String::new();
    if let Some(want) = row.walk {
        match check_walk(&walk, &err, w.code, want) {
            Ok(n) => note = n,
            Err(e) => return Outcome::Failed(e),
        }
        let _ = remove_if_exists(&walk);
    } else if w.code != Some(row.code) {
        let msg = std::fs::read_to_string(&err).unwrap_or_default();
        return Outcome::Failed(format!("exit {:?}: {}", w.code, msg.trim()));
    }
    let mut samples = Vec::new();
    for i in 0..runs {
        let s = match run(&row.argv, &row.out, None) {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if s.code != w.code {
            return Outcome::Failed(format!(
                "run {} exited {:?}, the warm-up {:?}",
                i + 1,
                s.code,
                w.code
            ));
        }
        eprintln!(
            "  [{size}] {} run {}/{runs}: {} s, {} MiB",
            row.shown,
            i + 1,
            secs(s.wall),
            mib(s.maxrss)
        );
        if let Some(f) = csv {
            let _ = writeln!(
                f,
                "{size},{},\"{}\",{},{:.6},{:.6},{:.6},{},{}",
                row.image,
                row.shown,
                i + 1,
                s.wall.as_secs_f64(),
                s.user.as_secs_f64(),
                s.sys.as_secs_f64(),
                s.maxrss / 1024,
                s.code.map_or("signal".into(), |c| c.to_string())
            );
        }
        samples.push(s);
    }
    if let (Some(orig), Sink::File(out)) = (&row.same_as, &row.out) {
        match same_bytes(orig, out) {
            Ok(true) => note = "output byte-identical to the original image".into(),
            Ok(false) => {
                return Outcome::Failed(format!(
                    "{} differs from {}",
                    out.display(),
                    orig.display()
                ));
            }
            Err(e) => return Outcome::Failed(e.to_string()),
        }
    }
    if let Sink::File(out) | Sink::Removed(out) = &row.out {
        let _ = remove_if_exists(out);
    }
    Outcome::Measured { samples, note }
}

/// The rows of one size. `fwd` is the forward conversion the back row reads.
fn rows(
    args: &Args,
    ckpt: &str,
    (a, u, a32, fwd, out): (&Path, &Path, &Path, &Path, &Path),
    ucr_records: u64,
) -> Vec<Row> {
    let c = |v: &[&str]| {
        let mut x = vec![ckpt.to_string()];
        x.extend(strs(v));
        x
    };
    let (a_s, u_s, o_s, f_s) = (p(a), p(u), p(out), p(fwd));
    let file = Sink::File(out.to_path_buf());
    let row = |image, shown: &str, argv, out: Sink, kind| Row {
        image,
        shown: shown.to_string(),
        argv,
        out,
        kind,
        code: 0,
        baseline: None,
        same_as: None,
        walk: None,
    };
    let mut v = vec![
        row(
            SRC,
            "cat IMG > OUT",
            strs(&["cat", &a_s]),
            file.clone(),
            Kind::Cat,
        ),
        row(
            SRC,
            "ckpt info IMG",
            c(&["info", &a_s]),
            Sink::Null,
            Kind::Info,
        ),
        row(
            SRC,
            "ckpt info -v IMG",
            c(&["info", "-v", &a_s]),
            Sink::Null,
            Kind::InfoV,
        ),
        row(
            SRC,
            "ckpt check IMG",
            c(&["check", &a_s]),
            Sink::Null,
            Kind::Check,
        ),
        row(
            SRC,
            "ckpt dump IMG (payload hashes)",
            c(&["dump", &a_s]),
            Sink::Null,
            Kind::Dump,
        ),
        Row {
            baseline: Some(0),
            ..row(
                SRC,
                &format!("ckpt convert IMG --to-rev {TARGET} -o - > OUT"),
                c(&["convert", &a_s, "--to-rev", TARGET, "-o", "-"]),
                file.clone(),
                Kind::Convert,
            )
        },
        Row {
            baseline: Some(0),
            same_as: Some(a.to_path_buf()),
            ..row(
                SRC,
                &format!("ckpt convert IMG.{TARGET} --rev {TARGET} --to-rev {SRC} -o - > OUT"),
                c(&["convert", &f_s, "--rev", TARGET, "--to-rev", SRC, "-o", "-"]),
                file.clone(),
                Kind::Convert,
            )
        },
        // The x86_32 image onto x86_64: every page chunk rewritten (addresses widened).
        row(
            ARCH32_IMAGE,
            "cat IMG32 > OUT",
            strs(&["cat", &p(a32)]),
            file.clone(),
            Kind::Cat,
        ),
        // Its baseline is the row above (index fixed up below).
        Row {
            baseline: Some(usize::MAX),
            ..row(
                ARCH32_IMAGE,
                &format!("ckpt convert IMG32 --to-arch x86_64 --to-rev {ARCH32} -o - > OUT"),
                c(&[
                    "convert",
                    &p(a32),
                    "--to-arch",
                    "x86_64",
                    "--to-rev",
                    ARCH32,
                    "-o",
                    "-",
                ]),
                file.clone(),
                Kind::ConvertArch,
            )
        },
        // An edit reads the image twice: a survey of its places (no page contents),
        // then the streaming pass.
        Row {
            baseline: Some(0),
            ..row(
                SRC,
                "ckpt edit IMG --hostname bench-host --uid 0=4242 -o - > OUT",
                c(&[
                    "edit",
                    &a_s,
                    "--hostname",
                    "bench-host",
                    "--uid",
                    "0=4242",
                    "-o",
                    "-",
                ]),
                file.clone(),
                Kind::Edit,
            )
        },
    ];
    if args.fsync {
        let cs = v.len();
        v.push(row(
            SRC,
            "cat IMG > OUT && sync OUT",
            strs(&[
                "sh",
                "-c",
                &format!("cat '{a_s}' > '{o_s}' && sync '{o_s}'"),
            ]),
            Sink::Removed(out.to_path_buf()),
            Kind::CatSync,
        ));
        v.push(Row {
            baseline: Some(cs),
            ..row(
                SRC,
                &format!(
                    "ckpt convert IMG --to-rev {TARGET} -o OUT (temporary file, fsync, rename)"
                ),
                c(&["convert", &a_s, "--to-rev", TARGET, "-o", &o_s]),
                Sink::Removed(out.to_path_buf()),
                Kind::ConvertFsync,
            )
        });
    }
    let ci = v.len();
    if let Some(ci_path) = &args.ckptinfo {
        v.push(Row {
            code: 1,
            walk: Some(ucr_records),
            ..row(
                UCR,
                "ckptinfo -v IMG (user-cr 1fd8e6e)",
                vec![p(ci_path), "-v".into(), u_s.clone()],
                Sink::Null,
                Kind::Ckptinfo,
            )
        });
    }
    v.push(Row {
        baseline: args.ckptinfo.as_ref().map(|_| ci),
        ..row(
            UCR,
            "ckpt info -v IMG",
            c(&["info", "-v", &u_s]),
            Sink::Null,
            Kind::InfoV,
        )
    });
    // The cross-arch conversion's baseline: the cat of its own image.
    let cat32 = v
        .iter()
        .position(|r| r.image == ARCH32_IMAGE && r.kind == Kind::Cat);
    for r in &mut v {
        if r.baseline == Some(usize::MAX) {
            r.baseline = cat32;
        }
    }
    v
}

fn vs(done: &[Done], d: &Done) -> String {
    let (Some(b), Some(m)) = (d.row.baseline, d.median()) else {
        return String::new();
    };
    let base = &done[b];
    let Some(bm) = base.median() else {
        return String::new();
    };
    let what = match base.row.kind {
        Kind::Ckptinfo => "ckptinfo -v",
        Kind::CatSync => "cat+sync",
        _ => "cat",
    };
    let best = match (d.best(), base.best()) {
        (Some(x), Some(y)) => format!(" (best {:.2}×)", x.as_secs_f64() / y.as_secs_f64()),
        _ => String::new(),
    };
    format!("{:.2}× {what}{best}", m.as_secs_f64() / bm.as_secs_f64())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ckpt-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &Args) -> Result<(), String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let ckpt = match &args.ckpt {
        Some(c) => c.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("ckpt")))
            .filter(|c| c.exists())
            .unwrap_or_else(|| PathBuf::from("target/release/ckpt")),
    };
    if !ckpt.exists() {
        return Err(format!(
            "no ckpt binary at {} (cargo build --release -p ckpt-cli, or --ckpt)",
            ckpt.display()
        ));
    }
    if let Some(ci) = &args.ckptinfo
        && !ci.exists()
    {
        return Err(format!("no ckptinfo at {}", ci.display()));
    }
    let ckpt = std::fs::canonicalize(&ckpt).map_err(|e| e.to_string())?;
    let ck = p(&ckpt);
    std::fs::create_dir_all(&args.dir).map_err(|e| e.to_string())?;
    let dir = std::fs::canonicalize(&args.dir).map_err(|e| e.to_string())?;
    let mut csv = match &args.csv {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => None,
    };
    let mut report = String::new();
    let _ = writeln!(
        report,
        "ckpt: `{}` ({})  ",
        ck,
        capture(&[&ck, "--version"])
    );
    if let Some(ci) = &args.ckptinfo {
        let _ = writeln!(report, "ckptinfo: `{}`  ", ci.display());
    }
    let _ = writeln!(report, "memory: {}  ", memory());
    let _ = writeln!(
        report,
        "runs: 1 warm-up + {} measured per command; {} tasks per image; images in `{}`; started {}\n",
        args.runs,
        args.tasks,
        dir.display(),
        capture(&["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"])
    );
    let _ = writeln!(
        report,
        "| size | image | command | best s | median s | user s (median) | sys s (median) | peak RSS MiB (max) | vs |"
    );
    let _ = writeln!(report, "|---|---|---|---:|---:|---:|---:|---:|---|");
    let mut targets = Vec::new();
    let mut loads = Vec::new();
    let mut notes = Vec::new();
    for size in &args.sizes {
        let a = dir.join(format!("{SRC}-x86_64-t{}-{size}.ckpt", args.tasks));
        let u = dir.join(format!(
            "{UCR}-x86_64-t{}-nosockets-{size}.ckpt",
            args.tasks
        ));
        let a32 = dir.join(format!("{ARCH32}-x86_32-t{}-{size}.ckpt", args.tasks));
        image(&ck, (SRC, "x86_64"), size, args.tasks, &[], &a)?;
        image(&ck, (UCR, "x86_64"), size, args.tasks, &["sockets"], &u)?;
        image(&ck, (ARCH32, "x86_32"), size, args.tasks, &[], &a32)?;
        let fwd = dir.join(format!("fwd-{TARGET}-{size}.ckpt"));
        let out = dir.join(format!("out-{size}.ckpt"));
        let ucr_records = records(&ck, &u)?;
        let load0 = loadavg();
        // The forward conversion that the back row reads is made and warmed just before
        // the rows of its image, and removed after them: at 4G, both images, it and an
        // output would not all fit in the page cache at once.
        let mut phase: Option<&str> = None;
        let mut done: Vec<Done> = Vec::new();
        for (key, row) in rows(args, &ck, (&a, &u, &a32, &fwd, &out), ucr_records)
            .into_iter()
            .enumerate()
        {
            if !args.only.is_empty() && !args.only.iter().any(|o| row.shown.contains(o.as_str())) {
                continue;
            }
            if phase != Some(row.image) {
                let _ = remove_if_exists(&fwd);
                let mut files = vec![&u];
                if row.image == ARCH32_IMAGE {
                    files = vec![&a32];
                }
                if row.image == SRC {
                    let a_s = p(&a);
                    let fwd_argv =
                        strs(&[&ck, "convert", &a_s, "--to-rev", TARGET, "-o", &p(&fwd)]);
                    files = vec![&a];
                    // If it fails, so does the forward row, which says why.
                    match setup(&fwd_argv) {
                        Ok(()) => files.push(&fwd),
                        Err(e) => eprintln!("{e}"),
                    }
                }
                for x in files {
                    warm(x).map_err(|e| format!("{}: {e}", x.display()))?;
                }
                phase = Some(row.image);
            }
            eprintln!("[{size}] {} (load {})", row.shown, loadavg());
            let outcome = measure_row(&row, args.runs, &dir, size, &mut csv);
            if let Outcome::Failed(e) = &outcome {
                eprintln!("  FAILED: {e}");
            }
            done.push(Done { key, row, outcome });
        }
        let _ = remove_if_exists(&fwd);
        let _ = remove_if_exists(&dir.join("stderr.txt"));
        loads.push(format!(
            "{size}: load average {load0} before, {} after",
            loadavg()
        ));
        // Baselines are indices among all rows; with --only some are missing.
        let keys: Vec<usize> = done.iter().map(|d| d.key).collect();
        for d in done.iter_mut() {
            d.row.baseline = d
                .row
                .baseline
                .and_then(|b| keys.iter().position(|&k| k == b));
        }
        for d in &done {
            match &d.outcome {
                Outcome::Failed(e) => {
                    let _ = writeln!(
                        report,
                        "| {size} | {} | {} | FAILED: {} |||||| |",
                        d.row.image,
                        d.row.shown,
                        e.replace('|', "\\|")
                    );
                }
                Outcome::Measured { samples, note } => {
                    let (best, median) = (d.best().unwrap(), d.median().unwrap());
                    let user = best_median(&samples.iter().map(|s| s.user).collect::<Vec<_>>()).1;
                    let sys = best_median(&samples.iter().map(|s| s.sys).collect::<Vec<_>>()).1;
                    let _ = writeln!(
                        report,
                        "| {size} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        d.row.image,
                        d.row.shown,
                        secs(best),
                        secs(median),
                        secs(user),
                        secs(sys),
                        mib(d.maxrss().unwrap()),
                        vs(&done, d)
                    );
                    if !note.is_empty() {
                        notes.push(format!("{size} {} `{}`: {note}", d.row.image, d.row.shown));
                    }
                }
            }
        }
        let bytes = std::fs::metadata(&a).map_err(|e| e.to_string())?.len();
        targets.extend(judge(&done, size, bytes));
    }
    let _ = writeln!(report, "\nLoad: {}.  ", loads.join("; "));
    let _ = writeln!(
        report,
        "RSS floor (this process's peak; a vfork'd child inherits it until exec): {} MiB.\n",
        mib(self_maxrss())
    );
    if !notes.is_empty() {
        let _ = writeln!(report, "Checks:\n");
        for n in notes {
            let _ = writeln!(report, "- {n}");
        }
        let _ = writeln!(report);
    }
    let _ = writeln!(report, "Targets:\n");
    for t in targets {
        let _ = writeln!(report, "{t}");
    }
    io::stdout()
        .write_all(report.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Each target, met or missed, for one size.
fn judge(done: &[Done], size: &str, bytes: u64) -> Vec<String> {
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    let mut t = Vec::new();
    for d in done {
        let Some(m) = d.median() else { continue };
        if d.row.kind == Kind::Convert
            && let Some(b) = d.row.baseline.and_then(|b| done[b].median())
        {
            let r = m.as_secs_f64() / b.as_secs_f64();
            t.push(format!(
                "- {size}: `{}` at most 1.5× cat: {} ({r:.2}×)",
                d.row.shown,
                mark(r <= 1.5)
            ));
        }
        if matches!(d.row.kind, Kind::Edit | Kind::ConvertArch)
            && let Some(b) = d.row.baseline.and_then(|b| done[b].median())
        {
            let r = m.as_secs_f64() / b.as_secs_f64();
            t.push(format!(
                "- {size}: `{}` within 1.2× cat: {} ({r:.2}×)",
                d.row.shown,
                mark(r <= 1.2)
            ));
        }
        if d.row.kind.is_ckpt() {
            let rss = d.maxrss().unwrap();
            if rss >= RSS_TARGET {
                t.push(format!(
                    "- {size}: `{}` peak RSS under 64 MiB: **missed** ({} MiB)",
                    d.row.shown,
                    mib(rss)
                ));
            }
        }
        if d.row.kind == Kind::Info && bytes >= 4 << 30 {
            let b = d.best().unwrap();
            t.push(format!(
                "- {size}: `ckpt info` on a seekable image under 0.5 s: {} (best {} s, median {} s)",
                mark(m.as_secs_f64() < 0.5),
                secs(b),
                secs(m)
            ));
        }
        if d.row.kind == Kind::InfoV
            && let Some(b) = d
                .row
                .baseline
                .filter(|&b| done[b].row.kind == Kind::Ckptinfo)
            && let Some(bm) = done[b].median()
        {
            t.push(format!(
                "- {size}: `ckpt info -v` faster than `ckptinfo -v`: {} ({} s against {} s, medians)",
                mark(m < bm),
                secs(m),
                secs(bm)
            ));
        }
    }
    let ckpt_rows: Vec<&Done> = done
        .iter()
        .filter(|d| d.row.kind.is_ckpt() && d.maxrss().is_some())
        .collect();
    if let Some(max) = ckpt_rows.iter().filter_map(|d| d.maxrss()).max()
        && max < RSS_TARGET
    {
        t.push(format!(
            "- {size}: peak RSS under 64 MiB for every ckpt command ({} rows): met (largest {} MiB)",
            ckpt_rows.len(),
            mib(max)
        ));
    }
    for d in done {
        if let Outcome::Failed(e) = &d.outcome {
            t.push(format!("- {size}: `{}` **failed**: {e}", d.row.shown));
        }
    }
    t
}
