//! The ledger: every change a conversion or an edit made, value by value.

use std::collections::BTreeMap;
use std::io;

use ckpt_format::value::Value;
use serde::Serialize;

/// What a conversion did to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A number that means the same thing got another value (record, object, arch ids).
    Renumbered,
    /// A member the source does not have got its default.
    Defaulted,
    /// The user supplied the value (`--cwd`, `--root`).
    Supplied,
    /// A non-default value the target cannot hold was dropped.
    Dropped,
    /// A value was rewritten because its meaning changed (header constants, units).
    Rewritten,
    /// A record was added.
    Inserted,
    /// A record was removed.
    Removed,
    /// A record moved to where the target's grammar puts it.
    Moved,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Renumbered => "renumbered",
            Action::Defaulted => "defaulted",
            Action::Supplied => "supplied",
            Action::Dropped => "dropped",
            Action::Rewritten => "rewritten",
            Action::Inserted => "inserted",
            Action::Removed => "removed",
            Action::Moved => "moved",
        })
    }
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// Index of the source record the change belongs to (an inserted record goes next
    /// to it: before it, or after it for what follows a record, like VPIDS).
    pub record_index: u64,
    /// Record type name.
    pub record: String,
    /// Member path (empty for whole records).
    pub field: String,
    /// What happened.
    pub action: Action,
    /// Old value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// New value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// The migration step whose hand-written rewrite made the change
    /// (`"a272e68 -> b6cdf01"`); none for the mechanical mapping and the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Why the value is what it is, when the action alone does not say
    /// ("v23 images record only that the parent is outside the tree").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every change a conversion made, with counts per action.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ledger {
    /// The entries, in stream order (empty when they were streamed to a report).
    pub entries: Vec<LedgerEntry>,
    /// Number of entries per action.
    pub counts: BTreeMap<Action, u64>,
    /// The entries that lose data (kept even when streamed: a refusal lists them).
    #[serde(skip)]
    losses: Vec<LedgerEntry>,
}

impl LedgerEntry {
    /// An entry of member `field` of record `record` (index `record_index`), without a
    /// step or a reason.
    pub fn new(
        record_index: u64,
        record: &str,
        field: &str,
        action: Action,
        old: Option<Value>,
        new: Option<Value>,
    ) -> LedgerEntry {
        LedgerEntry {
            record_index,
            record: record.to_string(),
            field: field.to_string(),
            action,
            old,
            new,
            step: None,
            reason: None,
        }
    }
}

impl Ledger {
    /// Adds an entry; `keep` false counts it without keeping it (it was streamed).
    pub fn add(&mut self, e: LedgerEntry, keep: bool) {
        *self.counts.entry(e.action).or_default() += 1;
        if e.action == Action::Dropped && self.losses.len() < MAX_LOSSES_KEPT {
            self.losses.push(e.clone());
        }
        if keep {
            self.entries.push(e);
        }
    }
    /// Number of entries with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.counts.get(&action).copied().unwrap_or(0) as usize
    }
    /// The entries that lose data (the first [`MAX_LOSSES_KEPT`]).
    pub fn losses(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.losses.iter()
    }
}

/// How many lossy entries a ledger keeps for the refusal message when entries are streamed.
pub const MAX_LOSSES_KEPT: usize = 1000;

/// Receives each ledger entry as the conversion makes it.
pub type ReportFn<'r> = dyn FnMut(&LedgerEntry) -> io::Result<()> + 'r;
