// SPDX-License-Identifier: GPL-2.0

//! What 6.12's `kernel::workqueue` lacks: waiting for a work item.

use kernel::{bindings, workqueue::Work};

/// Waits until `work` is neither pending nor running (`flush_work`).
///
/// A pending item owns a reference to its container, which its `run`
/// releases; so flushing (not cancelling) is how an owner makes sure no
/// run is left before the module can go away.
pub(crate) fn flush<T: ?Sized, const ID: u64>(work: &Work<T, ID>) {
    // SAFETY: `work` is a live, initialised work item (a `Work` only
    // exists initialised); `flush_work` may sleep, and callers run in
    // process context.
    unsafe { bindings::flush_work(Work::raw_get(work)) };
}
