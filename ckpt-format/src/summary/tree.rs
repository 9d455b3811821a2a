//! The process tree of an image as a stream goes by, and the task each record belongs
//! to: the TREE (and, from b6cdf01, the PIDS objects it points at) comes before the
//! first task, so every record after a TASK can be given its task's pid at once. `ckpt
//! info --pid`, `ckpt dump --pid` and `ckpt info -p` use it.

use serde::Serialize;

use crate::input::Input;
use crate::model::{first_pid_tag, pid_entries};
use crate::{Reader, RecordInfo, Result};

/// Where a task is in the tree, and its pids in the image's root pid namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskIds {
    /// Position in the tree.
    pub index: usize,
    /// Pid.
    pub pid: i64,
    /// Parent's pid (0: outside the image).
    pub ppid: i64,
    /// Thread group id (the pid of its group's leader).
    pub tgid: i64,
    /// Process group id.
    pub pgid: i64,
    /// Session id.
    pub sid: i64,
}

impl TaskIds {
    /// True for a thread whose group leader is another task of the image: `pids` are
    /// the pids of the image's tasks.
    pub fn is_thread_of_another(&self, pids: &std::collections::BTreeSet<i64>) -> bool {
        self.tgid != self.pid && pids.contains(&self.tgid)
    }
}

/// A task of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    /// Its position and pids.
    #[serde(flatten)]
    pub ids: TaskIds,
    /// `comm` (from the task's STRING record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// True for a zombie.
    pub zombie: bool,
}

/// Follows the tree and the task sections of an image, record by record.
#[derive(Debug, Default)]
pub struct TreeTracker {
    tasks: Vec<TaskLine>,
    pid_numbers: Vec<i64>,
    pids_offset: i64,
    /// The TASK records seen so far.
    task_records: usize,
    last_zombie: bool,
}

impl TreeTracker {
    /// A tracker at the start of an image.
    pub fn new() -> TreeTracker {
        TreeTracker::default()
    }

    /// Takes in the record `r` has just returned (it decodes the tree's records and
    /// TASK; nothing is read from a streamed payload).
    pub fn add<R: Input>(&mut self, r: &mut Reader<R>, rec: &RecordInfo) -> Result<()> {
        if !rec.inline || rec.headerless {
            return Ok(());
        }
        let endian = r.format().endian();
        match (rec.name, rec.payload_of) {
            ("PIDS", None) => self.pids_offset = r.decode()?.int("offset").unwrap_or(0) as i64,
            ("BUFFER", Some(("PIDS", _))) => {
                self.pid_numbers = pid_entries(&r.record_bytes()[8..], endian)
                    .iter()
                    .map(|n| n.first().copied().unwrap_or(0))
                    .collect();
            }
            ("BUFFER", Some(("TREE", _))) => {
                let d = r.decode()?;
                let first = first_pid_tag(r.format().schema, self.pids_offset);
                let numbers = &self.pid_numbers;
                // Pid objects (from b6cdf01): the tree holds tags; give the numbers.
                let num = |tag: i64| -> i64 {
                    if numbers.is_empty() || tag <= 0 {
                        return tag;
                    }
                    numbers.get((tag - first) as usize).copied().unwrap_or(tag)
                };
                let mut k = 0;
                while let Some(pid) = d.int(&format!("pids[{k}].vpid")) {
                    let f = |n: &str| num(d.int(&format!("pids[{k}].{n}")).unwrap_or(0) as i64);
                    self.tasks.push(TaskLine {
                        ids: TaskIds {
                            index: k,
                            pid: num(pid as i64),
                            ppid: f("vppid"),
                            tgid: f("vtgid"),
                            pgid: f("vpgid"),
                            sid: f("vsid"),
                        },
                        comm: None,
                        zombie: false,
                    });
                    k += 1;
                }
            }
            ("TASK", None) => {
                self.task_records += 1;
                self.last_zombie = r.decode()?.int("exit_state").unwrap_or(0) != 0;
                let zombie = self.last_zombie;
                if let Some(t) = self.current_mut() {
                    t.zombie = zombie;
                }
            }
            ("STRING", Some(("TASK", _))) => {
                let b = &r.record_bytes()[8..];
                let comm = String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[]))
                    .into_owned();
                if let Some(t) = self.current_mut() {
                    t.comm = Some(comm);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn current_mut(&mut self) -> Option<&mut TaskLine> {
        let k = self.task_records.checked_sub(1)?;
        self.tasks.get_mut(k)
    }

    /// The task whose section the last record belongs to (`None` before the first
    /// TASK record, and for the TAIL or ERROR that ends the image).
    pub fn current(&self, rec: &RecordInfo) -> Option<&TaskLine> {
        if matches!(rec.name, "TAIL" | "ERROR") || rec.payload_of.is_some_and(|p| p.0 == "ERROR") {
            return None;
        }
        self.tasks.get(self.task_records.checked_sub(1)?)
    }

    /// True when the last record belongs to the section of the task with pid `pid`.
    pub fn belongs_to(&self, rec: &RecordInfo, pid: i64) -> bool {
        self.current(rec).is_some_and(|t| t.ids.pid == pid)
    }

    /// The tasks of the tree, in tree order.
    pub fn tasks(&self) -> &[TaskLine] {
        &self.tasks
    }

    /// The tasks, taken out.
    pub fn into_tasks(self) -> Vec<TaskLine> {
        self.tasks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::model::read_model;
    use crate::{Format, Registry};

    #[test]
    fn the_tracker_gives_each_record_the_pids_the_model_finds() {
        for s in Registry::get().all() {
            let arch = s.arches[0].0;
            let mut img = Vec::new();
            let o = BuildOptions {
                tasks: 5,
                memory: 8192,
                seed: 1,
                ..BuildOptions::default()
            };
            build(&Format::new(s, arch), &o, &mut img).unwrap();
            let model = read_model(Reader::new(&img[..], Format::new(s, arch)), false).unwrap();
            let mut r = Reader::new(&img[..], Format::new(s, arch));
            let mut t = TreeTracker::new();
            let mut owners = Vec::new();
            while let Some(rec) = r.next_record().unwrap() {
                t.add(&mut r, &rec).unwrap();
                if rec.name == "TASK" {
                    owners.push(t.current(&rec).map(|x| x.ids.pid));
                }
            }
            let want: Vec<Option<i64>> = model.tasks.iter().map(|x| Some(x.pid)).collect();
            assert_eq!(owners, want, "{}", s.id);
            let comms: Vec<String> = t.tasks().iter().map(|x| x.comm.clone().unwrap()).collect();
            let want: Vec<String> = model.tasks.iter().map(|x| x.comm.clone()).collect();
            assert_eq!(comms, want, "{}", s.id);
        }
    }
}
