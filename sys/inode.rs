// SPDX-License-Identifier: GPL-2.0

//! File-system notifications of one inode, through an fsnotify mark made
//! and torn down by the C helpers of `sys/inode.c` (6.12's bindings have
//! no fsnotify groups, marks or callbacks).
//!
//! Upstream has no fsnotify abstraction to shape this like; it follows the
//! pattern of its timers and wait-queue hooks: the mark holds a reference
//! to its owner, calls the owner's callback, and dropping the handle stops
//! the notifications.

use super::file::File;
use crate::layout;
use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr::{self, NonNull},
};
use kernel::{
    error::Error,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// Passed to [`InodeWatcher::notified`] instead of events: the watch
/// ended. fsnotify tore the mark down (the inode was deleted, or its file
/// system unmounted), or the handle was dropped.
pub(crate) const INODE_ENDED: u32 = layout::KEVENT_INODE_ENDED_VALUE as u32;

/// The owner of an [`InodeMark`].
pub(crate) trait InodeWatcher: Send + Sync + Sized {
    /// Notifications of the watched inode: `events` are `KEVENT_INODE_*`
    /// bits, or [`INODE_ENDED`]. Runs in the file-system operation that
    /// caused them, which may hold the inode's locks, and under fsnotify's
    /// SRCU read lock: it must not block on anything such an operation
    /// could wait for.
    fn notified(this: ArcBorrow<'_, Self>, events: u32);
}

/// `struct kevent_inode_mark`, which only the C side reads.
#[repr(C)]
struct RawMark {
    _opaque: [u8; 0],
}

extern "C" {
    // `struct file` is passed as an opaque pointer, as in `sys::socket`.
    fn kevent_inode_init() -> c_int;
    fn kevent_inode_exit();
    fn kevent_inode_watch(
        file: *mut c_void,
        owner: *const c_void,
        notify: unsafe extern "C" fn(*const c_void, u32),
        release: unsafe extern "C" fn(*const c_void),
        out: *mut *mut RawMark,
    ) -> c_int;
    fn kevent_inode_unwatch(mark: *mut RawMark);
}

/// The module's fsnotify group: watches can be made while it lives.
pub(crate) struct InodeNotify(());

impl InodeNotify {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once, at module init, before any watch is made.
        let r = unsafe { kevent_inode_init() };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Self(()))
    }
}

impl Drop for InodeNotify {
    fn drop(&mut self) {
        // SAFETY: At module exit no queue is open, so every mark was
        // unwatched and none can be made; this waits for fsnotify to free
        // them (calling into the module) before dropping the group.
        unsafe { kevent_inode_exit() };
    }
}

/// A watch of one inode for the owner `T`: while it lives, the inode's
/// notifications go to [`InodeWatcher::notified`]. It pins the inode only
/// until fsnotify tears the mark down, and holds no reference to the file
/// it was made from, so it never keeps a file system busy.
///
/// # Invariants
///
/// `mark` is a mark `kevent_inode_watch` made for an owner of type `T`,
/// whose reference this value holds; the mark holds one to the owner.
pub(crate) struct InodeMark<T: InodeWatcher> {
    mark: NonNull<RawMark>,
    _owner: PhantomData<Arc<T>>,
}

// SAFETY: The mark is only passed to `kevent_inode_unwatch`, which may be
// called from any thread; the owner it refers to is `Send + Sync`.
unsafe impl<T: InodeWatcher> Send for InodeMark<T> {}
// SAFETY: Shared references allow nothing.
unsafe impl<T: InodeWatcher> Sync for InodeMark<T> {}

impl<T: InodeWatcher> InodeMark<T> {
    /// Watches the inode of `file` (an `O_PATH` file too) for `owner`:
    /// `EACCES` if the caller may not read it, `ENOMEM`. May sleep.
    pub(crate) fn watch(owner: Arc<T>, file: &File) -> Result<Self> {
        let owner = Arc::into_raw(owner).cast::<c_void>();
        let mut mark = ptr::null_mut();
        // SAFETY: `file` is valid while borrowed. The reference `owner`
        // carries passes to the mark, which releases it through
        // `release::<T>` (at once if this fails); both callbacks are
        // given an owner of type `T`. `mark` is valid for writes.
        let r = unsafe {
            kevent_inode_watch(
                file.as_ptr().cast(),
                owner,
                notify::<T>,
                release::<T>,
                &mut mark,
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        let mark = NonNull::new(mark).ok_or(EINVAL)?;
        // INVARIANT: made by `kevent_inode_watch` for this owner.
        Ok(Self {
            mark,
            _owner: PhantomData,
        })
    }
}

impl<T: InodeWatcher> Drop for InodeMark<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the reference to the mark is ours
        // to drop, once. The owner's reference goes when fsnotify frees
        // the mark, after any notification still running.
        unsafe { kevent_inode_unwatch(self.mark.as_ptr()) };
    }
}

/// The mark's notification callback.
///
/// # Safety
///
/// `owner` must come from `Arc::<T>::into_raw` and its reference must be
/// held (by the mark, until `release`).
unsafe extern "C" fn notify<T: InodeWatcher>(owner: *const c_void, events: u32) {
    // SAFETY: By the function's safety requirements the owner is alive for
    // the call.
    let this = unsafe { ArcBorrow::from_raw(owner.cast::<T>()) };
    T::notified(this, events);
}

/// Drops the mark's reference to its owner, as fsnotify frees the mark.
///
/// # Safety
///
/// `owner` must come from `Arc::<T>::into_raw`; its reference is consumed.
unsafe extern "C" fn release<T: InodeWatcher>(owner: *const c_void) {
    // SAFETY: By the function's safety requirements the reference is ours.
    drop(unsafe { Arc::from_raw(owner.cast::<T>()) });
}
