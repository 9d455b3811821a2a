//! Statistics of an image (`ckpt info --stats`): counts and bytes per record type and
//! object kind, pages per task, shared objects, the largest records, metadata against
//! page contents; accumulated record by record, so they ride along any walk.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names;
use crate::read::Decoded;
use crate::{Format, RecordInfo};

/// One of the largest records.
#[derive(Debug, Clone, Serialize)]
pub struct Large {
    /// Record index.
    pub index: u64,
    /// Offset.
    pub offset: u64,
    /// Type name.
    pub name: &'static str,
    /// Length.
    pub len: u32,
}

/// Statistics of an image, accumulated record by record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Per record type: count and bytes.
    pub records: BTreeMap<String, (u64, u64)>,
    /// Files by type (FILE f_type).
    pub files: BTreeMap<String, u64>,
    /// Sockets by family and state numbers (`family 1 state 1`; kept for format 1.0
    /// readers).
    pub sockets: BTreeMap<String, u64>,
    /// Sockets by family, type and state names (`AF_UNIX/SOCK_STREAM ESTABLISHED`).
    pub sockets_by_name: BTreeMap<String, u64>,
    /// VMAs by type.
    pub vmas: BTreeMap<String, u64>,
    /// SysV IPC objects by kind.
    pub ipc: BTreeMap<String, u64>,
    /// Pages per task (in tree order; pages of objects count for the task whose
    /// section holds them).
    pub pages_per_task: Vec<u64>,
    /// Pages per task, by pid (pid in the image's root pid namespace).
    pub pages_by_pid: BTreeMap<String, u64>,
    /// Objects that several tasks share: `kind tag` and the tasks (tree positions).
    pub shared: BTreeMap<String, Vec<usize>>,
    /// Objects that several tasks share: `kind tag` and the tasks' pids.
    pub shared_by_pid: BTreeMap<String, Vec<i64>>,
    /// The ten largest records.
    pub largest: Vec<Large>,
    /// Bytes of page contents (page chunks' buffers).
    pub page_bytes: u64,
    /// Bytes of everything else.
    pub metadata_bytes: u64,
    #[serde(skip)]
    task: Option<usize>,
}

impl Stats {
    /// Accounts for one record (`decoded` for inline records).
    pub fn add(&mut self, f: &Format, rec: &RecordInfo, decoded: Option<&Decoded>) {
        let e = self.records.entry(rec.name.to_string()).or_default();
        e.0 += 1;
        e.1 += rec.len as u64;
        if rec.payload_of == Some(("PGARR", "pages")) {
            self.page_bytes += rec.len as u64;
        } else {
            self.metadata_bytes += rec.len as u64;
        }
        self.largest.push(Large {
            index: rec.index,
            offset: rec.offset,
            name: rec.name,
            len: rec.len,
        });
        self.largest.sort_by_key(|l| std::cmp::Reverse(l.len));
        self.largest.truncate(10);
        let Some(d) = decoded else { return };
        let int = |p: &str| d.int(p).unwrap_or(0);
        let arch = f.arch;
        match (rec.name, rec.payload_of) {
            ("TASK", _) => {
                let t = self.task.map_or(0, |t| t + 1);
                self.task = Some(t);
                self.pages_per_task.push(0);
            }
            ("PGARR", _) => {
                if let Some(t) = self.task {
                    self.pages_per_task[t] += int("nr_pages") as u64;
                }
            }
            ("FILE", _) => {
                let t = d.int("common.f_type").or(d.int("f_type")).unwrap_or(0);
                let name = f.schema.enum_name("file", t as i64, arch).unwrap_or("?");
                *self.files.entry(name.to_string()).or_default() += 1;
            }
            ("SOCKET", _) => {
                let key = format!(
                    "family {} state {}",
                    int("sock_common.family"),
                    int("sock.state")
                );
                *self.sockets.entry(key).or_default() += 1;
                let name = format!(
                    "{}/{} {}",
                    names::address_family(int("sock_common.family") as u64),
                    names::socket_type(arch, int("sock.type") as u64),
                    names::sock_state(int("sock.state") as u64)
                );
                *self.sockets_by_name.entry(name).or_default() += 1;
            }
            ("VMA", _) => {
                let name = f
                    .schema
                    .enum_name("vma", int("vma_type") as i64, arch)
                    .unwrap_or("?");
                *self.vmas.entry(name.to_string()).or_default() += 1;
            }
            ("IPC_SHM" | "IPC_MSG" | "IPC_SEM", _) => {
                *self.ipc.entry(rec.name.to_string()).or_default() += 1
            }
            ("TASK_OBJS" | "TASK_CREDS" | "TASK_NS", None) => {
                let Some(t) = self.task else { return };
                for (path, v) in &d.fields {
                    let tag = v.as_int().unwrap_or(0);
                    if path.starts_with("h.") || tag <= 0 {
                        continue;
                    }
                    let kind = path.trim_end_matches("_objref").trim_end_matches("_ref");
                    let tasks = self.shared.entry(format!("{kind} {tag}")).or_default();
                    if !tasks.contains(&t) {
                        tasks.push(t);
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops objects only one task uses and names the tasks by pid: `pids` are the pids
    /// of the tasks in tree order.
    pub fn finish(&mut self, pids: &[i64]) {
        self.shared.retain(|_, v| v.len() > 1);
        let pid = |k: usize| pids.get(k).copied().unwrap_or(-1 - k as i64);
        self.pages_by_pid = self
            .pages_per_task
            .iter()
            .enumerate()
            .map(|(k, p)| (pid(k).to_string(), *p))
            .collect();
        self.shared_by_pid = self
            .shared
            .iter()
            .map(|(o, ts)| (o.clone(), ts.iter().map(|k| pid(*k)).collect()))
            .collect();
    }
}
