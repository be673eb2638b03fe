// SPDX-License-Identifier: GPL-2.0

//! Files: a borrowed `struct file`.
//!
//! Shaped like upstream's `kernel::fs::File` (Linux 6.13).

use kernel::{bindings, ffi::c_ulong, types::Opaque};

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

/// A reference to a `struct file` that this module owns: the file cannot
/// go away while it lives. Dropping it is `fput`.
///
/// # Invariants
///
/// `0` points to a file whose refcount this value holds one of.
pub(crate) struct FileRef(core::ptr::NonNull<bindings::file>);

// SAFETY: A file reference may be used and dropped from any thread; `fput`
// defers the final release to a safe context.
unsafe impl Send for FileRef {}
// SAFETY: Shared access only reads the file through the VFS.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// Takes a reference to the file `fd` refers to in the calling task.
    pub(crate) fn from_fd(fd: u32) -> kernel::error::Result<Self> {
        // SAFETY: `fget` looks `fd` up in the current task's table and
        // returns a new reference, or null.
        let file = unsafe { bindings::fget(fd) };
        // INVARIANT: the reference `fget` took is now ours.
        core::ptr::NonNull::new(file)
            .map(Self)
            .ok_or(kernel::error::code::EBADF)
    }

    /// Returns `true` if `fd` still refers to this file in the calling task.
    ///
    /// This runs for every event of a watched file that is collected, so
    /// it uses `fdget`, which takes no reference while the task's file
    /// table is not shared, rather than `fget`.
    pub(crate) fn is_fd(&self, fd: u32) -> bool {
        // SAFETY: `fdget` looks `fd` up in the current task's table. It
        // returns an empty `struct fd` or a file pointer with flags in its
        // low bits; the file is only compared here, never dereferenced.
        let f = unsafe { bindings::fdget(fd) };
        let flags = (bindings::FDPUT_FPUT | bindings::FDPUT_POS_UNLOCK) as c_ulong;
        let file = (f.word & !flags) as *mut bindings::file;
        if f.word & bindings::FDPUT_FPUT as c_ulong != 0 {
            // SAFETY: This is `fdput`: `fdget` took a reference, which
            // `FDPUT_FPUT` says, and it is given back once.
            unsafe { bindings::fput(file) };
        }
        file == self.0.as_ptr()
    }

    pub(crate) fn file(&self) -> &File {
        // SAFETY: The reference this value holds keeps the file alive.
        unsafe { File::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this value holds a reference.
        unsafe { bindings::fput(self.0.as_ptr()) };
    }
}
