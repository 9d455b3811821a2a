//! `ckpt mem`: the memory of a task at its virtual addresses, through the page index
//! ([`ckpt_format::pages`]) of a file, or from one pass over a pipe.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use ckpt_format::model::{ImageModel, PageOwner, VmaModel};
use ckpt_format::pages::{PageIndex, PageWalker, ReadAt, first_unmapped};
use ckpt_format::summary::tasks::vma_summary;
use ckpt_format::{Arch, Format, Schema};

use crate::cmd::{parse_size, usage};
use crate::io::{Output, open_image, with_detection};

const AFTER: &str = "Addresses are hexadecimal with 0x (0x7fff0000) or decimal; --len takes sizes
such as 4K or 1M. Pages of a VMA that the image does not hold read as zeros; a byte
outside every VMA of the task is an error.

--search PATTERN: text, or bytes in hex after 0x or hex: (0x7f454c46, hex:7f 45 4c 46);
  text: forces text (text:0x1). Prints each match as its address and VMA.
--strings: printable ASCII runs of at least --min bytes (default 4), each as its address
  in hex and the text, like `strings -t x`.
Search and strings look at the pages the image holds (holes are zeros and are skipped);
a match or a string may span pages, chunks and adjacent VMAs.

Without -o, --addr prints a hexdump like xxd; -o FILE writes the raw bytes (the file
appears only when complete).

From standard input (-) the image is read once, without an index: the task's address
space is served as it passes, and reading stops after the task's records.

Examples:
  ckpt mem image.ckpt --pid 1 --addr 0x1400000 --len 256
  ckpt mem image.ckpt --pid 1 --addr 0x1400000 --len 1M -o heap.bin
  ckpt mem image.ckpt --pid 1 --search 'job 42'
  cat image.ckpt | ckpt mem - --pid 2 --strings --min 8

Exit status: 0 success, 1 no such task or an address outside every VMA (or an invalid
image), 2 usage error, 3 I/O error";

/// Show the memory of a task: bytes at an address, a search, or its strings.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["addr", "search", "strings"])))]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image instead of detecting it.
    #[arg(long)]
    rev: Option<String>,
    /// The task, by its pid in the image's root pid namespace.
    #[arg(long)]
    pid: i64,
    /// First address to show (0x... or decimal).
    #[arg(long, value_parser = parse_addr, requires = "len")]
    addr: Option<u64>,
    /// Bytes to show from --addr (4096, 4K, 1M).
    #[arg(long, value_parser = parse_size, requires = "addr")]
    len: Option<u64>,
    /// Write the raw bytes of --addr/--len to FILE instead of a hexdump.
    #[arg(short, long, requires = "addr")]
    output: Option<PathBuf>,
    /// Find PATTERN (text, or hex after 0x or hex:) in the task's pages.
    #[arg(long, value_name = "PATTERN")]
    search: Option<String>,
    /// Print the printable strings of the task's pages with their addresses.
    #[arg(long)]
    strings: bool,
    /// Shortest string --strings prints.
    #[arg(long, default_value_t = 4, requires = "strings", value_parser = clap::value_parser!(u32).range(1..=4096))]
    min: u32,
}

/// Parses an address: `0x` hexadecimal or decimal.
pub fn parse_addr(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    r.map_err(|_| format!("`{s}` is not an address (0x followed by hex digits, or decimal)"))
}

/// Parses a search pattern: hex after `0x` or `hex:`, text after `text:`, else text.
fn parse_pattern(s: &str) -> Result<Vec<u8>, String> {
    let hex_digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("hex:"));
    let pat = match (hex_digits, s.strip_prefix("text:")) {
        (Some(h), _) => {
            let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
            hex::decode(&h).map_err(|_| {
                format!(
                    "--search {s}: `{h}` is not hex bytes (pairs of hex digits); \
                     write text:{s} to search for the text"
                )
            })?
        }
        (None, Some(text)) => text.as_bytes().to_vec(),
        (None, None) => s.as_bytes().to_vec(),
    };
    if pat.is_empty() {
        return Err("--search: the pattern is empty".into());
    }
    Ok(pat)
}

/// What to do with the task's memory.
enum Want {
    Range { addr: u64, len: u64 },
    Search(Vec<u8>),
    Strings(usize),
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let want = if let (Some(addr), Some(len)) = (self.addr, self.len) {
            if addr.checked_add(len).is_none() {
                return Err(usage(format!(
                    "--addr {addr:#x} --len {len}: the range passes the end of the address space"
                )));
            }
            Want::Range { addr, len }
        } else if let Some(p) = &self.search {
            Want::Search(parse_pattern(p).map_err(usage)?)
        } else {
            Want::Strings(self.min as usize)
        };
        if let Some(o) = &self.output {
            crate::io::refuse_same_file(&self.image, o)?;
        }
        let name = if self.image == "-" {
            "standard input".to_string()
        } else {
            self.image.clone()
        };
        let r = if self.image == "-" {
            self.serve_stream(&want, &name)
        } else {
            self.serve_file(&want, &name)
        };
        r.map(|()| 0)
    }

    fn serve_file(&self, want: &Want, name: &str) -> Result<()> {
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let index = PageIndex::build(&mut r)
            .map_err(|e| with_detection(anyhow::Error::from(e), &det, &self.image))?;
        drop(r);
        let file = File::open(&self.image).with_context(|| format!("cannot open {name}"))?;
        let tag = task_mm(index.model(), self.pid, name)?;
        let space = index
            .address_space(tag)
            .ok_or_else(|| anyhow!("{name}: pid {}: no address space {tag}", self.pid))?;
        let vmas = &index
            .model()
            .object(tag)
            .map(|o| &o.vmas[..])
            .unwrap_or(&[]);
        let names = VmaNames::new(index.model(), det.schema, det.arch, tag);
        match *want {
            Want::Range { addr, len } => {
                if let Some(a) = space.first_unmapped(addr, len) {
                    bail!(outside(name, self.pid, a, vmas, &names));
                }
                let mut out = self.range_output()?;
                let mut buf = vec![0u8; 1 << 16];
                let mut at = addr;
                while at < addr + len {
                    let n = (addr + len - at).min(buf.len() as u64) as usize;
                    space
                        .read_at(&file, at, &mut buf[..n])
                        .with_context(|| format!("{name}: pid {}", self.pid))?;
                    out.put(at, &buf[..n])?;
                    at += n as u64;
                }
                out.finish()
            }
            Want::Search(_) | Want::Strings(_) => {
                let mut out = Output::create(std::path::Path::new("-"))?;
                let mut scan = Scanner::new(want);
                let present = space
                    .pages()
                    .present(&file)
                    .with_context(|| format!("{name}: pid {}", self.pid))?;
                let mut buf = vec![0u8; 1 << 16];
                let mut by_start: Vec<&VmaModel> = vmas.iter().collect();
                by_start.sort_by_key(|v| v.start);
                // The pages held, inside VMAs, in address order (the scanner tells
                // adjacent pieces from those with a gap between them).
                for run in present {
                    for v in &by_start {
                        let (from, to) = (run.start.max(v.start), run.end.min(v.end));
                        if from >= to {
                            continue;
                        }
                        let mut at = from;
                        while at < to {
                            let n = (to - at).min(buf.len() as u64) as usize;
                            read_pages(&file, space.pages(), at, &mut buf[..n], name)?;
                            scan.feed(at, &buf[..n], &mut out, &|| names.describe(v))?;
                            at += n as u64;
                        }
                    }
                }
                scan.gap(&mut out)?;
                out.commit()
            }
        }
    }

    fn range_output(&self) -> Result<RangeOut> {
        Ok(match &self.output {
            Some(p) => RangeOut::Raw(Output::create(p)?),
            None => RangeOut::Hex {
                out: Output::create(std::path::Path::new("-"))?,
                line: Vec::with_capacity(16),
                at: 0,
            },
        })
    }

    /// One pass over a pipe: the task's address space is recognised as it passes (that
    /// of its own section, or of its thread group leader's, which comes first) and its
    /// pages served into a temporary file per candidate, until the task's TASK_OBJS
    /// names which one it uses.
    fn serve_stream(&self, want: &Want, name: &str) -> Result<()> {
        let (mut r, det) = open_image("-", self.rev.as_deref())?;
        let mut walker = PageWalker::new(r.format());
        let names_fmt = (det.schema, det.arch);
        let mut target: Option<(usize, usize)> = None;
        let mut section: Option<usize> = None;
        let mut candidates: Vec<(i64, Candidate)> = Vec::new();
        let chosen = loop {
            let rec = r
                .next_record()
                .map_err(|e| with_detection(anyhow::Error::from(e), &det, &self.image))?;
            let Some(rec) = rec else {
                let m = walker.finish();
                find_task(&m, self.pid, name)?;
                bail!(
                    "{name}: the image ends before the records of pid {}",
                    self.pid
                );
            };
            let info = walker
                .add(&mut r, &rec)
                .map_err(|e| with_detection(anyhow::Error::from(e), &det, &self.image))?;
            let model = walker.model();
            if rec.name == "TASK" && rec.payload_of.is_none() {
                let k = section.map_or(0, |s| s + 1);
                section = Some(k);
                if target.is_none() {
                    let pids = model.tree_pids();
                    let Some(t) = pids.iter().position(|&(p, _)| p == self.pid) else {
                        let mut known: Vec<i64> = pids.iter().map(|p| p.0).collect();
                        known.sort_unstable();
                        bail!(no_task(name, self.pid, &known));
                    };
                    let tgid = pids[t].1;
                    let leader = pids.iter().position(|&(p, _)| p == tgid).unwrap_or(t);
                    target = Some((t, leader.min(t)));
                }
                if target.is_some_and(|(t, _)| k > t) {
                    bail!("{name}: pid {} is a zombie: it has no memory", self.pid);
                }
            }
            let (Some((t, leader)), Some(s)) = (target, section) else {
                continue;
            };
            if let Some(info) = info {
                let PageOwner::Vma { mm, vma } = info.owner else {
                    continue;
                };
                if s != t && s != leader {
                    continue;
                }
                let c = match candidates.iter().position(|(tag, _)| *tag == mm) {
                    Some(c) => c,
                    None => {
                        candidates.push((mm, Candidate::new(want)?));
                        candidates.len() - 1
                    }
                };
                let vm = model
                    .partial()
                    .object(mm)
                    .and_then(|o| o.vmas.get(vma))
                    .cloned()
                    .unwrap_or_default();
                let names = VmaNames::new(model.partial(), names_fmt.0, names_fmt.1, mm);
                let describe = || names.describe(&vm);
                let cand = &mut candidates[c].1;
                walker.read_chunk(&mut r, &info, |a, b| cand.page(a, b, &describe))?;
                continue;
            }
            if s == t && rec.name == "TASK_OBJS" {
                let task = &model.partial().tasks[t];
                break task.refs.get("mm_objref").copied();
            }
        };
        let model = walker.model().partial();
        let Some(tag) = chosen else {
            bail!("{name}: pid {} has no address space", self.pid);
        };
        let vmas: Vec<VmaModel> = model
            .object(tag)
            .map(|o| o.vmas.clone())
            .unwrap_or_default();
        let names = VmaNames::new(model, names_fmt.0, names_fmt.1, tag);
        let cand = match candidates.into_iter().find(|(c, _)| *c == tag) {
            Some((_, c)) => c,
            // An address space whose pages were not met holds none, or was written
            // with a task this pass did not follow.
            None if model.object(tag).is_some() && vmas.iter().all(|v| v.pages == 0) => {
                Candidate::new(want)?
            }
            None => bail!(
                "{name}: pid {} uses address space {tag}, which the image holds with a task \
                 outside its thread group; read the image from a file to see it",
                self.pid
            ),
        };
        match (cand, want) {
            (Candidate::Range(f, _), &Want::Range { addr, len }) => {
                let spans: Vec<Range<u64>> = vmas.iter().map(|v| v.start..v.end).collect();
                if let Some(a) = first_unmapped(&spans, addr, len) {
                    bail!(outside(name, self.pid, a, &vmas, &names));
                }
                let mut out = self.range_output()?;
                let mut buf = vec![0u8; 1 << 16];
                let mut at = addr;
                while at < addr + len {
                    let n = (addr + len - at).min(buf.len() as u64) as usize;
                    f.read_exact_at(&mut buf[..n], at - addr)
                        .context("reading a temporary file")?;
                    out.put(at, &buf[..n])?;
                    at += n as u64;
                }
                out.finish()
            }
            (Candidate::Scan(mut scan, mut tmp), _) => {
                scan.gap(&mut tmp)?;
                tmp.flush()?;
                let mut f = tmp.into_inner().map_err(|e| e.into_error())?;
                f.rewind()?;
                let mut out = Output::create(std::path::Path::new("-"))?;
                io::copy(&mut f, &mut out)?;
                out.commit()
            }
            _ => unreachable!("a candidate is made for what is wanted"),
        }
    }
}

/// Reads present pages of a search or strings run.
fn read_pages(
    file: &File,
    pages: &ckpt_format::pages::PageMap,
    at: u64,
    buf: &mut [u8],
    name: &str,
) -> Result<()> {
    pages
        .read_at(file, at, buf)
        .with_context(|| name.to_string())
}

/// What one candidate address space of a pipe collects.
enum Candidate {
    /// Pages of the range at their offset from its start, in a sparse temporary file
    /// of its length (holes read as zeros).
    Range(File, Range<u64>),
    /// Matches or strings, as the lines to print.
    Scan(Scanner, BufWriter<File>),
}

impl Candidate {
    fn new(want: &Want) -> Result<Candidate> {
        let f = tempfile::tempfile().context("cannot create a temporary file")?;
        Ok(match *want {
            Want::Range { addr, len } => {
                f.set_len(len).context("cannot size a temporary file")?;
                Candidate::Range(f, addr..addr + len)
            }
            _ => Candidate::Scan(Scanner::new(want), BufWriter::new(f)),
        })
    }

    fn page(&mut self, addr: u64, bytes: &[u8], describe: &dyn Fn() -> String) -> Result<()> {
        match self {
            Candidate::Range(f, range) => {
                // Only the part of the page inside the range is kept.
                let end = addr + bytes.len() as u64;
                let (from, to) = (addr.max(range.start), end.min(range.end));
                if from < to {
                    let part = &bytes[(from - addr) as usize..(to - addr) as usize];
                    std::os::unix::fs::FileExt::write_all_at(&*f, part, from - range.start)
                        .context("writing a temporary file")?;
                }
                Ok(())
            }
            Candidate::Scan(scan, out) => scan.feed(addr, bytes, out, describe),
        }
    }
}

/// The output of --addr/--len: raw bytes or a hexdump.
enum RangeOut {
    Raw(Output),
    /// The hexdump, the bytes of its line not complete yet, and their address.
    Hex {
        out: Output,
        line: Vec<u8>,
        at: u64,
    },
}

impl RangeOut {
    fn put(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        match self {
            RangeOut::Raw(o) => o.write_all(bytes)?,
            RangeOut::Hex { out, line, at } => {
                for (k, &b) in bytes.iter().enumerate() {
                    if line.is_empty() {
                        *at = addr + k as u64;
                    }
                    line.push(b);
                    if line.len() == 16 {
                        hex_line(out, *at, line)?;
                        line.clear();
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            RangeOut::Raw(o) => o.commit(),
            RangeOut::Hex { mut out, line, at } => {
                if !line.is_empty() {
                    hex_line(&mut out, at, &line)?;
                }
                out.commit()
            }
        }
    }
}

/// One hexdump line like xxd: address, 8 groups of 2 bytes, the bytes as text.
fn hex_line(o: &mut Output, addr: u64, bytes: &[u8]) -> io::Result<()> {
    let mut hexes = String::with_capacity(41);
    for k in 0..16 {
        match bytes.get(k) {
            Some(b) => hexes.push_str(&format!("{b:02x}")),
            None => hexes.push_str("  "),
        }
        if k % 2 == 1 && k < 15 {
            hexes.push(' ');
        }
    }
    let text: String = bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    writeln!(o, "{addr:08x}: {hexes}  {text}")
}

/// Finds matches or strings in pages fed in address order, across adjacent pages.
struct Scanner {
    kind: ScanKind,
    /// The address after the last byte fed.
    next: Option<u64>,
}

enum ScanKind {
    /// The pattern, and the last bytes fed (fewer than the pattern).
    Search { pattern: Vec<u8>, tail: Vec<u8> },
    /// The shortest string, the start of the current printable run and its bytes while
    /// shorter than that (then printed as they come).
    Strings {
        min: usize,
        start: u64,
        pending: Vec<u8>,
        printing: bool,
    },
}

impl Scanner {
    fn new(want: &Want) -> Scanner {
        let kind = match want {
            Want::Search(p) => ScanKind::Search {
                pattern: p.clone(),
                tail: Vec::new(),
            },
            Want::Strings(min) => ScanKind::Strings {
                min: *min,
                start: 0,
                pending: Vec::new(),
                printing: false,
            },
            Want::Range { .. } => unreachable!("a range is not scanned"),
        };
        Scanner { kind, next: None }
    }

    /// The bytes that follow are not adjacent to those before.
    fn gap<W: Write>(&mut self, out: &mut W) -> Result<()> {
        self.next = None;
        match &mut self.kind {
            ScanKind::Search { tail, .. } => tail.clear(),
            ScanKind::Strings {
                pending, printing, ..
            } => {
                if *printing {
                    out.write_all(b"\n")?;
                }
                pending.clear();
                *printing = false;
            }
        }
        Ok(())
    }

    /// Takes in `bytes` at `addr`; a match is printed with `describe()` (its VMA).
    fn feed<W: Write>(
        &mut self,
        addr: u64,
        bytes: &[u8],
        out: &mut W,
        describe: &dyn Fn() -> String,
    ) -> Result<()> {
        if self.next != Some(addr) {
            self.gap(out)?;
        }
        self.next = Some(addr + bytes.len() as u64);
        match &mut self.kind {
            ScanKind::Search { pattern, tail } => {
                let mut window = std::mem::take(tail);
                let at = addr - window.len() as u64;
                window.extend_from_slice(bytes);
                for k in memchr::memmem::find_iter(&window, &pattern[..]) {
                    writeln!(out, "{:#x}  {}", at + k as u64, describe())?;
                }
                let keep = (pattern.len() - 1).min(window.len());
                *tail = window[window.len() - keep..].to_vec();
            }
            ScanKind::Strings {
                min,
                start,
                pending,
                printing,
            } => {
                let mut text = Vec::new();
                for (k, &b) in bytes.iter().enumerate() {
                    if b == b'\t' || (0x20..0x7f).contains(&b) {
                        if *printing {
                            text.push(b);
                            continue;
                        }
                        if pending.is_empty() {
                            *start = addr + k as u64;
                        }
                        pending.push(b);
                        if pending.len() >= *min {
                            write!(text, "{:>7x} ", *start)?;
                            text.extend_from_slice(pending);
                            pending.clear();
                            *printing = true;
                        }
                    } else {
                        if *printing {
                            text.push(b'\n');
                        }
                        pending.clear();
                        *printing = false;
                    }
                }
                out.write_all(&text)?;
            }
        }
        Ok(())
    }
}

/// VMAs of one address space named like `/proc/PID/maps` (`ckpt_format::summary`).
struct VmaNames<'m> {
    model: &'m ImageModel,
    format: &'static Format,
    mm: i64,
}

impl<'m> VmaNames<'m> {
    fn new(model: &'m ImageModel, schema: &'static Schema, arch: Arch, mm: i64) -> VmaNames<'m> {
        VmaNames {
            model,
            format: Format::shared(schema, arch),
            mm,
        }
    }

    /// `start-end perms offset file-or-[type]`.
    fn describe(&self, v: &VmaModel) -> String {
        match self.model.object(self.mm) {
            Some(mm) => vma_summary(self.model, self.format, mm, v).to_string(),
            None => format!("{:x}-{:x}", v.start, v.end),
        }
    }
}

/// The task with `pid`, alive.
fn find_task<'m>(
    m: &'m ImageModel,
    pid: i64,
    name: &str,
) -> Result<&'m ckpt_format::model::TaskModel> {
    let Some(t) = m.tasks.iter().find(|t| t.pid == pid) else {
        let mut known: Vec<i64> = m.tasks.iter().map(|t| t.pid).collect();
        known.sort_unstable();
        bail!(no_task(name, pid, &known));
    };
    if t.zombie {
        bail!("{name}: pid {pid} is a zombie: it has no memory");
    }
    Ok(t)
}

/// The tag of the address space of task `pid`.
fn task_mm(m: &ImageModel, pid: i64, name: &str) -> Result<i64> {
    let t = find_task(m, pid, name)?;
    t.refs
        .get("mm_objref")
        .copied()
        .ok_or_else(|| anyhow!("{name}: pid {pid} has no address space"))
}

fn no_task(name: &str, pid: i64, known: &[i64]) -> String {
    let list: Vec<String> = known.iter().map(i64::to_string).collect();
    format!(
        "{name}: no task with pid {pid} (the image has pids {})",
        list.join(", ")
    )
}

/// The error for an address outside every VMA, with the VMAs around it.
fn outside(name: &str, pid: i64, addr: u64, vmas: &[VmaModel], names: &VmaNames) -> String {
    let mut sorted: Vec<&VmaModel> = vmas.iter().collect();
    sorted.sort_by_key(|v| v.start);
    let after = sorted.iter().position(|v| v.start > addr);
    let before = match after {
        Some(0) => None,
        Some(k) => Some(k - 1),
        None => sorted.len().checked_sub(1),
    };
    let near: Vec<String> = [before, after]
        .into_iter()
        .flatten()
        .map(|k| names.describe(sorted[k]))
        .collect();
    let near = if near.is_empty() {
        "it has no VMAs".to_string()
    } else {
        format!("its VMAs nearest: {}", near.join("; "))
    };
    format!("{name}: pid {pid}: address {addr:#x} is outside every VMA of the task; {near}")
}
