// SPDX-License-Identifier: GPL-2.0

//! Credentials of the current task: `current_uid()`.
//!
//! C header: [`include/linux/cred.h`](srctree/include/linux/cred.h).
//! 6.12's `Task` has no credentials (upstream added `kernel::cred` in 6.13).

use kernel::bindings;

/// The real user id of the current task, in the initial namespace: what
/// `current_uid()` returns, and whose `user_struct` epoll charges.
pub(crate) fn current_uid() -> u32 {
    // SAFETY: `get_current()` is the running task. Its `cred` is replaced
    // only by the task itself (`commit_creds`), so reading it from the task
    // needs no RCU section, as `current_cred()` does not take one.
    unsafe { (*(*bindings::get_current()).cred).uid.val }
}
