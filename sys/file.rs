// SPDX-License-Identifier: GPL-2.0

//! Files: a borrowed `struct file` (upstream's `File` on 7.2), and a
//! reference this module owns, which upstream's `ARef<File>` cannot be:
//! an `O_PATH` file (`fget_raw`) and the reference count (closed files)
//! are not in its API.

use kernel::bindings;
#[cfg(not(linux_ge_7_2))]
use kernel::types::Opaque;

// sys/file.c: the fields behind these moved between 6.12 and 7.2. Only
// pointers cross; 7.2's `struct file` contains an empty struct (on x86-64),
// which the lint calls not FFI-safe.
#[allow(improper_ctypes)]
extern "C" {
    fn kevent_file_count(file: *mut bindings::file) -> core::ffi::c_long;
    fn kevent_file_is_epoll(file: *mut bindings::file) -> bool;
}

#[cfg(linux_ge_7_2)]
pub(crate) use kernel::fs::File;

/// A `struct file` that the caller holds a reference to for as long as the
/// borrow lasts: upstream's `kernel::fs::File` (Linux 6.13), the part of it
/// used here, written for 6.12.
///
/// # Invariants
///
/// The inner `struct file` is valid and its refcount is not zero for the
/// lifetime of any `&File`.
#[cfg(not(linux_ge_7_2))]
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

#[cfg(not(linux_ge_7_2))]
impl File {
    /// Borrows a `struct file` for a lifetime the caller chooses.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid file whose refcount stays above zero for
    /// the lifetime `'a`.
    pub(crate) unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
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
}

/// What the module asks of a file beyond upstream's `File`.
pub(crate) trait FileExt {
    /// Returns `true` if this is an epoll instance, whose wake-ups may come
    /// back to a queue it watches (epoll cannot see a loop through kevent).
    fn is_epoll(&self) -> bool;

    /// Returns `true` if the file was opened (or set) non-blocking.
    fn is_nonblocking(&self) -> bool;

    /// The real user id, in the initial namespace, of the task that opened
    /// the file (or created it: a pipe, a socket, an eventfd).
    fn opener_uid(&self) -> u32;
}

impl FileExt for File {
    fn is_epoll(&self) -> bool {
        // SAFETY: A `&File` is a valid file (`File`'s invariant).
        unsafe { kevent_file_is_epoll(self.as_ptr()) }
    }

    fn is_nonblocking(&self) -> bool {
        self.flags() & bindings::O_NONBLOCK != 0
    }

    fn opener_uid(&self) -> u32 {
        // SAFETY: The file is valid by the type invariant. `f_cred` is set
        // when the file is allocated and holds a reference to the
        // credentials until the file is freed; neither changes meanwhile.
        unsafe { (*(*self.as_ptr()).f_cred).uid.val }
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

    /// Takes a reference to the file `fd` refers to in the calling task,
    /// an `O_PATH` file too (which names an object but gives no access).
    pub(crate) fn from_fd_raw(fd: u32) -> kernel::error::Result<Self> {
        // SAFETY: `fget_raw` looks `fd` up in the current task's table and
        // returns a new reference, or null.
        let file = unsafe { bindings::fget_raw(fd) };
        // INVARIANT: the reference `fget_raw` took is now ours.
        core::ptr::NonNull::new(file)
            .map(Self)
            .ok_or(kernel::error::code::EBADF)
    }

    /// Takes over a reference to a file.
    ///
    /// # Safety
    ///
    /// `file` must point to a file whose refcount the caller holds one of,
    /// which the new value owns from now on.
    pub(crate) unsafe fn from_raw(file: core::ptr::NonNull<bindings::file>) -> Self {
        // INVARIANT: the caller gives its reference.
        Self(file)
    }

    /// Returns `true` if this is the only reference to the file: every
    /// descriptor of it is closed, none is in flight (SCM_RIGHTS), and no
    /// mapping, io_uring table or other kernel object holds it. The
    /// kernel has no hook a module can use at the release of a descriptor,
    /// so this is how the module sees that a file was closed.
    ///
    /// Once `true` it stays so, whoever asks: nobody can take a lasting
    /// reference to a file nobody refers to (epoll, which holds none, only
    /// takes one for the length of a call, which can make this `false`
    /// for that moment, never `true` too early).
    pub(crate) fn is_only_reference(&self) -> bool {
        // SAFETY: The reference this value holds keeps the file valid.
        unsafe { kevent_file_count(self.0.as_ptr()) == 1 }
    }

    pub(crate) fn file(&self) -> &File {
        // SAFETY: The reference this value holds keeps the file alive, and
        // no `fdget_pos` region is active on it on this thread: the module
        // runs in its own ioctls, wake-ups and work (upstream's
        // `assume_no_fdget_pos`).
        unsafe { File::from_raw_file(self.0.as_ptr()) }
    }
}

/// A watched file for the length of one use: borrowed from the reference
/// its watch holds, or taken for the use where the watch holds none (a
/// socket, see `sys/socket.rs`). A pointer and a flag rather than an
/// enum: using it is a plain pointer on the hot path, and only its drop
/// looks at the flag.
///
/// # Invariants
///
/// If `taken`, this value owns a reference to `file`.
pub(crate) struct FileUse<'a> {
    file: &'a File,
    taken: bool,
}

impl<'a> FileUse<'a> {
    #[inline]
    pub(crate) fn borrowed(file: &'a File) -> Self {
        Self { file, taken: false }
    }

    pub(crate) fn taken(file: FileRef) -> Self {
        let file = core::mem::ManuallyDrop::new(file);
        // SAFETY: The reference `file` held is now this value's (it is
        // not dropped), and keeps the file valid for as long as it lives.
        let borrowed = unsafe { File::from_raw_file(file.0.as_ptr()) };
        // INVARIANT: `taken`, and the reference is owned, as said above.
        Self {
            file: borrowed,
            taken: true,
        }
    }
}

impl core::ops::Deref for FileUse<'_> {
    type Target = File;

    #[inline]
    fn deref(&self) -> &File {
        self.file
    }
}

impl Drop for FileUse<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.taken {
            // SAFETY: By the type invariant this value owns a reference.
            unsafe { bindings::fput(self.file.as_ptr()) };
        }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this value holds a reference.
        unsafe { bindings::fput(self.0.as_ptr()) };
    }
}
