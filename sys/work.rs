// SPDX-License-Identifier: GPL-2.0

//! What `kernel::workqueue` lacks: waiting for a work item, and (in 7.2)
//! the per-CPU system workqueue under its new name.

use kernel::{
    bindings,
    workqueue::{Queue, Work},
};

/// The per-CPU system workqueue. 7.2 renamed `system_wq` to
/// `system_percpu_wq` and warns about work queued on the old name, which
/// its `workqueue::system()` still returns.
pub(crate) fn system() -> &'static Queue {
    #[cfg(not(linux_ge_7_2))]
    return kernel::workqueue::system();
    // SAFETY: `system_percpu_wq` is set up before any module loads and is
    // never destroyed.
    #[cfg(linux_ge_7_2)]
    return unsafe { Queue::from_raw(bindings::system_percpu_wq) };
}

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
