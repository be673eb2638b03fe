// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables interrupts while held.
//!
//! A lock taken by an hrtimer callback (hard-irq context) or a wait queue
//! callback (any context, socket wake-ups run in softirq) must disable
//! interrupts where process context takes it, or an interrupt on the same
//! CPU deadlocks on it. 6.12's `SpinLock` is a plain `spin_lock`; this is
//! the `spin_lock_irqsave` backend for the same generic `Lock`, as
//! upstream's `SpinLockIrq` (Linux 6.15) is.

use kernel::{
    bindings,
    sync::lock::{Backend, Lock},
};

#[cfg(CONFIG_PREEMPT_RT)]
compile_error!("SpinLockIrq assumes spinlock_t wraps a raw_spinlock_t (no PREEMPT_RT)");

/// A spinlock taken with interrupts disabled.
pub(crate) type SpinLockIrq<T> = Lock<T, SpinLockIrqBackend>;

/// Creates a [`SpinLockIrq`] initialiser with a lockdep class of its own.
macro_rules! new_spinlock_irq {
    ($inner:expr, $name:literal) => {
        kernel::sync::lock::Lock::<_, $crate::sys::spinlock_irq::SpinLockIrqBackend>::new(
            $inner,
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock_irq;

#[cfg(linux_ge_7_2)]
extern "C" {
    /// `spin_trylock_irqsave()` (sys/spinlock_irq.c: a macro in C).
    fn kevent_spin_trylock_irqsave(
        lock: *mut bindings::spinlock_t,
        flags: *mut kernel::ffi::c_ulong,
    ) -> bool;
}

/// The `spin_lock_irqsave` backend of [`SpinLockIrq`].
pub(crate) struct SpinLockIrqBackend;

/// The raw spinlock inside a `spinlock_t`: its first member outside
/// PREEMPT_RT (excluded above), whatever the lockdep padding after it.
fn raw(ptr: *mut bindings::spinlock_t) -> *mut bindings::raw_spinlock_t {
    ptr.cast()
}

// SAFETY: `lock` and `unlock` are `spin_lock_irqsave` and
// `spin_unlock_irqrestore` on an initialised spinlock, which give exclusive
// ownership between them; `relock` is the default, which calls `lock`.
unsafe impl Backend for SpinLockIrqBackend {
    type State = bindings::spinlock_t;
    type GuardState = kernel::ffi::c_ulong;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and that
        // `name` and `key` live forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` is an initialised spinlock.
        unsafe { bindings::_raw_spin_lock_irqsave(raw(ptr)) }
    }

    unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
        // SAFETY: The caller owns the lock, taken by `lock` with these flags.
        unsafe { bindings::_raw_spin_unlock_irqrestore(raw(ptr), *flags) }
    }

    // 7.2's `Backend` asks for these two as well.
    #[cfg(linux_ge_7_2)]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: The caller guarantees `ptr` is an initialised spinlock.
        unsafe { kevent_spin_trylock_irqsave(ptr, &mut flags) }.then_some(flags)
    }

    #[cfg(linux_ge_7_2)]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees `ptr` is an initialised spinlock.
        unsafe { bindings::spin_assert_is_held(ptr) }
    }
}
