//! What the builder made: counts, and where it placed every path, pid, uid and gid.

use crate::model::places::{PlaceKind, PlaceValue};

/// What the builder made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSummary {
    /// Records written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Pages of memory written.
    pub pages: u64,
    /// Records whose content no source describes (opaque arch records, written with a
    /// declared placeholder length).
    pub synthetic: Vec<String>,
    /// Where the builder wrote every path, pid, uid, gid, host name and domain name, in
    /// the order it wrote them: the index that [`crate::model::places`] is tested against.
    pub placed: Vec<Placed>,
}

/// A value the builder placed in one member of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placed {
    /// What the value is.
    pub kind: PlaceKind,
    /// Index of the record that holds it.
    pub record_index: u64,
    /// The member, named as [`crate::model::places::Place::member`] names it.
    pub member: String,
    /// The value.
    pub value: PlaceValue,
}
