// SPDX-License-Identifier: GPL-2.0

//! Signals of the current task: `fatal_signal_pending()`, and the signal
//! mask of a wait (`set_user_sigmask()` and `restore_saved_sigmask_unless()`).
//!
//! C header: [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h).
//! 6.12's `Task` has `signal_pending()` only; a task being killed must not
//! be held in a long loop, as the kernel's own loops check this.

use core::ptr;
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

/// The signal mask a call waits with, as `epoll_pwait()` and `ppoll()` set
/// it (`set_user_sigmask()`, which is not exported, with the exported
/// `sigprocmask()`), holding the caller's own mask to restore.
pub(crate) struct WaitSigmask {
    saved: bindings::sigset_t,
}

impl WaitSigmask {
    /// Replaces the current task's mask with `mask` (the bits of a
    /// `sigset_t`; SIGKILL and SIGSTOP cannot be blocked).
    pub(crate) fn set(mask: u64) -> Self {
        let unblockable = (1u64 << (bindings::SIGKILL - 1)) | (1u64 << (bindings::SIGSTOP - 1));
        let mut new = bindings::sigset_t {
            sig: [(mask & !unblockable) as kernel::ffi::c_ulong],
        };
        let mut saved = bindings::sigset_t::default();
        // SAFETY: Both sets are valid for the call; `sigprocmask` changes
        // only the current task's mask and cannot fail with `SIG_SETMASK`.
        unsafe { bindings::sigprocmask(bindings::SIG_SETMASK as i32, &mut new, &mut saved) };
        Self { saved }
    }

    /// Gives the caller its mask back (`restore_saved_sigmask_unless()`).
    /// If the wait was `interrupted` by a signal, the temporary mask stays
    /// until that signal has been handled on the way back to user space,
    /// and the saved mask is restored then: the handler runs with the mask
    /// the caller asked for, and no signal is lost.
    pub(crate) fn restore(mut self, interrupted: bool) {
        if interrupted && kernel::current!().signal_pending() {
            set_restore_sigmask(&self.saved);
            return;
        }
        // SAFETY: As in `set`.
        unsafe {
            bindings::sigprocmask(
                bindings::SIG_SETMASK as i32,
                &mut self.saved,
                ptr::null_mut(),
            )
        };
    }
}

extern "C" {
    /// `current->saved_sigmask = *saved; set_restore_sigmask();`
    /// (sys/signal.c: how the flag is kept differs by architecture).
    fn kevent_restore_sigmask_later(saved: *const bindings::sigset_t);
}

/// Has `saved` restored as the signal mask on the way back to user space.
fn set_restore_sigmask(saved: &bindings::sigset_t) {
    // SAFETY: `saved` is valid for the call, which copies it into the
    // running task; only the task itself changes these fields.
    unsafe { kevent_restore_sigmask_later(saved) };
}
