//! `PID:FD`: a descriptor of a task, found in the image.

use ckpt_format::Format;
use ckpt_format::model::ImageModel;

use crate::error::ConvertError;

/// A descriptor of a task, and the file it uses.
#[derive(Debug, Clone)]
pub(super) struct Descriptor {
    /// Tag of the task's file table.
    pub table: i64,
    /// Tag of the descriptor's file object.
    pub file: i64,
    /// The file's kind (`f_type`: GENERIC, PIPE, SOCKET, ...), "unknown" when the
    /// revision does not name it.
    pub file_type: &'static str,
}

/// Finds descriptor `fd` of task `pid` in `model`; `what` (the operation) starts the
/// message when there is none.
pub(super) fn descriptor(
    f: &Format,
    model: &ImageModel,
    what: &str,
    pid: i64,
    fd: i64,
) -> Result<Descriptor, ConvertError> {
    let refuse = |why: String| ConvertError::Refused(format!("{what}: {why}"));
    let task = model.tasks.iter().find(|t| t.pid == pid).ok_or_else(|| {
        let pids: Vec<String> = model.tasks.iter().map(|t| t.pid.to_string()).collect();
        refuse(format!(
            "the image has no task {pid} (its tasks: {})",
            pids.join(", ")
        ))
    })?;
    if task.zombie {
        return Err(refuse(format!("task {pid} is a zombie: it has no files")));
    }
    let table = *task
        .refs
        .get("files_objref")
        .ok_or_else(|| refuse(format!("task {pid} has no file table in the image")))?;
    let fds = model.object(table).map(|o| &o.fds[..]).unwrap_or(&[]);
    let desc = fds.iter().find(|d| d.fd == fd).ok_or_else(|| {
        let have: Vec<String> = fds.iter().map(|d| d.fd.to_string()).collect();
        refuse(format!(
            "task {pid} has no descriptor {fd} (it has {})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            }
        ))
    })?;
    let file = model.object(desc.file).ok_or_else(|| {
        refuse(format!(
            "descriptor {fd} of task {pid} refers to no file object"
        ))
    })?;
    let file_type = file
        .int("f_type")
        .or_else(|| file.int("common.f_type"))
        .and_then(|t| f.schema.enum_name("file", t as i64, f.arch))
        .unwrap_or("unknown");
    Ok(Descriptor {
        table,
        file: desc.file,
        file_type,
    })
}
