//! TaskOrder, step d55d4c8 -> db94f5e (v18 -> v19-rc2): where a task's THREAD,
//! RESTART_BLOCK, CPU and CPU_FPU records stand among its records.
//!
//! v18 writes a task's objects (files, memory, signals) before THREAD..CPU_FPU; v19 after
//! them. Upgrading, the objects that follow the TASK's comm go to the spill until the
//! THREAD..CPU_FPU records have been written, then the spill is flushed after them.
//! Downgrading, THREAD..CPU_FPU are held in memory (a few small records per task) and
//! written after the task's objects, before its private SIGPENDING or the next task. Each
//! moved record gets a `moved` ledger entry.

use ckpt_format::RecordInfo;
use ckpt_format::value::Value;

use super::State;
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Change;
use crate::steps::Rewrite;
use crate::transform::Out;

/// The state of the reordering: where the current task stands, and the records held.
#[derive(Debug, Default)]
pub(super) struct Reorder {
    order: Order,
    held: Vec<Vec<u8>>,
}

/// Where a task's records stand in a reordering (TaskOrder).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Order {
    #[default]
    Idle,
    /// Upgrade: the task's objects go to the spill until THREAD.
    Spilling,
    /// Upgrade: THREAD..CPU_FPU go out while the objects wait in the spill.
    CpuOut,
    /// Downgrade: THREAD..CPU_FPU are held.
    Holding,
    /// Downgrade: the objects go out; the held records wait for SIGPENDING private.
    Objects,
}

/// TaskOrder (d55d4c8 <-> db94f5e): v18 writes a task's objects before THREAD,
/// RESTART_BLOCK and CPU; v19 after. `outs` are the converted records of `info`.
pub(super) fn reorder(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    outs: Vec<Out>,
) -> Result<Vec<Out>, ConvertError> {
    let name = info.name;
    let owner = info.payload_of.map_or(name, |p| p.0);
    let cpu_part = matches!(owner, "THREAD" | "RESTART_BLOCK" | "CPU" | "CPU_FPU");
    let ends_task = matches!(name, "TASK" | "TAIL" | "ERROR") && info.payload_of.is_none();
    let comm = info.payload_of == Some(("TASK", "comm"));
    let mut pre = Vec::new();
    let mut outs = outs;
    match (conv.plan.task_order, st.reorder.order) {
        (Change::Same, _) => return Ok(outs),
        // Upgrade: objects to the spill, THREAD..CPU_FPU straight out, then the objects.
        (Change::Add, Order::Idle) if comm => {
            outs.push(Out::SpillOn);
            st.reorder.order = Order::Spilling;
        }
        // THREAD comes first; s390x before 67cfee9 has none and starts with RESTART_BLOCK.
        (Change::Add, Order::Spilling) if cpu_part => {
            pre.push(Out::SpillPause);
            note_moved(conv, info, "before the task's objects");
            st.reorder.order = Order::CpuOut;
        }
        (Change::Add, Order::CpuOut) if cpu_part => {
            note_moved(conv, info, "before the task's objects");
        }
        (Change::Add, Order::Spilling) if ends_task => {
            pre.push(Out::SpillFlush);
            st.reorder.order = Order::Idle;
        }
        (Change::Add, Order::CpuOut) if !cpu_part => {
            pre.push(Out::SpillFlush);
            st.reorder.order = Order::Idle;
        }
        // Downgrade: hold THREAD..CPU_FPU until the objects are out.
        (Change::Remove, Order::Idle) if comm => st.reorder.order = Order::Holding,
        (Change::Remove, Order::Holding) if cpu_part => {
            if outs.iter().any(|o| matches!(o, Out::Record(_))) {
                note_moved(conv, info, "after the task's objects");
            }
            for o in outs.drain(..) {
                if let Out::Record(b) = o {
                    st.reorder.held.push(b);
                }
            }
        }
        (Change::Remove, Order::Holding | Order::Objects) if ends_task => {
            pre.extend(st.reorder.held.drain(..).map(Out::Record));
            st.reorder.order = Order::Idle;
        }
        (Change::Remove, Order::Holding) => st.reorder.order = Order::Objects,
        (Change::Remove, Order::Objects)
            if name == "SIGPENDING" && info.payload_of.is_none() && st.last_owner != "SIGNAL" =>
        {
            // The private SIGPENDING: the shared one follows SIGNAL directly.
            pre.extend(st.reorder.held.drain(..).map(Out::Record));
            st.reorder.order = Order::Idle;
        }
        _ => {}
    }
    pre.extend(outs);
    Ok(pre)
}

/// Notes that record `info` (one of a task's THREAD..CPU_FPU records) moves `to` where
/// the target's grammar puts it.
fn note_moved(conv: &mut Conv<'_>, info: &RecordInfo, to: &str) {
    conv.note_step(
        Rewrite::TaskOrder,
        info.index,
        info.name,
        "",
        Action::Moved,
        None,
        Some(Value::Text(to.into())),
    );
    conv.because(
        "v18 (before v19-rc2) writes a task's objects before its THREAD, RESTART_BLOCK and CPU \
         records; v19 after them",
    );
}
