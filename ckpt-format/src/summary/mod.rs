//! Summaries of an image for people and for the views built on them (`ckpt info`, a
//! report, a file-system view): the header and revision ([`info`]), the process tree
//! and the task every record belongs to ([`tree`]), tasks with their files and memory
//! ([`tasks`]), statistics ([`stats`]), and the names of the kernel's numbers that the
//! checkpoint headers do not define ([`names`]). Printing is left to the callers.

pub mod info;
pub mod names;
pub mod stats;
pub mod tasks;
pub mod tree;

pub use info::{
    INFO_FORMAT_VERSION, ImageInfo, InfoOptions, summarise_image, summarise_until_error,
    summarise_with_model,
};
pub use stats::Stats;
pub use tasks::TaskSummary;
pub use tree::{TaskLine, TreeTracker};
