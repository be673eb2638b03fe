// SPDX-License-Identifier: GPL-2.0

//! Files: a borrowed `struct file`.
//!
//! Shaped like upstream's `kernel::fs::File` (Linux 6.13).

use kernel::{bindings, types::Opaque};

/// A `struct file` that the caller holds a reference to for as long as the
/// borrow lasts.
///
/// # Invariants
///
/// The inner `struct file` is valid and its refcount is not zero for the
/// lifetime of any `&File`.
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// Borrows a `struct file` for a lifetime the caller chooses.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid file whose refcount stays above zero for
    /// the lifetime `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: `File` is `repr(transparent)` over `struct file`, and the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct file` pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// Returns the file's `O_*` flags as they are now.
    ///
    /// `fcntl(F_SETFL)` may change them at any time, so the value is only a
    /// snapshot.
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: The file is valid by the type invariant. `f_flags` may be
        // written concurrently by `fcntl`, hence the volatile read (as in
        // upstream's `File::flags`).
        unsafe { core::ptr::addr_of!((*self.as_ptr()).f_flags).read_volatile() }
    }

    /// Returns `true` if the file was opened (or set) non-blocking.
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.flags() & bindings::O_NONBLOCK != 0
    }
}
