// SPDX-License-Identifier: GPL-2.0

//! The unsafe layer: what the `kernel` crate of Linux 6.12 lacks.
//!
//! Every module here wraps a C interface of the kernel in a safe API shaped
//! like the abstraction upstream merged later (named in each module's
//! documentation), so that moving to a newer kernel means deleting a module
//! here and renaming a path. The rest of the crate holds no `unsafe` code.

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
