// SPDX-License-Identifier: GPL-2.0

//! The unsafe layer: what the `kernel` crate lacks.
//!
//! Every module here wraps a C interface of the kernel in a safe API shaped
//! like the abstraction upstream merged later (named in each module's
//! documentation), so that moving to a newer kernel means deleting a module
//! here and renaming a path. The rest of the crate holds no `unsafe` code.
//!
//! On Linux 7.2 (`cfg(linux_ge_7_2)`, set by Kbuild) upstream's own take
//! the place of `seq_file`, `cred` (`Task::uid`), `lock_class`, `mm`'s
//! `VmaNew` and `file`'s `File`. The rest stays, because 7.2 has nothing
//! that does what it does:
//! - `miscdevice`: 7.2's `MiscDevice` has no `poll`, no mode for the node,
//!   no context for `open`, no way to open a second file of the device
//!   (`KEVENT_CTL_INIT`), and no `owner`, so an open queue would not pin
//!   the module.
//! - `poll`: upstream's `PollTable` registers a `PollCondVar` only; the
//!   module polls other files with wait entries of its own (callbacks in
//!   atomic context, `POLLFREE`).
//! - `wait`: `CondVar` has no hrtimer deadline and no count of wanted
//!   events (`min_nr`), nor keyed, nested wake-ups of pollers.
//! - `hrtimer`: upstream fixes a timer's clock and mode by its type; a
//!   request picks one of four clocks, absolute or relative, at run time.
//! - `param`: upstream's parameters are read-only; these are tunable.
//! - `rbtree`: upstream's tree allocates its nodes; this one is intrusive.
//! - `spinlock_irq`: upstream's `SpinLockIrq` is not in 7.2.
//! - `work`: 7.2's `workqueue` cannot flush a work item.
//! - `uaccess`: a batch of events in one user access section.
//! - `file`'s `FileRef`: `fget_raw` (O_PATH files) and the reference count
//!   (closed files) are not in upstream's `ARef<File>`.
//! - `clock`, `inode`, `ring`, `signal`, `socket`, `list` (a wrapper of
//!   upstream's `List`): nothing upstream covers them.
//!
//! `compat` names what both kernels have under different paths.

pub(crate) mod abi;
pub(crate) mod clock;
pub(crate) mod compat;
#[cfg(not(linux_ge_7_2))]
pub(crate) mod cred;
#[cfg(linux_ge_7_2)]
pub(crate) mod cred {
    /// The real user id of the current task, in the initial namespace
    /// (`current_uid()`), from upstream's `Task::uid`.
    pub(crate) fn current_uid() -> u32 {
        kernel::current!().uid().into_raw().val
    }
}
pub(crate) mod file;
pub(crate) mod hrtimer;
pub(crate) mod inode;
pub(crate) mod list;
#[cfg(not(linux_ge_7_2))]
pub(crate) mod lock_class;
#[cfg(linux_ge_7_2)]
pub(crate) mod lock_class {
    pub(crate) use kernel::{static_lock_class, sync::LockClassKey};
}
pub(crate) mod miscdevice;
pub(crate) mod mm;
pub(crate) mod param;
pub(crate) mod poll;
pub(crate) mod rbtree;
pub(crate) mod ring;
#[cfg(not(linux_ge_7_2))]
pub(crate) mod seq_file;
#[cfg(linux_ge_7_2)]
pub(crate) mod seq_file {
    pub(crate) use kernel::{seq_file::SeqFile, seq_print};
}
pub(crate) mod signal;
pub(crate) mod socket;
pub(crate) mod spinlock_irq;
pub(crate) mod uaccess;
pub(crate) mod wait;
pub(crate) mod work;
