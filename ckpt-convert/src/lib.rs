//! Conversion of Linux-CR images between format revisions and kernels.
//!
//! So far: [`kernel`] (kernel versions as linux-cr images record them) and [`diff`] (what
//! changed between two revisions, computed from the schemas: the mechanical part of each
//! migration step). The migration chain itself is the next piece of work (issue 3).

#![warn(missing_docs)]

pub mod diff;
pub mod kernel;

pub use diff::{SchemaDiff, diff};
pub use kernel::KernelVersion;
