//! Corruption harness (issue 5): truncated and mutated images give a valid parse or a
//! clean error — never a panic, a hang or an allocation beyond the reader's limits.
//!
//! **Fixtures**, all made by `ckpt_format::build`, one per revision × architecture pair
//! (every pair of [`all_pairs`], 75 today):
//! - *small* ([`small_options`]): one task, the one page the builder always writes
//!   (memory 0), seed 3, no sockets, SysV IPC or terminal: 9.5–11 KiB each, at most
//!   [`MAX_SMALL`] = 16 KiB (asserted). Every truncation point of every one is tried.
//! - *rich* ([`rich_options`]): the same with sockets (a queued buffer, a page fragment
//!   from v19-rc2, an INET listener), SysV IPC and a terminal: 20.5–26.5 KiB. The mutations
//!   are made on these, so that they reach those records too.
//!
//! **Cases.**
//! - Truncation: every prefix `img[..cut]`, `cut` in `0..len`, of every small fixture
//!   must fail with an error that names its place ("offset 0x..."). Detection as the
//!   CLI does it for a file (`Evidence::scan`, then `detect`) and for a pipe
//!   (`detect::open`, which detects from `Evidence::from_window`, then a read with the
//!   revision found) runs on the cuts inside the first 80 bytes (the header) and on every
//!   1021st cut.
//! - Mutation: [`MUTATIONS_PER_REVISION`] seeded cases per revision (17 revisions), the
//!   architectures in rotation over the revision's own. A case is 1–4 bit flips (each
//!   anywhere in the image, or, half of the time, in the first 32 bytes of a record), or
//!   a new value in a length field: a record's pre-header `len`, or a member of the record
//!   that a payload rule or a tail counts with (`nr_pages`, `uts_release_len`, ...). Each
//!   mutated image is read with the fixture's format; one case in 32 is also detected
//!   as the CLI does for a file (scan) or for a pipe (`detect::open`, then read with the
//!   revision detected).
//!
//! A read decodes every inline record and copies out (or, for odd cut points, skips)
//! every streamed body at or after the first changed byte: the records before it are the
//! fixture's own, decoded when the fixture was built. Detection is sampled because it
//! costs several readings of the image (it compares the layouts of candidate revisions).
//!
//! **Checks of every case.** No panic; the read either succeeds or fails with a message
//! containing "offset 0x" (a truncated image must fail); the case takes less than
//! [`CASE_LIMIT`] (a hang guard, not a benchmark; a watchdog aborts the run, naming the
//! case, after [`HANG_ABORT`]); the peak of the bytes allocated by the case's thread stays
//! under [`ALLOC_CAP`].
//!
//! `CKPT_EXHAUSTIVE=1` multiplies the mutation cases by ten and detects every case. A
//! failure names the revision, architecture, seed (or cut) and mutation, with the
//! `CKPT_REPLAY` value that runs that one case in the `replay` test:
//! `CKPT_REPLAY='v23-rc2 x86_64 seed 0x1000000ab' cargo test -p ckpt-tests --test corruption replay -- --ignored --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::io::{self, Cursor};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ckpt_format::build::{BuildOptions, Omit};
use ckpt_format::detect::{self, Evidence, detect};
use ckpt_format::input::Input;
use ckpt_format::layout::TypeLayout;
use ckpt_format::prng::SplitMix64;
use ckpt_format::schema::{Expr, RecordBody};
use ckpt_format::value::{get_uint, put_uint};
use ckpt_format::{Arch, Format, Reader, Registry, Schema, limits};
use ckpt_tests::{all_pairs, image};

/// Largest small fixture; every truncation point of each is tried.
const MAX_SMALL: usize = 16 * 1024;

/// Seeded mutation cases per revision (ten times as many with `CKPT_EXHAUSTIVE=1`).
const MUTATIONS_PER_REVISION: u64 = 10_000;

/// A case that takes longer than this fails (a hang guard, generous for a loaded machine:
/// a case is a few readings of an image of at most 30 KiB, a few milliseconds).
const CASE_LIMIT: Duration = Duration::from_secs(2);

/// A case still running after this is a hang: the watchdog prints it and aborts.
const HANG_ABORT: Duration = Duration::from_secs(60);

/// The most a case may allocate at once (peak above what its thread held before).
///
/// A case reads the image several times, one reading after the other, so its peak is
/// that of one reading, which the limits bound: detection on a pipe (`detect::open`)
/// reads up to [`limits::DETECT_WINDOW`] bytes ahead and keeps them as the reader's
/// buffer (otherwise [`limits::READ_BUFFER`]); the reader holds one inline record of at
/// most [`limits::MAX_INLINE_BODY`] bytes (counted twice: a `Vec` grown by doubling); a
/// streamed body is copied out through one more [`limits::READ_BUFFER`]. 256 KiB of slack
/// covers the rest: decoded fields, the payload queue, detection's evidence map, error
/// messages. About 3.3 MiB: far above what a 30 KiB image needs (the largest peak seen
/// is printed), far below what a length field taken at its word would allocate (a
/// mutated `len` of 4 GiB, `nr_pages` of a million).
const ALLOC_CAP: usize =
    limits::DETECT_WINDOW + 2 * limits::MAX_INLINE_BODY as usize + limits::READ_BUFFER + 256 * 1024;

// ---------------------------------------------------------------------------------------
// Allocation accounting: per thread, because the test harness runs tests in parallel.

/// The system allocator, counting the bytes each thread holds and their peak.
struct Counting;

thread_local! {
    /// Bytes allocated by this thread and not yet freed by it (a block freed by another
    /// thread makes the other's count negative; a case runs on one thread).
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    /// Highest `CURRENT` since the last [`measure`] started.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak of bytes this thread allocated during
/// it, above what the thread held before.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let t = f();
    let peak = PEAK.with(Cell::get) - base;
    (t, peak.max(0) as usize)
}

// ---------------------------------------------------------------------------------------
// Fixtures and mutations.

/// The options of the small fixtures: at most 16 KiB each.
fn small_options() -> BuildOptions {
    BuildOptions {
        tasks: 1,
        memory: 0,
        seed: 3,
        omit: Omit {
            sockets: true,
            ipc: true,
            tty: true,
            ..Omit::default()
        },
        ..BuildOptions::default()
    }
}

/// The options of the rich fixtures: every kind of object the builder makes by default.
fn rich_options() -> BuildOptions {
    BuildOptions {
        omit: Omit::default(),
        ..small_options()
    }
}

/// A fixture and where its length fields are.
struct Fixture {
    schema: &'static Schema,
    arch: Arch,
    img: Vec<u8>,
    /// Offsets of every record.
    records: Vec<usize>,
    /// Length fields: (offset, width, member, record); pre-headers' `h.len` first.
    lengths: Vec<(usize, usize, &'static str, &'static str)>,
    /// How many of `lengths` are pre-headers.
    headers: usize,
}

/// The names an expression refers to.
fn names<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::Name(n) => out.push(n),
        Expr::Binary(a, _, b) => {
            names(a, out);
            names(b, out);
        }
        Expr::Int(_) => {}
    }
}

impl Fixture {
    fn new(schema: &'static Schema, arch: Arch, opts: &BuildOptions) -> Fixture {
        let img = image(schema, arch, opts);
        let read = walk(
            Reader::new(&img[..], Format::new(schema, arch)),
            img.len(),
            0,
        );
        assert!(
            read.is_ok(),
            "{} {arch}: the fixture does not read: {read:?}",
            schema.id
        );
        let format = Format::shared(schema, arch);
        let mut records = Vec::new();
        let mut lengths = Vec::new();
        let mut counts = Vec::new();
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        while let Some(rec) = r.next_record().expect("the fixture reads") {
            let at = rec.offset as usize;
            records.push(at);
            if rec.headerless {
                continue;
            }
            lengths.push((at + 4, 4, "h.len", rec.name));
            let (st, tail) = match schema.record_def(rec.name, arch).map(|d| &d.body) {
                Some(RecordBody::Struct { name, tail }) => (name, tail.as_ref()),
                Some(RecordBody::Select { common, .. }) => (common, None),
                _ => continue,
            };
            let Ok(layout) = format.layout(st) else {
                continue;
            };
            let mut used = Vec::new();
            if let Some(count) = tail.and_then(|t| t.count.as_ref()) {
                names(count, &mut used);
            }
            let items = schema.payload_def(rec.name, arch).map(|p| &p.items[..]);
            for item in items.unwrap_or_default() {
                let exprs = [
                    item.elements.as_ref().map(|e| &e.1),
                    item.length.as_ref(),
                    item.condition.as_ref(),
                ];
                for e in exprs.into_iter().flatten() {
                    names(e, &mut used);
                }
            }
            for name in used {
                if let Some((off, m)) = layout.find(name)
                    && m.dims.is_empty()
                    && let TypeLayout::Prim(p) = &m.ty
                    && matches!(p.size, 1 | 2 | 4 | 8)
                {
                    let at = at + off as usize;
                    if !counts.iter().any(|c: &(usize, usize, _, _)| c.0 == at) {
                        counts.push((at, p.size as usize, name, rec.name));
                    }
                }
            }
        }
        let headers = lengths.len();
        lengths.extend(counts);
        Fixture {
            schema,
            arch,
            img,
            records,
            lengths,
            headers,
        }
    }

    /// The mutation of seed `seed`: bit flips or a length field's new value, equally often.
    fn mutation(&self, seed: u64) -> Mutation {
        let mut rng = SplitMix64::new(seed);
        let endian = self.arch.endian();
        if rng.below(2) == 0 {
            let n = 1 + rng.below(4) as usize;
            let mut at = [(0u32, 0u8); 4];
            for a in &mut at[..n] {
                let o = if rng.below(2) == 0 {
                    rng.below(self.img.len() as u64) as usize
                } else {
                    let r = self.records[rng.below(self.records.len() as u64) as usize];
                    (r + rng.below(32) as usize).min(self.img.len() - 1)
                };
                *a = (o as u32, rng.below(8) as u8);
            }
            return Mutation::Flips(at, n);
        }
        // Pre-headers and counting members, half and half.
        let pick = if self.lengths.len() == self.headers || rng.below(2) == 0 {
            rng.below(self.headers as u64)
        } else {
            self.headers as u64 + rng.below((self.lengths.len() - self.headers) as u64)
        };
        let (at, width, field, record) = self.lengths[pick as usize];
        let old = get_uint(&self.img[at..at + width], endian);
        let max = u64::MAX >> (64 - 8 * width);
        let new = match rng.below(9) {
            0 => 0,
            1 => 1,
            2 => old.wrapping_add(1),
            3 => old.wrapping_sub(1),
            4 => max,
            5 => max >> 1,
            6 => old.wrapping_mul(2),
            7 => old ^ (1 << rng.below(8 * width as u64)),
            _ => rng.next_u64(),
        } & max;
        Mutation::Field(FieldChange {
            at,
            width,
            field,
            record,
            old,
            new,
        })
    }

    /// The fixture with `m` applied.
    fn apply(&self, m: Mutation) -> Vec<u8> {
        let mut v = self.img.clone();
        match m {
            Mutation::Cut(n) => v.truncate(n),
            Mutation::Flips(at, n) => {
                for (o, b) in &at[..n] {
                    v[*o as usize] ^= 1 << b;
                }
            }
            Mutation::Field(c) => put_uint(&mut v[c.at..c.at + c.width], c.new, self.arch.endian()),
        }
        v
    }
}

/// What was done to a fixture.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// Cut after this many bytes.
    Cut(usize),
    /// Bits flipped: (offset, bit number), the first `.1` of them.
    Flips([(u32, u8); 4], usize),
    /// A length field rewritten.
    Field(FieldChange),
}

/// A length field's new value.
#[derive(Debug, Clone, Copy)]
struct FieldChange {
    /// Offset of the field.
    at: usize,
    /// Its width in bytes.
    width: usize,
    /// Its name (`h.len` for the pre-header's).
    field: &'static str,
    /// The record it is in.
    record: &'static str,
    old: u64,
    new: u64,
}

impl Mutation {
    /// The first byte that differs from the fixture.
    fn first_changed(&self) -> u64 {
        match *self {
            Mutation::Cut(n) => n as u64,
            Mutation::Flips(at, n) => at[..n].iter().map(|a| a.0 as u64).min().unwrap_or(0),
            Mutation::Field(c) => c.at as u64,
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Cut(n) => write!(f, "cut at {n}"),
            Mutation::Flips(at, n) => {
                write!(f, "bit flips at")?;
                for (o, b) in &at[..*n] {
                    write!(f, " {o:#x}^{:#04x}", 1u8 << b)?;
                }
                Ok(())
            }
            Mutation::Field(c) => write!(
                f,
                "{}.{} ({} bytes at {:#x}) {:#x} -> {:#x}",
                c.record, c.field, c.width, c.at, c.old, c.new
            ),
        }
    }
}

/// Which fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Small,
    Rich,
}

/// The fixtures of `set`, built once.
fn fixtures(set: Set) -> &'static [Fixture] {
    static SMALL: OnceLock<Vec<Fixture>> = OnceLock::new();
    static RICH: OnceLock<Vec<Fixture>> = OnceLock::new();
    let (cell, opts) = match set {
        Set::Small => (&SMALL, small_options()),
        Set::Rich => (&RICH, rich_options()),
    };
    cell.get_or_init(|| {
        all_pairs()
            .into_iter()
            .map(|(s, a)| Fixture::new(s, a, &opts))
            .collect()
    })
}

fn fixture(set: Set, schema: &Schema, arch: Arch) -> &'static Fixture {
    fixtures(set)
        .iter()
        .find(|f| f.schema.ordinal == schema.ordinal && f.arch == arch)
        .unwrap_or_else(|| panic!("no fixture for {} {arch}", schema.id))
}

// ---------------------------------------------------------------------------------------
// Cases.

/// Which detections a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detection {
    None,
    /// As for a file: `Evidence::scan`, then `detect`.
    File,
    /// As for a pipe: `detect::open`, then a read with the revision found.
    Pipe,
    Both,
}

/// One case: a fixture, a mutation and what replays it.
#[derive(Clone, Copy)]
struct Case {
    fixture: &'static Fixture,
    /// The seed the mutation came from (none for a cut).
    seed: Option<u64>,
    mutation: Mutation,
    detection: Detection,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, arch) = (&self.fixture.schema.id, self.fixture.arch);
        let replay = match (self.seed, self.mutation) {
            (Some(s), _) => format!("seed {s:#x}"),
            (None, Mutation::Cut(n)) => format!("cut {n}"),
            (None, _) => String::new(),
        };
        write!(
            f,
            "{id} {arch}: {} (replay: CKPT_REPLAY='{id} {arch} {replay}' cargo test -p ckpt-tests --test corruption replay -- --ignored)",
            self.mutation
        )
    }
}

/// Reads every record of `r`; inline records from byte `from` on are decoded, streamed
/// bodies from there on copied out (for an even `from`; skipped otherwise). Ok(records)
/// or Err(message).
fn walk<R: Input>(mut r: Reader<R>, bytes: usize, from: u64) -> Result<u64, String> {
    let mut n = 0u64;
    let message = |e: ckpt_format::Error| e.to_string();
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                n += 1;
                if rec.offset + rec.len as u64 > from {
                    if rec.inline {
                        r.decode().map_err(message)?;
                    } else if from.is_multiple_of(2) {
                        r.copy_payload(&mut io::sink()).map_err(message)?;
                    }
                }
                if n > bytes as u64 + 1 {
                    return Err("more records than bytes: a hang".into());
                }
            }
            Ok(None) => return Ok(n),
            Err(e) => return Err(message(e)),
        }
    }
}

/// A read that succeeded or failed saying where.
fn clean(r: &Result<u64, String>) -> Result<(), String> {
    match r {
        Err(e) if !e.contains("offset 0x") => Err(format!("an error without its offset: {e}")),
        _ => Ok(()),
    }
}

/// What a case found.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// The fixture's format read it to the end.
    parsed: bool,
    /// Peak bytes allocated.
    peak: usize,
}

/// Runs one case. Err(problem) when a check fails.
fn run_case(case: &Case) -> Result<Outcome, String> {
    let f = case.fixture;
    let img = f.apply(case.mutation);
    let from = case.mutation.first_changed();
    let start = Instant::now();
    let (res, peak) = measure(|| {
        catch_unwind(AssertUnwindSafe(|| {
            let forced = walk(
                Reader::new(&img[..], Format::new(f.schema, f.arch)),
                img.len(),
                from,
            );
            let mut piped = Ok(0);
            if matches!(case.detection, Detection::File | Detection::Both)
                && let Ok(ev) = Evidence::scan(&mut Cursor::new(&img[..]))
            {
                let _ = detect(&ev, None);
            }
            if matches!(case.detection, Detection::Pipe | Detection::Both)
                && let Ok((r, _)) = detect::open(Cursor::new(&img[..]), None, None)
            {
                piped = walk(r, img.len(), 0);
            }
            (forced, piped)
        }))
    });
    let took = start.elapsed();
    let (forced, piped) = res.map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("?");
        format!("panicked: {msg}")
    })?;
    clean(&forced).map_err(|e| format!("read: {e}"))?;
    clean(&piped).map_err(|e| format!("read after detection: {e}"))?;
    if took > CASE_LIMIT {
        return Err(format!("took {took:?}, more than {CASE_LIMIT:?}"));
    }
    if peak > ALLOC_CAP {
        return Err(format!(
            "allocated {peak} bytes at once, more than {ALLOC_CAP}"
        ));
    }
    Ok(Outcome {
        parsed: forced.is_ok(),
        peak,
    })
}

/// Aborts the process when a case runs for longer than [`HANG_ABORT`], naming it (a
/// thread cannot be stopped, and a hung case would hang CI).
struct Watchdog {
    state: Arc<Watched>,
}

/// What the watchdog's thread sees.
#[derive(Default)]
struct Watched {
    /// The case running, and since when.
    case: Mutex<Option<(Instant, String)>>,
    /// The test is over.
    stop: AtomicBool,
}

impl Watchdog {
    fn start() -> Watchdog {
        let state = Arc::new(Watched::default());
        let s = state.clone();
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let cur = s.case.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((t, case)) = &*cur
                    && t.elapsed() > HANG_ABORT
                {
                    eprintln!("corruption: hang: {case} runs for {:?}", t.elapsed());
                    std::process::abort();
                }
            }
        });
        Watchdog { state }
    }

    /// Watches `case` until the next call; `None` watches nothing.
    fn watch(&self, case: Option<&Case>) {
        // The case is formatted only when it runs long.
        let mut cur = self.state.case.lock().unwrap_or_else(|e| e.into_inner());
        *cur = case.map(|c| (Instant::now(), c.to_string()));
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

/// Tallies of a run, and its first failures.
#[derive(Default)]
struct Tally {
    cases: u64,
    parsed: u64,
    detected: u64,
    max_peak: usize,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn run(&mut self, dog: &Watchdog, case: &Case) -> Option<Outcome> {
        dog.watch(Some(case));
        let r = run_case(case);
        dog.watch(None);
        self.cases += 1;
        self.detected += (case.detection != Detection::None) as u64;
        match r {
            Ok(o) => {
                self.parsed += o.parsed as u64;
                self.max_peak = self.max_peak.max(o.peak);
                Some(o)
            }
            Err(problem) => {
                self.fail(case, &problem);
                None
            }
        }
    }

    fn fail(&mut self, case: &Case, problem: &str) {
        self.failed += 1;
        if self.failures.len() < 20 {
            self.failures.push(format!("{case}: {problem}"));
        }
    }

    fn finish(self, what: &str, started: Instant) {
        eprintln!(
            "{what}: {} cases ({} read whole, {} detected too) in {:.1?}; largest allocation peak {} bytes (cap {ALLOC_CAP})",
            self.cases,
            self.parsed,
            self.detected,
            started.elapsed(),
            self.max_peak,
        );
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} cases failed; the first:\n{}",
            self.failed,
            self.cases,
            self.failures.join("\n")
        );
    }
}

fn exhaustive() -> bool {
    std::env::var_os("CKPT_EXHAUSTIVE").is_some()
}

/// The detections of a cut: the header's cuts and a sample of the rest.
fn cut_detection(cut: usize) -> Detection {
    if exhaustive() || cut < 80 || cut.is_multiple_of(1021) {
        Detection::Both
    } else {
        Detection::None
    }
}

/// The detections of mutation number `i` of a revision: one case in 32.
fn mutation_detection(i: u64) -> Detection {
    match i % 64 {
        _ if exhaustive() => Detection::Both,
        0 => Detection::File,
        32 => Detection::Pipe,
        _ => Detection::None,
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

/// Every truncation point of the small fixtures numbered `part` modulo `parts`.
fn truncations(part: usize, parts: usize) {
    let started = Instant::now();
    let dog = Watchdog::start();
    let mut tally = Tally::default();
    for f in fixtures(Set::Small).iter().skip(part).step_by(parts) {
        assert!(
            f.img.len() <= MAX_SMALL,
            "{} {}: the small fixture has {} bytes, more than {MAX_SMALL}",
            f.schema.id,
            f.arch,
            f.img.len()
        );
        for cut in 0..f.img.len() {
            let case = Case {
                fixture: f,
                seed: None,
                mutation: Mutation::Cut(cut),
                detection: cut_detection(cut),
            };
            if tally.run(&dog, &case).is_some_and(|o| o.parsed) {
                tally.fail(&case, "a truncated image was read whole");
            }
        }
    }
    tally.finish(&format!("truncations, part {}/{parts}", part + 1), started);
}

#[test]
fn truncations_1_of_2() {
    truncations(0, 2);
}

#[test]
fn truncations_2_of_2() {
    truncations(1, 2);
}

/// The seed of mutation number `i` of revision `schema`.
fn seed(schema: &Schema, i: u64) -> u64 {
    (schema.ordinal as u64) << 32 | i
}

/// The seeded mutations of the revisions numbered `part` modulo `parts`.
fn mutations(part: usize, parts: usize) {
    let started = Instant::now();
    let dog = Watchdog::start();
    let mut tally = Tally::default();
    let per = MUTATIONS_PER_REVISION * if exhaustive() { 10 } else { 1 };
    for schema in Registry::get().all().iter().skip(part).step_by(parts) {
        for i in 0..per {
            let arch = schema.arches[i as usize % schema.arches.len()].0;
            let f = fixture(Set::Rich, schema, arch);
            let case = Case {
                fixture: f,
                seed: Some(seed(schema, i)),
                mutation: f.mutation(seed(schema, i)),
                detection: mutation_detection(i),
            };
            tally.run(&dog, &case);
        }
    }
    tally.finish(&format!("mutations, part {}/{parts}", part + 1), started);
}

#[test]
fn mutations_1_of_2() {
    mutations(0, 2);
}

#[test]
fn mutations_2_of_2() {
    mutations(1, 2);
}

/// The fixtures have what the cases aim at: record pre-headers, and members that payload
/// rules count with (`nr_pages` in every revision).
#[test]
fn fixtures_have_length_fields() {
    for f in fixtures(Set::Small).iter().chain(fixtures(Set::Rich)) {
        assert!(f.headers > 50, "{} {}", f.schema.id, f.arch);
        assert!(
            f.lengths[f.headers..].iter().any(|c| c.2 == "nr_pages"),
            "{} {}: no count member found: {:?}",
            f.schema.id,
            f.arch,
            &f.lengths[f.headers..]
        );
    }
    for set in [Set::Small, Set::Rich] {
        let all = fixtures(set);
        let sizes = all.iter().map(|f| f.img.len());
        let counts = all.iter().map(|f| f.lengths.len() - f.headers);
        eprintln!(
            "{set:?} fixtures: {} of {}..{} bytes, {}..{} counting members each",
            all.len(),
            sizes.clone().min().unwrap(),
            sizes.max().unwrap(),
            counts.clone().min().unwrap(),
            counts.max().unwrap()
        );
    }
}

/// Runs the one case named by `CKPT_REPLAY` ('REV ARCH seed N' or 'REV ARCH cut N'),
/// with both detections. A tool for a failure's message, not a check of its own: it is
/// ignored unless asked for (`-- --ignored replay`), and then requires the variable.
#[test]
#[ignore = "replays one case named by CKPT_REPLAY; run with -- --ignored replay"]
fn replay() {
    let spec = std::env::var("CKPT_REPLAY")
        .expect("CKPT_REPLAY='REV ARCH seed N' or 'REV ARCH cut N' names the case to replay");
    let w: Vec<&str> = spec.split_whitespace().collect();
    let [rev, arch, kind, n] = w[..] else {
        panic!("CKPT_REPLAY: expected 'REV ARCH seed N' or 'REV ARCH cut N', not {spec:?}");
    };
    let schema = Registry::get().find(rev).expect("CKPT_REPLAY: revision");
    let arch: Arch = arch.parse().expect("CKPT_REPLAY: architecture");
    let n = match n.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => n.parse(),
    }
    .expect("CKPT_REPLAY: number");
    let case = match kind {
        "seed" => {
            let f = fixture(Set::Rich, schema, arch);
            Case {
                fixture: f,
                seed: Some(n),
                mutation: f.mutation(n),
                detection: Detection::Both,
            }
        }
        "cut" => Case {
            fixture: fixture(Set::Small, schema, arch),
            seed: None,
            mutation: Mutation::Cut(n as usize),
            detection: Detection::Both,
        },
        _ => panic!("CKPT_REPLAY: `seed` or `cut`, not {kind:?}"),
    };
    eprintln!("replaying {case}");
    let img = case.fixture.apply(case.mutation);
    let read = walk(
        Reader::new(&img[..], Format::new(schema, arch)),
        img.len(),
        0,
    );
    eprintln!("read: {read:?}");
    let r = run_case(&case);
    eprintln!("checks: {r:?}");
    assert!(r.is_ok(), "{case}: {}", r.unwrap_err());
}
