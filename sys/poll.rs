// SPDX-License-Identifier: GPL-2.0

//! Poll tables: what a file's `poll` method registers its wait queues with.
//!
//! Shaped like upstream's `kernel::sync::poll` (Linux 6.13). 6.12's
//! bindings keep `struct poll_table_struct` opaque and never bind the
//! inline `poll_wait`, so both are written here; the layout is checked
//! against `include/linux/poll.h` at build time.

use super::{file::File, wait::WaitQueueHead};
use crate::layout;
use core::{marker::PhantomData, mem::offset_of};
use kernel::bindings;

/// `struct poll_table_struct` of `include/linux/poll.h`.
#[repr(C)]
struct RawPollTable {
    qproc: Option<
        unsafe extern "C" fn(
            *mut bindings::file,
            *mut bindings::wait_queue_head,
            *mut bindings::poll_table_struct,
        ),
    >,
    key: bindings::__poll_t,
}

const _: () = {
    assert!(core::mem::size_of::<RawPollTable>() == layout::POLL_TABLE_SIZE);
    assert!(offset_of!(RawPollTable, qproc) == layout::POLL_TABLE_QPROC);
    assert!(offset_of!(RawPollTable, key) == layout::POLL_TABLE_KEY);
};

/// The poll table a `poll` file operation was called with (possibly none).
///
/// # Invariants
///
/// `ptr` is null or points to a poll table valid for `'a`.
pub(crate) struct PollTable<'a> {
    ptr: *mut bindings::poll_table_struct,
    _p: PhantomData<&'a ()>,
}

impl<'a> PollTable<'a> {
    /// # Safety
    ///
    /// `ptr` must be null or valid for the lifetime `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::poll_table_struct) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr,
            _p: PhantomData,
        }
    }

    /// Registers `head` with the poller, as `poll_wait()` does: whoever
    /// polls is woken when `head` is.
    ///
    /// `head` must stay alive until the poller has unhooked itself: for a
    /// file's own head, the VFS guarantees that (epoll and kevent unhook
    /// before the file is released, select and poll before returning).
    pub(crate) fn register_wait(&self, file: &File, head: &WaitQueueHead) {
        if self.ptr.is_null() {
            return;
        }
        let table = self.ptr.cast::<RawPollTable>();
        // SAFETY: `table` is valid by the type invariant and has the layout
        // of `RawPollTable` (checked above).
        if let Some(qproc) = unsafe { (*table).qproc } {
            // SAFETY: This is `poll_wait()`: the arguments are the file being
            // polled, a live wait queue head and the table it came with.
            unsafe { qproc(file.as_ptr(), head.as_ptr(), self.ptr) };
        }
    }
}
