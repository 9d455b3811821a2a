//! Revision detection: which of the known revisions an image is.
//!
//! The HEADER gives the byte order (from the magic), the arch id, `rev` and the kernel
//! constants; the records give their type numbers and lengths. Every revision whose
//! numbering and layouts fit all of that is a candidate. Candidates that are identical in
//! layout *and* meaning for the records present are merged (the newest is picked, and the
//! others are named); candidates that differ make detection fail with the reasons, so
//! that the user can say `--rev`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use crate::arch::Arch;
use crate::error::{Error, ErrorKind, Position, Result};
use crate::format::{Format, HDR_SIZE};
use crate::input::Input;
use crate::layout::StructLayout;
use crate::limits;
use crate::read::{HeaderPeek, Reader, read_up_to};
use crate::schema::{Embedded, RecordBody, Registry, Schema};
use crate::value::get_uint;
use std::sync::Arc;

/// Record types whose number is the same in every revision and whose length is free:
/// they carry no evidence (BUFFER, STRING, FILE_NAME).
const NO_EVIDENCE: [u32; 3] = [4, 5, 303];

/// What a scan of an image saw: the header and every distinct (type, length, selector).
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The HEADER's fields.
    pub header: HeaderPeek,
    /// Distinct (type, length, first body word) seen, with a count and the first offset.
    pub seen: BTreeMap<(u32, u32, u32), (u64, u64)>,
    /// True when the scan reached the TAIL or the end of the image.
    pub complete: bool,
    /// Records scanned.
    pub records: u64,
    /// The types of the first records, in order (up to [`SEQUENCE_KEPT`]): the per-task
    /// order tells v18 from v19 snapshots.
    pub sequence: Vec<u32>,
}

/// How many record types [`Evidence::sequence`] keeps.
pub const SEQUENCE_KEPT: usize = 4096;

/// True for the revisions that write a task's objects before its THREAD, RESTART_BLOCK
/// and CPU records (the v18 order; pre-v19.a to pre-v19.c, ordinals 1 to 3), false for
/// the v19 order ("Restore thread/cpu state early", v19-rc1; grammar-research.md 2).
pub fn v18_task_order(s: &Schema) -> bool {
    s.ordinal <= 3
}

/// The name of the record that follows the `comm` of the first live task in `seq`, read
/// with `f`'s record names.
fn after_first_comm(f: &Format, seq: &[u32]) -> Option<&'static str> {
    let name = |t: u32| f.record_name(t);
    let mut i = 0;
    while i + 2 < seq.len() {
        if name(seq[i]) == Some("TASK") && name(seq[i + 1]) == Some("STRING") {
            let next = name(seq[i + 2])?;
            if !matches!(next, "TASK" | "TAIL" | "ERROR") {
                return Some(next);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

impl Evidence {
    fn new(header: HeaderPeek) -> Evidence {
        Evidence {
            header,
            seen: BTreeMap::new(),
            complete: false,
            records: 0,
            sequence: Vec::new(),
        }
    }

    fn note(&mut self, rtype: u32, len: u32, word: u32, offset: u64) {
        self.records += 1;
        if self.sequence.len() < SEQUENCE_KEPT {
            self.sequence.push(rtype);
        }
        if NO_EVIDENCE.contains(&rtype) || self.seen.len() >= 10_000 {
            return;
        }
        let e = self.seen.entry((rtype, len, word)).or_insert((0, offset));
        e.0 += 1;
    }

    /// Whether a record of type `rtype` was seen.
    pub fn has_type(&self, rtype: u32) -> bool {
        self.seen.keys().any(|k| k.0 == rtype)
    }

    /// Scans a whole image from `src`, skipping payloads (seeks on files), up to
    /// [`limits::DETECT_SCAN_RECORDS`] records. Record headers are read through a
    /// buffer of [`limits::READ_BUFFER`] bytes: small records cost no system call, and
    /// only a payload longer than what is buffered is skipped on the source.
    pub fn scan<R: Input>(src: &mut R) -> Result<Evidence> {
        let mut src = io::BufReader::with_capacity(limits::READ_BUFFER, src);
        let at = |offset: u64| Position {
            offset,
            ..Default::default()
        };
        let head =
            read_up_to(&mut src, 72).map_err(|e| Error::new(e.into(), Position::default()))?;
        let header = HeaderPeek::parse(&head).map_err(|k| Error::new(k, Position::default()))?;
        let mut ev = Evidence::new(header.clone());
        ev.note(1, 72, 0, 0);
        let mut offset = 72u64;
        while ev.records < limits::DETECT_SCAN_RECORDS {
            let got = read_up_to(&mut src, 8).map_err(|e| Error::new(e.into(), at(offset)))?;
            if got.is_empty() {
                ev.complete = true;
                break;
            }
            if got.len() < 8 {
                break;
            }
            let rtype = get_uint(&got[..4], header.endian) as u32;
            let len = get_uint(&got[4..8], header.endian) as u32;
            if len < HDR_SIZE {
                break;
            }
            let mut consumed = HDR_SIZE as u64;
            let body = (len - HDR_SIZE) as u64;
            let mut word = 0;
            if body >= 4 {
                let w = read_up_to(&mut src, 4).map_err(|e| Error::new(e.into(), at(offset)))?;
                if w.len() < 4 {
                    break;
                }
                word = get_uint(&w, header.endian) as u32;
                consumed += 4;
            }
            ev.note(rtype, len, word, offset);
            // SOCKET_FRAG (from v19-rc2) is followed by a raw page without pre-header.
            let frag = if rtype == 704 && len == 16 {
                limits::PAGE_SIZE as u64
            } else {
                0
            };
            let skip = HDR_SIZE as u64 + body + frag - consumed;
            if skip_buffered(&mut src, skip).is_err() {
                break;
            }
            offset += len as u64 + frag;
            if rtype == 9001 {
                ev.complete = true;
                break;
            }
        }
        Ok(ev)
    }

    /// Scans the records that lie entirely inside `bytes` (the start of an image read
    /// from a pipe).
    pub fn from_window(bytes: &[u8]) -> std::result::Result<Evidence, ErrorKind> {
        let header = HeaderPeek::parse(bytes)?;
        let mut ev = Evidence::new(header.clone());
        ev.note(1, 72, 0, 0);
        let mut off = 72usize;
        while off + 8 <= bytes.len() {
            let rtype = get_uint(&bytes[off..off + 4], header.endian) as u32;
            let len = get_uint(&bytes[off + 4..off + 8], header.endian) as u32;
            if len < HDR_SIZE {
                break;
            }
            let word = if len >= 12 && off + 12 <= bytes.len() {
                get_uint(&bytes[off + 8..off + 12], header.endian) as u32
            } else {
                0
            };
            ev.note(rtype, len, word, off as u64);
            off += len as usize
                + if rtype == 704 && len == 16 {
                    limits::PAGE_SIZE as usize
                } else {
                    0
                };
            if rtype == 9001 {
                ev.complete = true;
                break;
            }
        }
        if off == bytes.len() {
            ev.complete = true;
        }
        Ok(ev)
    }
}

/// Skips `n` bytes of a buffered source: inside its buffer as far as it holds them, on
/// the source (a seek, for a file) past that.
fn skip_buffered<R: Input>(src: &mut io::BufReader<&mut R>, n: u64) -> io::Result<()> {
    use io::BufRead;
    let k = (src.buffer().len() as u64).min(n);
    src.consume(k as usize);
    if n > k {
        src.get_mut().skip(n - k)?;
    }
    Ok(())
}

/// The outcome of detection.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The revision chosen.
    pub schema: &'static Schema,
    /// The architecture.
    pub arch: Arch,
    /// Other revisions that fit and are identical in layout and meaning for the records
    /// present, oldest first.
    pub also: Vec<&'static Schema>,
    /// Why: one line per fact used.
    pub reasons: Vec<String>,
    /// True when the user named the revision.
    pub forced: bool,
    /// True when detection saw the whole image; false when it saw only its start (a pipe).
    pub whole_image: bool,
    /// What detection saw: later checks compare other revisions with it.
    pub evidence: Evidence,
}

impl Detection {
    /// Whether `s` reads this image identically to the revision chosen (the chosen one,
    /// or one of [`Detection::also`]).
    pub fn reads_as(&self, s: &Schema) -> bool {
        self.schema.id == s.id || self.also.iter().any(|a| a.id == s.id)
    }
}

/// Why a revision does not fit an image's header, from its provenance alone (before
/// its schema is parsed).
fn header_misfit(e: &Embedded, h: &HeaderPeek) -> std::result::Result<Arch, String> {
    let arch = e
        .arch_by_id(h.arch_id)
        .ok_or_else(|| format!("has no architecture with id {}", h.arch_id))?;
    if arch.endian() != h.endian {
        return Err(format!(
            "its arch id {} is {arch}, which is not {}",
            h.arch_id, h.endian
        ));
    }
    if e.checkpoint_version() != h.rev {
        return Err(format!(
            "writes rev {}, the image says {}",
            e.checkpoint_version(),
            h.rev
        ));
    }
    Ok(arch)
}

/// Why a revision that fits the header (as `arch`) does not fit the image's records.
fn misfit(schema: &'static Schema, arch: Arch, ev: &Evidence) -> std::result::Result<Arch, String> {
    let h = &ev.header;
    let format = Format::new(schema, arch);
    // The per-task order: after a live task's comm, v18 goes on with its objects and
    // v19 with THREAD (RESTART_BLOCK on s390x before 67cfee9, which has no THREAD).
    if let Some(next) = after_first_comm(&format, &ev.sequence) {
        let cpu_first = matches!(next, "THREAD" | "RESTART_BLOCK" | "CPU");
        if v18_task_order(schema) == cpu_first {
            return Err(format!(
                "writes {}, but the first live task's comm is followed by {next}",
                if cpu_first {
                    "a task's objects before its THREAD and CPU (v18 order)"
                } else {
                    "a task's THREAD and CPU right after its comm (v19 order)"
                }
            ));
        }
    }
    let consts = format
        .layout("ckpt_hdr_header")
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = consts
        .fields()
        .iter()
        .filter_map(|f| f.path.strip_prefix("constants.").map(str::to_string))
        .collect();
    // Semantics of the two slots whose meaning changed (kernel-consts.md).
    if names.iter().any(|n| n == "mm_saved_auxv_len") && h.constants[1] != 0 && h.constants[1] < 100
    {
        return Err(format!(
            "stores saved_auxv in bytes; {} is an entry count",
            h.constants[1]
        ));
    }
    if names.iter().any(|n| n == "at_vector_size") && h.constants[1] >= 100 {
        return Err(format!(
            "stores AT_VECTOR_SIZE in entries; {} is a byte count",
            h.constants[1]
        ));
    }
    if names.iter().any(|n| n == "tty_termios_nccs") && h.constants[11] != 0 && h.constants[11] < 16
    {
        return Err(format!(
            "stores NCCS in the last constant; {} is NCC",
            h.constants[11]
        ));
    }
    if names.iter().any(|n| n == "tty_termios_ncc") && h.constants[11] >= 16 {
        return Err(format!(
            "stores NCC in the last constant; {} is NCCS",
            h.constants[11]
        ));
    }
    for (&(rtype, len, word), &(_, off)) in &ev.seen {
        let name = format
            .record_name(rtype)
            .ok_or_else(|| format!("has no record type {rtype} (seen at offset {off:#x})"))?;
        let rule = format
            .length_rule(name)
            .ok_or_else(|| format!("has no layout for {name}"))?;
        if !rule.fits(len) {
            return Err(format!(
                "{name} (type {rtype}) is {rule} long, the image has {len} at offset {off:#x}"
            ));
        }
        if let Some(def) = schema.record_def(name, arch)
            && let RecordBody::Select { cases, .. } = &def.body
        {
            let case = schema
                .enum_name("file", word as i64, arch)
                .ok_or_else(|| format!("has no file type {word} (FILE at offset {off:#x})"))?;
            if let Some((_, st)) = cases.iter().find(|(c, _)| c == case) {
                let size = format.layout(st).map_err(|e| e.to_string())?.size;
                if size != len && case != "EPOLL" {
                    return Err(format!(
                        "FILE of type {case} is {size} long, the image has {len} at offset {off:#x}"
                    ));
                }
            }
        }
    }
    // Records that a record seen must be followed by (unconditional payloads that are
    // records of their own kind, such as VPIDS after the tree or LSM_INFO after CONTAINER).
    if ev.complete {
        for &(rtype, _, _) in ev.seen.keys() {
            let Some(name) = format.record_name(rtype) else {
                continue;
            };
            let Some(p) = schema.payload_def(name, arch) else {
                continue;
            };
            for item in p.items.iter().filter(|i| i.condition.is_none()) {
                if let Some(t) = format.record_type(&item.kind)
                    && !NO_EVIDENCE.contains(&t)
                    && !ev.has_type(t)
                {
                    return Err(format!(
                        "follows {name} with {} (type {t}), which the image does not have",
                        item.kind
                    ));
                }
            }
        }
    }
    // The meaning of uflags bit 0x2 (grammar.md §5): NONETNS until b0d8304, NETNS after.
    let bit = h.uflags & 2 != 0;
    if let Some(netns_type) = format.record_type("NET_NS") {
        let present = ev.has_type(netns_type);
        let dumps = if schema.constant("CHECKPOINT_NETNS", arch).is_some() {
            Some(bit)
        } else if schema.constant("CHECKPOINT_NONETNS", arch).is_some() {
            Some(!bit)
        } else {
            None
        };
        if let Some(dumps) = dumps
            && (present || ev.complete)
            && dumps != present
        {
            return Err(format!(
                "reads uflags bit 0x2 as {} the net namespace, but the image {} NET_NS records",
                if bit == dumps { "dump" } else { "do not dump" },
                if present { "has" } else { "has no" }
            ));
        }
    } else if bit
        && schema.constant("CHECKPOINT_NETNS", arch).is_none()
        && schema.constant("CHECKPOINT_NONETNS", arch).is_none()
    {
        return Err("does not define uflags bit 0x2".into());
    }
    Ok(arch)
}

/// The structs a record uses in one revision: a label (the FILE case, or the tail) and the
/// layout, or why it has none.
type Used = Vec<(String, Option<Result<Arc<StructLayout>, String>>)>;

/// Whether two revisions use the same structs for a record: same labels, and layouts with
/// the same flattened fields (path, offset, type, count).
fn same_use(a: &Used, b: &Used) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((la, xa), (lb, xb))| {
            la == lb
                && match (xa, xb) {
                    (Some(Ok(p)), Some(Ok(q))) => p.fields() == q.fields(),
                    (Some(Err(p)), Some(Err(q))) => p == q,
                    (None, None) => true,
                    _ => false,
                }
        })
}

/// How two revisions differ in layout or meaning for the records `ev` saw, one line per
/// record that differs (empty when they read the image identically). With only the start
/// of an image seen (a pipe), every record type of either revision counts, since any may
/// still come.
pub fn record_differences(
    a: &'static Schema,
    b: &'static Schema,
    arch: Arch,
    ev: &Evidence,
) -> Vec<String> {
    let mut out = Vec::new();
    let fa = Format::shared(a, arch);
    let fb = Format::shared(b, arch);
    // With the whole image seen, only the records present matter; with only its start
    // seen (a pipe), any record may still come.
    let mut types: Vec<u32> = if ev.complete {
        ev.seen.keys().map(|k| k.0).chain([4, 5, 303]).collect()
    } else {
        let all = |s: &'static Schema| {
            s.enum_values("hdr", arch)
                .map(|(_, v)| v as u32)
                .collect::<Vec<_>>()
        };
        all(a).into_iter().chain(all(b)).collect()
    };
    types.sort_unstable();
    types.dedup();
    for t in types {
        let (na, nb) = match (fa.record_name(t), fb.record_name(t)) {
            (Some(na), Some(nb)) => (na, nb),
            (None, None) => continue,
            (x, y) => {
                out.push(format!(
                    "record type {t} is {} in {} and {} in {}",
                    x.unwrap_or("absent"),
                    a.id,
                    y.unwrap_or("absent"),
                    b.id
                ));
                continue;
            }
        };
        if na != nb {
            out.push(format!("type {t} is {na} in {} and {nb} in {}", a.id, b.id));
            continue;
        }
        // Layouts are compared as their flattened fields (path, offset, type, count),
        // which each layout keeps: no text is made for the comparison.
        let describe =
            |f: &'static Format, st: &str| -> Option<Result<Arc<StructLayout>, String>> {
                Some(f.layout(st).map_err(|e| e.to_string()))
            };
        // The structs that the records seen use: for FILE-like records, the case of each
        // selector value seen.
        let used = |f: &'static Format, s: &Schema| -> Used {
            match s.record_def(na, arch).map(|d| &d.body) {
                Some(RecordBody::Struct { name, tail }) => {
                    vec![
                        (String::new(), describe(f, name)),
                        (format!("{tail:?}"), None),
                    ]
                }
                Some(RecordBody::Select { common, cases, .. }) => {
                    let mut v = vec![(String::new(), describe(f, common))];
                    for &(t2, _, word) in ev.seen.keys() {
                        if t2 == t {
                            let case = s.enum_name("file", word as i64, arch).unwrap_or("?");
                            let st = cases
                                .iter()
                                .find(|(c, _)| c == case)
                                .map_or(common.as_str(), |(_, x)| x.as_str());
                            v.push((case.to_string(), describe(f, st)));
                        }
                    }
                    v
                }
                other => vec![(format!("{other:?}"), None)],
            }
        };
        if !same_use(&used(fa, a), &used(fb, b)) {
            out.push(format!(
                "{na} has different layouts in {} and {}",
                a.id, b.id
            ));
            continue;
        }
        let pa = a.payload_def(na, arch).map(|p| &p.items);
        let pb = b.payload_def(na, arch).map(|p| &p.items);
        if pa != pb {
            out.push(format!(
                "{na} has different payloads in {} and {}",
                a.id, b.id
            ));
        }
    }
    let flags = |s: &Schema| {
        (
            s.constant("CHECKPOINT_NETNS", arch),
            s.constant("CHECKPOINT_NONETNS", arch),
        )
    };
    if flags(a) != flags(b) && ev.header.uflags & 2 != 0 {
        out.push(format!(
            "uflags bit 0x2 means opposite things in {} and {}",
            a.id, b.id
        ));
    }
    out
}

/// Detects the revision from `ev`, or uses `forced` (a revision name) when given.
pub fn detect(ev: &Evidence, forced: Option<&str>) -> std::result::Result<Detection, ErrorKind> {
    detect_preferring(ev, forced, None)
}

/// Detects the revision from `ev`, or uses `forced` (a revision name) when given.
///
/// Detection finds the set of revisions that read the image identically (layout and
/// meaning of the records present). It names `prefer` when that is a member (a caller's
/// target: an image of the target's own revision needs no conversion); otherwise the
/// newest member whose kernel claims include the header's kernel version; otherwise the
/// newest member. A forced revision that is a member of the set keeps the set.
pub fn detect_preferring(
    ev: &Evidence,
    forced: Option<&str>,
    prefer: Option<&Schema>,
) -> std::result::Result<Detection, ErrorKind> {
    let h = &ev.header;
    let found = identical_set(ev);
    if let Some(name) = forced {
        let schema = Registry::get()
            .find(name)
            .map_err(|e| ErrorKind::Detect(e.to_string()))?;
        let arch = schema.arch_by_id(h.arch_id).ok_or_else(|| {
            ErrorKind::Detect(format!(
                "revision {} has no architecture with id {} (it has {})",
                schema.id,
                h.arch_id,
                schema
                    .arches
                    .iter()
                    .map(|(a, i)| format!("{a}={i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut reasons = vec![format!("revision given: {}", schema.id)];
        let also = match found {
            Ok((set, a)) if a == arch && set.iter().any(|s| s.id == schema.id) => {
                let also: Vec<&'static Schema> =
                    set.into_iter().filter(|s| s.id != schema.id).collect();
                if !also.is_empty() {
                    reasons.push(format!(
                        "reads this image identically to {}",
                        ids(&also).join(", ")
                    ));
                }
                also
            }
            _ => vec![],
        };
        return Ok(Detection {
            schema,
            arch,
            also,
            reasons,
            forced: true,
            whole_image: ev.complete,
            evidence: ev.clone(),
        });
    }
    let (set, arch) = found?;
    let kernel = h.kernel;
    let kname = format!("{}.{}.{}", kernel.0, kernel.1, kernel.2);
    let claiming: Vec<&'static Schema> = set
        .iter()
        .copied()
        .filter(|s| s.claims_kernel(kernel))
        .collect();
    let newest = |v: &[&'static Schema]| v.iter().copied().max_by_key(|s| s.ordinal);
    let mut reasons = vec![
        format!(
            "{}, arch id {} = {arch}, rev {}",
            h.endian, h.arch_id, h.rev
        ),
        format!(
            "{} distinct record kinds checked against the layouts{}",
            ev.seen.len(),
            if ev.complete {
                " (whole image)"
            } else {
                " (start of the image)"
            }
        ),
    ];
    if set.len() > 1 {
        reasons.push(format!(
            "identical in layout and meaning for these records: {}",
            ids(&set).join(", ")
        ));
    }
    let others = |chosen: &Schema| -> Vec<String> {
        set.iter()
            .filter(|s| s.id != chosen.id && !s.claims_kernel(kernel))
            .map(|s| format!("{} ({})", s.id, s.claimed_kernels()))
            .collect()
    };
    let schema = match prefer.and_then(|p| set.iter().copied().find(|s| s.id == p.id)) {
        Some(p) => {
            reasons.push(format!(
                "read as {}, the revision asked for, which reads this image identically",
                p.id
            ));
            p
        }
        None => match newest(&claiming) {
            Some(c) => {
                let not = others(c);
                if set.len() > 1 {
                    reasons.push(if not.is_empty() {
                        format!("kernel {kname} is claimed by all of them; the newest is used")
                    } else {
                        format!(
                            "kernel {kname} is claimed by {}, not by {}",
                            ids(&claiming).join(", "),
                            not.join(", ")
                        )
                    });
                }
                c
            }
            None => {
                let n = newest(&set).expect("the set has a member");
                reasons.push(format!(
                    "kernel {kname} is claimed by none of them{}",
                    if set.len() > 1 {
                        "; the newest is used"
                    } else {
                        ""
                    }
                ));
                n
            }
        },
    };
    Ok(Detection {
        schema,
        arch,
        also: set.into_iter().filter(|s| s.id != schema.id).collect(),
        reasons,
        forced: false,
        whole_image: ev.complete,
        evidence: ev.clone(),
    })
}

/// The ids of some revisions.
fn ids(v: &[&'static Schema]) -> Vec<String> {
    v.iter().map(|s| s.id.clone()).collect()
}

/// The revisions that read the image of `ev` identically, oldest first, with the arch;
/// an error naming every revision's misfit when none fits, or the differences when
/// several fit but read it differently.
fn identical_set(ev: &Evidence) -> std::result::Result<(Vec<&'static Schema>, Arch), ErrorKind> {
    let reg = Registry::get();
    let h = &ev.header;
    let mut fits = Vec::new();
    let mut rejected = Vec::new();
    // Only the revisions that fit the header are parsed (in parallel) and tried.
    let mut candidates = Vec::new();
    for (i, e) in reg.entries().iter().enumerate() {
        match header_misfit(e, h) {
            Ok(arch) => candidates.push((i, e, arch)),
            Err(why) => rejected.push((i, format!("{} ({}): {why}", e.id(), e.short_commit()))),
        }
    }
    let entries: Vec<&'static Embedded> = candidates.iter().map(|&(_, e, _)| e).collect();
    for (s, (i, _, arch)) in reg.load(&entries).into_iter().zip(candidates) {
        match misfit(s, arch, ev) {
            Ok(arch) => fits.push((s, arch)),
            Err(why) => rejected.push((i, format!("{} ({}): {why}", s.id, s.short_commit()))),
        }
    }
    rejected.sort_by_key(|&(i, _)| i);
    let Some(&(newest, arch)) = fits.last() else {
        let mut msg = format!(
            "no known revision fits this image (arch id {}, rev {}, kernel {}.{}.{}):",
            h.arch_id, h.rev, h.kernel.0, h.kernel.1, h.kernel.2
        );
        for (_, r) in &rejected {
            let _ = write!(msg, "\n  {r}");
        }
        return Err(ErrorKind::Detect(msg));
    };
    let mut differ = Vec::new();
    for &(s, a) in &fits[..fits.len() - 1] {
        if a != arch {
            differ.push(format!("{}: arch id {} is {a} there", s.id, h.arch_id));
        } else {
            differ.extend(record_differences(s, newest, arch, ev));
        }
    }
    if !differ.is_empty() {
        let mut msg = format!(
            "the image fits several revisions that differ{}; say which with --rev:\n  candidates: {}",
            if ev.complete {
                ""
            } else {
                " in records not seen yet"
            },
            fits.iter()
                .map(|(s, _)| format!("{} ({})", s.id, s.short_commit()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for d in &differ {
            let _ = write!(msg, "\n  {d}");
        }
        return Err(ErrorKind::Detect(msg));
    }
    Ok((fits.into_iter().map(|(s, _)| s).collect(), arch))
}

/// Opens an image for reading: detects its revision (or uses `rev`) from the first
/// [`limits::DETECT_WINDOW`] bytes, or from `evidence` of a full pre-scan when the
/// caller made one (seekable files), and returns a reader positioned at the start.
pub fn open<R: Input>(
    src: R,
    rev: Option<&str>,
    evidence: Option<Evidence>,
) -> Result<(Reader<R>, Detection)> {
    open_preferring(src, rev, evidence, None)
}

/// [`open`], reading the image as `prefer` when that revision reads it identically to
/// the one detected (see [`detect_preferring`]).
pub fn open_preferring<R: Input>(
    mut src: R,
    rev: Option<&str>,
    evidence: Option<Evidence>,
    prefer: Option<&Schema>,
) -> Result<(Reader<R>, Detection)> {
    let prefix = read_up_to(&mut src, limits::DETECT_WINDOW)
        .map_err(|e: io::Error| Error::new(e.into(), Position::default()))?;
    let ev = match evidence {
        Some(ev) => ev,
        None => Evidence::from_window(&prefix).map_err(|k| Error::new(k, Position::default()))?,
    };
    let det =
        detect_preferring(&ev, rev, prefer).map_err(|k| Error::new(k, Position::default()))?;
    let format = Format::new(det.schema, det.arch);
    Ok((Reader::with_prefix(src, format, prefix), det))
}
