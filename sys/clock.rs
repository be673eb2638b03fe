// SPDX-License-Identifier: GPL-2.0

//! Being told that `CLOCK_REALTIME` was set, through the C helpers of
//! `sys/clock.c` (a module gets no call from the timekeeping core but the
//! pvclock notifier, which needs care; see there).
//!
//! Upstream has no abstraction for this; it follows the shape of the other
//! callbacks here: a handle holds a reference to its owner, and dropping it
//! stops the calls.

use core::{ffi::c_void, ptr::NonNull};
use kernel::{
    error::Error,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The owner of a [`ClockSetWatch`].
pub(crate) trait ClockSetWatcher: Send + Sync + Sized {
    /// `CLOCK_REALTIME` was set. Process context (a work item), with the
    /// watches' mutex held: it must not sleep long.
    fn clock_was_set(this: ArcBorrow<'_, Self>);
}

/// `struct kevent_clock_watch`, which only the C side reads.
#[repr(C)]
struct RawWatch {
    _opaque: [u8; 0],
}

extern "C" {
    fn kevent_clock_init() -> core::ffi::c_int;
    fn kevent_clock_exit();
    fn kevent_clock_watch(
        owner: *const c_void,
        notify: unsafe extern "C" fn(*const c_void),
    ) -> *mut RawWatch;
    fn kevent_clock_unwatch(watch: *mut RawWatch);
}

/// The module's notifier: watches can be made while it lives.
pub(crate) struct ClockSetNotify(());

impl ClockSetNotify {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once, at module init, before any watch is made.
        let r = unsafe { kevent_clock_init() };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Self(()))
    }
}

impl Drop for ClockSetNotify {
    fn drop(&mut self) {
        // SAFETY: At module exit no queue is open, so no watch is left;
        // this unregisters the notifier and waits for its work.
        unsafe { kevent_clock_exit() };
    }
}

/// While it lives, `owner` is told of every setting of `CLOCK_REALTIME`.
///
/// # Invariants
///
/// `watch` is on the C list with `owner` (whose reference this value
/// holds) and `notify::<T>`, until dropped.
pub(crate) struct ClockSetWatch<T: ClockSetWatcher> {
    watch: NonNull<RawWatch>,
    _owner: Arc<T>,
}

// SAFETY: The watch is only passed to `kevent_clock_unwatch`, which may be
// called from any thread; the owner is `Send + Sync`.
unsafe impl<T: ClockSetWatcher> Send for ClockSetWatch<T> {}
// SAFETY: Shared references allow nothing.
unsafe impl<T: ClockSetWatcher> Sync for ClockSetWatch<T> {}

impl<T: ClockSetWatcher> ClockSetWatch<T> {
    /// `ENOMEM` if out of memory. May sleep.
    pub(crate) fn new(owner: Arc<T>) -> Result<Self> {
        // SAFETY: The pointer stays valid while the watch is on the list:
        // this value holds the reference, and takes the watch off the list
        // before it lets go of it.
        let watch =
            unsafe { kevent_clock_watch(core::ptr::from_ref::<T>(&owner).cast(), notify::<T>) };
        let watch = NonNull::new(watch).ok_or(ENOMEM)?;
        // INVARIANT: `kevent_clock_watch` put it on the list.
        Ok(Self {
            watch,
            _owner: owner,
        })
    }
}

impl<T: ClockSetWatcher> Drop for ClockSetWatch<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the watch is on the list; once this
        // returns, `notify` is not running and never runs for it again, so
        // the owner's reference may go after it.
        unsafe { kevent_clock_unwatch(self.watch.as_ptr()) };
    }
}

/// # Safety
///
/// `owner` must be the `T` of a live [`ClockSetWatch`].
unsafe extern "C" fn notify<T: ClockSetWatcher>(owner: *const c_void) {
    // SAFETY: The watch holds a reference to the owner while it is on the
    // list, which it is while this runs (the C side holds the list's lock).
    let this = unsafe { ArcBorrow::from_raw(owner.cast::<T>()) };
    T::clock_was_set(this);
}
