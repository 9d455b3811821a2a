//! Conversion and editing of Linux-CR images, on one streaming transform API.
//!
//! Where to start:
//! * [`transform`]: the API both are written on: a chain of [`transform::Transform`]s
//!   that see every record once, change, insert or remove records, and note every change
//!   in the [`Ledger`]; [`transform::run`] drives it over a stream;
//! * [`mod@convert`]: the converter between revisions and kernels ([`convert()`],
//!   [`convert::Converter`]), made of the mechanical mapping ([`mechanical`]) and the
//!   rewrites of the crossed migration steps ([`rewrite`], [`steps`], [`plan`]);
//! * [`check`]: whether a kernel restarts an image, and why not;
//! * [`mod@diff`]: what changed between two revisions, computed from the schemas;
//!   [`imagediff`]: what differs between two images;
//! * [`kernel`]: kernel versions as linux-cr images record them.

#![warn(missing_docs)]

pub mod check;
pub mod config;
pub mod convert;
pub mod diff;
pub mod edit;
pub mod error;
pub mod imagediff;
pub mod kernel;
pub mod ledger;
pub mod mechanical;
pub mod options;
pub mod plan;
pub mod rewrite;
pub mod steps;
pub mod transform;

pub use convert::{Summary, convert, convert_with_report};
pub use diff::{SchemaDiff, diff};
pub use error::ConvertError;
pub use kernel::KernelVersion;
pub use ledger::{Action, Ledger, LedgerEntry, MAX_LOSSES_KEPT, ReportFn};
pub use options::{Options, TaskPaths};
