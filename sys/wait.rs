// SPDX-License-Identifier: GPL-2.0

//! Wait queue heads: sleeping until a condition holds, waking sleepers.
//!
//! Upstream has `CondVar` and `PollCondVar` (Linux 6.13) for this; neither
//! sleeps on an hrtimer deadline nor lets a sleeper state how many events
//! it needs, which is what get-events' `min_nr` and nanosecond timeout
//! need. So this is a thin layer over `prepare_to_wait_exclusive`,
//! `schedule_hrtimeout_range` and `__wake_up`, as `fs/eventpoll.c` uses them.

use super::compat::Ktime;
use super::lock_class::LockClassKey;
use core::{
    ffi::{c_int, c_uint, c_void},
    mem::offset_of,
    ptr,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{
    bindings,
    prelude::*,
    str::CStr,
    sync::lock::{Backend, Guard},
    types::Opaque,
};

/// A `wait_queue_head`.
#[pin_data]
pub(crate) struct WaitQueueHead {
    #[pin]
    inner: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue head is designed to be used from any thread; its own
// spinlock protects its list.
unsafe impl Send for WaitQueueHead {}
// SAFETY: See `Send`.
unsafe impl Sync for WaitQueueHead {}

/// Lockdep has 8 subclasses per lock class; wake-ups nested deeper than
/// this are not made under the waker's lock (see `Queue::wake_pollers`).
pub(crate) const MAX_WAKE_DEPTH: u32 = 7;

/// Creates a [`WaitQueueHead`] initialiser with a lockdep class of its own.
macro_rules! new_wait_queue_head {
    ($name:literal) => {
        $crate::sys::wait::WaitQueueHead::new(
            kernel::c_str!($name),
            $crate::sys::lock_class::static_lock_class!(),
        )
    };
}
pub(crate) use new_wait_queue_head;

/// Why [`WaitQueueHead::wait_exclusive`] returned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken (or a spurious wake-up): re-check the condition.
    Woken,
    /// The deadline passed.
    TimedOut,
}

/// A sleeper on a [`WaitQueueHead`], woken only by a count of at least
/// `min_nr` (see [`WaitQueueHead::wake_up_count`]).
#[repr(C)]
struct Waiter {
    entry: bindings::wait_queue_entry,
    min_nr: usize,
}

impl WaitQueueHead {
    /// Initialises a wait queue head.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- Opaque::ffi_init(|slot| {
                // SAFETY: `slot` is valid for writes and pinned; `name` and
                // `key` live forever.
                unsafe { bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr()) }
            }),
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::wait_queue_head {
        self.inner.get()
    }

    /// Returns `true` if anything waits on the head (`waitqueue_active()`).
    ///
    /// Only meaningful when the caller made its change under a lock that
    /// every sleeper takes after queueing itself and before sleeping (the
    /// queue's ready lock, which `poll` takes after `poll_wait`): then a
    /// sleeper is either seen here or sees the change.
    pub(crate) fn is_active(&self) -> bool {
        let head = self.as_ptr();
        // SAFETY: The head is initialised; this is `waitqueue_active()`,
        // a READ_ONCE of the list's first pointer compared with the list.
        unsafe {
            let list = ptr::addr_of_mut!((*head).head);
            ptr::addr_of!((*list).next).read_volatile() != list
        }
    }

    /// Wakes every poller (`poll`, `select`, epoll, kevent) with `mask` as
    /// the key, so that callbacks can filter on it, taking the head's lock
    /// with the lockdep subclass `depth`: the wake-up of a queue nested
    /// `depth` levels inside wake-ups of other queues' heads of the same
    /// class (epoll's `ep_poll_safewake`). `depth` must be at most
    /// [`MAX_WAKE_DEPTH`]. While the lock is held, `depth_cell` holds
    /// `depth`, for the wake-ups nested in this one to read.
    pub(crate) fn wake_up_poll_nested(&self, mask: u32, depth: u32, depth_cell: &AtomicU32) {
        let head = self.as_ptr();
        // SAFETY: The head is initialised; its lock, a `spinlock_t` that is
        // a `raw_spinlock_t` outside PREEMPT_RT (which `spinlock_irq.rs`
        // refuses), is taken as `spin_lock_irqsave_nested()` takes it and
        // released below, and `__wake_up_locked_key` is called with it
        // held, as it requires. The key is a mask cast to a pointer, as
        // `wake_up_poll()` passes it.
        unsafe {
            let lock = ptr::addr_of_mut!((*head).lock).cast::<bindings::raw_spinlock_t>();
            #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
            let flags = bindings::_raw_spin_lock_irqsave_nested(lock, depth as c_int);
            #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
            let flags = bindings::_raw_spin_lock_irqsave(lock);
            depth_cell.store(depth, Ordering::Relaxed);
            bindings::__wake_up_locked_key(
                head,
                bindings::TASK_NORMAL,
                mask as usize as *mut c_void,
            );
            depth_cell.store(0, Ordering::Relaxed);
            bindings::_raw_spin_unlock_irqrestore(lock, flags);
        }
    }

    /// Wakes the first exclusive sleeper whose `min_nr` is at most `count`
    /// (and every non-exclusive one). Sleepers needing more are skipped
    /// without being woken. `sync` tells the scheduler that the waker
    /// will sleep soon (`WF_SYNC`, as `wake_up_sync()` does).
    pub(crate) fn wake_up_count(&self, count: usize, sync: bool) {
        let head = self.as_ptr();
        let key = count as *mut c_void;
        // SAFETY: The head is initialised; `waiter_wake` reads the key as
        // a count, and other entries on this head are never added. Both
        // calls wake at most one exclusive sleeper.
        unsafe {
            if sync {
                bindings::__wake_up_sync_key(head, bindings::TASK_NORMAL, key);
            } else {
                bindings::__wake_up(head, bindings::TASK_NORMAL, 1, key);
            }
        }
    }

    /// Wakes every sleeper, whatever its `min_nr`, to look again.
    pub(crate) fn wake_up_all(&self) {
        // SAFETY: As in `wake_up_count`; no exclusive limit (0), and the
        // largest count, which satisfies every sleeper.
        unsafe {
            bindings::__wake_up(
                self.as_ptr(),
                bindings::TASK_NORMAL,
                0,
                usize::MAX as *mut c_void,
            )
        };
    }

    /// Sleeps interruptibly as an exclusive waiter until woken by a count
    /// of at least `min_nr`, a signal, or `deadline` (absolute,
    /// `CLOCK_MONOTONIC`; `None` waits forever).
    ///
    /// `guard` is the lock under which the caller found its condition
    /// false: it is released only after this task is on the queue, so a
    /// waker that changes the condition under the same lock and then wakes
    /// cannot be missed. The lock is not held on return.
    pub(crate) fn wait_exclusive<T: ?Sized, B: Backend>(
        &self,
        guard: Guard<'_, T, B>,
        min_nr: usize,
        deadline: Option<Ktime>,
    ) -> Wake {
        let mut waiter = Waiter {
            // SAFETY: All-zero is a valid (unlinked) entry, initialised
            // properly by `init_wait_entry` below.
            entry: unsafe { core::mem::zeroed() },
            min_nr,
        };
        let entry = ptr::addr_of_mut!(waiter.entry);
        // SAFETY: `entry` is valid and stays at this address (a local that
        // is not moved) until `finish_wait` unlinks it below.
        unsafe {
            bindings::init_wait_entry(entry, 0);
            (*entry).func = Some(waiter_wake);
            bindings::prepare_to_wait_exclusive(
                self.as_ptr(),
                entry,
                bindings::TASK_INTERRUPTIBLE as c_int,
            );
        }
        drop(guard);
        let woken = match deadline {
            Some(t) => {
                let mut expires = t.to_ns();
                // SAFETY: `expires` is valid for the call; the mode makes it
                // an absolute CLOCK_MONOTONIC time. The task state was set by
                // `prepare_to_wait_exclusive`.
                unsafe {
                    bindings::schedule_hrtimeout_range(
                        &mut expires,
                        0,
                        bindings::hrtimer_mode_HRTIMER_MODE_ABS,
                    ) != 0
                }
            }
            None => {
                // SAFETY: The task state was set by
                // `prepare_to_wait_exclusive`; a wake-up or signal ends it.
                unsafe { bindings::schedule() };
                true
            }
        };
        // SAFETY: `entry` was prepared on this head above; `finish_wait`
        // unlinks it if the waker did not, and restores TASK_RUNNING.
        unsafe { bindings::finish_wait(self.as_ptr(), entry) };
        if woken {
            Wake::Woken
        } else {
            Wake::TimedOut
        }
    }
}

/// The wake function of a [`Waiter`]: wakes it only for a count of at least
/// its `min_nr`.
///
/// # Safety
///
/// Called by `__wake_up` under the head's lock, with an entry embedded in a
/// live `Waiter` and a key that is a count (see `wake_up_count`).
unsafe extern "C" fn waiter_wake(
    entry: *mut bindings::wait_queue_entry,
    mode: c_uint,
    flags: c_int,
    key: *mut c_void,
) -> c_int {
    // SAFETY: `entry` is the first field of a live `Waiter` (`repr(C)`).
    let waiter = unsafe {
        &*entry
            .cast::<u8>()
            .sub(offset_of!(Waiter, entry))
            .cast::<Waiter>()
    };
    if (key as usize) < waiter.min_nr {
        // Not enough for this sleeper: leave it asleep, and since 0 does
        // not count as an exclusive wake-up, `__wake_up` goes on to the next.
        return 0;
    }
    // SAFETY: Forwarded from our caller, as `autoremove_wake_function`
    // expects; it wakes the task and unlinks the entry.
    unsafe { bindings::autoremove_wake_function(entry, mode, flags, key) }
}
