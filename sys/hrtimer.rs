// SPDX-License-Identifier: GPL-2.0

//! High-resolution timers embedded in a reference-counted owner.
//!
//! Shaped like upstream's `kernel::time::hrtimer` (Linux 6.15): the timer
//! is a field of its owner, the C callback finds the owner with the field's
//! offset, and starting the timer returns a handle that holds a reference
//! to the owner and cancels the timer when dropped. So the callback can
//! never run on a freed owner, and dropping the handle is the one way to
//! stop it (waiting for a running callback to finish).
//!
//! Callbacks never restart their timer. A periodic timer is restarted by
//! its consumer through the handle, as timerfd does on read: an idle
//! periodic timer costs no interrupts, and no period is short enough to
//! keep a CPU in interrupts, whatever an unprivileged caller asks for.

use core::{marker::PhantomData, ptr};
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// A timer of type `T`'s owner.
///
/// # Invariants
///
/// If `used`, `timer` was initialised by `hrtimer_init` with `T`'s
/// callback; otherwise it is never passed to the hrtimer core.
#[pin_data]
pub(crate) struct HrTimer<T> {
    #[pin]
    timer: Opaque<bindings::hrtimer>,
    used: bool,
    _t: PhantomData<T>,
}

// SAFETY: hrtimer functions may be called from any thread; the callback
// only gets shared access to the owner, which is `Sync`.
unsafe impl<T: Sync> Send for HrTimer<T> {}
// SAFETY: See `Send`.
unsafe impl<T: Sync> Sync for HrTimer<T> {}

/// Types that embed an [`HrTimer`] and run a callback when it fires.
///
/// # Safety
///
/// `OFFSET` must be the offset of an `HrTimer<Self>` field in `Self`.
/// Use [`impl_has_hr_timer!`] to implement it.
pub(crate) unsafe trait HasHrTimer: Sized + Send + Sync {
    /// The byte offset of the timer within `Self`.
    const OFFSET: usize;

    /// Runs in hard-irq context when the timer fires: no sleeping, and any
    /// lock taken must be irq-safe. The timer is then inactive.
    fn run(this: ArcBorrow<'_, Self>);
}

/// Implements [`HasHrTimer`] for a type with an `HrTimer<Self>` field.
macro_rules! impl_has_hr_timer {
    ($type:ty, $field:ident, $run:path) => {
        // SAFETY: `OFFSET` is the offset of the `HrTimer<Self>` field
        // `$field`, as the type annotation checks.
        unsafe impl $crate::sys::hrtimer::HasHrTimer for $type {
            const OFFSET: usize = {
                fn _check(t: &$type) -> &$crate::sys::hrtimer::HrTimer<$type> {
                    &t.$field
                }
                core::mem::offset_of!($type, $field)
            };
            fn run(this: kernel::sync::ArcBorrow<'_, Self>) {
                $run(this)
            }
        }
    };
}
pub(crate) use impl_has_hr_timer;

/// The clocks a timer may run on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    Monotonic,
    Realtime,
    Boottime,
    Tai,
}

impl Clock {
    pub(crate) fn id(self) -> i32 {
        (match self {
            Self::Monotonic => bindings::CLOCK_MONOTONIC,
            Self::Realtime => bindings::CLOCK_REALTIME,
            Self::Boottime => bindings::CLOCK_BOOTTIME,
            Self::Tai => bindings::CLOCK_TAI,
        }) as i32
    }
}

extern "C" {
    // sys/hrtimer.c: inline functions, and a set-up that changed in 6.13.
    fn kevent_hrtimer_setup(
        timer: *mut bindings::hrtimer,
        function: unsafe extern "C" fn(*mut bindings::hrtimer) -> bindings::hrtimer_restart,
        clock: i32,
        mode: bindings::hrtimer_mode,
    );
    fn kevent_hrtimer_is_queued(timer: *mut bindings::hrtimer) -> bool;
    fn kevent_hrtimer_expires(timer: *const bindings::hrtimer) -> i64;
    fn kevent_hrtimer_now(timer: *mut bindings::hrtimer) -> i64;
}

/// When a timer is to fire, in nanoseconds.
#[derive(Clone, Copy)]
pub(crate) enum Expiry {
    /// This long from now.
    After(i64),
    /// At this time of its clock.
    At(i64),
}

impl<T: HasHrTimer> HrTimer<T> {
    /// A timer on `clock`, for its whole life (the hrtimer core allows a
    /// new clock only on a timer nobody can start meanwhile); with `None`,
    /// one that can never be started, and costs no `hrtimer_init` (which a
    /// debug kernel's object tracking makes expensive) in an owner that
    /// needs no timer.
    pub(crate) fn new(clock: Option<Clock>) -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: initialised with `T`'s callback here if `used`.
            timer <- Opaque::ffi_init(move |slot: *mut bindings::hrtimer| {
                let Some(clock) = clock else { return };
                // SAFETY: `slot` is valid for writes and pinned. Initialised
                // for absolute expiries, a `CLOCK_REALTIME` timer stays on
                // that clock (for relative ones, the core would move it to
                // `CLOCK_MONOTONIC`); relative expiries are still allowed.
                unsafe {
                    kevent_hrtimer_setup(
                        slot,
                        Self::run,
                        clock.id(),
                        bindings::hrtimer_mode_HRTIMER_MODE_ABS,
                    )
                };
            }),
            used: clock.is_some(),
            _t: PhantomData,
        })
    }

    /// Starts `owner`'s timer to fire at `expiry` of its clock. The handle
    /// keeps `owner` alive; dropping it cancels the timer. `EINVAL` for a
    /// timer made without a clock.
    pub(crate) fn start(owner: Arc<T>, expiry: Expiry) -> Result<TimerHandle<T>> {
        if !Self::of(&owner).used {
            return Err(EINVAL);
        }
        let timer = Self::raw(&owner);
        let (time, mode) = match expiry {
            Expiry::After(ns) => (ns, bindings::hrtimer_mode_HRTIMER_MODE_REL),
            Expiry::At(ns) => (ns, bindings::hrtimer_mode_HRTIMER_MODE_ABS),
        };
        // SAFETY: The timer is initialised (type invariant: it is `used`)
        // and lives in `owner`, which the returned handle keeps alive until
        // it has cancelled the timer.
        unsafe { bindings::hrtimer_start_range_ns(timer, time, 0, mode) };
        Ok(TimerHandle { owner })
    }

    /// The timer embedded in `owner`.
    fn of(owner: &T) -> &Self {
        let base = ptr::from_ref(owner).cast::<u8>();
        // SAFETY: By the `HasHrTimer` contract, `OFFSET` is the offset of
        // an `HrTimer<T>` within `*owner`, which lives as long as `owner`.
        unsafe { &*base.add(T::OFFSET).cast::<HrTimer<T>>() }
    }

    fn raw(owner: &T) -> *mut bindings::hrtimer {
        Self::of(owner).timer.get()
    }

    /// # Safety
    ///
    /// Called by the hrtimer core with a timer embedded in a `T` that a
    /// [`TimerHandle`] keeps alive (only handles start timers, and they
    /// cancel before releasing their reference).
    unsafe extern "C" fn run(timer: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // SAFETY: `timer` is at `OFFSET` within a live `T` (see above).
        let owner = unsafe { timer.cast::<u8>().sub(T::OFFSET).cast::<T>() };
        // SAFETY: `owner` is inside an `Arc<T>` that the handle holds for at
        // least as long as this callback runs.
        let this = unsafe { ArcBorrow::from_raw(owner) };
        T::run(this);
        bindings::hrtimer_restart_HRTIMER_NORESTART
    }
}

/// A started timer; dropping it cancels the timer and waits for a running
/// callback to finish.
pub(crate) struct TimerHandle<T: HasHrTimer> {
    owner: Arc<T>,
}

impl<T: HasHrTimer> TimerHandle<T> {
    /// Restarts a periodic timer that has fired, at the first expiry of
    /// its schedule (its last expiry plus whole periods) that is in the
    /// future, as timerfd's read does. Returns how many expiries of the
    /// schedule were missed in between, or 0 if the timer had not fired (it
    /// is still queued, and is left alone).
    ///
    /// The count is computed here rather than by `hrtimer_forward`, which
    /// rounds periods up to the clock's resolution.
    pub(crate) fn restart_periodic(&mut self, period_ns: i64) -> u64 {
        let timer = HrTimer::<T>::raw(&self.owner);
        // SAFETY: The timer is initialised and alive (the handle holds its
        // owner). Only holders of a handle start it, and `&mut self` makes
        // this the only one acting now, so an unqueued timer stays unqueued
        // until it is started below.
        let queued = unsafe { kevent_hrtimer_is_queued(timer) };
        if queued || period_ns <= 0 {
            return 0;
        }
        // SAFETY: The timer is initialised and not queued; its expiry is
        // only written by starting it, which only this handle does now.
        let last = unsafe { kevent_hrtimer_expires(timer) };
        // SAFETY: The timer is initialised, so its clock base is set.
        let now = unsafe { kevent_hrtimer_now(timer) };
        let missed = if now > last {
            (now - last) / period_ns
        } else {
            0
        };
        let next = last.saturating_add((missed + 1).saturating_mul(period_ns));
        // SAFETY: The timer is initialised, not queued (its callback may
        // still be returning, which does not touch it once it said
        // `HRTIMER_NORESTART`), and kept alive by this handle.
        unsafe {
            bindings::hrtimer_start_range_ns(
                timer,
                next,
                0,
                bindings::hrtimer_mode_HRTIMER_MODE_ABS,
            )
        };
        missed as u64
    }
}

impl<T: HasHrTimer> Drop for TimerHandle<T> {
    fn drop(&mut self) {
        // SAFETY: The timer is initialised and `owner` keeps it alive; this
        // runs in process context (handles are dropped by ctl, collection
        // and release, never by a timer callback).
        unsafe { bindings::hrtimer_cancel(HrTimer::<T>::raw(&self.owner)) };
    }
}
