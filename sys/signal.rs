// SPDX-License-Identifier: GPL-2.0

//! Signals of the current task: `fatal_signal_pending()`.
//!
//! C header: [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h).
//! 6.12's `Task` has `signal_pending()` only; a task being killed must not
//! be held in a long loop, as the kernel's own loops check this.

use kernel::bindings;

/// Whether the current task has been killed (`SIGKILL` is pending): what
/// `fatal_signal_pending(current)` says in C.
pub(crate) fn fatal_signal_pending() -> bool {
    if !kernel::current!().signal_pending() {
        return false;
    }
    // SAFETY: `get_current()` returns the running task, valid for as long as
    // it runs. `pending.signal` is read without the siglock, as the C inline
    // `__fatal_signal_pending()` reads it: a racing update only makes the
    // answer early or late, and a volatile read of a `c_ulong` cannot tear.
    let set = unsafe {
        let task = bindings::get_current();
        core::ptr::read_volatile(core::ptr::addr_of!((*task).pending.signal.sig[0]))
    };
    set & (1 << (bindings::SIGKILL - 1)) != 0
}
