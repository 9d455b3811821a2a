//! Why a conversion or an edit did not happen.

use crate::ledger::LedgerEntry;

/// Why a conversion or an edit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Reading or writing failed.
    #[error(transparent)]
    Format(#[from] ckpt_format::Error),
    /// The conversion cannot be made (the reason names the records and what would supply
    /// the missing information).
    #[error("conversion refused: {0}")]
    Refused(String),
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Report(String),
    /// The conversion would drop non-default data (listed); allowed with `allow_lossy`.
    #[error("conversion would lose data ({} values); allow it with --allow-lossy:\n{}", .0.len(), lossy_list(.0))]
    Lossy(Vec<LedgerEntry>),
}

fn lossy_list(v: &[LedgerEntry]) -> String {
    let mut s: Vec<String> = v
        .iter()
        .take(20)
        .map(|e| match &e.old {
            Some(v) => format!(
                "  record #{} {} {} = {v} dropped",
                e.record_index, e.record, e.field
            ),
            None => format!(
                "  record #{} {} {} dropped",
                e.record_index, e.record, e.field
            ),
        })
        .collect();
    if v.len() > 20 {
        s.push(format!("  ... and {} more", v.len() - 20));
    }
    s.join("\n")
}
