// SPDX-License-Identifier: GPL-2.0

//! Wait queue heads: sleeping until a condition holds, waking sleepers.
//!
//! Upstream has `CondVar` and `PollCondVar` (Linux 6.13) for this; neither
//! sleeps on an hrtimer deadline nor lets a sleeper state how many events
//! it needs, which is what get-events' `min_nr` and nanosecond timeout
//! need. So this is a thin layer over `schedule_hrtimeout_range` and
//! `__wake_up`, as `fs/eventpoll.c` uses them, and over a
//! `prepare_to_wait_exclusive` that keeps sleepers in `min_nr` order
//! (`sys/wait.c`).

use super::compat::Ktime;
use super::lock_class::LockClassKey;
use crate::layout;
use core::{
    ffi::{c_int, c_uint, c_void},
    mem::{offset_of, size_of},
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

/// What a wake-up of a head's pollers in progress tells the wake-ups that
/// its callbacks make (see [`WaitQueueHead::wake_up_poll_nested`]): the
/// lockdep subclass the head's lock was taken at.
pub(crate) struct PollWaking {
    depth: AtomicU32,
}

impl PollWaking {
    pub(crate) const fn new() -> Self {
        Self {
            depth: AtomicU32::new(0),
        }
    }

    /// The subclass of the wake-up in progress: 0 unless read inside it.
    pub(crate) fn depth(&self) -> u32 {
        self.depth.load(Ordering::Relaxed)
    }
}

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
/// `min_nr` (see [`WaitQueueHead::wake_up_count`]): `struct kevent_waiter`.
#[repr(C)]
struct Waiter {
    entry: bindings::wait_queue_entry,
    min_nr: usize,
}

const _: () = {
    assert!(size_of::<Waiter>() == layout::WAITER_SIZE);
    assert!(offset_of!(Waiter, entry) == layout::WAITER_ENTRY);
    assert!(offset_of!(Waiter, min_nr) == layout::WAITER_MIN_NR);
};

extern "C" {
    fn kevent_prepare_to_wait_sorted(
        wq_head: *mut bindings::wait_queue_head,
        waiter: *mut Waiter,
        state: c_int,
    );
    fn kevent_poll_wake_enter() -> bool;
    fn kevent_poll_wake_exit(in_eventfd: bool);
    fn kevent_in_poll_wake() -> bool;
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
    /// [`MAX_WAKE_DEPTH`]. While the lock is held, `waking` says at which
    /// depth, for the wake-ups nested in this one to read.
    ///
    /// With `limit` (a wake-up from a source), nobody is woken, and `false`
    /// returned, if more than `limit` pollers wait, so that the caller's
    /// share of the work is bounded, or if `depth` is 0 and the caller runs
    /// inside some queue's wake-up of its pollers anyway. It got there
    /// through a callback that is not a queue's (an aio poll of a queue
    /// that signals an eventfd): lockdep does not know that nesting, and it
    /// can lead back to a poller lock this context holds, this head's own
    /// or one that a wake-up on another CPU, holding this head's, waits
    /// for. The caller then wakes them later, from a context of its own.
    /// (A callback that would signal an eventfd, which is how aio's poll
    /// gets there, defers it: the task is marked as inside an eventfd's
    /// wake-up meanwhile, see `sys/wait.c`.)
    pub(crate) fn wake_up_poll_nested(
        &self,
        mask: u32,
        depth: u32,
        waking: &PollWaking,
        limit: Option<usize>,
    ) -> bool {
        // SAFETY: `kevent_in_poll_wake` only reads this CPU's count.
        if limit.is_some() && depth == 0 && unsafe { kevent_in_poll_wake() } {
            return false;
        }
        let head = self.as_ptr();
        // SAFETY: The head is initialised; its lock, a `spinlock_t` that is
        // a `raw_spinlock_t` outside PREEMPT_RT (which `spinlock_irq.rs`
        // refuses), is taken as `spin_lock_irqsave_nested()` takes it and
        // released below, and `__wake_up_locked_key` is called with it
        // held, as it requires. The key is a mask cast to a pointer, as
        // `wake_up_poll()` passes it. The list is walked under the lock,
        // which every change of it takes. The CPU's count of poller
        // wake-ups and the task's eventfd mark are changed with interrupts
        // off and put back before the lock goes, as `sys/wait.c` needs.
        unsafe {
            let lock = ptr::addr_of_mut!((*head).lock).cast::<bindings::raw_spinlock_t>();
            #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
            let flags = bindings::_raw_spin_lock_irqsave_nested(lock, depth as c_int);
            #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
            let flags = bindings::_raw_spin_lock_irqsave(lock);
            if limit.is_some_and(|limit| longer_than(ptr::addr_of_mut!((*head).head), limit)) {
                bindings::_raw_spin_unlock_irqrestore(lock, flags);
                return false;
            }
            waking.depth.store(depth, Ordering::Relaxed);
            let in_eventfd = kevent_poll_wake_enter();
            bindings::__wake_up_locked_key(
                head,
                bindings::TASK_NORMAL,
                mask as usize as *mut c_void,
            );
            kevent_poll_wake_exit(in_eventfd);
            waking.depth.store(0, Ordering::Relaxed);
            bindings::_raw_spin_unlock_irqrestore(lock, flags);
        }
        true
    }

    /// Wakes the first sleeper if its `min_nr` is at most `count`, else
    /// nobody: sleepers are in `min_nr` order (see `wait_exclusive`), so
    /// every other one needs as many or more. `sync` tells the scheduler
    /// that the waker will sleep soon (`WF_SYNC`, as `wake_up_sync()` does).
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
    /// `CLOCK_MONOTONIC`; `None` waits forever). The sleeper goes behind
    /// those needing as many events or fewer and ahead of those needing
    /// more.
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
        // Only used through these pointers from here on.
        let waiter = ptr::addr_of_mut!(waiter);
        // SAFETY: `waiter` points to the local above.
        let entry = unsafe { ptr::addr_of_mut!((*waiter).entry) };
        // SAFETY: `waiter` is valid and stays at this address (a local that
        // is not moved) until `finish_wait` unlinks it below; every entry
        // on this head is a `Waiter`, which the sorted insert reads.
        unsafe {
            bindings::init_wait_entry(entry, 0);
            (*entry).func = Some(waiter_wake);
            kevent_prepare_to_wait_sorted(
                self.as_ptr(),
                waiter,
                bindings::TASK_INTERRUPTIBLE as c_int,
            );
        }
        drop(guard);
        let woken = match deadline {
            Some(t) => {
                let mut expires = t.to_ns();
                // SAFETY: `expires` is valid for the call; the mode makes it
                // an absolute CLOCK_MONOTONIC time. The task state was set by
                // `kevent_prepare_to_wait_sorted`.
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
                // `kevent_prepare_to_wait_sorted`; a wake-up or signal ends it.
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
        // Not enough for this sleeper, nor for any after it (they are in
        // `min_nr` order): a negative value ends `__wake_up`'s walk here.
        return -1;
    }
    // SAFETY: Forwarded from our caller, as `autoremove_wake_function`
    // expects; it wakes the task and unlinks the entry.
    unsafe { bindings::autoremove_wake_function(entry, mode, flags, key) }
}

/// Whether the list at `list` has more than `limit` entries, looking at no
/// more than `limit + 1` of them.
///
/// # Safety
///
/// `list` is a valid list head whose list does not change during the call
/// (its lock is held).
unsafe fn longer_than(list: *mut bindings::list_head, limit: usize) -> bool {
    // SAFETY: The caller guarantees the list is valid and stable, so every
    // `next` leads to a valid entry or back to the head.
    unsafe {
        let mut at = (*list).next;
        for _ in 0..=limit {
            if at == list {
                return false;
            }
            at = (*at).next;
        }
    }
    true
}
