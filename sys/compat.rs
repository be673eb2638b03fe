// SPDX-License-Identifier: GPL-2.0

//! Items of the `kernel` crate that 6.12 and 7.2 both have, under paths or
//! names that changed in between: the rest of the crate names them here.

#[cfg(not(linux_ge_7_2))]
pub(crate) use kernel::{
    init::pin_init_from_closure,
    time::Ktime,
    types::{AsBytes, FromBytes},
};

#[cfg(linux_ge_7_2)]
pub(crate) use kernel::transmute::{AsBytes, FromBytes};
#[cfg(linux_ge_7_2)]
pub(crate) use pin_init::pin_init_from_closure;

use core::ffi::c_void;
use kernel::{types::Opaque, uaccess::UserSlice};

/// The `T` inside an `Opaque<T>` that may not be initialised yet.
pub(crate) fn opaque_raw_get<T>(this: *const Opaque<T>) -> *mut T {
    #[cfg(not(linux_ge_7_2))]
    return Opaque::raw_get(this);
    #[cfg(linux_ge_7_2)]
    return Opaque::cast_into(this);
}

/// A `ForeignOwnable`'s pointer, as a `void *` field such as
/// `private_data` takes it (6.12 gives out `*const`, 7.2 `*mut`).
#[cfg(not(linux_ge_7_2))]
pub(crate) fn foreign_mut(ptr: *const c_void) -> *mut c_void {
    ptr.cast_mut()
}
#[cfg(linux_ge_7_2)]
pub(crate) fn foreign_mut(ptr: *mut c_void) -> *mut c_void {
    ptr
}

/// The user memory of `len` bytes at `addr` (7.2 types the address).
pub(crate) fn user_slice(addr: usize, len: usize) -> UserSlice {
    #[cfg(not(linux_ge_7_2))]
    return UserSlice::new(addr, len);
    #[cfg(linux_ge_7_2)]
    return UserSlice::new(kernel::uaccess::UserPtr::from_addr(addr), len);
}

/// A time of `CLOCK_MONOTONIC`, as 6.12's `kernel::time::Ktime` is.
///
/// 7.2 replaced `Ktime` with `Instant<Monotonic>`, which does not show its
/// nanoseconds outside the `kernel` crate; get-events' deadlines are
/// nanoseconds from user space, and an absolute `ktime_t` is what
/// `schedule_hrtimeout_range` takes.
#[cfg(linux_ge_7_2)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Ktime(i64);

#[cfg(linux_ge_7_2)]
impl Ktime {
    /// The time now.
    pub(crate) fn ktime_get() -> Self {
        // SAFETY: `ktime_get` may be called from any context.
        Self(unsafe { kernel::bindings::ktime_get() })
    }

    /// The time `ns` nanoseconds after the clock's start.
    pub(crate) fn from_raw(ns: i64) -> Self {
        Self(ns)
    }

    /// Nanoseconds since the clock's start.
    pub(crate) fn to_ns(self) -> i64 {
        self.0
    }
}
