//! What names cannot carry between revisions: records inserted or removed, values whose
//! meaning changed, and refusals. Each part says which revisions it lies between and why,
//! from the headers and the linux-cr patches.
//!
//! The parts are keyed by the feature that changes, so a conversion across several
//! revisions applies each change it crosses exactly once:
//!
//! | between | change | handled |
//! |---|---|---|
//! | a53775e → d55d4c8 | container section gains the LSM name BUFFER and LSM_INFO | inserted ("default", "dummy") / removed |
//! | d55d4c8 → db94f5e | socket buffer and INET records rewritten (TCP state) | refused when the image has them |
//! | d55d4c8 → db94f5e | per-task order: task objects before (v18) or after (v19) THREAD/CPU | refused (not implemented yet) |
//! | 76fcfe5 → c97c03d | every task needs an FS object (cwd, root) | inserted from `--cwd`/`--root` / removed (lossy) |
//! | c97c03d → 67cfee9 | saved_auxv: native longs → u64 entries | widened / narrowed |
//! | 67cfee9 → c83f38b, 78d18cf → b0d8304 | VPIDS record after the tree | inserted / removed |
//! | 78d18cf → b0d8304 → 82822cf | uflags bit 0x2: "do not dump" → "dump" the net namespace | rewritten |
//! | 82822cf/f678773 → f0fdd38 | siginfo redefined, unix peer credentials, socket has_buffers | refused when the image has pending signals or sockets |
//! | a272e68 → b6cdf01 | pids become objects; the tree holds tags | refused (not implemented yet) |
//! | b6cdf01 → 1fd8e6e | `pids.offset` is the first pid's tag (one more) | rewritten |

use ckpt_format::value::{Value, decode_field, encode_field, get_uint, put_uint};
use ckpt_format::{Format, RecordInfo, Schema};

use crate::convert::{Action, Conv, ConvertError, Options, Out, fields_of};

/// Which way a feature changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Both sides have it, or neither.
    Same,
    /// The target has it, the source not.
    Add,
    /// The source has it, the target not.
    Remove,
}

fn change(a: bool, b: bool) -> Change {
    match (a, b) {
        (false, true) => Change::Add,
        (true, false) => Change::Remove,
        _ => Change::Same,
    }
}

/// What a conversion from one format to another has to do beyond names.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Kernel version for the target header.
    pub kernel: (u16, u16, u16),
    /// The target kernel's `ckpt_const` values.
    pub constants: Vec<(String, u64)>,
    lsm_container: Change,
    vpids_record: Change,
    fs_object: Change,
    auxv_units: Change,
    pids_offset: i64,
    netns_bit: (Option<bool>, Option<bool>),
}

/// Per-image state of the steps.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Records still to drop (payloads of a removed record).
    drop_payloads: u32,
    /// Tag of the FS object inserted for every task.
    fs_tag: Option<i64>,
    /// Whether the source dumps the net namespace.
    netns_dumped: bool,
}

/// Revisions from `from` to `to`, in order.
pub fn path(from: &Schema, to: &Schema) -> Vec<String> {
    let all = ckpt_format::Registry::get().all();
    let (a, b) = (from.ordinal, to.ordinal);
    let mut v: Vec<String> = all
        .iter()
        .filter(|s| (a.min(b)..=a.max(b)).contains(&s.ordinal))
        .map(|s| s.id.clone())
        .collect();
    if a > b {
        v.reverse();
    }
    v
}

fn crosses(from: &Schema, to: &Schema, ordinal: u32) -> bool {
    // True when `ordinal` lies on one side and the other revision on the other: the
    // change that `ordinal` introduced is crossed.
    (from.ordinal < ordinal) != (to.ordinal < ordinal)
}

/// The plan of a conversion, or why it is refused.
pub(crate) fn plan(
    from: &'static Format,
    to: &'static Format,
    opts: &Options,
) -> Result<Plan, ConvertError> {
    let (a, b) = (from.schema, to.schema);
    if crosses(a, b, 4) {
        return Err(ConvertError::Refused(format!(
            "{} and {} write a task's records in different orders (v18: objects before THREAD and CPU; \
             v19: after, grammar-research.md section 2); reordering is not implemented yet",
            a.id, b.id
        )));
    }
    if crosses(a, b, 15) {
        return Err(ConvertError::Refused(format!(
            "{} and {} encode the process tree differently (pids as objects from v23-rc1.pids); \
             this conversion is not implemented yet",
            a.id, b.id
        )));
    }
    let kernel = match &opts.kernel {
        Some(k) => {
            if !k.is_full() {
                return Err(ConvertError::Refused(format!(
                    "--target-kernel {k}: the header holds x.y.z and restart compares it exactly; give all three numbers"
                )));
            }
            k.header_triple().ok_or_else(|| {
                ConvertError::Refused(format!("kernel {k} does not fit the header"))
            })?
        }
        None => {
            let k = b
                .kernels
                .first()
                .map(|k| k.value.clone())
                .unwrap_or_default();
            crate::KernelVersion::from_str_lossy(&k)
        }
    };
    let kname = format!("{}.{}.{}", kernel.0, kernel.1, kernel.2);
    let config = opts.config.as_ref().map(|(o, v)| (o.as_str(), v.as_str()));
    let kc = b
        .kernel_constants(&kname, to.arch, config)
        .or_else(|| b.kernel_constants(&format!("{}.{}", kernel.0, kernel.1), to.arch, config))
        .ok_or_else(|| {
            let known: Vec<&str> = b.kernels.iter().map(|k| k.value.as_str()).collect();
            ConvertError::Refused(format!(
                "no ckpt_const values are known for kernel {kname} on {} with revision {} (it is known for {})",
                to.arch,
                b.id,
                known.join(", ")
            ))
        })?;
    let has = |f: &Format, r: &str| f.record_type(r).is_some();
    let netns = |s: &Schema| {
        if s.constant("CHECKPOINT_NETNS", from.arch).is_some() {
            Some(true)
        } else if s.constant("CHECKPOINT_NONETNS", from.arch).is_some() {
            Some(false)
        } else {
            None
        }
    };
    let auxv_bytes = |f: &Format| {
        f.layout("ckpt_hdr_header")
            .ok()
            .and_then(|l| l.offset_of("constants.mm_saved_auxv_len"))
            .is_some()
    };
    Ok(Plan {
        kernel,
        constants: kc.values.clone(),
        lsm_container: change(
            from.schema.payload_def("CONTAINER", from.arch).is_some(),
            to.schema.payload_def("CONTAINER", to.arch).is_some(),
        ),
        vpids_record: change(has(from, "VPIDS"), has(to, "VPIDS")),
        fs_object: change(has(from, "FS"), has(to, "FS")),
        auxv_units: change(!auxv_bytes(from), !auxv_bytes(to)),
        pids_offset: if crosses(a, b, 16) {
            if b.ordinal > a.ordinal { 1 } else { -1 }
        } else {
            0
        },
        netns_bit: (netns(a), netns(b)),
    })
}

fn objtype_name(conv: &Conv<'_>, bytes: &[u8]) -> Option<&'static str> {
    let f = fields_of(conv.from, "OBJREF", bytes);
    let t = f.iter().find(|(p, _)| p == "objtype")?.1.as_int()?;
    conv.from.schema.enum_name("obj", t as i64, conv.from.arch)
}

fn raw_record(conv: &Conv<'_>, name: &str, body: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let rtype = conv.target_type(name)?;
    let mut out = vec![0u8; 8];
    put_uint(&mut out[..4], rtype as u64, conv.to.endian());
    put_uint(&mut out[4..8], 8 + body.len() as u64, conv.to.endian());
    out.extend_from_slice(body);
    Ok(out)
}

fn struct_record(
    conv: &Conv<'_>,
    name: &str,
    st: &str,
    values: &[(&str, Value)],
) -> Result<Vec<u8>, ConvertError> {
    let l = conv
        .to
        .layout(st)
        .map_err(|e| ConvertError::Refused(e.to_string()))?;
    let mut b = vec![0u8; l.size as usize];
    for f in l.fields() {
        if let Some((_, v)) = values.iter().find(|(p, _)| *p == f.path) {
            encode_field(&f, v, &mut b, conv.to.endian()).map_err(ConvertError::Refused)?;
        }
    }
    let rtype = conv.target_type(name)?;
    put_uint(&mut b[..4], rtype as u64, conv.to.endian());
    let len = b.len() as u64;
    put_uint(&mut b[4..8], len, conv.to.endian());
    Ok(b)
}

/// Records to write before a streamed record (none so far).
pub(crate) fn around_stream(
    _conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
) -> Result<Vec<Out>, ConvertError> {
    if st.drop_payloads > 0 {
        return Err(ConvertError::Refused(format!(
            "record #{}: a large payload of a removed record",
            info.index
        )));
    }
    Ok(vec![])
}

/// Converts one inline record: the mechanical mapping plus every change it crosses.
pub(crate) fn record(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Vec<Out>, ConvertError> {
    let name = info.name;
    let plan = conv.plan.clone();
    let idx = info.index;
    // Payloads of a removed record go with it.
    if st.drop_payloads > 0 && info.payload_of.is_some() {
        st.drop_payloads -= 1;
        let text = String::from_utf8_lossy(&bytes[8..])
            .trim_end_matches('\0')
            .to_string();
        conv.note(
            idx,
            name,
            info.payload_of.map_or("", |p| p.1),
            Action::Dropped,
            Some(Value::Text(text)),
            None,
        );
        return Ok(vec![]);
    }
    // Refusals that depend on what the image holds.
    let (a, b) = (conv.from.schema, conv.to.schema);
    if crosses(a, b, 4) && matches!(name, "SOCKET_BUFFER" | "SOCKET_INET") {
        return Err(ConvertError::Refused(format!(
            "record #{idx} {name}: socket buffers and INET sockets were rewritten in v19-rc2 (db94f5e) \
             and TCP state cannot be made up; images with them do not convert across that revision"
        )));
    }
    if crosses(a, b, 13) {
        let f = fields_of(conv.from, name, bytes);
        let get = |p: &str| {
            f.iter()
                .find(|(x, _)| x == p)
                .and_then(|(_, v)| v.as_int())
                .unwrap_or(0)
        };
        if name == "SIGPENDING" && get("nr_pending") > 0 {
            return Err(ConvertError::Refused(format!(
                "record #{idx} SIGPENDING: pending signals carry a siginfo that v23-rc1 (f0fdd38) redefined \
                 (48 -> 88 bytes, new members); converting them is not implemented yet"
            )));
        }
        if name == "SOCKET" {
            return Err(ConvertError::Refused(format!(
                "record #{idx} SOCKET: v23-rc1 (f0fdd38) added has_buffers and replaced unix peer uid/gid by a \
                 credentials reference; converting sockets across it is not implemented yet"
            )));
        }
    }
    if name == "HEADER_ARCH"
        && let Some(want) = conv.opts.cpu_xstate_size
    {
        let f = fields_of(conv.from, name, bytes);
        let have = f
            .iter()
            .find(|(p, _)| p == "xstate_size")
            .and_then(|(_, v)| v.as_int());
        if let Some(have) = have
            && have != want as i128
        {
            return Err(ConvertError::Refused(format!(
                "record #{idx} HEADER_ARCH: the image's FPU state is {have} bytes (xstate_size) and the target \
                 CPU's is {want}; restart requires them equal and ckpt copies the FPU state unchanged"
            )));
        }
    }
    let decoded = ckpt_format::read::decode_record(conv.from, info, bytes)
        .map_err(|k| ConvertError::Format(ckpt_format::Error::new(k, Default::default())))?;
    let mut outs = Vec::new();
    match name {
        "HEADER" => {
            let mut h = conv.header(info, bytes)?;
            // uflags bit 0x2: "do not dump" (78d18cf, b0d8304) or "dump" (82822cf on).
            let uf = decoded.int("uflags").unwrap_or(0) as u64;
            let bit = uf & 2 != 0;
            st.netns_dumped = match plan.netns_bit.0 {
                Some(true) => bit,
                Some(false) => !bit,
                None => false,
            };
            let new_bit = match plan.netns_bit.1 {
                Some(true) => st.netns_dumped,
                Some(false) => !st.netns_dumped,
                None => false,
            };
            if new_bit != bit {
                let l = conv
                    .to
                    .layout("ckpt_hdr_header")
                    .map_err(|e| ConvertError::Refused(e.to_string()))?;
                let f = l.fields().into_iter().find(|f| f.path == "uflags").unwrap();
                let nv = if new_bit { uf | 2 } else { uf & !2 };
                encode_field(&f, &Value::Uint(nv), &mut h, conv.to.endian())
                    .map_err(ConvertError::Refused)?;
                conv.note(
                    idx,
                    "HEADER",
                    "uflags",
                    Action::Rewritten,
                    Some(Value::Uint(uf)),
                    Some(Value::Uint(nv)),
                );
            }
            outs.push(Out::Bytes(h));
            return Ok(outs);
        }
        "BUFFER" | "LSM_INFO"
            if info.payload_of.is_some_and(|p| p.0 == "CONTAINER")
                && plan.lsm_container == Change::Remove =>
        {
            let text = String::from_utf8_lossy(&bytes[8..])
                .trim_end_matches('\0')
                .to_string();
            let default = matches!(text.as_str(), "default" | "dummy" | "lsm_none");
            conv.note(
                idx,
                name,
                info.payload_of.unwrap().1,
                if default {
                    Action::Removed
                } else {
                    Action::Dropped
                },
                Some(Value::Text(text)),
                None,
            );
            return Ok(outs);
        }
        "OBJREF" if plan.fs_object == Change::Remove && objtype_name(conv, bytes) == Some("FS") => {
            conv.note(idx, "OBJREF", "FS", Action::Removed, None, None);
            return Ok(outs);
        }
        "FS" if plan.fs_object == Change::Remove => {
            conv.note(idx, "FS", "", Action::Removed, None, None);
            st.drop_payloads = 2;
            return Ok(outs);
        }
        "VPIDS" if plan.vpids_record == Change::Remove => {
            let n = decoded.int("nr_vpids").unwrap_or(0);
            conv.note(
                idx,
                "VPIDS",
                "",
                Action::Removed,
                Some(Value::Int(n as i64)),
                None,
            );
            let target_has_depth = conv
                .to
                .layout("ckpt_pids")
                .is_ok_and(|l| l.offset_of("depth").is_some());
            if n > 0 && !target_has_depth {
                st.drop_payloads = 1;
            }
            return Ok(outs);
        }
        _ => {}
    }
    let mut out = conv.mechanical(info, bytes, &decoded)?;
    // Values whose meaning changed.
    if name == "BUFFER" && info.payload_of == Some(("MM", "saved_auxv")) {
        if plan.auxv_units != Change::Same {
            out = auxv(conv, idx, &out, plan.auxv_units)?;
        }
        out = auxv_length(conv, idx, out, &plan)?;
    }
    if name == "PIDS" && plan.pids_offset != 0 {
        let l = conv
            .to
            .layout("ckpt_hdr_pids")
            .map_err(|e| ConvertError::Refused(e.to_string()))?;
        let f = l.fields().into_iter().find(|f| f.path == "offset").unwrap();
        let old = decode_field(&f, &out, conv.to.endian())
            .and_then(|v| v.as_int())
            .unwrap_or(0);
        let new = Value::Int((old + plan.pids_offset as i128) as i64);
        encode_field(&f, &new, &mut out, conv.to.endian()).map_err(ConvertError::Refused)?;
        conv.note(
            idx,
            "PIDS",
            "offset",
            Action::Rewritten,
            Some(Value::Int(old as i64)),
            Some(new),
        );
    }
    if name == "TASK_OBJS" && plan.fs_object == Change::Add {
        let tag = match st.fs_tag {
            Some(t) => t,
            None => {
                let (Some(cwd), Some(root)) = (&conv.opts.cwd, &conv.opts.root) else {
                    return Err(ConvertError::Refused(format!(
                        "record #{idx} TASK_OBJS: revision {} needs a file-system object (working and root \
                         directory) for every task, which {} images do not hold; give --cwd PATH and --root PATH",
                        b.id, a.id
                    )));
                };
                // A tag no object of the image uses: tags only need to be consistent.
                let t = (1i64 << 30) + 1;
                let fs_obj = conv
                    .to
                    .schema
                    .enum_value("obj", "FS", conv.to.arch)
                    .unwrap_or(0);
                outs.push(Out::Bytes(struct_record(
                    conv,
                    "OBJREF",
                    "ckpt_hdr_objref",
                    &[
                        ("objtype", Value::Uint(fs_obj as u64)),
                        ("objref", Value::Int(t)),
                    ],
                )?));
                outs.push(Out::Bytes(struct_record(
                    conv,
                    "FS",
                    "ckpt_hdr_fs",
                    &[("umask", Value::Uint(fs_umask()))],
                )?));
                for p in [cwd, root] {
                    let mut b = p.as_bytes().to_vec();
                    b.push(0);
                    outs.push(Out::Bytes(raw_record(conv, "FILE_NAME", &b)?));
                }
                conv.note(
                    idx,
                    "FS",
                    "cwd",
                    Action::Supplied,
                    None,
                    Some(Value::Text(cwd.clone())),
                );
                conv.note(
                    idx,
                    "FS",
                    "root",
                    Action::Supplied,
                    None,
                    Some(Value::Text(root.clone())),
                );
                conv.note(
                    idx,
                    "OBJREF",
                    "FS",
                    Action::Inserted,
                    None,
                    Some(Value::Int(t)),
                );
                st.fs_tag = Some(t);
                t
            }
        };
        let l = conv
            .to
            .layout("ckpt_hdr_task_objs")
            .map_err(|e| ConvertError::Refused(e.to_string()))?;
        let f = l
            .fields()
            .into_iter()
            .find(|f| f.path == "fs_objref")
            .unwrap();
        encode_field(&f, &Value::Int(tag), &mut out, conv.to.endian())
            .map_err(ConvertError::Refused)?;
        // The mechanical pass noted fs_objref as defaulted: it is supplied.
        conv.ledger
            .entries
            .retain(|e| !(e.record_index == idx && e.field == "fs_objref"));
        conv.note(
            idx,
            "TASK_OBJS",
            "fs_objref",
            Action::Supplied,
            None,
            Some(Value::Int(tag)),
        );
    }
    outs.push(Out::Bytes(out));
    // Records after this one.
    if info.payload_of == Some(("TREE", "pids")) && plan.vpids_record == Change::Add {
        let sum: i128 = decoded
            .fields
            .iter()
            .filter(|(p, _)| p.ends_with(".depth"))
            .filter_map(|(_, v)| v.as_int())
            .sum();
        outs.push(Out::Bytes(struct_record(
            conv,
            "VPIDS",
            "ckpt_hdr_vpids",
            &[("nr_vpids", Value::Int(sum as i64))],
        )?));
        conv.note(
            idx,
            "VPIDS",
            "",
            Action::Inserted,
            None,
            Some(Value::Int(sum as i64)),
        );
    }
    if name == "CONTAINER" && plan.lsm_container == Change::Add {
        let mut lsm = b"default".to_vec();
        lsm.resize(11, 0);
        outs.push(Out::Bytes(raw_record(conv, "BUFFER", &lsm)?));
        outs.push(Out::Bytes(raw_record(conv, "LSM_INFO", b"dummy")?));
        conv.note(
            idx,
            "CONTAINER",
            "lsm_name",
            Action::Inserted,
            None,
            Some(Value::Text("default".into())),
        );
        conv.note(
            idx,
            "CONTAINER",
            "lsm_info",
            Action::Inserted,
            None,
            Some(Value::Text("dummy".into())),
        );
    }
    Ok(outs)
}

/// saved_auxv: native longs (c97c03d and before) <-> u64 entries (67cfee9 on).
fn auxv(conv: &mut Conv<'_>, idx: u64, rec: &[u8], dir: Change) -> Result<Vec<u8>, ConvertError> {
    let word = conv.from.arch.word_size() as usize;
    if word == 8 {
        return Ok(rec.to_vec());
    }
    let (e_in, e_out) = (conv.from.endian(), conv.to.endian());
    let body = &rec[8..];
    let (from_w, to_w) = if dir == Change::Add { (4, 8) } else { (8, 4) };
    let mut out = rec[..8].to_vec();
    for c in body.chunks_exact(from_w) {
        let v = get_uint(c, e_in);
        if to_w == 4 && v > u32::MAX as u64 {
            conv.note(
                idx,
                "BUFFER",
                "saved_auxv",
                Action::Dropped,
                Some(Value::Uint(v)),
                None,
            );
        }
        let mut b = vec![0u8; to_w];
        put_uint(&mut b, v, e_out);
        out.extend_from_slice(&b);
    }
    let len = out.len() as u64;
    put_uint(&mut out[4..8], len, e_out);
    conv.note(
        idx,
        "BUFFER",
        "saved_auxv",
        Action::Rewritten,
        Some(Value::Uint(from_w as u64)),
        Some(Value::Uint(to_w as u64)),
    );
    Ok(out)
}

/// The umask given to FS objects that the source lacks: the default of the member.
fn fs_umask() -> u64 {
    crate::convert::DEFAULTS
        .iter()
        .find(|d| d.0 == "ckpt_hdr_fs" && d.1 == "umask")
        .map_or(0, |d| d.2)
}

/// saved_auxv holds exactly the target kernel's AT_VECTOR_SIZE entries (restart reads
/// that many): pad with zero entries, or drop trailing ones (a loss unless they are 0).
fn auxv_length(
    conv: &mut Conv<'_>,
    idx: u64,
    mut rec: Vec<u8>,
    plan: &Plan,
) -> Result<Vec<u8>, ConvertError> {
    let get = |n: &str| plan.constants.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
    let want = match (get("at_vector_size"), get("mm_saved_auxv_len")) {
        (Some(entries), _) => entries * 8,
        (None, Some(bytes)) => bytes,
        _ => return Ok(rec),
    } as usize;
    let have = rec.len() - 8;
    if have == want {
        return Ok(rec);
    }
    if have > want {
        let cut = &rec[8 + want..];
        let action = if cut.iter().all(|&b| b == 0) {
            Action::Removed
        } else {
            Action::Dropped
        };
        conv.note(
            idx,
            "BUFFER",
            "saved_auxv",
            action,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        rec.truncate(8 + want);
    } else {
        conv.note(
            idx,
            "BUFFER",
            "saved_auxv",
            Action::Defaulted,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        rec.resize(8 + want, 0);
    }
    let len = rec.len() as u64;
    put_uint(&mut rec[4..8], len, conv.to.endian());
    Ok(rec)
}
