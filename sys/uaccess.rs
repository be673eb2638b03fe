// SPDX-License-Identifier: GPL-2.0

//! Arrays of `struct ukevent` and the ioctls' arguments in user memory,
//! read and written a word at a time by the C helpers of `ukevent_copy.c`.
//!
//! `kernel::uaccess::UserSlice` copies one value per call, each in a
//! user-access section of its own, through `copy_from_user`'s checks and
//! string copy; collection writes a whole batch of events in one section,
//! and an argument of a few words is read with as many loads. 6.12's Rust cannot emit the exception-table entries of
//! `unsafe_put_user`, so the stores live in C, behind the safe cursors here.

use super::compat::{AsBytes, FromBytes};
use crate::defs::Ukevent;
use core::ffi::{c_int, c_uint, c_void};
use core::mem::{align_of, size_of, MaybeUninit};
use kernel::prelude::*;

extern "C" {
    fn kevent_put_ukevents(dst: *mut c_void, src: *const Ukevent, n: c_uint) -> c_uint;
    fn kevent_get_ukevents(dst: *mut Ukevent, src: *const c_void, n: c_uint) -> c_uint;
    fn kevent_get_arg1(dst: *mut u64, src: *const c_void) -> c_int;
    fn kevent_get_arg2(dst: *mut u64, src: *const c_void) -> c_int;
    fn kevent_get_arg3(dst: *mut u64, src: *const c_void) -> c_int;
    fn kevent_get_arg4(dst: *mut u64, src: *const c_void) -> c_int;
    fn kevent_get_arg6(dst: *mut u64, src: *const c_void) -> c_int;
}

/// Reads an ioctl argument of type `T` from user address `arg`.
///
/// `T` is made of 1, 2, 3, 4 or 6 whole 64-bit words, the sizes the helpers
/// read, and aligned to one (checked at compile time).
pub(crate) fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    const {
        assert!(size_of::<T>() % size_of::<u64>() == 0);
        assert!(matches!(size_of::<T>() / size_of::<u64>(), 1..=4 | 6));
        assert!(align_of::<T>() == align_of::<u64>());
    }
    let mut value = MaybeUninit::<T>::uninit();
    let dst = value.as_mut_ptr().cast::<u64>();
    let src = arg as *const c_void;
    // SAFETY: `dst` is valid for writes of the size of `T`, whole words
    // (checked above), and aligned to one; `src` is a user address, which
    // the helper masks or checks (`access_ok`) and reads with fault
    // handling.
    let r = unsafe {
        match size_of::<T>() / size_of::<u64>() {
            1 => kevent_get_arg1(dst, src),
            2 => kevent_get_arg2(dst, src),
            3 => kevent_get_arg3(dst, src),
            4 => kevent_get_arg4(dst, src),
            _ => kevent_get_arg6(dst, src),
        }
    };
    if r != 0 {
        return Err(EFAULT);
    }
    // SAFETY: The helper returned 0: it wrote every word of `T`, and every
    // bit pattern is a valid `T` (`FromBytes`).
    Ok(unsafe { value.assume_init() })
}

/// Writes an ioctl argument back to user address `arg` (rare: one copy
/// through `kernel::uaccess` is cheap enough).
pub(crate) fn write_arg<T: AsBytes>(arg: usize, value: &T) -> Result {
    super::compat::user_slice(arg, size_of::<T>())
        .writer()
        .write(value)
}

/// A cursor over `len` user-space `struct ukevent`s starting at `ptr`.
///
/// # Invariants
///
/// `ptr + len * size_of::<Ukevent>()` does not overflow. The memory is the
/// caller's: the helpers mask or check it (`access_ok`) and fault-handle
/// each word.
struct Cursor {
    ptr: usize,
    len: usize,
}

impl Cursor {
    fn new(ptr: u64, len: usize) -> Result<Self> {
        let bytes = len.checked_mul(size_of::<Ukevent>()).ok_or(EFAULT)?;
        let ptr = usize::try_from(ptr).map_err(|_| EFAULT)?;
        ptr.checked_add(bytes).ok_or(EFAULT)?;
        // INVARIANT: checked just above.
        Ok(Self { ptr, len })
    }

    /// The address of the next `n` entries, and moves past them.
    fn take(&mut self, n: usize) -> Result<*mut c_void> {
        if n > self.len {
            return Err(EFAULT);
        }
        let at = self.ptr;
        self.len -= n;
        // No overflow: within the range checked by `new`.
        self.ptr += n * size_of::<Ukevent>();
        Ok(at as *mut c_void)
    }
}

/// Up to `N` events staged for one [`UkeventWriter::write`].
///
/// Not zeroed when made: zeroing is a call to the kernel's `memset`, a
/// string store that an emulator runs an iteration at a time, and
/// collecting one event would pay for all `N` slots on every call (measured:
/// collecting one event per call cost about a fifth more with the slots
/// zeroed).
///
/// # Invariants
///
/// The first `len` slots of `events` are initialised, and `len <= N`.
pub(crate) struct StagedEvents<const N: usize> {
    events: [MaybeUninit<Ukevent>; N],
    len: usize,
}

impl<const N: usize> StagedEvents<N> {
    pub(crate) fn new() -> Self {
        // INVARIANT: no slot is counted as initialised.
        Self {
            events: [const { MaybeUninit::uninit() }; N],
            len: 0,
        }
    }

    /// Appends `event` and returns its place; hands it back if all `N`
    /// slots are taken.
    pub(crate) fn push(&mut self, event: Ukevent) -> Result<usize, Ukevent> {
        let at = self.len;
        let Some(slot) = self.events.get_mut(at) else {
            return Err(event);
        };
        slot.write(event);
        // INVARIANT: the slot at the old `len` was just initialised.
        self.len += 1;
        Ok(at)
    }

    pub(crate) fn clear(&mut self) {
        // INVARIANT: no slot is counted any more (`Ukevent` is `Copy`:
        // there is nothing to drop).
        self.len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn events(&self) -> &[Ukevent] {
        // SAFETY: By the type invariant the first `len` slots are
        // initialised, and `MaybeUninit<Ukevent>` has `Ukevent`'s layout.
        unsafe { core::slice::from_raw_parts(self.events.as_ptr().cast::<Ukevent>(), self.len) }
    }

    pub(crate) fn events_mut(&mut self) -> &mut [Ukevent] {
        // SAFETY: As in `events`; the borrow of `self` is exclusive.
        unsafe {
            core::slice::from_raw_parts_mut(self.events.as_mut_ptr().cast::<Ukevent>(), self.len)
        }
    }
}

/// Writes events to a user array, front to back.
pub(crate) struct UkeventWriter(Cursor);

impl UkeventWriter {
    /// A writer of at most `len` events at user address `ptr`.
    pub(crate) fn new(ptr: u64, len: usize) -> Result<Self> {
        Cursor::new(ptr, len).map(Self)
    }

    /// Writes `events` as the next entries, in one user-access section.
    /// Returns how many were written whole: fewer than all of them if the
    /// array is too short or a write faulted (the rest were not, or only
    /// in part). The writer moves past all of them.
    pub(crate) fn write(&mut self, events: &[Ukevent]) -> usize {
        let Ok(n) = c_uint::try_from(events.len()) else {
            return 0;
        };
        let Ok(dst) = self.0.take(events.len()) else {
            return 0;
        };
        // SAFETY: `events` is valid for reads of `n` ukevents; `dst` is a
        // user address, which the helper masks or checks (`access_ok`) and
        // writes with fault handling.
        let written = unsafe { kevent_put_ukevents(dst, events.as_ptr(), n) };
        (written as usize).min(events.len())
    }
}

/// Reads events from a user array, front to back.
pub(crate) struct UkeventReader(Cursor);

impl UkeventReader {
    /// A reader of at most `len` events at user address `ptr`.
    pub(crate) fn new(ptr: u64, len: usize) -> Result<Self> {
        Cursor::new(ptr, len).map(Self)
    }

    /// Reads the next entries into `staged`, replacing what it held: as
    /// many as it has room for and are left, in one user-access section.
    /// Returns how many were read whole: fewer than that if a read
    /// faulted. The reader moves past all it tried to read.
    pub(crate) fn read_into<const N: usize>(&mut self, staged: &mut StagedEvents<N>) -> usize {
        staged.clear();
        let n = self.0.len.min(N);
        if n == 0 {
            return 0;
        }
        let Ok(count) = c_uint::try_from(n) else {
            return 0;
        };
        let Ok(src) = self.0.take(n) else {
            return 0;
        };
        // SAFETY: `staged.events` is valid for writes of `N >= n` ukevents,
        // all of whose bit patterns are valid; `src` is a user address,
        // which the helper masks or checks (`access_ok`) and reads with
        // fault handling.
        let read = unsafe { kevent_get_ukevents(staged.events.as_mut_ptr().cast(), src, count) };
        // INVARIANT: the helper wrote the first `read` entries whole.
        staged.len = (read as usize).min(n);
        staged.len
    }
}
