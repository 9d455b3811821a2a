//! The file tree of a mounted image: directories, files whose contents are rendered
//! text or ranges of the image, and symlinks, numbered by inode. Built once at mount
//! time and never changed, so that readers on several threads share it without locks.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ckpt_format::RecordInfo;

/// An inode number: the index of its node plus one.
pub type Ino = u64;

/// The root directory's inode.
pub const ROOT: Ino = 1;

/// What a file holds.
#[derive(Debug)]
pub enum Content {
    /// Rendered bytes (text, JSON).
    Bytes(Vec<u8>),
    /// `len` bytes of the image from byte `offset` (a payload).
    Image {
        /// First byte in the image.
        offset: u64,
        /// Length.
        len: u64,
    },
    /// Ranges of the image, one after the other (a socket buffer's linear part and
    /// its fragments).
    Ranges(Vec<(u64, u64)>),
    /// A task's memory: offsets are the virtual addresses of the address space (MM
    /// object) `mm`; the file's size is the end of its highest VMA.
    Mem {
        /// Tag of the MM object.
        mm: i64,
        /// End of the highest VMA.
        size: u64,
    },
    /// A SysV shm segment's pages, by offset in the segment.
    Shm {
        /// Index among [`ckpt_format::pages::PageIndex::shm_segments`].
        index: usize,
        /// The segment's size.
        size: u64,
    },
    /// The dump line of a streamed record, rendered (its payload hashed) when first
    /// asked for.
    Streamed {
        /// The record.
        rec: RecordInfo,
        /// The line, once rendered.
        line: OnceLock<Vec<u8>>,
    },
}

/// What a node is.
#[derive(Debug)]
pub enum NodeKind {
    /// A directory: its entries by name (readdir lists them in this order).
    Dir(BTreeMap<String, Ino>),
    /// A regular file.
    File(Content),
    /// A symbolic link to the target.
    Link(String),
}

/// A file, directory or link.
#[derive(Debug)]
pub struct Node {
    /// Its name in its directory (empty for the root).
    pub name: String,
    /// Its directory's inode (the root's is itself).
    pub parent: Ino,
    /// What it is.
    pub kind: NodeKind,
}

/// Every node, by inode.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// A tree with an empty root directory.
    pub fn new() -> Tree {
        Tree {
            nodes: vec![Node {
                name: String::new(),
                parent: ROOT,
                kind: NodeKind::Dir(BTreeMap::new()),
            }],
        }
    }

    /// The node of `ino`.
    pub fn node(&self, ino: Ino) -> Option<&Node> {
        let k = usize::try_from(ino.checked_sub(1)?).ok()?;
        self.nodes.get(k)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True for a tree with its root alone.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// The entry `name` of directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &str) -> Option<Ino> {
        match &self.node(parent)?.kind {
            NodeKind::Dir(entries) => entries.get(name).copied(),
            _ => None,
        }
    }

    /// The inode of `path` (`tasks/1/maps`), from the root.
    pub fn resolve(&self, path: &str) -> Option<Ino> {
        path.split('/')
            .filter(|p| !p.is_empty())
            .try_fold(ROOT, |at, name| self.lookup(at, name))
    }

    fn add(&mut self, parent: Ino, name: &str, kind: NodeKind) -> Ino {
        let ino = self.nodes.len() as Ino + 1;
        // A name given twice (two tasks with one pid) gets a suffix rather than hiding
        // the first.
        let mut unique = name.to_string();
        let mut k = 2;
        while self.lookup(parent, &unique).is_some() {
            unique = format!("{name}~{k}");
            k += 1;
        }
        if let Some(Node {
            kind: NodeKind::Dir(entries),
            ..
        }) = self.nodes.get_mut(parent as usize - 1)
        {
            entries.insert(unique.clone(), ino);
        }
        self.nodes.push(Node {
            name: unique,
            parent,
            kind,
        });
        ino
    }

    /// Adds directory `name` to `parent`.
    pub fn dir(&mut self, parent: Ino, name: &str) -> Ino {
        self.add(parent, name, NodeKind::Dir(BTreeMap::new()))
    }

    /// Adds file `name` to `parent`.
    pub fn file(&mut self, parent: Ino, name: &str, content: Content) -> Ino {
        self.add(parent, name, NodeKind::File(content))
    }

    /// Adds a text file.
    pub fn text(&mut self, parent: Ino, name: &str, text: impl Into<Vec<u8>>) -> Ino {
        self.file(parent, name, Content::Bytes(text.into()))
    }

    /// Adds symlink `name` to `target`.
    pub fn link(&mut self, parent: Ino, name: &str, target: &str) -> Ino {
        self.add(parent, name, NodeKind::Link(target.to_string()))
    }

    /// Subdirectories of `ino` (for a directory's link count).
    pub fn subdirs(&self, ino: Ino) -> usize {
        match self.node(ino).map(|n| &n.kind) {
            Some(NodeKind::Dir(e)) => e
                .values()
                .filter(|&&c| matches!(self.node(c).map(|n| &n.kind), Some(NodeKind::Dir(_))))
                .count(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_resolve_and_duplicate_names() {
        let mut t = Tree::new();
        let tasks = t.dir(ROOT, "tasks");
        let one = t.dir(tasks, "1");
        let comm = t.text(one, "comm", "init\n");
        let again = t.dir(tasks, "1");
        assert_eq!(t.resolve("tasks/1/comm"), Some(comm));
        assert_eq!(t.resolve("/tasks//1/comm"), Some(comm));
        assert_eq!(t.resolve("tasks/1~2"), Some(again));
        assert_eq!(t.resolve("tasks/2"), None);
        assert_eq!(t.resolve("tasks/1/comm/x"), None);
        assert_eq!(t.resolve(""), Some(ROOT));
        assert_eq!(t.node(comm).unwrap().parent, one);
        assert_eq!(t.subdirs(tasks), 2);
        assert!(t.node(0).is_none() && t.node(99).is_none());
        assert_eq!(t.len(), 5);
    }
}
