//! The revisions embedded in this build, and lookup by id, commit or alias.

use std::sync::OnceLock;

use super::{Schema, parse};

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// All revisions that this build knows, in ordinal (commit) order.
///
/// Start-up reads only the provenance lines at the top of each embedded file (revision,
/// ordinal, commit, checkpoint-version, aliases, arches); a whole schema is parsed the
/// first time it is asked for, so that a command which needs two revisions does not pay
/// for seventeen.
#[derive(Debug)]
pub struct Registry {
    entries: Vec<Embedded>,
    all: OnceLock<Vec<RevisionRef>>,
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

/// One embedded revision: what its file says of itself, and the whole schema once parsed.
#[derive(Debug)]
pub struct Embedded {
    file: &'static str,
    text: &'static str,
    provenance: Schema,
    schema: OnceLock<Schema>,
}

impl Embedded {
    /// The schema file's text, as embedded.
    pub fn text(&self) -> &'static str {
        self.text
    }

    /// Revision id (`v23-rc2`).
    pub fn id(&self) -> &str {
        &self.provenance.id
    }

    /// Other names of the revision (`ckpt-v19`), from its provenance.
    pub fn aliases(&self) -> &[String] {
        &self.provenance.aliases
    }

    /// Short (7-character) commit id.
    pub fn short_commit(&self) -> &str {
        self.provenance.short_commit()
    }

    /// CHECKPOINT_VERSION, the `rev` an image of this revision has in its header.
    pub fn checkpoint_version(&self) -> u16 {
        self.provenance.checkpoint_version
    }

    /// Architectures with the CKPT_ARCH_* ids this revision gives them.
    pub fn arches(&self) -> &[(crate::Arch, u16)] {
        &self.provenance.arches
    }

    /// Kernel versions that wrote it, most likely first.
    pub fn kernels(&self) -> &[super::Claim] {
        &self.provenance.kernels
    }

    /// linux-cr tags this revision corresponds to.
    pub fn tags(&self) -> &[super::Claim] {
        &self.provenance.tags
    }

    /// The architecture this revision numbers `id`.
    pub fn arch_by_id(&self, id: u16) -> Option<crate::Arch> {
        self.provenance.arch_by_id(id)
    }

    /// The whole schema, parsed on first use.
    ///
    /// # Panics
    /// Panics if the embedded file does not parse: a build defect, caught by the crate's
    /// own tests.
    pub fn schema(&'static self) -> RevisionRef {
        self.schema.get_or_init(|| {
            parse(self.file, self.text).unwrap_or_else(|e| panic!("embedded schema: {e}"))
        })
    }

    fn answers_to(&self, name: &str) -> bool {
        let p = &self.provenance;
        p.id == name || p.aliases.iter().any(|a| a == name) || p.ordinal.to_string() == name
    }
}

impl Registry {
    /// The registry of the embedded schema files.
    ///
    /// # Panics
    /// Panics if the provenance of an embedded schema does not parse: that is a build
    /// defect, caught by the crate's own tests.
    pub fn get() -> &'static Registry {
        static REG: OnceLock<Registry> = OnceLock::new();
        REG.get_or_init(|| {
            let mut entries: Vec<Embedded> = SCHEMA_FILES
                .iter()
                .map(|&(file, text)| Embedded {
                    file,
                    text,
                    provenance: parse::parse_provenance(file, text)
                        .unwrap_or_else(|e| panic!("embedded schema: {e}")),
                    schema: OnceLock::new(),
                })
                .collect();
            entries.sort_by_key(|e| e.provenance.ordinal);
            Registry {
                entries,
                all: OnceLock::new(),
            }
        })
    }

    /// Every revision, oldest first, before any is parsed.
    pub fn entries(&'static self) -> &'static [Embedded] {
        &self.entries
    }

    /// Parses the schemas of `entries` that are not parsed yet, on as many threads as
    /// the machine has (at most one per schema), and returns them in the same order.
    pub fn load(&'static self, entries: &[&'static Embedded]) -> Vec<RevisionRef> {
        let todo: Vec<&'static Embedded> = entries
            .iter()
            .copied()
            .filter(|e| e.schema.get().is_none())
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(todo.len());
        if threads > 1 {
            std::thread::scope(|scope| {
                for part in 0..threads {
                    let todo = &todo;
                    scope.spawn(move || {
                        for e in todo.iter().skip(part).step_by(threads) {
                            e.schema();
                        }
                    });
                }
            });
        }
        entries.iter().map(|e| e.schema()).collect()
    }

    /// Every revision, oldest first (all parsed, on first use).
    pub fn all(&'static self) -> &'static [RevisionRef] {
        self.all.get_or_init(|| {
            let entries: Vec<&'static Embedded> = self.entries.iter().collect();
            self.load(&entries)
        })
    }

    /// The newest revision.
    pub fn newest(&'static self) -> RevisionRef {
        self.entries
            .last()
            .expect("at least one embedded schema")
            .schema()
    }

    /// Finds a revision by id (`v23-rc2`), alias, ordinal (`16`) or user-cr commit
    /// (full or a prefix of at least 7 hex digits).
    pub fn find(&'static self, name: &str) -> Result<RevisionRef, UnknownRevision> {
        self.find_entry(name).map(|e| e.schema())
    }

    /// [`Registry::find`] without parsing the schema.
    pub fn find_entry(&'static self, name: &str) -> Result<&'static Embedded, UnknownRevision> {
        let exact: Vec<&'static Embedded> =
            self.entries.iter().filter(|e| e.answers_to(name)).collect();
        let hits =
            if exact.is_empty() && name.len() >= 7 && name.chars().all(|c| c.is_ascii_hexdigit()) {
                let lower = name.to_ascii_lowercase();
                self.entries
                    .iter()
                    .filter(|e| e.provenance.commit.starts_with(&lower))
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
                    .entries
                    .iter()
                    .map(|e| e.id())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The provenance read at start-up is what the whole parse says, for every file.
    #[test]
    fn provenance_agrees_with_the_whole_parse() {
        let reg = Registry::get();
        assert_eq!(reg.entries().len(), SCHEMA_FILES.len());
        for e in reg.entries() {
            let s = e.schema();
            let p = &e.provenance;
            assert_eq!(
                (&p.id, p.ordinal, &p.commit, p.checkpoint_version),
                (&s.id, s.ordinal, &s.commit, s.checkpoint_version)
            );
            assert_eq!((&p.aliases, &p.arches), (&s.aliases, &s.arches), "{}", s.id);
            assert_eq!((&p.tags, &p.kernels), (&s.tags, &s.kernels), "{}", s.id);
            assert!(p.structs.is_empty() && p.consts.is_empty());
        }
        let ordinals: Vec<u32> = reg.all().iter().map(|s| s.ordinal).collect();
        assert!(ordinals.windows(2).all(|w| w[0] < w[1]), "{ordinals:?}");
        for (e, s) in reg.entries().iter().zip(reg.all()) {
            assert!(std::ptr::eq(e.schema(), *s), "one schema per revision");
        }
    }
}
