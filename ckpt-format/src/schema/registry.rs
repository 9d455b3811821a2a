//! The revisions embedded in this build, and lookup by id, commit or alias.

use std::sync::OnceLock;

use super::{Schema, parse};

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// All revisions that this build knows, in ordinal (commit) order.
#[derive(Debug)]
pub struct Registry {
    schemas: Vec<Schema>,
}

/// A revision of the registry: a `&'static Schema`.
pub type RevisionRef = &'static Schema;

/// A revision name that matches no revision, or several.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown revision `{name}`{}; known: {known}", if *.ambiguous { " (ambiguous)" } else { "" })]
pub struct UnknownRevision {
    /// The name asked for.
    pub name: String,
    /// True when the name matched several revisions.
    pub ambiguous: bool,
    /// The known revision ids, comma-separated.
    pub known: String,
}

impl Registry {
    /// The registry of the embedded schema files (parsed once).
    ///
    /// # Panics
    /// Panics if an embedded schema does not parse: that is a build defect, caught by the
    /// crate's own tests.
    pub fn get() -> &'static Registry {
        static REG: OnceLock<Registry> = OnceLock::new();
        REG.get_or_init(|| {
            let mut schemas: Vec<Schema> = SCHEMA_FILES
                .iter()
                .map(|(name, text)| {
                    parse(name, text).unwrap_or_else(|e| panic!("embedded schema: {e}"))
                })
                .collect();
            schemas.sort_by_key(|s| s.ordinal);
            Registry { schemas }
        })
    }

    /// Every revision, oldest first.
    pub fn all(&'static self) -> &'static [Schema] {
        &self.schemas
    }

    /// The newest revision.
    pub fn newest(&'static self) -> RevisionRef {
        self.schemas.last().expect("at least one embedded schema")
    }

    /// Finds a revision by id (`v23-rc2`), alias, ordinal (`16`) or user-cr commit
    /// (full or a prefix of at least 7 hex digits).
    pub fn find(&'static self, name: &str) -> Result<RevisionRef, UnknownRevision> {
        let exact: Vec<&Schema> = self
            .schemas
            .iter()
            .filter(|s| {
                s.id == name || s.aliases.iter().any(|a| a == name) || s.ordinal.to_string() == name
            })
            .collect();
        let hits =
            if exact.is_empty() && name.len() >= 7 && name.chars().all(|c| c.is_ascii_hexdigit()) {
                let lower = name.to_ascii_lowercase();
                self.schemas
                    .iter()
                    .filter(|s| s.commit.starts_with(&lower))
                    .collect()
            } else {
                exact
            };
        match hits.as_slice() {
            [one] => Ok(one),
            _ => Err(UnknownRevision {
                name: name.to_string(),
                ambiguous: hits.len() > 1,
                known: self
                    .schemas
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}
