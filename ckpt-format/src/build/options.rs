//! What the builder is asked for: how many tasks, how much memory, the seed, and the
//! kinds of objects to leave out or add.

/// Kinds of objects the builder can leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Omit {
    /// Files other than the executable (fds, pipes, sockets, ...).
    pub files: bool,
    /// Sockets.
    pub sockets: bool,
    /// SysV IPC objects.
    pub ipc: bool,
    /// Pending signals and signal handlers' non-default actions.
    pub signals: bool,
    /// Zombie tasks.
    pub zombies: bool,
    /// Threads (tasks sharing a thread group).
    pub threads: bool,
    /// The terminal.
    pub tty: bool,
    /// Nested pid namespaces.
    pub pid_namespaces: bool,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Number of tasks (at least 1).
    pub tasks: u32,
    /// Total bytes of page contents (rounded up to whole pages).
    pub memory: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Kinds of objects to leave out.
    pub omit: Omit,
    /// End the image with an ERROR record (a failed checkpoint) after this many tasks.
    pub error_after_tasks: Option<u32>,
    /// Checkpoint the net namespace (revisions with NET_NS, from 78d18cf): the header's
    /// uflags ask for it (bit 0x2 is CHECKPOINT_NONETNS, "do not dump", at 78d18cf and
    /// b0d8304, and CHECKPOINT_NETNS, "dump", from 82822cf), and a NET_NS object with a
    /// loopback and a veth device is written inside the NS object. No kernel code of
    /// this is public: the record order is inferred (grammar-research.md §1f).
    pub with_netns: bool,
    /// One hugetlb VMA with its HPAGE records in the first task's memory (revisions with
    /// HPAGE: 1fd8e6e, 5c3471a). No kernel code is public: the order is inferred
    /// (grammar-research.md §1g).
    pub with_hugetlb: bool,
    /// One SysV semaphore undo list (a SEM_UNDO object) shared by the first thread group
    /// (revisions with TASK_SEM_UNDO_LIST, from f0fdd38), undoing on the image's
    /// semaphore set. No kernel code is public: the order is inferred
    /// (grammar-research.md §1g). Needs the SysV IPC objects (not `omit.ipc`).
    pub with_sem_undo: bool,
    /// A robust futex list registered by every live task (TASK robust_futex_list and
    /// robust_futex_head_len, as set_robust_list leaves them): a state a kernel without
    /// CONFIG_FUTEX ignores.
    pub with_robust_futex: bool,
    /// x86_32: the vDSO where a kernel with CONFIG_COMPAT_VDSO (the default) maps it, the
    /// fixed VDSO_HIGH_BASE page 0xffffe000, which has no VMA (only MM_CONTEXT, the auxv,
    /// THREAD.sysenter_return and the registers name it). Otherwise the vDSO is a VMA in
    /// the mmap area, as with vdso32=1.
    pub with_compat_vdso: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            tasks: 3,
            memory: 64 * 1024,
            seed: 1,
            omit: Omit::default(),
            error_after_tasks: None,
            with_netns: false,
            with_hugetlb: false,
            with_sem_undo: false,
            with_robust_futex: false,
            with_compat_vdso: false,
        }
    }
}
