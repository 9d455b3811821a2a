//! The tree served read-only over FUSE (the `fuser` crate, its pure-Rust mount through
//! `fusermount3`): lookups, attributes, directory listings, links and reads, on
//! several threads; contents of the image by positioned reads (`pread`), memory
//! through the page index.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use ckpt_format::Format;
use ckpt_format::pages::{PageError, PageIndex, ReadAt};
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen,
    ReplyStatfs, Request, SessionACL,
};

use super::tree::{Content, Ino, Node, NodeKind, Tree};

/// The tree never changes: the kernel may keep what it was told.
const TTL: Duration = Duration::from_secs(3600);

/// A mounted image's file system: the tree, the image file it reads, the page index.
pub struct ImageFs {
    tree: Tree,
    file: File,
    index: PageIndex,
    format: &'static Format,
    time: SystemTime,
    uid: u32,
    gid: u32,
}

impl ImageFs {
    /// The file system of `tree`, reading `file` (the image) and its page `index`;
    /// every entry's times are `time` (the image's), its owner the mounting user.
    pub fn new(
        tree: Tree,
        file: File,
        index: PageIndex,
        format: &Format,
        time: SystemTime,
    ) -> ImageFs {
        // SAFETY: getuid and getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        ImageFs {
            tree,
            file,
            index,
            format: Format::shared(format.schema, format.arch),
            time,
            uid,
            gid,
        }
    }

    /// The tree served.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The size of a file's contents (rendering a streamed record's line).
    pub fn size(&self, c: &Content) -> u64 {
        match c {
            Content::Bytes(b) => b.len() as u64,
            Content::Image { len, .. } => *len,
            Content::Ranges(r) => r.iter().map(|(_, l)| l).sum(),
            Content::Mem { size, .. } | Content::Shm { size, .. } => *size,
            Content::Streamed { .. } => self.streamed(c).map_or(0, |b| b.len() as u64),
        }
    }

    fn streamed<'c>(&self, c: &'c Content) -> Option<&'c [u8]> {
        let Content::Streamed { rec, line } = c else {
            return None;
        };
        Some(line.get_or_init(|| {
            ckpt_format::dump::streamed_record_line(self.format, rec, &self.file)
                .map(String::into_bytes)
                .unwrap_or_else(|e| {
                    format!(
                        "{{\"kind\":\"error\",\"index\":{},\"message\":\"cannot read the record: {e}\"}}\n",
                        rec.index
                    )
                    .into_bytes()
                })
        }))
    }

    fn attr(&self, ino: Ino, n: &Node) -> FileAttr {
        let (kind, perm, size, nlink) = match &n.kind {
            NodeKind::Dir(_) => (
                FileType::Directory,
                0o555,
                0,
                2 + self.tree.subdirs(ino) as u32,
            ),
            NodeKind::File(c) => (FileType::RegularFile, 0o444, self.size(c), 1),
            NodeKind::Link(t) => (FileType::Symlink, 0o777, t.len() as u64, 1),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            // Memory is sparse: its size is an address, not bytes stored.
            blocks: match &n.kind {
                NodeKind::File(Content::Mem { .. }) => 0,
                _ => size.div_ceil(512),
            },
            atime: self.time,
            mtime: self.time,
            ctime: self.time,
            crtime: self.time,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Reads up to `size` bytes of a file from `offset`: what `read(2)` on the mount
    /// returns. Memory past a VMA's end stops the read there; a read that starts outside
    /// every VMA is EIO, as /proc/PID/mem.
    pub fn read_content(&self, c: &Content, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let mut buf = Vec::new();
        let n = self.read_into(c, offset, size, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// [`ImageFs::read_content`] into `buf` (grown when too small, never shrunk: the
    /// server keeps one per thread, so that requests neither allocate nor zero it);
    /// returns the bytes read into its start.
    fn read_into(
        &self,
        c: &Content,
        offset: u64,
        size: u32,
        buf: &mut Vec<u8>,
    ) -> Result<usize, Errno> {
        let mut n = self.size(c).saturating_sub(offset).min(size as u64) as usize;
        if let Content::Mem { mm, .. } = c {
            let space = self.index.address_space(*mm).ok_or(Errno::EIO)?;
            n = match space.first_unmapped(offset, size as u64) {
                Some(a) if a == offset => return Err(Errno::EIO),
                Some(a) => (a - offset) as usize,
                None => size as usize,
            };
        }
        if buf.len() < n {
            buf.resize(n, 0);
        }
        let out = &mut buf[..n];
        let io = |_: io::Error| Errno::EIO;
        match c {
            Content::Bytes(b) => out.copy_from_slice(&b[offset as usize..offset as usize + n]),
            Content::Streamed { .. } => {
                let b = self.streamed(c).unwrap_or_default();
                out.copy_from_slice(&b[offset as usize..offset as usize + n]);
            }
            Content::Image { offset: at, .. } => {
                self.file.read_exact_at(out, at + offset).map_err(io)?;
            }
            Content::Ranges(ranges) => {
                let (mut done, mut base) = (0usize, 0u64);
                for &(at, len) in ranges {
                    let pos = offset + done as u64;
                    if done == n {
                        break;
                    }
                    if pos < base + len {
                        let k = ((base + len - pos) as usize).min(n - done);
                        self.file
                            .read_exact_at(&mut out[done..done + k], at + pos - base)
                            .map_err(io)?;
                        done += k;
                    }
                    base += len;
                }
            }
            Content::Mem { mm, .. } => {
                let space = self.index.address_space(*mm).ok_or(Errno::EIO)?;
                space.read_at(&self.file, offset, out).map_err(page)?;
            }
            Content::Shm { index, .. } => {
                let seg = &self.index.shm_segments()[*index];
                seg.read_at(&self.file, offset, out).map_err(page)?;
            }
        }
        Ok(n)
    }
}

thread_local! {
    /// Each serving thread's read buffer.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Every failure of a page read (outside the VMAs or the segment, the image unreadable)
/// is EIO, as /proc/PID/mem gives.
fn page(_: PageError) -> Errno {
    Errno::EIO
}

impl Filesystem for ImageFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = name
            .to_str()
            .and_then(|n| self.tree.lookup(parent.0, n))
            .and_then(|i| Some((i, self.tree.node(i)?)));
        match found {
            Some((i, n)) => reply.entry(&TTL, &self.attr(i, n), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.tree.node(ino.0) {
            Some(n) => reply.attr(&TTL, &self.attr(ino.0, n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.tree.node(ino.0).map(|n| &n.kind) {
            Some(NodeKind::Link(t)) => reply.data(t.as_bytes()),
            Some(_) => reply.error(Errno::EINVAL),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let Some(NodeKind::File(c)) = self.tree.node(ino.0).map(|n| &n.kind) else {
            return reply.error(Errno::EISDIR);
        };
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        // Memory is read as asked, not through the page cache, whose read-ahead would
        // cross a VMA's end and fail the read.
        let direct = matches!(c, Content::Mem { .. });
        let flags = if direct {
            FopenFlags::FOPEN_DIRECT_IO
        } else {
            FopenFlags::FOPEN_KEEP_CACHE
        };
        reply.opened(FileHandle(0), flags);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.tree.node(ino.0).map(|n| &n.kind) {
            Some(NodeKind::File(c)) => {
                SCRATCH.with_borrow_mut(|buf| match self.read_into(c, offset, size, buf) {
                    Ok(n) => reply.data(&buf[..n]),
                    Err(e) => reply.error(e),
                })
            }
            Some(_) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(node) = self.tree.node(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let NodeKind::Dir(entries) = &node.kind else {
            return reply.error(Errno::ENOTDIR);
        };
        let dots = [
            (ino.0, FileType::Directory, "."),
            (node.parent, FileType::Directory, ".."),
        ];
        let rest = entries.iter().map(|(name, &i)| {
            let kind = match self.tree.node(i).map(|n| &n.kind) {
                Some(NodeKind::Dir(_)) => FileType::Directory,
                Some(NodeKind::Link(_)) => FileType::Symlink,
                _ => FileType::RegularFile,
            };
            (i, kind, name.as_str())
        });
        for (k, (i, kind, name)) in dots
            .into_iter()
            .chain(rest)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(i), k as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let size = self.file.metadata().map_or(0, |m| m.len());
        reply.statfs(
            size.div_ceil(4096),
            0,
            0,
            self.tree.len() as u64,
            0,
            4096,
            255,
            4096,
        );
    }
}

/// A mounted image, served by [`Mounted::run`] until it is unmounted.
pub struct Mounted {
    session: fuser::Session<ImageFs>,
}

/// Unmounts a [`Mounted`] from another thread (a signal handler's).
pub struct Unmounter(fuser::SessionUnmounter);

impl Unmounter {
    /// Unmounts; [`Mounted::run`] then returns.
    pub fn unmount(&mut self) -> io::Result<()> {
        self.0.unmount()
    }
}

/// Mounts `fs` read-only on `dir` (through `fusermount3`, which also unmounts it when
/// this process exits), served by `threads` threads once [`Mounted::run`] is called.
pub fn mount(fs: ImageFs, dir: &Path, threads: usize) -> io::Result<Mounted> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName("ckpt".into()),
        MountOption::Subtype("ckpt".into()),
        MountOption::NoExec,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::DefaultPermissions,
        MountOption::AutoUnmount,
    ];
    // AutoUnmount needs other users than the owner allowed in (fusermount3's rule);
    // root alone is the narrowest.
    config.acl = SessionACL::RootAndOwner;
    config.n_threads = Some(threads.max(1));
    let session = fuser::Session::new(fs, dir, &config)?;
    Ok(Mounted { session })
}

impl Mounted {
    /// What unmounts it from elsewhere.
    pub fn unmounter(&mut self) -> Unmounter {
        Unmounter(self.session.unmount_callable())
    }

    /// Serves requests until the file system is unmounted.
    pub fn run(self) -> io::Result<()> {
        self.session.run()
    }
}
