//! Conversion of Linux-CR images between format revisions and kernels.
//!
//! * [`mod@convert`]: the streaming converter (records matched by name between the two
//!   schemas, the header retargeted, every change in a [`Ledger`]);
//! * [`steps`]: what names cannot carry (records inserted or removed, changed meanings,
//!   refusals), one entry per change of the format;
//! * [`mod@diff`]: what changed between two revisions, computed from the schemas;
//! * [`kernel`]: kernel versions as linux-cr images record them.

#![warn(missing_docs)]

pub mod check;
pub mod convert;
pub mod diff;
pub mod imagediff;
pub mod kernel;
pub mod rewrite;
pub mod steps;

pub use convert::{
    Action, ConvertError, Ledger, LedgerEntry, Options, Summary, TaskPaths, convert,
    convert_with_report,
};
pub use diff::{SchemaDiff, diff};
pub use kernel::KernelVersion;
